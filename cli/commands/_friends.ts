// What `kubectl request attach|port-forward|debug|cp` share: the request-side flags, parsing them,
// and create-then-(optionally)-wait, as `kubectl request exec` does it (cli/lib/exec.ts).
import {
  booleanFlag,
  DEFAULT_WAIT_MS,
  listFlag,
  parseCustomKeys,
  parseMaxUses,
  parseValidFor,
  parseWait,
  stringFlag,
  type FlagsDef,
  type ParsedCommandLine,
} from '../lib/args.ts';
import type { AccessCheck } from '../lib/cluster.ts';
import type { RequestCommon as FriendCommon } from '../lib/exec.ts';
import { connectionOptions } from './_shared.ts';
import { usageError } from '../lib/errors.ts';

export { createAndMaybeWait, type Planned } from '../lib/exec.ts';
/** The request-side options every command shares (`kubectl request exec` too). */
export type { FriendCommon };

/** Flags every friend takes, as `kubectl request exec` names them. */
export const requestArgs = {
  'valid-for': {
    type: 'string',
    alias: ['d'],
    description: 'Ask for access during this long after the grant, e.g. 30m, 1h (default: a single use)',
    valueHint: 'duration',
  },
  key: {
    type: 'string',
    alias: ['k', 'custom-key'],
    multiple: true,
    description: 'Custom keys your organisation asks for: -k a=1,b=2, or repeat -k (see docs/cli.md for commas)',
    valueHint: 'key=value',
  },
  'on-behalf-of': {
    type: 'string',
    description: 'Request for another user (always-allowed admins only; you are recorded as the creator)',
    valueHint: 'user',
  },
  reason: {
    type: 'string',
    description: 'Why you need the access, shown to the approver (stored in spec.reason)',
    valueHint: 'text',
  },
  wait: {
    type: 'string',
    optionalValue: true,
    description: 'Wait for the decision and for RBAC; --wait 10m or --wait=10m sets the timeout (default 15m)',
    valueHint: 'timeout',
  },
  'break-glass': {
    type: 'boolean',
    description:
      'Emergency: grant it yourself under an AccessPolicy break-glass rule (needs --reason; audited, reviewed later)',
  },
  'max-uses': {
    type: 'string',
    description: 'Ask for this many uses (within --valid-for when given; default: one without it, any within it)',
    valueHint: 'N',
  },
  pin: {
    type: 'boolean',
    description: 'Pin the request to the pod as it is now: a pod re-created under the same name is not covered',
  },
} satisfies FlagsDef;

/** `--run`, on the commands whose granted kubectl command the plugin can run itself. */
export const runArgs = {
  run: {
    type: 'boolean',
    description:
      'Wait for the grant (as --wait; --wait 10m sets the timeout), then run the granted kubectl command and exit with its code',
  },
} satisfies FlagsDef;

/** kubectl's -i/-t, accepted only to explain why they cannot be requested. */
export const interactiveArgs = {
  stdin: { type: 'boolean', alias: ['i'], description: 'Not allowed: interactive sessions cannot be audited' },
  tty: { type: 'boolean', alias: ['t'], description: 'Not allowed: interactive sessions cannot be audited' },
} satisfies FlagsDef;

export function commonOptions(parsed: ParsedCommandLine): FriendCommon {
  const options: FriendCommon = {
    connection: connectionOptions(parsed),
    validFor: parseValidFor(stringFlag(parsed, 'valid-for')),
    customKeys: parseCustomKeys(listFlag(parsed, 'key')),
  };
  const onBehalfOf = stringFlag(parsed, 'on-behalf-of');
  if (onBehalfOf) options.onBehalfOf = onBehalfOf;
  const reason = stringFlag(parsed, 'reason');
  if (reason) options.reason = reason;
  const waitMs = parseWait(stringFlag(parsed, 'wait'));
  if (waitMs !== undefined) options.waitMs = waitMs;
  if (booleanFlag(parsed, 'run')) {
    options.run = true;
    options.waitMs ??= DEFAULT_WAIT_MS;
  }
  if (booleanFlag(parsed, 'break-glass')) options.breakGlass = breakGlassFlag(options);
  return { ...options, ...scopeOptions(parsed) };
}

/** --max-uses and --pin, for every command that creates a request. */
export function scopeOptions(parsed: ParsedCommandLine): Pick<FriendCommon, 'maxUses' | 'pin'> {
  const maxUses = parseMaxUses(stringFlag(parsed, 'max-uses'));
  return { ...(maxUses !== undefined ? { maxUses } : {}), ...(booleanFlag(parsed, 'pin') ? { pin: true } : {}) };
}

/** `--break-glass` needs a reason and is for your own request: checked before anything is created. */
export function breakGlassFlag(options: Pick<FriendCommon, 'reason' | 'onBehalfOf'>): true {
  if (!options.reason?.trim()) {
    throw usageError('--break-glass needs --reason "...": a break-glass grant is audited and reviewed after the fact');
  }
  if (options.onBehalfOf) throw usageError('--break-glass grants your own request: it cannot go with --on-behalf-of');
  return true;
}

/** RBAC checks for a CONNECT subresource: WebSocket needs get as well as create. */
export function connectChecks(subresource: string, namespace: string, pod: string): AccessCheck[] {
  return ['create', 'get'].map((verb) => ({ verb, resource: 'pods', subresource, namespace, name: pod }));
}
