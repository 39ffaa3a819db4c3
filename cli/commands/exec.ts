import type { ArgsDef } from 'citty';
import { defineCommand } from 'citty';
import {
  booleanFlag,
  listFlag,
  parseCommandLine,
  parseCustomKeys,
  parseTarget,
  parseValidFor,
  parseWait,
  stringFlag,
} from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { ExecOptions } from '../lib/exec.ts';
import { connectionArgs, connectionOptions, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';
import { interactiveArgs, requestArgs, scopeOptions } from './_friends.ts';

export const args = {
  target: {
    type: 'positional',
    description: 'The pod, or TYPE/NAME: deployment, statefulset, daemonset, replicaset or job',
    required: false,
  },
  container: {
    type: 'string',
    alias: ['c'],
    description: 'Container (default: the kubectl.kubernetes.io/default-container annotation, else the first)',
    valueHint: 'name',
  },
  'any-command': {
    type: 'boolean',
    description: 'Ask for ANY command in the container, not one named after "--" (the approver sees that)',
  },
  ...interactiveArgs,
  ...requestArgs,
  'valid-for': {
    ...requestArgs['valid-for'],
    description: 'Ask for access during this long after the grant, e.g. 30m, 1h (default: a single exec)',
  },
  ...connectionArgs,
} satisfies ArgsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request exec (POD | TYPE/NAME) [-c CONTAINER] [--valid-for DURATION] [-k KEY=VALUE]... [--on-behalf-of USER] [--reason TEXT] [--wait [TIMEOUT]] (-- COMMAND [ARGS...] | --any-command)',
  examples: [
    '# Ask to run one command once in a pod',
    "kubectl request exec nginx-7fb96c846b-pcnxl -- cat '/my/app/config/*'",
    '# Any running pod of a deployment, a chosen container, for an hour, with a ticket number',
    'kubectl request exec deployment/web -c app --valid-for 1h -k ticket=OPS-123 -n shop -- sh -c "ls /data"',
    '# Tell the approver why',
    'kubectl request exec web-0 --reason "OPS-123: the cache is stale" -- redis-cli FLUSHALL',
    '# Wait up to 10 minutes for an approver, then run the printed kubectl exec',
    'kubectl request exec web-0 --wait 10m -- ls /tmp',
    '# Any command in the container for 15 minutes (say so: the approver sees ANY command)',
    'kubectl request exec web-0 --any-command --valid-for 15m',
  ],
  notes: [
    'Name the command after "--", or pass --any-command to ask for any command in the container.',
    'Interactive exec (-i, -t) cannot be requested: an interactive session cannot be audited command by command.',
    'An identical request of yours that is still pending is not made twice: the plugin names it (kubectl request wait NAME).',
    'Exit codes: 0 created (or granted with --wait), 1 error, 2 usage, 3 denied, 4 --wait timed out.',
  ],
};

/** The command line as exec options; exported for unit tests. */
export function parseExecArgs(rawArgs: readonly string[]): ExecOptions {
  const parsed = parseCommandLine(rawArgs, args, { multiple: ['key'], optionalValue: ['wait'], allowRest: true });
  const [target, ...extra] = parsed.positionals;
  if (booleanFlag(parsed, 'stdin') || booleanFlag(parsed, 'tty')) {
    const example = parsed.rest?.length ? parsed.rest.join(' ') : 'cat /etc/hosts';
    throw usageError(
      `interactive exec is not allowed: -i/--stdin and -t/--tty cannot be requested (an interactive session cannot be audited); ` +
        `ask for the exact command instead, e.g. kubectl request exec ${target ?? 'POD'} -- ${example}`,
    );
  }
  if (!target) throw usageError('name a pod or TYPE/NAME to exec into, e.g. kubectl request exec web-0 -- ls');
  if (extra.length > 0) {
    throw usageError(
      `unexpected "${extra.join(' ')}": put the command after "--", e.g. kubectl request exec ${target} -- ${extra.join(' ')}`,
    );
  }
  const command = parsed.rest ?? [];
  const anyCommand = booleanFlag(parsed, 'any-command');
  if (command.length === 0 && !anyCommand) {
    throw usageError(
      `name the command to run after "--", e.g. kubectl request exec ${target} -- ls /tmp; to ask for ANY command in the container, pass --any-command`,
    );
  }
  if (command.length > 0 && anyCommand) {
    throw usageError(
      `--any-command asks for any command, yet "${command.join(' ')}" follows "--"; give one or the other`,
    );
  }
  const options: ExecOptions = {
    connection: connectionOptions(parsed),
    target: parseTarget(target),
    command,
    validFor: parseValidFor(stringFlag(parsed, 'valid-for')),
    customKeys: parseCustomKeys(listFlag(parsed, 'key')),
  };
  const container = stringFlag(parsed, 'container');
  if (container) options.container = container;
  const onBehalfOf = stringFlag(parsed, 'on-behalf-of');
  if (onBehalfOf) options.onBehalfOf = onBehalfOf;
  const reason = stringFlag(parsed, 'reason');
  if (reason) options.reason = reason;
  const waitMs = parseWait(stringFlag(parsed, 'wait'));
  if (waitMs !== undefined) options.waitMs = waitMs;
  return { ...options, ...scopeOptions(parsed) };
}

export default defineCommand({
  meta: { name: 'exec', description: 'Ask for access to run a command in a pod (kubectl exec)' },
  args,
  async run({ rawArgs }) {
    const options = parseExecArgs(rawArgs);
    return withCluster(options.connection, async (deps) => (await import('../lib/exec.ts')).requestExec(deps, options));
  },
});
