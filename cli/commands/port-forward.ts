// kubectl request port-forward: ask to forward ports to a pod (kubectl port-forward).
//
// kubectl does not tell the apiserver which ports it forwards (each forwarded connection names its
// port inside the stream, after admission), so the webhook can hold a kubectl port-forward only to
// "any port of this pod". The ports given here are therefore shown, not recorded, unless
// --only-ports asks for a port-restricted request (for clients that put ?ports= in the URL).
import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, parseTarget, type Target, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { CommandDeps } from '../lib/exec.ts';
import { resolveTarget } from '../lib/pods.ts';
import { buildAccessRequest, kubectlArgv } from '../lib/requests.ts';
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
  target: {
    type: 'positional',
    description: 'The pod, or TYPE/NAME: deployment, statefulset, daemonset, replicaset or job',
    required: false,
  },
  ports: {
    type: 'positional',
    description: '[LOCAL_PORT:]REMOTE_PORT, as for kubectl port-forward (repeatable)',
    required: false,
  },
  'only-ports': {
    type: 'boolean',
    description:
      'Record the remote ports in the request: only clients that name their ports (?ports=) can then use it, kubectl cannot',
  },
  ...requestArgs,
  ...runArgs,
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request port-forward (POD | TYPE/NAME) [[LOCAL_PORT:]REMOTE_PORT...] [--only-ports] [--valid-for DURATION] [-k KEY=VALUE]... [--wait [TIMEOUT]] [--run]',
  examples: [
    '# Ask to forward local 5432 to the database pod for an hour',
    'kubectl request port-forward db-0 5432 --valid-for 1h',
    '# Local 8888 to port 8080 of a running pod of a deployment',
    'kubectl request port-forward deployment/web 8888:8080 -n shop',
  ],
  notes: [
    'kubectl port-forward does not tell the apiserver which ports it forwards, so a grant lets kubectl forward ANY port of the pod;',
    'the ports are shown to you and to the approver in the printed command. --only-ports records them (for clients that pass ?ports=).',
    "Exit codes: 0 created (or granted with --wait), 1 error, 2 usage, 3 denied, 4 --wait timed out; with --run, kubectl's.",
  ],
};

export interface PortForwardOptions extends FriendCommon {
  target: Target;
  /** As typed ([LOCAL:]REMOTE), for the kubectl command printed back. */
  mappings: string[];
  remotePorts: number[];
  onlyPorts: boolean;
}

/** `8080`, `8888:8080`, `:8080` → 8080. */
export function remotePort(mapping: string): number {
  const remote = mapping.includes(':') ? mapping.slice(mapping.lastIndexOf(':') + 1) : mapping;
  const port = /^\d+$/.test(remote) ? Number(remote) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(
      `"${mapping}" is not [LOCAL_PORT:]REMOTE_PORT with a remote port number 1-65535 (named ports are not supported)`,
    );
  }
  return port;
}

export function parsePortForwardArgs(rawArgs: readonly string[]): PortForwardOptions {
  const parsed = parseCommandLine(rawArgs, args);
  const [target, ...mappings] = parsed.positionals;
  if (!target) throw usageError('name a pod or TYPE/NAME, e.g. kubectl request port-forward db-0 5432');
  const remotePorts = [...new Set(mappings.map(remotePort))];
  const onlyPorts = booleanFlag(parsed, 'only-ports');
  if (onlyPorts && remotePorts.length === 0) throw usageError('--only-ports needs at least one port');
  if (booleanFlag(parsed, 'run') && mappings.length === 0) {
    throw usageError(`--run needs the ports to forward, e.g. kubectl request port-forward ${target} 8080 --run`);
  }
  return { ...commonOptions(parsed), target: parseTarget(target), mappings, remotePorts, onlyPorts };
}

export function requestPortForward(deps: CommandDeps, options: PortForwardOptions): Promise<number> {
  const namespace = deps.cluster.namespace;
  return createAndMaybeWait(deps, options, async (username) => {
    const resolved = await resolveTarget(deps.cluster, namespace, options.target);
    const notes = resolved.notes.filter((note) => !note.startsWith('Defaulted container'));
    if (!options.onlyPorts) {
      notes.push(
        `kubectl port-forward does not tell the apiserver its ports: asking for a port-forward to any port of pod ${resolved.pod}`,
      );
    }
    return {
      body: buildAccessRequest({
        username,
        namespace,
        pod: resolved.pod,
        subResource: 'portforward',
        validFor: options.validFor,
        customKeys: options.customKeys,
        options: { portForwardOptions: options.onlyPorts ? { ports: options.remotePorts } : {} },
      }),
      next: (created, connection) => kubectlArgv(created, connection, { ports: options.mappings }),
      checks: connectChecks('portforward', namespace, resolved.pod),
      notes,
    };
  });
}

export default defineCommand({
  meta: { name: 'port-forward', description: 'Ask for access to forward local ports to a pod (kubectl port-forward)' },
  args,
  async run({ rawArgs }) {
    const options = parsePortForwardArgs(rawArgs);
    return withCluster(options.connection, (deps) => requestPortForward(deps, options));
  },
});
