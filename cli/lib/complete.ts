// Shell completion in Cobra's `__complete` format, which kubectl ≥ 1.26 reads from a plugin's
// `kubectl_complete-request` executable: one candidate a line (`value\tdescription`), then
// `:DIRECTIVE`. Request names and pod names come from the cluster; any failure there completes
// nothing rather than print an error into the user's command line.
import type { AccessRequest } from '../../functions/schemas.ts';
import { aliasesOf, flagKind, type FlagDef, type FlagsDef } from './args.ts';
import type { ConnectionOptions } from './cluster.ts';
import type { CommandDeps } from './exec.ts';
import { requestState } from './requests.ts';
import { commandText, stateText } from './summary.ts';

/** Cobra's ShellCompDirective bits. */
export const Directive = { default: 0, noSpace: 2, noFileComp: 4 } as const;

export interface Completion {
  candidates: string[];
  directive: number;
}

export interface CompletionSource {
  /** The subcommands and their one-line summaries. */
  commands: Record<string, string>;
  /** A subcommand's citty args, or undefined for an unknown one. */
  args(command: string): Promise<FlagsDef | undefined>;
  /** Connects with the flags found on the command line. */
  connect(connection: ConnectionOptions): Promise<CommandDeps>;
}

/** Which requests each command's NAME argument takes. */
const REQUEST_NAMES: Record<string, (state: string) => boolean> = {
  grant: (state) => state === 'pending',
  deny: (state) => state === 'pending',
  wait: (state) => state === 'pending' || state === 'granted',
  revoke: (state) => state === 'granted' || state === 'used' || state === 'expired',
  review: (state) => state === 'granted' || state === 'used' || state === 'expired',
  describe: () => true,
  cancel: () => true,
};

const OUTPUT_VALUES = ['wide', 'name', 'json', 'yaml', 'jsonpath='];

function flagNames(name: string, def: FlagDef): string[] {
  return [
    `--${name}`,
    ...aliasesOf(def)
      .filter((a) => a.length > 1)
      .map((a) => `--${a}`),
  ];
}

/** The flag's name when `flag` needs a value in the next word (an optional value never does). */
function takesValue(args: FlagsDef, flag: string): string | undefined {
  for (const [name, def] of Object.entries(args)) {
    const kind = flagKind(def);
    if (kind !== 'string' && kind !== 'multiple') continue;
    if (flag === `--${name}` || aliasesOf(def).some((a) => flag === (a.length === 1 ? `-${a}` : `--${a}`))) return name;
  }
  return undefined;
}

function connectionFrom(words: readonly string[]): ConnectionOptions {
  const options: ConnectionOptions = {};
  for (let i = 0; i < words.length; i++) {
    const [flag, inline] = words[i]!.includes('=') ? words[i]!.split(/=(.*)/s) : [words[i]!, undefined];
    const value = inline ?? words[i + 1];
    if (value === undefined) continue;
    if (flag === '-n' || flag === '--namespace') options.namespace = value;
    else if (flag === '--context') options.context = value;
    else if (flag === '--kubeconfig') options.kubeconfig = value;
  }
  // Completion must be quick: never wait the default 30 s on a cluster that does not answer.
  options.requestTimeoutMs = 5000;
  return options;
}

const LEADING_VALUE_FLAGS = new Set(['-n', '--namespace', '--context', '--kubeconfig', '--request-timeout']);

/** The command name, after any connection flags (`-n shop describe …`). */
function commandWord(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    if (LEADING_VALUE_FLAGS.has(words[i]!)) i++;
    else if (!words[i]!.startsWith('-')) return words[i];
  }
  return undefined;
}

function matching(candidates: readonly string[], prefix: string): string[] {
  return candidates.filter((c) => c.split('\t')[0]!.startsWith(prefix));
}

