import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, parseMaxUses, parseValidFor, stringFlag, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { DecideOptions } from '../lib/manage.ts';
import { connectionArgs, connectionOptions, requestNameArg, yesArg, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = {
  ...requestNameArg,
  ...yesArg,
  reason: { type: 'string', description: 'A note stored with the grant', valueHint: 'text' },
  'break-glass': {
    type: 'boolean',
    description:
      'Grant your own request under an AccessPolicy break-glass rule (needs --reason; audited, reviewed later)',
  },
  'valid-for': {
    type: 'string',
    description: 'Narrow a time-bound request to a shorter window, e.g. 10m (never longer than it asks)',
    valueHint: 'duration',
  },
  'max-uses': {
    type: 'string',
    description: 'Narrow the request to fewer uses (never more than it asks)',
    valueHint: 'N',
  },
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request grant NAME [--yes] [--reason TEXT] [--valid-for DURATION] [--max-uses N] [--break-glass] [-n NAMESPACE]',
  examples: [
    '# Review a request, then confirm',
    'kubectl request grant alice-web-7fb96c846b-pcnxl-x2kqp -n shop',
    '# Without a prompt (scripts, chat bots)',
    'kubectl request grant alice-web-7fb96c846b-pcnxl-x2kqp -n shop --yes',
    '# Grant less than asked: ten minutes of a one-hour request, two uses',
    'kubectl request grant alice-web-7fb96c846b-pcnxl-x2kqp -n shop --valid-for 10m --max-uses 2',
    '# Emergency: a member of a break-glass group grants their own request',
    'kubectl request grant carol-web-0-x2kqp -n shop --break-glass --reason "INC-7: checkout is down"',
  ],
  notes: [
    'Shows who asks for what first, then asks y/N. Without a terminal it refuses unless --yes is given.',
    'Exit codes: 0 granted, 1 error (not found, already decided, not confirmed), 2 usage, 3 not allowed.',
  ],
};

/** The command line as grant/deny options; exported for unit tests. */
export function parseDecideArgs(rawArgs: readonly string[], status: DecideOptions['status']): DecideOptions {
  const parsed = parseCommandLine(rawArgs, args);
  const [name, ...extra] = parsed.positionals;
  const verb = status === 'granted' ? 'grant' : 'deny';
  if (!name) throw usageError(`name the request to ${verb}; see kubectl request list`);
  if (extra.length > 0) throw usageError(`${verb} takes one request name, got also "${extra.join(' ')}"`);
  const options: DecideOptions = {
    name,
    status,
    yes: booleanFlag(parsed, 'yes'),
    connection: connectionOptions(parsed),
  };
  const reason = stringFlag(parsed, 'reason');
  if (reason) options.reason = reason;
  if (status === 'granted' && booleanFlag(parsed, 'break-glass')) {
    if (!reason?.trim())
      throw usageError('--break-glass needs --reason "...": a break-glass grant is audited and reviewed');
    options.breakGlass = true;
  }
  const validFor = stringFlag(parsed, 'valid-for');
  const maxUses = parseMaxUses(stringFlag(parsed, 'max-uses'));
  if ((validFor !== undefined || maxUses !== undefined) && status !== 'granted')
    throw usageError('--valid-for and --max-uses narrow a grant; a denial takes neither');
  if (validFor !== undefined) options.validFor = parseValidFor(validFor);
  if (maxUses !== undefined) options.maxUses = maxUses;
  return options;
}

export default defineCommand({
  meta: { name: 'grant', description: 'Grant an access request (after a summary and a y/N prompt)' },
  args,
  async run({ rawArgs }) {
    const options = parseDecideArgs(rawArgs, 'granted');
    return withCluster(options.connection, async (deps) => (await import('../lib/manage.ts')).decide(deps, options));
  },
});
