// Argument parsing that follows kubectl's conventions where citty's parser does not:
// everything after `--` is the command (flags there belong to it), `-k` may repeat, short
// booleans combine (`-it`), and `--wait` takes an optional value: `--wait=10m`, or `--wait 10m`
// when the next word is a duration.
// The flag table is the commands' own citty `args`, so help and parsing cannot drift apart: a
// flag's kind (repeatable, optional value) is a marker on its definition (`FlagDef`), which help
// (cli/main.ts) and completion (cli/lib/complete.ts) read as well.
import type { ArgDef, StringArgDef } from 'citty';
import { parseDuration } from '../../functions/duration.ts';
import { usageError } from './errors.ts';
import { didYouMean } from './suggest.ts';

/** A string flag that may be given several times: its values are collected in order (`-k a=1 -k b=2`). */
export type RepeatableFlagDef = StringArgDef & { multiple: true };
/**
 * A string flag whose value is optional: `--flag=value`, or `--flag value` when `value` is a Go
 * duration (so `--wait 5s` waits and `--wait web-0` names the pod); bare `--flag` yields ''.
 */
export type OptionalValueFlagDef = StringArgDef & { optionalValue: true };
/** A citty argument definition, or a string flag with one of the markers above. */
export type FlagDef = ArgDef | RepeatableFlagDef | OptionalValueFlagDef;
/** A command's `args`: what help renders, completion offers and `parseCommandLine` parses. */
export type FlagsDef = Record<string, FlagDef>;

export type FlagKind = 'positional' | 'string' | 'boolean' | 'multiple' | 'optional';

/** How a definition is parsed; help and completion ask the same question. */
export function flagKind(def: FlagDef): FlagKind {
  if ('multiple' in def && def.multiple) return 'multiple';
  if ('optionalValue' in def && def.optionalValue) return 'optional';
  if (def.type === 'positional') return 'positional';
  return def.type === 'boolean' ? 'boolean' : 'string';
}

/** A definition's aliases, as written (`'n'`, `'custom-key'`). */
export function aliasesOf(def: FlagDef): string[] {
  const alias = 'alias' in def ? def.alias : undefined;
  return typeof alias === 'string' ? [alias] : [...(alias ?? [])];
}

export interface ParseOptions {
  /** Whether a `--` and the words after it are accepted. */
  allowRest?: boolean;
}

export interface ParsedCommandLine {
  /** Flag values by canonical name: string, boolean, or string[] for `multiple` flags. */
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
  /** The words after `--`, or undefined when there was no `--`. */
  rest: string[] | undefined;
}

interface FlagInfo {
  name: string;
  kind: Exclude<FlagKind, 'positional'>;
}

function flagTable(argsDef: FlagsDef): Map<string, FlagInfo> {
  const table = new Map<string, FlagInfo>();
  for (const [name, def] of Object.entries(argsDef)) {
    const kind = flagKind(def);
    if (kind === 'positional') continue;
    const info = { name, kind };
    table.set(`--${name}`, info);
    for (const alias of aliasesOf(def)) table.set(alias.length === 1 ? `-${alias}` : `--${alias}`, info);
  }
  return table;
}

/** Parses `rawArgs` against a command's `args`. Throws a usage CliError on anything unknown. */
export function parseCommandLine(
  rawArgs: readonly string[],
  argsDef: FlagsDef,
  options: ParseOptions = {},
): ParsedCommandLine {
  const table = flagTable(argsDef);
  const flags: ParsedCommandLine['flags'] = {};
  const positionals: string[] = [];
  let rest: string[] | undefined;

  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type !== 'positional' && def.default !== undefined) flags[name] = def.default;
  }

  for (let i = 0; i < rawArgs.length; i++) {
    const word = rawArgs[i]!;
    if (word === '--') {
      if (!options.allowRest) throw usageError('unexpected "--": this command takes no command to run');
      rest = rawArgs.slice(i + 1);
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    let key = word;
    let inline: string | undefined;
    if (!word.startsWith('--')) {
      // "-n shop", "-nshop", "-n=shop" as kubectl takes them; "-it" is "-i -t"
      key = word.slice(0, 2);
      if (word.length > 2) inline = word[2] === '=' ? word.slice(3) : word.slice(2);
      if (inline !== undefined && word[2] !== '=' && table.get(key)?.kind === 'boolean') {
        const letters = [...inline].map((letter) => `-${letter}`);
        if (letters.every((flag) => table.get(flag)?.kind === 'boolean')) {
          for (const flag of [key, ...letters]) flags[table.get(flag)!.name] = true;
          continue;
        }
      }
    } else if (word.indexOf('=') > 0) {
      key = word.slice(0, word.indexOf('='));
      inline = word.slice(word.indexOf('=') + 1);
    }
    let info = table.get(key);
    let negated = false;
    if (!info && key.startsWith('--no-')) {
      const positive = table.get(`--${key.slice(5)}`);
      if (positive?.kind === 'boolean') {
        info = positive;
        negated = true;
      }
    }
    if (!info) {
      const suggestion = didYouMean(
        key,
        [...table.keys()].filter((k) => k.startsWith('--')),
      );
      const hint =
        !suggestion && options.allowRest && positionals.length > 0 ? '; put the command and its flags after "--"' : '';
      throw usageError(`unknown flag ${key}${suggestion}${hint}`);
    }
    switch (info.kind) {
      case 'boolean':
        if (inline !== undefined && !['true', 'false'].includes(inline)) {
          throw usageError(`${key} takes no value (got "${inline}")`);
        }
        flags[info.name] = negated ? false : inline !== 'false';
        break;
      case 'optional': {
        const next = rawArgs[i + 1];
        if (inline === undefined && next !== undefined && parseDuration(next) !== undefined) {
          inline = next;
          i++;
        }
        flags[info.name] = inline ?? '';
        break;
      }
      case 'string':
      case 'multiple': {
        let value = inline;
        if (value === undefined) {
          value = rawArgs[i + 1];
          if (value === undefined || value === '--') throw usageError(`${key} needs a value`);
          i++;
        }
        if (info.kind === 'multiple') {
          const previous = flags[info.name];
          flags[info.name] = [...(Array.isArray(previous) ? previous : []), value];
        } else {
          flags[info.name] = value;
        }
        break;
      }
    }
  }
  return { flags, positionals, rest };
}

