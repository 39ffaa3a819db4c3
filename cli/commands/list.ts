import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, stringFlag, type FlagsDef } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import { didYouMean } from '../lib/suggest.ts';
import type { ListOptions } from '../lib/manage.ts';
import { connectionArgs, connectionOptions, type CommandHelp } from './_shared.ts';
import { withCluster } from './_run.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';

const OUTPUTS = ['wide', 'yaml', 'json', 'name'] as const;

export const args = {
  all: { type: 'boolean', description: 'Include granted, denied, used and expired requests' },
  'needs-review': {
    type: 'boolean',
    description: 'Break-glass requests (used or not) nobody reviewed yet, in every namespace you can see',
  },
  'all-namespaces': { type: 'boolean', alias: ['A'], description: 'List requests in every namespace' },
  output: {
    type: 'string',
    alias: ['o'],
    description: 'Output format: wide, name, json, yaml or jsonpath=TEMPLATE',
    valueHint: 'format',
  },
  'no-headers': { type: 'boolean', description: 'Leave out the header line of the table' },
  selector: {
    type: 'string',
    alias: ['l'],
    description: 'Only requests with these labels, e.g. -l team=shop,tier!=db',
    valueHint: 'selector',
  },
  watch: {
    type: 'boolean',
    alias: ['w'],
    description: 'After the list, print a line for every request that appears or changes state (Ctrl-C stops)',
  },
  ...connectionArgs,
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage:
    'kubectl request list [--all | --needs-review] [-A] [-l SELECTOR] [-o wide|name|json|yaml|jsonpath=TEMPLATE] [--no-headers] [-w] [-n NAMESPACE]',
  examples: [
    '# Pending requests in the current namespace',
    'kubectl request list',
    '# Everything, everywhere, with containers, creators, deciders and reasons',
    'kubectl request list --all -A -o wide',
    '# Break-glass requests waiting for an after-the-fact review (kubectl request review NAME)',
    'kubectl request list --needs-review',
    '# Keep watching the queue',
    'kubectl request list -w',
    '# Names only, for scripts',
    'kubectl request list -o name',
    'kubectl request list -o jsonpath=\'{range .items[*]}{.metadata.name}{"\\t"}{.spec.userInfo.username}{"\\n"}{end}\'',
  ],
};

export function parseListArgs(rawArgs: readonly string[]): ListOptions & { connection: ConnectionOptions } {
  const parsed = parseCommandLine(rawArgs, args);
  if (parsed.positionals.length > 0) throw usageError(`list takes no arguments, got "${parsed.positionals.join(' ')}"`);
  const output = stringFlag(parsed, 'output');
  let jsonPath: string | undefined;
  if (output?.startsWith('jsonpath=')) {
    jsonPath = output.slice('jsonpath='.length);
    if (!jsonPath) throw usageError("-o jsonpath= needs a template, e.g. -o jsonpath='{.items[*].metadata.name}'");
  } else if (output !== undefined && !(OUTPUTS as readonly string[]).includes(output)) {
    throw usageError(
      `-o must be one of ${OUTPUTS.join(', ')} or jsonpath=TEMPLATE (got "${output}")${didYouMean(output, OUTPUTS)}`,
    );
  }
  const watch = booleanFlag(parsed, 'watch');
  if (watch && output !== undefined && output !== 'wide' && output !== 'name') {
    throw usageError('-w prints table lines: use it without -o, or with -o wide or -o name');
  }
  const selector = stringFlag(parsed, 'selector');
  const needsReview = booleanFlag(parsed, 'needs-review');
  if (needsReview && (watch || booleanFlag(parsed, 'all'))) {
    throw usageError('--needs-review lists break-glass requests to review; use it without --all and -w');
  }
  return {
    all: booleanFlag(parsed, 'all'),
    ...(needsReview ? { needsReview } : {}),
    allNamespaces: booleanFlag(parsed, 'all-namespaces'),
    noHeaders: booleanFlag(parsed, 'no-headers'),
    watch,
    ...(jsonPath !== undefined
      ? { output: 'jsonpath' as const, jsonPath }
      : output
        ? { output: output as (typeof OUTPUTS)[number] }
        : {}),
    ...(selector ? { selector } : {}),
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
