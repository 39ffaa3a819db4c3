// kubectl-request: the root command, a lazy subcommand map, and the runner that turns results and
// errors into output and exit codes. Nothing here loads the Kubernetes client.
import { defineCommand, runCommand, type CommandDef, type Resolvable } from 'citty';
import { aliasesOf, flagKind, type FlagDef } from './lib/args.ts';
import type { CommandHelp } from './commands/_shared.ts';
import { CliError, ExitCode, explainError } from './lib/errors.ts';
import { didYouMean } from './lib/suggest.ts';
import { runtime, withRuntime, type Runtime } from './lib/runtime.ts';

interface CommandModule {
  default: CommandDef<any>;
  help: CommandHelp;
}

/**
 * Every subcommand: its module, imported only when it runs or its help is shown, and the summary
 * the root help and completion list without importing it (a test checks it is the module's
 * description). One table, so a command cannot be registered and left out of the help.
 */
const commands: Record<string, { load: () => Promise<CommandModule>; summary: string }> = {
  exec: {
    load: () => import('./commands/exec.ts'),
    summary: 'Ask for access to run a command in a pod (kubectl exec)',
  },
  grant: {
    load: () => import('./commands/grant.ts'),
    summary: 'Grant an access request (after a summary and a y/N prompt)',
  },
  deny: { load: () => import('./commands/deny.ts'), summary: 'Deny an access request, with a reason' },
  list: { load: () => import('./commands/list.ts'), summary: 'List access requests (pending ones by default)' },
  describe: {
    load: () => import('./commands/describe.ts'),
    summary: 'Show one access request, its decision and the kubectl command it allows',
  },
  cancel: { load: () => import('./commands/cancel.ts'), summary: 'Withdraw your own access request' },
  wait: {
    load: () => import('./commands/wait.ts'),
    summary: 'Wait for the decision on an access request, then print the command to run',
  },
  revoke: {
    load: () => import('./commands/revoke.ts'),
    summary: 'Take back the grant of an access request (approvers and admins)',
  },
  review: {
    load: () => import('./commands/review.ts'),
    summary: 'Review a break-glass grant after the fact (another approver)',
  },
  policy: {
    load: () => import('./commands/policy.ts'),
    summary: 'Explain the AccessPolicies of a pod: auto-approved, N approvals, refused, break-glass',
  },
  completion: {
    load: () => import('./commands/completion.ts'),
    summary: 'Print a shell completion script (bash, zsh, fish)',
  },
  attach: {
    load: () => import('./commands/attach.ts'),
    summary: 'Ask for access to read the output of a container (kubectl attach, output only)',
  },
  'port-forward': {
    load: () => import('./commands/port-forward.ts'),
    summary: 'Ask for access to forward local ports to a pod (kubectl port-forward)',
  },
  debug: {
    load: () => import('./commands/debug.ts'),
    summary: 'Ask for access to add a debug container to a pod (kubectl debug, ephemeral container)',
  },
  cp: {
    load: () => import('./commands/cp.ts'),
    summary: 'Ask for access to copy files out of or into a container (kubectl cp)',
  },
  ui: {
    load: () => import('./commands/ui.ts'),
    summary: "Serve the approvers' web page on 127.0.0.1 (the queue live, grant, deny, history)",
  },
};

const modules: Record<string, () => Promise<CommandModule>> = Object.fromEntries(
  Object.entries(commands).map(([name, { load }]) => [name, load]),
);

/** Listed in the root help and offered by completion without importing every command. */
export const summaries: Record<string, string> = Object.fromEntries(
  Object.entries(commands).map(([name, { summary }]) => [name, summary]),
);

const aliases: Record<string, string> = { ls: 'list', portforward: 'port-forward' };

export const main = defineCommand({
  meta: {
    name: 'kubectl request',
    description: 'Ask for, grant and deny audited access to kubectl exec',
  },
  subCommands: Object.fromEntries(
    Object.entries(modules).map(([name, load]) => [name, () => load().then((m) => m.default)]),
  ),
});

