// The shell around a command's logic: connect with the user's flags, hand over the runtime.
import type { ConnectionOptions } from '../lib/cluster.ts';
import type { CommandDeps } from '../lib/exec.ts';
import { runtime } from '../lib/runtime.ts';

export async function withCluster(
  connection: ConnectionOptions,
  fn: (deps: CommandDeps) => Promise<number>,
): Promise<number> {
  const rt = runtime();
  const cluster = await rt.connect(connection);
  const deps: CommandDeps = { cluster, io: rt.io, now: rt.now, sleep: rt.sleep };
  if (rt.runKubectl) deps.runKubectl = rt.runKubectl;
  return fn(deps);
}
