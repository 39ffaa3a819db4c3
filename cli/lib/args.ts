// Argument parsing that follows kubectl's conventions where citty's parser does not:
// everything after `--` is the command (flags there belong to it), `-k` may repeat, short
// booleans combine (`-it`), and `--wait` takes an optional value: `--wait=10m`, or `--wait 10m`
// when the next word is a duration.
// The flag table is the commands' own citty `args`, so help and parsing cannot drift apart.
import type { ArgsDef } from 'citty';
import { parseDuration } from '../../functions/duration.ts';
import { usageError } from './errors.ts';
import { didYouMean } from './suggest.ts';

export interface ParseOptions {
  /** String flags that may be given several times (collected in order). */
  multiple?: readonly string[];
  /**
   * String flags whose value is optional: `--flag=value`, or `--flag value` when `value` is a Go
   * duration (so `--wait 5s` waits and `--wait web-0` names the pod); bare `--flag` yields ''.
   */
  optionalValue?: readonly string[];
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
  kind: 'string' | 'boolean' | 'multiple' | 'optional';
}

function flagTable(argsDef: ArgsDef, options: ParseOptions): Map<string, FlagInfo> {
  const table = new Map<string, FlagInfo>();
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type === 'positional') continue;
    const kind: FlagInfo['kind'] = options.multiple?.includes(name)
      ? 'multiple'
      : options.optionalValue?.includes(name)
        ? 'optional'
        : def.type === 'boolean'
          ? 'boolean'
          : 'string';
    const info = { name, kind };
    table.set(`--${name}`, info);
    const aliases = def.type === 'boolean' || def.type === 'string' || def.type === 'enum' ? def.alias : undefined;
    for (const alias of typeof aliases === 'string' ? [aliases] : (aliases ?? [])) {
      table.set(alias.length === 1 ? `-${alias}` : `--${alias}`, info);
    }
  }
  return table;
}

/** Parses `rawArgs` against a command's citty `args`. Throws a usage CliError on anything unknown. */
export function parseCommandLine(
  rawArgs: readonly string[],
  argsDef: ArgsDef,
  options: ParseOptions = {},
): ParsedCommandLine {
  const table = flagTable(argsDef, options);
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

/** `-k key=value` pairs into a map. Keys must be non-empty; a value may contain '='. */
export function parseCustomKeys(pairs: readonly string[]): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`-k needs key=value (got "${pair}")`);
    keys[pair.slice(0, eq)] = pair.slice(eq + 1);
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