/** Completes `words` (after `kubectl request`; the last one is the word being typed, maybe ''). */
export async function complete(words: readonly string[], source: CompletionSource): Promise<Completion> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const none = { candidates: [], directive: Directive.noFileComp };
  const command = commandWord(before);
  if (!command) {
    return {
      candidates: matching(
        Object.entries(source.commands).map(([n, s]) => `${n}\t${s}`),
        current,
      ),
      directive: Directive.noFileComp,
    };
  }
  const args = await source.args(command);
  if (!args) return none;
  if (before.includes('--')) return { candidates: [], directive: Directive.default };

  const previous = before.at(-1);
  const valueOf = previous && previous !== command ? takesValue(args, previous) : undefined;
  if (valueOf) {
    if (valueOf === 'kubeconfig') return { candidates: [], directive: Directive.default };
    if (valueOf === 'output') return { candidates: matching(OUTPUT_VALUES, current), directive: Directive.noFileComp };
    return none;
  }
  if (current.startsWith('-')) {
    const flags = Object.entries(args)
      .filter(([, def]) => def.type !== 'positional')
      .flatMap(([name, def]) => flagNames(name, def).map((flag) => `${flag}\t${def.description ?? ''}`));
    return { candidates: matching(flags, current), directive: Directive.noFileComp };
  }

  // The first positional word of the command: a request name or a pod.
  const positionals = before
    .slice(before.indexOf(command) + 1)
    .filter((w, i, all) => !w.startsWith('-') && !(i > 0 && takesValue(args, all[i - 1]!)));
  if (positionals.length > 0) return none;
  try {
    const deps = await source.connect(connectionFrom(before));
    const namespace = deps.cluster.namespace;
    const wanted = REQUEST_NAMES[command];
    if (wanted) {
      const [requests, grants] = await Promise.all([
        deps.cluster.listAccessRequests(namespace),
        deps.cluster.listAccessGrants(namespace),
      ]);
      const now = deps.now();
      const described = (request: AccessRequest, state: ReturnType<typeof requestState>) =>
        `${request.metadata.name}\t${request.spec.userInfo.username}: ${commandText(request)} on ${request.spec.forObject.name} (${stateText(state, now)})`;
      const candidates = requests
        .map((request) => ({ request, state: requestState(request, grants, now) }))
        .filter(({ state }) => wanted(state.state))
        .map(({ request, state }) => described(request, state));
      return { candidates: matching(candidates, current), directive: Directive.noFileComp };
    }
    if ('target' in args) {
      const pods = await deps.cluster.listPods(namespace, '');
      const names = pods.map((pod) => pod.metadata?.name ?? '').filter(Boolean);
      return { candidates: matching(names, current), directive: Directive.noFileComp };
    }
  } catch {
    // Completion never prints errors into the command line.
  }
  return none;
}

/** The lines `__complete` prints. */
export function formatCompletion(completion: Completion): string {
  return [...completion.candidates, `:${completion.directive}`].join('\n');
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Scripts that complete `kubectl-request` itself (kubectl completes `kubectl request` through kubectl_complete-request). */
export function completionScript(shell: Shell): string {
  switch (shell) {
    case 'bash':
      return `# bash completion for kubectl-request; source it: source <(kubectl request completion bash)
_kubectl_request() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" out directive
  out=$(kubectl-request __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
  directive=\${out##*:}
  out=$(printf '%s\\n' "$out" | sed '$d' | cut -f1)
  COMPREPLY=( $(compgen -W "$out" -- "$cur") )
  if [[ \${#COMPREPLY[@]} -eq 0 && $(( directive & 4 )) -eq 0 ]]; then COMPREPLY=( $(compgen -f -- "$cur") ); fi
}
complete -F _kubectl_request kubectl-request`;
    case 'zsh':
      return `#compdef kubectl-request
# zsh completion for kubectl-request; source it: source <(kubectl request completion zsh)
_kubectl_request() {
  local -a lines comps
  lines=("\${(@f)$(kubectl-request __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  local directive=\${lines[-1]#:}
  comps=("\${(@)\${(@)lines[1,-2]}/$'\\t'/:}")
  if (( \${#comps} )); then _describe 'kubectl-request' comps; elif (( (directive & 4) == 0 )); then _files; fi
}
compdef _kubectl_request kubectl-request`;
    case 'fish':
      return `# fish completion for kubectl-request; load it: kubectl request completion fish | source
function __kubectl_request_complete
    set -l args (commandline -opc)[2..-1] (commandline -ct)
    kubectl-request __complete $args 2>/dev/null | string match -v -r '^:'
end
complete -c kubectl-request -f -a '(__kubectl_request_complete)'`;
  }
}
