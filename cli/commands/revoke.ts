import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import { connectionArgs, connectionOptions, requestNameArg, yesArg, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = { ...requestNameArg, ...yesArg, ...connectionArgs } satisfies FlagsDef;

export const help: CommandHelp = {
  usage: 'kubectl request revoke NAME [--yes] [-n NAMESPACE]',
  examples: [
    '# Take back a grant (the requester loses the access, the RoleBinding goes)',
    'kubectl request revoke alice-web-7fb96c846b-pcnxl-x2kqp -n shop',
    '# Without a prompt',
    'kubectl request revoke alice-web-7fb96c846b-pcnxl-x2kqp -n shop --yes',
  ],
  notes: [
    'Deletes the AccessGrant; the webhook reviews that: approvers (who may create AccessGrants there) and admins may revoke.',
    'A denial stands: it cannot be revoked. The request is pending again afterwards; deny it to refuse it for good.',
    'Exit codes: 0 revoked, 1 error (not found, nothing to revoke, not confirmed), 2 usage, 3 not allowed.',
  ],
};

export default defineCommand({
  meta: { name: 'revoke', description: 'Take back the grant of an access request (approvers and admins)' },
  args,
  async run({ rawArgs }) {
    const parsed = parseCommandLine(rawArgs, args);
    const [name, ...extra] = parsed.positionals;
    if (!name || extra.length > 0) throw usageError('revoke takes one request name; see kubectl request list --all');
    const options = { name, yes: booleanFlag(parsed, 'yes') };
    return withCluster(connectionOptions(parsed), async (deps) =>
      (await import('../lib/manage.ts')).revoke(deps, options),
    );
  },
});
