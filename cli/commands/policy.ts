import type { ArgsDef } from 'citty';
import { defineCommand } from 'citty';
import { parseCommandLine, parseTarget, parseValidFor, stringFlag } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { PolicyOptions } from '../lib/policy.ts';
import { connectionArgs, connectionOptions, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';

export const args = {
  target: { type: 'positional', description: 'The pod, or TYPE/NAME (deployment, statefulset, …)', required: false },
  container: {
    type: 'string',
    alias: ['c'],
    description: 'Container (default: the kubectl.kubernetes.io/default-container annotation, else the first)',
    valueHint: 'name',
  },
  'valid-for': {
    type: 'string',
    description: 'Explain a request for this window (default: a single use)',
    valueHint: 'duration',
  },
  ...connectionArgs,
} satisfies ArgsDef;

export const help: CommandHelp = {
  usage: 'kubectl request policy POD [-n NAMESPACE] [-c CONTAINER] [--valid-for DURATION] [-- COMMAND...]',
  examples: [
    '# What the policies of namespace shop say, and about any command in web-0',
    'kubectl request policy web-0 -n shop',
    '# Would this exact command be pre-approved? Could I break glass for 30 minutes?',
    'kubectl request policy web-0 -n shop --valid-for 30m -- cat /app/config',
  ],
  notes: [
    "Reads the AccessPolicies of the namespace and explains them with the webhook's own rules: auto-approved, N approvals, refused, break-glass.",
    'The webhook decides; if you may not read AccessPolicies, this shows the namespace as without policies.',
  ],
};

export function parsePolicyArgs(
  rawArgs: readonly string[],
): PolicyOptions & { connection: ReturnType<typeof connectionOptions> } {
  const parsed = parseCommandLine(rawArgs, args, { allowRest: true });
  const [target, ...extra] = parsed.positionals;
  if (!target) throw usageError('name a pod, e.g. kubectl request policy web-0 -- ls');
  if (extra.length > 0) {
    throw usageError(
      `unexpected "${extra.join(' ')}": put the command after "--", e.g. kubectl request policy ${target} -- ${extra.join(' ')}`,
    );
  }
  const container = stringFlag(parsed, 'container');
  return {
    target: parseTarget(target),
    command: parsed.rest ?? [],
    validFor: parseValidFor(stringFlag(parsed, 'valid-for')),
    ...(container ? { container } : {}),
    connection: connectionOptions(parsed),
  };
}

export default defineCommand({
  meta: {
    name: 'policy',
    description: 'Explain the AccessPolicies of a pod: auto-approved, N approvals, refused, break-glass',
  },
  args,
  async run({ rawArgs }) {
    const options = parsePolicyArgs(rawArgs);
    return withCluster(options.connection, async (deps) => (await import('../lib/policy.ts')).policy(deps, options));
  },
});
