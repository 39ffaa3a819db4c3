// kubectl request cp: ask to copy files out of or into a container (kubectl cp).
// Out of a pod, kubectl cp execs `tar cf - SRC` (stdout only): this asks for exactly that exec.
// Into a pod, it execs `test -d DEST`, then `tar -xmf - -C DIR` with stdin: this asks for a copy-in
// request for DIR (spec.copyOptions), the only way stdin is ever allowed (functions/copy).
import { defineCommand } from 'citty';
import { cleanPath } from '../../functions/copy/index.ts';
import { parseCommandLine, stringFlag, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { AccessRequest } from '../../functions/schemas.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';
import type { CommandDeps } from '../lib/exec.ts';
import { resolveTarget } from '../lib/pods.ts';
import { buildAccessRequest, buildExecRequest, kubectlArgv } from '../lib/requests.ts';
import {
  commonOptions,
  connectChecks,
  createAndMaybeWait,
  requestArgs,
  runArgs,
  type FriendCommon,
} from './_friends.ts';
import { connectionArgs, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = {
  source: {
    type: 'positional',
    description: 'LOCAL_PATH, or [NAMESPACE/]POD:PATH to copy out of a pod',
    required: false,
  },
  destination: {
    type: 'positional',
    description: 'LOCAL_PATH, or [NAMESPACE/]POD:PATH to copy into a pod',
    required: false,
  },
  container: {
    type: 'string',
    alias: ['c'],
    description: 'Container (default: the kubectl.kubernetes.io/default-container annotation, else the first)',
    valueHint: 'name',
  },
  ...requestArgs,
  ...runArgs,
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request cp [-c CONTAINER] [--valid-for DURATION] [-k KEY=VALUE]... [--wait [TIMEOUT]] [--run] SRC DEST  (one of them [NAMESPACE/]POD:PATH)',
  examples: [
    '# Ask to copy a file out of a pod once',
    'kubectl request cp web-0:/var/log/app.log ./app.log -c app',
    '# Ask to copy into an existing directory of a pod (note the trailing slash)',
    'kubectl request cp ./fix.sql shop/db-0:/tmp/upload/',
  ],
  notes: [
    'Copying in allows writing any file below the target directory: the archive kubectl sends names the files.',
    'For POD:/dir/file the directory is /dir; end the path with "/" to copy into /dir/file as an existing directory.',
    "Exit codes: 0 created (or granted with --wait), 1 error, 2 usage, 3 denied, 4 --wait timed out; with --run, kubectl's.",
  ],
};

export interface RemoteSpec {
  namespace?: string;
  pod: string;
  path: string;
}

/** kubectl cp's file spec: anything with a ":" is [NAMESPACE/]POD:PATH. */
export function parseFileSpec(text: string): RemoteSpec | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  if (colon === 0) throw usageError(`"${text}" is not [NAMESPACE/]POD:PATH`);
  const pieces = text.slice(0, colon).split('/');
  const path = text.slice(colon + 1);
  if (pieces.length > 2 || pieces.some((piece) => !piece)) throw usageError(`"${text}" is not [NAMESPACE/]POD:PATH`);
  if (!path) throw usageError(`"${text}" names no path in the pod`);
  return pieces.length === 2 ? { namespace: pieces[0]!, pod: pieces[1]!, path } : { pod: pieces[0]!, path };
}

/** The directory kubectl cp extracts into for DEST: DEST itself when it ends with "/", else its parent. */
export function copyInDirectory(path: string): string {
  if (!path.startsWith('/')) throw usageError(`"${path}": give an absolute path in the pod for copying in`);
  const clean = cleanPath(path);
  if (path.endsWith('/') || clean === '/') return clean;
  const slash = clean.lastIndexOf('/');
  return slash <= 0 ? '/' : clean.slice(0, slash);
}

export interface CpOptions extends FriendCommon {
  direction: 'in' | 'out';
  remote: RemoteSpec;
  local: string;
  container?: string;
}

export function parseCpArgs(rawArgs: readonly string[]): CpOptions {
  const parsed = parseCommandLine(rawArgs, args);
  const [source, destination, ...extra] = parsed.positionals;
  if (!source || !destination)
    throw usageError('give SRC and DEST, e.g. kubectl request cp web-0:/var/log/app.log ./app.log');
  if (extra.length > 0) throw usageError(`unexpected "${extra.join(' ')}"`);
  const from = parseFileSpec(source);
  const to = parseFileSpec(destination);
  if (from && to) throw usageError('copying between two pods is not supported; one of SRC and DEST must be local');
  if (!from && !to) throw usageError('one of SRC and DEST must be [NAMESPACE/]POD:PATH');
  const common = commonOptions(parsed);
  const remote = (from ?? to)!;
  if (remote.namespace) {
    if (common.connection.namespace && common.connection.namespace !== remote.namespace) {
      throw usageError(
        `-n ${common.connection.namespace} and ${remote.namespace}/${remote.pod} name different namespaces`,
      );
    }
    common.connection.namespace = remote.namespace;
  }
  const options: CpOptions = {
    ...common,
    direction: from ? 'out' : 'in',
    remote,
    local: from ? destination : source,
  };
  if (options.direction === 'in') copyInDirectory(remote.path); // usage errors before connecting
  const container = stringFlag(parsed, 'container');
  if (container) options.container = container;
  return options;
}

export function requestCp(deps: CommandDeps, options: CpOptions): Promise<number> {
  const namespace = deps.cluster.namespace;
  return createAndMaybeWait(deps, options, async (username) => {
    const resolved = await resolveTarget(
      deps.cluster,
      namespace,
      { kind: 'pod', name: options.remote.pod },
      options.container,
    );
    const common = {
      next: (created: AccessRequest, connection: ConnectionOptions) =>
        kubectlArgv(created, connection, { local: options.local, remotePath: options.remote.path }),
      checks: connectChecks('exec', namespace, resolved.pod),
    };
    if (options.direction === 'out') {
      return {
        ...common,
        body: buildExecRequest({
          username,
          namespace,
          pod: resolved.pod,
          container: resolved.container,
          command: ['tar', 'cf', '-', options.remote.path],
          validFor: options.validFor,
          customKeys: options.customKeys,
        }),
        notes: [...resolved.notes, `copying out is an exec of: tar cf - ${options.remote.path}`],
      };
    }
    const directory = copyInDirectory(options.remote.path);
    return {
      ...common,
      body: buildAccessRequest({
        username,
        namespace,
        pod: resolved.pod,
        subResource: 'exec',
        validFor: options.validFor,
        customKeys: options.customKeys,
        options: {
          execOptions: { container: resolved.container },
          copyOptions: { direction: 'in', path: directory },
        },
      }),
      notes: [
        ...resolved.notes,
        `copying in lets you write any file below ${directory} in container ${resolved.container}`,
      ],
    };
  });
}

export default defineCommand({
  meta: { name: 'cp', description: 'Ask for access to copy files out of or into a container (kubectl cp)' },
  args,
  async run({ rawArgs }) {
    const options = parseCpArgs(rawArgs);
    return withCluster(options.connection, (deps) => requestCp(deps, options));
  },
});