const EXIT_CODES = [
  'Exit codes: 0 ok, 1 error, 2 usage error, 3 denied (by an approver, the webhook or RBAC), 4 --wait timed out.',
];

const ANSI = /\u001B\[[0-9;]*m/g;

export function rootHelp(): string {
  const width = Math.max(...Object.keys(summaries).map((n) => n.length));
  return [
    'Ask for, grant and deny audited access to kubectl exec.',
    '',
    'USAGE kubectl request COMMAND [OPTIONS]',
    '',
    'COMMANDS',
    '',
    ...Object.entries(summaries).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`),
    '',
    'CONNECTION (every command)',
    '',
    '  --kubeconfig=<path>  Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)',
    '  --context=<name>     The kubeconfig context to use',
    "  -n, --namespace=<ns> Namespace (default: the context's namespace, else default)",
    '  --request-timeout=<duration>  Give up on an API call after this long (default 30s; 0 never)',
    '',
    'EXAMPLES',
    '',
    '  # A developer asks, waits, and runs the command once it is granted',
    "  kubectl request exec deployment/web -n shop --run -- cat '/etc/app/config.yaml'",
    '  # An approver reviews the queue and decides',
    '  kubectl request list -n shop',
    '  kubectl request grant alice-web-7fb96c846b-pcnxl-x2kqp -n shop',
    '  kubectl request deny alice-web-7fb96c846b-pcnxl-x2kqp -n shop --reason "not during the freeze"',
    '',
    ...EXIT_CODES,
    'Use "kubectl request COMMAND --help" for more about a command.',
  ].join('\n');
}

function flagLabel(name: string, def: FlagDef): string {
  const flags = [...aliasesOf(def).map((a) => (a.length === 1 ? `-${a}` : `--${a}`)), `--${name}`].join(', ');
  const value = (def.valueHint ?? name).toUpperCase();
  switch (flagKind(def)) {
    case 'boolean':
      return flags;
    case 'optional':
      return `${flags}[=${value}]`;
    case 'multiple':
      return `${flags}=${value}...`;
    default:
      return def.type === 'enum' ? `${flags}=${(def.options ?? []).join('|')}` : `${flags}=${value}`;
  }
}

function columns(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd());
}

/** A subcommand's help: description, usage, arguments, options, examples, notes. */
export async function commandHelp(name: string): Promise<string> {
  const module = await modules[name]!();
  const meta = (await resolve(module.default.meta)) ?? {};
  const args = Object.entries((await resolve(module.default.args)) ?? {}) as [string, FlagDef][];
  const positionals = args.filter(([, def]) => def.type === 'positional');
  const flags = args.filter(([, def]) => def.type !== 'positional');
  const { usage, examples, notes = [] } = module.help;
  return [
    `${meta.description ?? ''}.`,
    '',
    `USAGE ${usage}`,
    ...(positionals.length > 0
      ? ['', 'ARGUMENTS', '', ...columns(positionals.map(([n, def]) => [n.toUpperCase(), def.description ?? '']))]
      : []),
    ...(flags.length > 0
      ? ['', 'OPTIONS', '', ...columns(flags.map(([n, def]) => [flagLabel(n, def), def.description ?? '']))]
      : []),
    '',
    'EXAMPLES',
    '',
    ...examples.map((line) => `  ${line}`),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
}

async function resolve<T>(value: Resolvable<T> | undefined): Promise<T | undefined> {
  return typeof value === 'function' ? await (value as () => T | Promise<T>)() : await value;
}

function commandName(word: string | undefined): string | undefined {
  if (!word) return undefined;
  const name = aliases[word] ?? word;
  return name in modules ? name : undefined;
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  // cli/main.ts in a checkout, cli/dist/main.mjs in a package: package.json is one or two levels up.
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(await readFile(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (pkg.name === 'kube-request-access') return pkg.version;
    } catch {
      // try the next
    }
  }
  return 'unknown';
}

const LEADING_VALUE_FLAGS = new Set(['--kubeconfig', '--context', '--namespace', '-n', '--request-timeout']);

/**
 * `kubectl request -n shop list` → `list -n shop`: connection flags may come before the command,
 * as they do for kubectl itself.
 */
export function hoistCommand(argv: readonly string[]): string[] {
  const leading: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--' || !word.startsWith('-')) {
      return i === 0 || word === '--' ? [...argv] : [word, ...leading, ...argv.slice(i + 1)];
    }
    leading.push(word);
    if (LEADING_VALUE_FLAGS.has(word) && i + 1 < argv.length) leading.push(argv[++i]!);
  }
  return [...argv];
}

/** `__complete WORDS…`: Cobra's completion protocol (kubectl_complete-request runs it). */
async function completeWords(words: readonly string[]): Promise<number> {
  const rt = runtime();
  const { complete, formatCompletion } = await import('./lib/complete.ts');
  const completion = await complete(words.length > 0 ? words : [''], {
    commands: summaries,
    args: async (word) => {
      const name = commandName(word);
      return name ? ((await resolve((await modules[name]!()).default.args)) ?? {}) : undefined;
    },
    connect: async (connection) => ({ cluster: await rt.connect(connection), io: rt.io, now: rt.now, sleep: rt.sleep }),
  });
  rt.io.stdout(formatCompletion(completion));
  return ExitCode.OK;
}

async function run(original: readonly string[]): Promise<number> {
  const io = runtime().io;
  if (original[0] === '__complete') return completeWords(original.slice(1));
  const argv = hoistCommand(original);
  const dashdash = argv.indexOf('--');
  const flagsPart = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const first = argv.find((word) => !word.startsWith('-'));
  const sub = commandName(first);

  // Help flags count only before `--`: after it they belong to the remote command.
  const wantsHelp = flagsPart.includes('--help') || flagsPart.includes('-h') || first === 'help';
  if (argv.length === 0 || wantsHelp) {
    const topic = first === 'help' ? commandName(argv[argv.indexOf('help') + 1]) : sub;
    io.stdout(topic ? await commandHelp(topic) : rootHelp());
    return ExitCode.OK;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === 'version')) {
    io.stdout(await version());
    return ExitCode.OK;
  }
  if (!sub) {
    const word = first ?? argv[0]!;
    const suggestion = word.startsWith('-') ? '' : didYouMean(word, [...Object.keys(modules), ...Object.keys(aliases)]);
    io.stderr(`error: unknown command "${word}"${suggestion}; run "kubectl request --help" for the commands`);
    return ExitCode.USAGE;
  }
  try {
    // The subcommand directly: citty's runCommand of the root drops a subcommand's result (the exit code).
    const command = (await modules[sub]!()).default;
    const { result } = await runCommand(command, { rawArgs: argv.slice(argv.indexOf(first!) + 1) });
    return typeof result === 'number' ? result : ExitCode.OK;
  } catch (error) {
    let failure: CliError;
    if (error instanceof CliError) failure = error;
    else if ((error as { name?: unknown }).name === 'CLIError') {
      failure = new CliError((error as Error).message.replace(ANSI, ''), ExitCode.USAGE);
    } else failure = explainError(error, { action: `run ${sub}` });
    const hint = failure.exitCode === ExitCode.USAGE ? ` (see kubectl request ${sub} --help)` : '';
    io.stderr(`error: ${failure.message}${hint}`);
    return failure.exitCode;
  }
}

/**
 * Runs the CLI on `argv` (the words after `kubectl request`) and returns the exit code.
 * Tests pass a Runtime with their own I/O and cluster; the binary passes none.
 */
export function runCli(argv: readonly string[], rt?: Runtime): Promise<number> {
  return rt ? withRuntime(rt, () => run(argv)) : run(argv);
}
