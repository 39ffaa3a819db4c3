import { defineCommand } from 'citty';
import { parseCommandLine, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import { connectionArgs, connectionOptions, requestNameArg, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = { ...requestNameArg, ...connectionArgs } satisfies FlagsDef;

export const help: CommandHelp = {
  usage: 'kubectl request describe NAME [-n NAMESPACE]',
  examples: ['kubectl request describe alice-web-7fb96c846b-pcnxl-x2kqp -n shop'],
};

export default defineCommand({
  meta: { name: 'describe', description: 'Show one access request, its decision and the kubectl command it allows' },
  args,
  async run({ rawArgs }) {
    const parsed = parseCommandLine(rawArgs, args);
    const [name, ...extra] = parsed.positionals;
    if (!name || extra.length > 0) throw usageError('describe takes one request name; see kubectl request list');
    const connection = connectionOptions(parsed);
    return withCluster(connection, async (deps) => (await import('../lib/manage.ts')).describe(deps, name, connection));
  },
});
