import type { ArgsDef } from 'citty';
import { defineCommand } from 'citty';
import { parseCommandLine, stringFlag } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { ReviewOptions } from '../lib/breakglass.ts';
import { connectionArgs, connectionOptions, requestNameArg, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = {
  ...requestNameArg,
  reason: { type: 'string', description: 'A note stored with the review (what you checked)', valueHint: 'text' },
  ...connectionArgs,
} satisfies ArgsDef;

export const help: CommandHelp = {
  usage: 'kubectl request review NAME [--reason TEXT] [-n NAMESPACE]',
  examples: [
    '# Break-glass requests nobody reviewed yet, in every namespace you can see',
    'kubectl request list --needs-review',
    '# Review one after the fact',
    'kubectl request review carol-web-0-x2kqp -n shop --reason "checked with carol: INC-7, restarted the cache"',
  ],
  notes: [
    'Reviews a break-glass grant after the fact: an AccessGrant with status reviewed, by an approver other than the requester. It grants nothing.',
    'Exit codes: 0 reviewed, 1 error (not found, not break-glass, already reviewed), 2 usage, 3 not allowed.',
  ],
};

export function parseReviewArgs(
  rawArgs: readonly string[],
): ReviewOptions & { connection: ReturnType<typeof connectionOptions> } {
  const parsed = parseCommandLine(rawArgs, args);
  const [name, ...extra] = parsed.positionals;
  if (!name) throw usageError('name the request to review; see kubectl request list --needs-review');
  if (extra.length > 0) throw usageError(`review takes one request name, got also "${extra.join(' ')}"`);
  const reason = stringFlag(parsed, 'reason');
  return { name, ...(reason ? { reason } : {}), connection: connectionOptions(parsed) };
}

export default defineCommand({
  meta: { name: 'review', description: 'Review a break-glass grant after the fact (another approver)' },
  args,
  async run({ rawArgs }) {
    const options = parseReviewArgs(rawArgs);
    return withCluster(options.connection, async (deps) =>
      (await import('../lib/breakglass.ts')).review(deps, options),
    );
  },
});
