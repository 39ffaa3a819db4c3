import { defineCommand } from 'citty';
import type { CommandHelp } from './_shared.ts';
import { args as grantArgs, parseDecideArgs } from './grant.ts';
import { withCluster } from './_run.ts';
import type { FlagsDef } from '../lib/args.ts';

const { 'break-glass': _breakGlass, ...decideArgs } = grantArgs;

export const args = {
  ...decideArgs,
  reason: {
    type: 'string',
    description: 'Why: shown to the requester (kubectl request exec --wait prints it)',
    valueHint: 'text',
  },
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage: 'kubectl request deny NAME [--reason TEXT] [--yes] [-n NAMESPACE]',
  examples: [
    '# Deny with a reason the requester sees',
    'kubectl request deny alice-web-7fb96c846b-pcnxl-x2kqp -n shop --reason "use the read-only replica"',
  ],
  notes: [
    'Shows who asks for what first, then asks y/N. Without a terminal it refuses unless --yes is given.',
    'Exit codes: 0 denied, 1 error (not found, already decided, not confirmed), 2 usage, 3 not allowed.',
  ],
};

export default defineCommand({
  meta: { name: 'deny', description: 'Deny an access request, with a reason' },
  args,
  async run({ rawArgs }) {
    const options = parseDecideArgs(rawArgs, 'denied');
    return withCluster(options.connection, async (deps) => (await import('../lib/manage.ts')).decide(deps, options));
  },
});
