// kubectl request attach: ask to read the output of a container's main process (kubectl attach),
// never interactively.
import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, parseTarget, stringFlag, type Target, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { CommandDeps } from '../lib/exec.ts';
import { resolveTarget } from '../lib/pods.ts';
import { buildAccessRequest, kubectlArgv } from '../lib/requests.ts';
import {
  commonOptions,
  connectChecks,
  createAndMaybeWait,
  interactiveArgs,
  requestArgs,
  runArgs,
  type FriendCommon,
} from './_friends.ts';
import { connectionArgs, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

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
  ...interactiveArgs,
  ...requestArgs,
  ...runArgs,
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request attach (POD | TYPE/NAME) [-c CONTAINER] [--valid-for DURATION] [-k KEY=VALUE]... [--on-behalf-of USER] [--wait [TIMEOUT]] [--run]',
  examples: [
    '# Ask to follow the output of the app container once',
    'kubectl request attach web-0 -c app',
    '# For half an hour, on any running pod of a deployment',
    'kubectl request attach deployment/web --valid-for 30m -n shop',
  ],
  notes: [
    'Attach is output-only: -i/--stdin and -t/--tty cannot be requested, an interactive session cannot be audited.',
    "Exit codes: 0 created (or granted with --wait), 1 error, 2 usage, 3 denied, 4 --wait timed out; with --run, kubectl's.",
  ],
};

export interface AttachOptions extends FriendCommon {
  target: Target;
  container?: string;
}

export function parseAttachArgs(rawArgs: readonly string[]): AttachOptions {
  const parsed = parseCommandLine(rawArgs, args);
  if (booleanFlag(parsed, 'stdin') || booleanFlag(parsed, 'tty')) {
    throw usageError(
      'attach is output-only: -i/--stdin and -t/--tty cannot be requested (an interactive session cannot be audited)',
    );
  }
  const [target, ...extra] = parsed.positionals;
  if (!target) throw usageError('name a pod or TYPE/NAME to attach to, e.g. kubectl request attach web-0 -c app');
  if (extra.length > 0) throw usageError(`unexpected "${extra.join(' ')}"`);
  const options: AttachOptions = { ...commonOptions(parsed), target: parseTarget(target) };
  const container = stringFlag(parsed, 'container');
  if (container) options.container = container;
  return options;
}

export function requestAttach(deps: CommandDeps, options: AttachOptions): Promise<number> {
  const namespace = deps.cluster.namespace;
  return createAndMaybeWait(deps, options, async (username) => {
    const resolved = await resolveTarget(deps.cluster, namespace, options.target, options.container);
    return {
      body: buildAccessRequest({
        username,
        namespace,
        pod: resolved.pod,
        subResource: 'attach',
        validFor: options.validFor,
        customKeys: options.customKeys,
        options: { attachOptions: { container: resolved.container, stdout: true, stderr: true } },
      }),
      next: (created, connection) => kubectlArgv(created, connection),
      checks: connectChecks('attach', namespace, resolved.pod),
      notes: resolved.notes,
    };
  });
}

export default defineCommand({
  meta: {
    name: 'attach',
    description: 'Ask for access to read the output of a container (kubectl attach, output only)',
  },
  args,
  async run({ rawArgs }) {
    const options = parseAttachArgs(rawArgs);
    return withCluster(options.connection, (deps) => requestAttach(deps, options));
  },
});