export function stringFlag(parsed: ParsedCommandLine, name: string): string | undefined {
  const value = parsed.flags[name];
  return typeof value === 'string' ? value : undefined;
}

export function booleanFlag(parsed: ParsedCommandLine, name: string): boolean {
  return parsed.flags[name] === true;
}

export function listFlag(parsed: ParsedCommandLine, name: string): string[] {
  const value = parsed.flags[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/**
 * Splits one `-k` word on the commas outside double quotes, as CSV does (`""` in quotes is a quote):
 * `a=1,"b=x,y"` is `a=1` and `b=x,y`.
 */
function splitCommas(word: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < word.length; i++) {
    const char = word[i]!;
    if (quoted) {
      if (char === '"' && word[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && field === '') quoted = true;
    else if (char === ',') {
      fields.push(field);
      field = '';
    } else field += char;
  }
  if (quoted) throw usageError(`-k ${word}: a quote is not closed`);
  return [...fields, field];
}

/**
 * `-k` words into a map, as the seed's `--custom-key` (pflag's StringToString) reads them: a word
 * with one `=` is one pair and its value is kept whole, commas too (`-k note=a,b`); a word with
 * more than one `=` is several pairs split at commas (`-k a=1,b=2`), where a pair in double quotes
 * keeps its commas (`-k 'a=1,"b=x,y"'`). Repeating -k adds pairs; a key given twice keeps the last.
 * Keys must be non-empty; a value may contain '='.
 */
export function parseCustomKeys(words: readonly string[]): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const word of words) {
    const equals = word.split('=').length - 1;
    const pairs = equals > 1 ? splitCommas(word) : [word];
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        const hint =
          pairs.length > 1
            ? `; -k a=1,b=2 gives two keys: for a value with a comma, give that key its own -k (-k 'note=x,y')`
            : '';
        throw usageError(`-k needs key=value (got "${pair}"${pairs.length > 1 ? ` in "${word}"` : ''})${hint}`);
      }
      keys[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return keys;
}

/** A `--valid-for` value: a Go duration such as 30m, 1h, 1h30m. */
export function parseValidFor(text: string | undefined): string {
  if (text === undefined || text === '') return '';
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw usageError(`--valid-for needs a duration such as 30m, 1h or 1h30m (got "${text}")`);
  }
  return text;
}

/** `--max-uses N`: a whole number of at least 1, or undefined when absent. */
export function parseMaxUses(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(text)) throw usageError(`--max-uses needs a whole number of at least 1 (got "${text}")`);
  return Number(text);
}

export const DEFAULT_WAIT_MS = 15 * 60_000;

/** `--wait` alone means the default timeout; `--wait=10m` or `--wait 10m` sets it; absent means do not wait. */
export function parseWait(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === '') return DEFAULT_WAIT_MS;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    throw usageError(`--wait takes a timeout such as --wait=10m or --wait 10m (got "${value}")`);
  }
  return ms;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * kubectl's `--request-timeout`: a duration (`30s`, `1m`), a bare number of seconds, or `0` for
 * no timeout.
 */
export function parseRequestTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDuration(text);
  if (ms === undefined) {
    throw usageError(`--request-timeout takes a duration such as 30s or 2m, or 0 for none (got "${text}")`);
  }
  return ms;
}

export type WorkloadKind = 'pod' | 'deployment' | 'statefulset' | 'daemonset' | 'replicaset' | 'job';

const KIND_NAMES: Record<string, WorkloadKind> = {
  po: 'pod',
  pod: 'pod',
  pods: 'pod',
  deploy: 'deployment',
  deployment: 'deployment',
  deployments: 'deployment',
  sts: 'statefulset',
  statefulset: 'statefulset',
  statefulsets: 'statefulset',
  ds: 'daemonset',
  daemonset: 'daemonset',
  daemonsets: 'daemonset',
  rs: 'replicaset',
  replicaset: 'replicaset',
  replicasets: 'replicaset',
  job: 'job',
  jobs: 'job',
};

export interface Target {
  kind: WorkloadKind;
  name: string;
}

/** `POD` or `TYPE/NAME` as kubectl takes them (`deploy/web`, `deployment.apps/web`, `pod/x`). */
export function parseTarget(text: string): Target {
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (!text) throw usageError('name a pod or TYPE/NAME, e.g. deployment/web');
    return { kind: 'pod', name: text };
  }
  const type = text.slice(0, slash).toLowerCase();
  const name = text.slice(slash + 1);
  const dot = type.indexOf('.');
  const resource = dot < 0 ? type : type.slice(0, dot);
  const group = dot < 0 ? undefined : type.slice(dot + 1);
  const kind = KIND_NAMES[resource];
  if (!kind || (group !== undefined && group !== (kind === 'job' ? 'batch' : kind === 'pod' ? '' : 'apps'))) {
    throw usageError(
      `cannot resolve "${type}" to a pod; use a pod name or one of deployment, statefulset, daemonset, replicaset, job`,
    );
  }
  if (!name || name.includes('/')) throw usageError(`"${text}" is not TYPE/NAME`);
  return { kind, name };
}
