// One-line, human summaries of audit messages: stored in each chain line and posted to chat.
import type { AuditMessage } from 'kube-request-access/webhooks';

const quote = (command: readonly string[]) => (command.length ? `\`${command.join(' ')}\`` : 'any command');

export function summarize(message: AuditMessage): string {
  const { request } = message.data;
  const dry = request.dryRun ? ' (dry run)' : '';
  switch (message.type) {
    case 'audit-created': {
      const { metadata, spec } = message.data.accessRequest;
      const name = metadata.name || request.name;
      const namespace = metadata.namespace || request.namespace;
      const container = spec.execOptions?.container ? `, container ${spec.execOptions.container}` : '';
      const validFor = spec.validFor ? `valid for ${spec.validFor}` : 'once';
      const keys = Object.entries(spec.customKeys ?? {})
        .map(([k, v]) => `, ${k} ${v}`)
        .join('');
      return `${spec.userInfo.username} requests ${quote(spec.execOptions?.command ?? [])} in pod ${namespace}/${spec.forObject.name} (${validFor}${container}${keys})${dry}; to decide: kubectl request grant ${name} -n ${namespace}`;
    }
    case 'audit-granted': {
      const { accessRequest, accessGrant } = message.data;
      const verb = accessGrant.status === 'granted' ? 'granted' : 'denied';
      const reason = accessGrant.spec.reason ? `: ${accessGrant.spec.reason}` : '';
      return `${accessGrant.spec.grantedBy.username} ${verb} ${accessRequest.spec.userInfo.username}'s request ${accessRequest.metadata.namespace || request.namespace}/${accessGrant.spec.grantFor} for ${quote(accessRequest.spec.execOptions?.command ?? [])} in pod ${accessRequest.spec.forObject.name}${reason}${dry}`;
    }
    case 'audit-exec': {
      const { execOptions, isAllowed, isAdmin } = message.data;
      const verdict = isAllowed ? (isAdmin ? 'allowed as admin' : 'allowed') : 'denied';
      const container = execOptions.container ? ` (container ${execOptions.container})` : '';
      return `${request.userInfo.username} ${request.subResource || 'exec'} ${quote(execOptions.command)} in pod ${request.namespace}/${request.name}${container}: ${verdict}${dry}`;
    }
  }
}
