// kubectl request debug: ask to add one ephemeral container to a pod (kubectl debug POD --image).
// Reading its output afterwards (kubectl logs, or an output-only attach) is not part of it.
import { defineCommand } from 'citty';
import { PROFILE_CAPABILITIES } from '../../functions/debug/index.ts';
import { booleanFlag, parseCommandLine, parseTarget, stringFlag, type Target, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { CommandDeps } from '../lib/exec.ts';
import { resolveTarget } from '../lib/pods.ts';
import { buildAccessRequest, kubectlArgv } from '../lib/requests.ts';
import { commonOptions, createAndMaybeWait, interactiveArgs, requestArgs, type FriendCommon } from './_friends.ts';
import { connectionArgs, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

const PROFILES = Object.keys(PROFILE_CAPABILITIES).filter(Boolean);

export const args = {
  pod: {
    type: 'positional',
    description: 'The pod, or TYPE/NAME: deployment, statefulset, daemonset, replicaset or job',
    required: false,
  },
  image: { type: 'string', description: 'Image of the debug container (required)', valueHint: 'image' },
  target: {
    type: 'string',
    description: 'Share the process namespace of this container (as kubectl debug --target)',
    valueHint: 'container',
  },
  container: {
    type: 'string',
    alias: ['c'],
    description: 'Name of the debug container (default: any name kubectl picks)',
    valueHint: 'name',
  },
  profile: {
    type: 'string',
    description: `kubectl debug --profile: ${PROFILES.join(', ')} (default legacy: no added privileges)`,
    valueHint: 'profile',
  },
  'arguments-only': {
    type: 'boolean',
    description: 'The words after -- are args for the image entrypoint, not a command',
  },
  ...interactiveArgs,
  ...requestArgs,
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request debug (POD | TYPE/NAME) --image IMAGE [--target CONTAINER] [-c NAME] [--profile PROFILE] [--valid-for DURATION] [--wait [TIMEOUT]] [-- COMMAND [ARGS...]]',
  examples: [
    '# Ask to run ps in a busybox container sharing the processes of the app container',
    'kubectl request debug web-0 --image busybox:1.36 --target app -- ps aux',
    '# With the capabilities of the netadmin profile, and a fixed container name',
    'kubectl request debug web-0 --image nicolaka/netshoot --profile netadmin -c netdebug -- ss -tlnp',
  ],
  notes: [
    'Only a non-interactive debug container can be requested (no -i/-t); read its output with kubectl logs POD -c NAME.',
    'The debug container may have the privileges of the requested --profile and nothing more; the rest of the pod cannot change.',
    'Exit codes: 0 created (or granted with --wait), 1 error, 2 usage, 3 denied, 4 --wait timed out.',
  ],
};

export interface DebugOptions extends FriendCommon {
  target: Target;
  image: string;
  targetContainer?: string;
  container?: string;
  profile: string;
  argumentsOnly: boolean;
  argv: string[];
}

export function parseDebugArgs(rawArgs: readonly string[]): DebugOptions {
  const parsed = parseCommandLine(rawArgs, args, { allowRest: true });
  if (booleanFlag(parsed, 'stdin') || booleanFlag(parsed, 'tty')) {
    throw usageError(
      'an interactive debug container (-i/-t) cannot be requested: it cannot be audited; give the command after "--"',
    );
  }
  const [target, ...extra] = parsed.positionals;
  if (!target) throw usageError('name a pod, e.g. kubectl request debug web-0 --image busybox --target app -- ps aux');
  if (extra.length > 0) throw usageError(`unexpected "${extra.join(' ')}": put the command after "--"`);
  const image = stringFlag(parsed, 'image');
  if (!image) throw usageError('--image is required: the image of the debug container');
  const profile = stringFlag(parsed, 'profile') ?? '';
  if (profile && !PROFILES.includes(profile)) throw usageError(`--profile must be one of ${PROFILES.join(', ')}`);
  const argumentsOnly = booleanFlag(parsed, 'arguments-only');
  const argv = parsed.rest ?? [];
  if (argumentsOnly && argv.length === 0) throw usageError('--arguments-only needs the arguments after "--"');
  const options: DebugOptions = {
    ...commonOptions(parsed),
    target: parseTarget(target),
    image,
    profile,
    argumentsOnly,
    argv,
  };
  const targetContainer = stringFlag(parsed, 'target');
  if (targetContainer) options.targetContainer = targetContainer;
  const container = stringFlag(parsed, 'container');
  if (container) options.container = container;
  return options;
}

export function requestDebug(deps: CommandDeps, options: DebugOptions): Promise<number> {
  const namespace = deps.cluster.namespace;
  return createAndMaybeWait(deps, options, async (username) => {
    const resolved = await resolveTarget(deps.cluster, namespace, options.target, options.targetContainer);
    const notes = resolved.notes.filter((note) => !note.startsWith('Defaulted container'));
    if (options.argv.length === 0)
      notes.push(`no command after "--": the debug container runs the entrypoint of ${options.image}`);
    return {
      body: buildAccessRequest({
        username,
        namespace,
        pod: resolved.pod,
        subResource: 'ephemeralcontainers',
        validFor: options.validFor,
        customKeys: options.customKeys,
        options: {
          debugOptions: {
            image: options.image,
            target: options.targetContainer ?? '',
            ...(options.container ? { container: options.container } : {}),
            ...(options.argumentsOnly ? { args: options.argv } : { command: options.argv }),
            ...(options.profile ? { profile: options.profile } : {}),
          },
        },
      }),
      next: (created, connection) => kubectlArgv(created, connection),
      checks: [{ verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', namespace, name: resolved.pod }],
      notes,
      after: [
        `Its output: kubectl logs -n ${namespace} ${resolved.pod} -c ${options.container ?? 'NAME'} (attaching needs its own request: kubectl request attach)`,
      ],
    };
  });
}

export default defineCommand({
  meta: {
    name: 'debug',
    description: 'Ask for access to add a debug container to a pod (kubectl debug, ephemeral container)',
  },
  args,
  async run({ rawArgs }) {
    const options = parseDebugArgs(rawArgs);
    return withCluster(options.connection, (deps) => requestDebug(deps, options));
  },
});
