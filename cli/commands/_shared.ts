// Argument fragments every command shares, in citty's format: help is rendered from them and
// lib/args.ts parses with them.
import {
  parseCommandLine,
  parseRequestTimeout,
  stringFlag,
  type ParseOptions,
  type ParsedCommandLine,
  type FlagsDef,
} from '../lib/args.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';

/** kubectl's connection flags; KUBECONFIG and the context's namespace apply as in kubectl. */
export const connectionArgs = {
  kubeconfig: {
    type: 'string',
    description: 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)',
    valueHint: 'path',
  },
  context: {
    type: 'string',
    description: 'The kubeconfig context to use (default: the current context)',
    valueHint: 'name',
  },
  namespace: {
    type: 'string',
    alias: ['n'],
    description: "Namespace (default: the context's namespace, else default)",
    valueHint: 'namespace',
  },
  'request-timeout': {
    type: 'string',
    description: 'Give up on an API call after this long, e.g. 10s, 1m; 0 never gives up (default 30s)',
    valueHint: 'duration',
  },
} satisfies FlagsDef;

/** The request a command is about. */
export const requestNameArg = {
  name: { type: 'positional', description: 'Name of the AccessRequest (see kubectl request list)', required: false },
} satisfies FlagsDef;

export const yesArg = {
  yes: { type: 'boolean', alias: ['y'], description: 'Do not ask for confirmation' },
} satisfies FlagsDef;

export function connectionOptions(parsed: ParsedCommandLine): ConnectionOptions {
  const options: ConnectionOptions = {};
  const kubeconfig = stringFlag(parsed, 'kubeconfig');
  const context = stringFlag(parsed, 'context');
  const namespace = stringFlag(parsed, 'namespace');
  if (kubeconfig) options.kubeconfig = kubeconfig;
  if (context) options.context = context;
  if (namespace) options.namespace = namespace;
  const timeout = parseRequestTimeout(stringFlag(parsed, 'request-timeout'));
  if (timeout !== undefined) options.requestTimeoutMs = timeout;
  return options;
}

/** Parses a command's raw arguments and insists on exactly `positionals` positional words. */
export function parseWith(
  rawArgs: readonly string[],
  args: FlagsDef,
  options: ParseOptions & { positionals?: readonly string[] } = {},
): ParsedCommandLine {
  return parseCommandLine(rawArgs, args, options);
}

/** Help text pieces a command module exports next to its citty definition. */
export interface CommandHelp {
  /** Replaces citty's generated USAGE line. */
  usage: string;
  examples: readonly string[];
  /** Extra paragraphs after the options. */
  notes?: readonly string[];
}
