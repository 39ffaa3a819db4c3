// What the notifier posts: one message per new AccessRequest and per decision (audit-created,
// audit-granted), as Slack-compatible JSON or as plain JSON for any other receiver. Pure functions.
import type { AuditMessage } from 'kube-request-access/webhooks';
import { shellQuote } from '../../functions/access.ts';
import { kubectlArgs } from '../../functions/kinds.ts';

export type Event = 'request' | 'granted' | 'denied';

export interface Notification {
  event: Event;
  namespace: string;
  name: string;
  requester: string;
  pod: string;
  subResource: string;
  container: string;
  /** The exact argv asked for; empty = any command. */
  command: string[];
  /** `once`, or the validFor duration. */
  window: string;
  customKeys: Record<string, string>;
  reason?: string;
  decidedBy?: string;
  /** The line an approver runs to decide (new requests). */
  grantCommand: string;
  /** The approvers' page. */
  uiCommand: string;
  /** What the requester runs once granted. */
  runCommand?: string;
}

/** A notification for a new request or a decision; undefined for exec events and dry runs. */
export function notificationFor(message: AuditMessage): Notification | undefined {
  if (message.data.request.dryRun || message.type === 'audit-exec') return undefined;
  const { accessRequest } = message.data;
  const { spec } = accessRequest;
  const namespace = accessRequest.metadata.namespace || message.data.request.namespace;
  const name = accessRequest.metadata.name || message.data.request.name;
  const reason = (spec as { reason?: unknown }).reason;
  const args = kubectlArgs(spec);
  const base: Notification = {
    event: 'request',
    namespace,
    name,
    requester: spec.userInfo.username,
    pod: spec.forObject.name,
    subResource: spec.forObject.subResource,
    container: spec.execOptions?.container || spec.attachOptions?.container || '',
    command: [...(spec.execOptions?.command ?? spec.debugOptions?.command ?? [])],
    window: spec.validFor || 'once',
    customKeys: { ...(spec.customKeys ?? {}) },
    ...(typeof reason === 'string' && reason ? { reason } : {}),
    grantCommand: shellQuote(['kubectl', 'request', 'grant', '-n', namespace, name]),
    uiCommand: 'kubectl request ui',
    ...(args ? { runCommand: shellQuote(['kubectl', ...args]) } : {}),
  };
  if (message.type === 'audit-created') return base;
  const { accessGrant } = message.data;
  return {
    ...base,
    event: accessGrant.status === 'granted' ? 'granted' : 'denied',
    decidedBy: accessGrant.spec.grantedBy.username,
    ...(accessGrant.spec.reason ? { reason: accessGrant.spec.reason } : {}),
  };
}

const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
/** Slack's mrkdwn escapes: &, <, > (so nothing in a request becomes a link or a mention). */
const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function commandText(n: Notification): string {
  return n.command.length > 0
    ? n.command.map((arg) => code(esc(arg))).join(' ')
    : n.subResource === 'exec'
      ? 'any command'
      : n.subResource;
}

/** One line for chat clients that show only `text` (and for notifications). */
export function headline(n: Notification): string {
  const where = `${n.namespace}/${n.pod}${n.container ? ` (container ${n.container})` : ''}`;
  switch (n.event) {
    case 'request':
      return `${n.requester} requests ${n.subResource} of ${n.command.length ? shellQuote(n.command) : 'any command'} in ${where}, ${n.window}`;
    case 'granted':
      return `${n.decidedBy} granted ${n.requester}'s request ${n.namespace}/${n.name} (${n.window})`;
    case 'denied':
      return `${n.decidedBy} denied ${n.requester}'s request ${n.namespace}/${n.name}${n.reason ? `: ${n.reason}` : ''}`;
  }
}

/** Slack (and Mattermost, Rocket.Chat, Google Chat's `text`) incoming-webhook JSON. */
export function slackPayload(n: Notification): { text: string; blocks: object[] } {
  const fields = [
    `*Who*\n${esc(n.requester)}`,
    `*Pod*\n${esc(`${n.namespace}/${n.pod}`)}`,
    `*Container*\n${esc(n.container || '—')}`,
    `*Window*\n${esc(n.window)}`,
    `*Command (argv)*\n${commandText(n)}`,
    ...(Object.keys(n.customKeys).length > 0
      ? [
          `*Custom keys*\n${Object.entries(n.customKeys)
            .map(([k, v]) => esc(`${k}=${v}`))
            .join(', ')}`,
        ]
      : []),
    ...(n.reason ? [`*Reason*\n${esc(n.reason)}`] : []),
    ...(n.decidedBy ? [`*Decided by*\n${esc(n.decidedBy)}`] : []),
  ];
  const next =
    n.event === 'request'
      ? `To decide: ${code(esc(n.grantCommand))} (or ${code(n.uiCommand)} for the approvers' page)`
      : n.event === 'granted' && n.runCommand
        ? `${esc(n.requester)} runs: ${code(esc(n.runCommand))}`
        : `Open ${code(n.uiCommand)} for the history`;
  return {
    text: `${esc(headline(n))} — ${n.event === 'request' ? `to decide: ${n.grantCommand}` : n.event}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${esc(headline(n))}*` } },
      { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) },
      { type: 'context', elements: [{ type: 'mrkdwn', text: next }] },
    ],
  };
}

/** Plain JSON for any other receiver: the notification itself, plus the headline. */
export function genericPayload(n: Notification): Notification & { text: string } {
  return { text: headline(n), ...n };
}

export type Format = 'slack' | 'generic';

export function payloadFor(format: Format, n: Notification): object {
  return format === 'slack' ? slackPayload(n) : genericPayload(n);
}
