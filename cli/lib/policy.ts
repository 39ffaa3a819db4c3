// `kubectl request policy POD [-- COMMAND...]`: the AccessPolicies that cover a pod's namespace,
// and what they would do with a request (functions/explain.ts, the webhook's own rules).
import { explainPolicies, type PolicyExplanation } from '../../functions/explain.ts';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import type { AccessRequest } from '../../functions/schemas.ts';
import type { Target } from './args.ts';
import { CliError, explainError } from './errors.ts';
import { GROUP } from '../../functions/schemas.ts';
import type { CommandDeps } from './exec.ts';
import { ExitCode } from './errors.ts';
import { resolveTarget } from './pods.ts';
import { buildExecRequest, shellQuote } from './requests.ts';

export interface PolicyOptions {
  target: Target;
  container?: string;
  command: string[];
  validFor: string;
}

/** The explanation as text: what the policies say, then what they do with this request. */
export function renderExplanation(
  explanation: PolicyExplanation,
  about: { what: string; me: string; requestCommand: string },
): string {
  const { namespace } = explanation;
  const lines: string[] = [];
  if (explanation.policies.length === 0) {
    lines.push(
      `No AccessPolicy in namespace ${namespace}: one approval, by whoever RBAC lets create AccessGrants there.`,
    );
  } else {
    lines.push(`AccessPolicies of namespace ${namespace}: ${explanation.policies.join(', ')}`);
  }
  if (explanation.broken) {
    lines.push(`  refused:      ${explanation.broken}`);
    return lines.join('\n');
  }
  if (explanation.policies.length > 0) {
    const who = explanation.approvers.map(
      (a) => `${[...a.users.map((u) => `user ${u}`), ...a.groups.map((g) => `group ${g}`)].join(', ')} (${a.policy})`,
    );
    lines.push(
      `  approvals:    ${explanation.required} distinct approver${explanation.required > 1 ? 's' : ''}` +
        (who.length ? `, named by every one of: ${who.join('; ')}` : ', whoever RBAC allows'),
    );
    const required = [
      ...(explanation.requireReason.length
        ? [`a reason: --reason "..." (${explanation.requireReason.join(', ')})`]
        : []),
      ...explanation.customKeys.map(
        (k) =>
          `${k.key}${k.description ? ` (${k.description})` : ''}${k.pattern ? ` matching ${k.pattern}` : ''}: --key ${k.key}=VALUE (${k.policy})`,
      ),
    ];
    if (required.length) lines.push(`  requires:     ${required.join('; ')}`);
    for (const entry of explanation.preApproved) {
      lines.push(
        `  pre-approved: ${shellQuote(entry.command)}${entry.container ? ` in container ${entry.container}` : ''} (${entry.policy})`,
      );
    }
    for (const rule of explanation.breakGlass.rules) {
      lines.push(
        `  break-glass:  groups ${rule.groups.join(', ')}, for at most ${rule.maxValidFor ?? '(invalid maxValidFor)'} (AccessPolicy ${rule.policy})`,
      );
    }
  }
  lines.push(`For ${about.what}:`);
  if (explanation.refused) {
    lines.push(`  refused: ${explanation.refused}`);
  } else if (explanation.preApprovedBy) {
    lines.push(
      `  auto-approved: pre-approved by AccessPolicy ${explanation.preApprovedBy}; granted as soon as you create it:`,
    );
    lines.push(`    ${about.requestCommand}`);
  } else {
    const names = explanation.approvers.length ? ' from the approvers named above' : '';
    lines.push(
      `  needs ${explanation.required} approval${explanation.required > 1 ? 's' : ''}${names} (never your own): ${about.requestCommand}`,
    );
  }
  if (explanation.breakGlass.available) {
    lines.push(
      `  break-glass: available to you (${about.me}) under AccessPolicy ${explanation.breakGlass.available}: add --break-glass --reason "..." (audited, reviewed later)`,
    );
  } else if (explanation.breakGlass.rules.length > 0) {
    lines.push(`  break-glass: not available to you: ${explanation.breakGlass.unavailable}`);
  } else {
    lines.push('  break-glass: no policy here allows it');
  }
  return lines.join('\n');
}

export async function policy(deps: CommandDeps, options: PolicyOptions): Promise<number> {
  const { cluster, io } = deps;
  const namespace = cluster.namespace;
  const resolved = await resolveTarget(cluster, namespace, options.target, options.container);
  for (const note of resolved.notes) io.stderr(note);
  let identity;
  let policies: LoadedPolicy[];
  try {
    // Policies the user may not read would look like none: say so instead.
    if (!(await cluster.canI({ verb: 'list', group: GROUP, resource: 'accesspolicies', namespace }))) {
      throw new CliError(
        `you may not read the AccessPolicies of namespace ${namespace}, so this cannot explain them (the webhook applies them all the same); ask for the kube-request-access:developer role there`,
        ExitCode.DENIED,
      );
    }
    identity = await cluster.whoAmI();
    policies = ((await cluster.listAccessPolicies?.(namespace)) ?? []).flatMap((object) => readPolicy(object) ?? []);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw explainError(error, { action: 'read the access policies', namespace, server: cluster.server });
  }
  const body = buildExecRequest({
    username: identity.username,
    namespace,
    pod: resolved.pod,
    container: resolved.container,
    command: options.command,
    validFor: options.validFor,
    customKeys: {},
  }) as AccessRequest;
  // What the webhook reads: a created request has these.
  const request: AccessRequest = {
    ...body,
    metadata: { ...body.metadata, name: 'REQUEST', uid: '', resourceVersion: '' },
  };
  const explanation = explainPolicies(request, 'exec', policies, identity);
  const what = options.command.length
    ? `exec of "${shellQuote(options.command)}" in pod ${namespace}/${resolved.pod} container ${resolved.container}`
    : `exec of any command in pod ${namespace}/${resolved.pod} container ${resolved.container} (name one after "--" to see whether it is pre-approved)`;
  const requestCommand = shellQuote([
    'kubectl',
    'request',
    'exec',
    '-n',
    namespace,
    resolved.pod,
    '-c',
    resolved.container,
    ...(options.validFor ? ['--valid-for', options.validFor] : []),
    ...(options.command.length ? ['--', ...options.command] : ['--any-command']),
  ]);
  io.stdout(renderExplanation(explanation, { what, me: identity.username, requestCommand }));
  return ExitCode.OK;
}
