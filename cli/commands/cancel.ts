import { defineCommand } from 'citty';
import { parseCommandLine, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import { connectionArgs, connectionOptions, requestNameArg, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = { ...requestNameArg, ...connectionArgs } satisfies FlagsDef;

export const help: CommandHelp = {
  usage: 'kubectl request cancel NAME [-n NAMESPACE]',
  examples: [
    '# Withdraw your own request (granted access ends with it)',
    'kubectl request cancel alice-web-7fb96c846b-pcnxl-x2kqp -n shop',
  ],
};

export default defineCommand({
  meta: { name: 'cancel', description: 'Withdraw your own access request' },
  args,
  async run({ rawArgs }) {
    const parsed = parseCommandLine(rawArgs, args);
    const [name, ...extra] = parsed.positionals;
    if (!name || extra.length > 0) throw usageError('cancel takes one request name; see kubectl request list');
    return withCluster(connectionOptions(parsed), async (deps) =>
      (await import('../lib/manage.ts')).cancel(deps, name),
    );
  },
});
