// Human text: the summary an approver reads before saying yes, `describe`, and `list` tables.
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import { CREATED_BY, type GrantState } from './requests.ts';
import type { ReviewState } from '../../functions/breakglass.ts';
import { asks, brief, oneUse, requestedAccess } from '../../functions/kinds.ts';

/** kubectl-style age: 45s, 12m, 5h, 3d. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function ageOf(object: { metadata: { creationTimestamp?: string | null } }, now: Date): string {
  const created = object.metadata.creationTimestamp ? Date.parse(object.metadata.creationTimestamp) : Number.NaN;
  return Number.isNaN(created) ? '<unknown>' : formatAge(now.getTime() - created);
}

/** The list's COMMAND column: the command of an exec, what the other kinds of access ask for. */
export function commandText(request: AccessRequest): string {
  return brief(request.spec);
}

export function accessText(request: AccessRequest): string {
  const { validFor, maxUses } = request.spec;
  const pinned = request.spec.forObject.uid ? `, only pod uid ${request.spec.forObject.uid}` : '';
  const uses = maxUses === undefined ? '' : maxUses === 1 ? ', once' : `, ${maxUses} uses`;
  if (validFor) return `for ${validFor} from the grant${uses}${pinned}`;
  return maxUses !== undefined && maxUses > 1
    ? `${maxUses} times (${maxUses} single ${oneUse(request.spec)}s)${pinned}`
    : `once (a single ${oneUse(request.spec)})${pinned}`;
}

export function customKeysText(request: AccessRequest): string {
  const entries = Object.entries(request.spec.customKeys ?? {});
  return entries.length > 0 ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : '(none)';
}

/** Who created a request made on behalf of its user (`--on-behalf-of`), if someone else did. */
export function createdBy(request: AccessRequest): string | undefined {
  const creator = request.metadata.annotations?.[CREATED_BY];
  return creator && creator !== request.spec.userInfo.username ? creator : undefined;
}

export function stateText(state: GrantState, now: Date): string {
  switch (state.state) {
    case 'pending':
      return state.required > 1 ? `Pending (${state.approvals} of ${state.required} approvals)` : 'Pending';
    case 'denied':
      return 'Denied';
    case 'granted': {
      const left = [
        ...(state.expiresAt ? [`${formatAge(state.expiresAt.getTime() - now.getTime())} left`] : []),
        ...(state.maxUses !== undefined && state.maxUses > 1 ? [`${state.uses} of ${state.maxUses} uses`] : []),
      ];
      return left.length ? `Granted (${left.join(', ')})` : 'Granted';
    }
    case 'used':
      return 'Used';
    case 'expired':
      return 'Expired';
    case 'invalid':
      return 'Invalid';
  }
}

/**
 * What an approver reads before granting or denying: who, where, what, for how long.
 *
 *     alice asks to exec in pod shop/web-7fb96c846b-pcnxl
 *       request:     alice-web-7fb96c846b-pcnxl-x2kqp
 *       why:         OPS-1: the cache is stale          (only with --reason)
 *       container:   app
 *       command:     cat '/my/app/config/*'
 *       access:      once (a single exec)
 *       custom keys: ticket=OPS-1
 *       age:         5m
 */
export function summarizeRequest(request: AccessRequest, now: Date): string {
  return [
    // Each kind of access says it in its own words: "port-forward to pod shop/web-0".
    `${request.spec.userInfo.username} asks to ${asks(request.spec)}`,
    `  request:     ${request.metadata.name}`,
    ...(createdBy(request)
      ? [`  created by:  ${createdBy(request)} (on behalf of ${request.spec.userInfo.username})`]
      : []),
    ...(request.spec.reason ? [`  why:         ${request.spec.reason}`] : []),
    // Each kind of access names its own facts (command, ports, image, copy destination …).
    ...requestedAccess(request.spec).map(([key, value]) => `  ${`${key}:`.padEnd(13)}${value}`),
    `  access:      ${accessText(request)}`,
    `  custom keys: ${customKeysText(request)}`,
    `  age:         ${ageOf(request, now)}`,
  ].join('\n');
}

/** `describe`: the summary plus the decision. */
export function describeRequest(request: AccessRequest, state: GrantState, now: Date): string {
  const lines = [summarizeRequest(request, now), `  status:      ${stateText(state, now)}`];
  if ('grant' in state) lines.push(...decisionLines(state.grant, now));
  if (state.state === 'invalid') lines.push(`  problem:     ${state.reason}`);
  if (state.state === 'granted' || state.state === 'expired') {
    if (state.expiresAt) {
      const verb = state.state === 'granted' ? 'expires' : 'expired';
      lines.push(`  ${verb}:${' '.repeat(12 - verb.length)}${state.expiresAt.toISOString()}`);
    }
  }
  return lines.join('\n');
}

function decisionLines(grant: AccessGrant, now: Date): string[] {
  const lines = [`  decided by:  ${grant.spec.grantedBy.username}, ${ageOf(grant, now)} ago`];
  if (grant.spec.reason) lines.push(`  reason:      ${grant.spec.reason}`);
  return lines;
}

/** Left-aligned columns separated by three spaces, as kubectl prints them. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface ListRow {
  request: AccessRequest;
  state: GrantState;
  /** Set for a request granted by break-glass: its review, if any. */
  review?: ReviewState;
}

export function listTable(
  rows: readonly ListRow[],
  options: { wide: boolean; allNamespaces: boolean },
  now: Date,
): string {
  const header = [
    ...(options.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'USER',
    'POD',
    ...(options.wide ? ['CONTAINER'] : []),
    'COMMAND',
    'VALID-FOR',
    'STATUS',
    'AGE',
    ...(options.wide ? ['CREATED-BY', 'WHY', 'DECIDED-BY', 'CUSTOM-KEYS', 'REASON'] : []),
  ];
  const body = rows.map(({ request, state, review }) => {
    const glass = review ? (review.reviewedBy ? ' [break-glass, reviewed]' : ' [break-glass, needs review]') : '';
    const grant = 'grant' in state ? state.grant : undefined;
    return [
      ...(options.allNamespaces ? [request.metadata.namespace] : []),
      request.metadata.name,
      request.spec.userInfo.username,
      request.spec.forObject.name,
      ...(options.wide ? [request.spec.execOptions?.container || '-'] : []),
      options.wide ? commandText(request) : truncate(commandText(request), 40),
      request.spec.validFor || 'once',
      stateText(state, now) + glass,
      ageOf(request, now),
      ...(options.wide
        ? [
            createdBy(request) ?? '-',
            request.spec.reason ?? '-',
            grant?.spec.grantedBy.username ?? '-',
            Object.keys(request.spec.customKeys ?? {}).length > 0 ? customKeysText(request) : '-',
            grant?.spec.reason ?? '-',
          ]
        : []),
    ];
  });
  return formatTable([header, ...body]);
}
