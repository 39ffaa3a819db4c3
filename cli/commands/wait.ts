import { defineCommand } from 'citty';
import { DEFAULT_WAIT_MS, parseCommandLine, parseWait, stringFlag, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { WaitForOptions } from '../lib/manage.ts';
import { connectionArgs, connectionOptions, requestNameArg, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = {
  ...requestNameArg,
  timeout: { type: 'string', description: 'Give up after this long, e.g. 10m (default 15m)', valueHint: 'duration' },
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage: 'kubectl request wait NAME [--timeout DURATION] [-n NAMESPACE]',
  examples: [
    '# Ctrl-C stopped --wait, or the request was made earlier: wait for it again',
    'kubectl request wait alice-web-7fb96c846b-pcnxl-x2kqp -n shop',
    '# In a script: at most five minutes, then exit 4',
    'kubectl request wait alice-web-7fb96c846b-pcnxl-x2kqp -n shop --timeout 5m && kubectl exec -n shop web-0 -- ls',
  ],
  notes: [
    'Waits for the decision, then until RBAC lets you in, and prints the kubectl command to run (as exec --wait does).',
    'Exit codes: 0 granted, 1 error (not found, deleted while waiting), 2 usage, 3 denied or used up, 4 timed out.',
  ],
};

export function parseWaitArgs(rawArgs: readonly string[]): WaitForOptions {
  const parsed = parseCommandLine(rawArgs, args);
  const [name, ...extra] = parsed.positionals;
  if (!name || extra.length > 0) throw usageError('wait takes one request name; see kubectl request list');
  const timeout = stringFlag(parsed, 'timeout');
  const timeoutMs = timeout === undefined ? DEFAULT_WAIT_MS : parseWait(timeout);
  return { name, timeoutMs: timeoutMs ?? DEFAULT_WAIT_MS, connection: connectionOptions(parsed) };
}

export default defineCommand({
  meta: { name: 'wait', description: 'Wait for the decision on an access request, then print the command to run' },
  args,
  async run({ rawArgs }) {
    const options = parseWaitArgs(rawArgs);
    return withCluster(options.connection, async (deps) => (await import('../lib/manage.ts')).waitFor(deps, options));
  },
});
