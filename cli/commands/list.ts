import type { ArgsDef } from 'citty';
import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, stringFlag } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import type { ListOptions } from '../lib/manage.ts';
import { connectionArgs, connectionOptions, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';

const OUTPUTS = ['wide', 'yaml', 'json'] as const;

export const args = {
  all: { type: 'boolean', description: 'Include granted, denied and expired requests' },
  'all-namespaces': { type: 'boolean', alias: ['A'], description: 'List requests in every namespace' },
  output: { type: 'enum', alias: ['o'], options: [...OUTPUTS], description: 'Output format' },
  ...connectionArgs,
} satisfies ArgsDef;

export const help: CommandHelp = {
  usage: 'kubectl request list [--all] [-A] [-o wide|yaml|json] [-n NAMESPACE]',
  examples: [
    '# Pending requests in the current namespace',
    'kubectl request list',
    '# Everything, everywhere, with containers, deciders and reasons',
    'kubectl request list --all -A -o wide',
  ],
};

export function parseListArgs(rawArgs: readonly string[]): ListOptions & { connection: ConnectionOptions } {
  const parsed = parseCommandLine(rawArgs, args);
  if (parsed.positionals.length > 0) throw usageError(`list takes no arguments, got "${parsed.positionals.join(' ')}"`);
  const output = stringFlag(parsed, 'output');
  if (output !== undefined && !(OUTPUTS as readonly string[]).includes(output)) {
    throw usageError(`-o must be one of ${OUTPUTS.join(', ')} (got "${output}")`);
  }
  return {
    all: booleanFlag(parsed, 'all'),
    allNamespaces: booleanFlag(parsed, 'all-namespaces'),
    ...(output ? { output: output as ListOptions['output'] & string } : {}),
    connection: connectionOptions(parsed),
  };
}

export default defineCommand({
  meta: { name: 'list', alias: ['ls'], description: 'List access requests (pending ones by default)' },
  args,
  async run({ rawArgs }) {
    const options = parseListArgs(rawArgs);
    return withCluster(options.connection, async (deps) => (await import('../lib/manage.ts')).list(deps, options));
  },
});
