// kubectl's -o jsonpath=TEMPLATE, the part people use: `{.items[*].metadata.name}`, `{range
// .items[*]}…{end}`, `{"\n"}` literals, `[n]`, `[*]`, `['key.with.dots']`, `.*`. Plain text between
// expressions is printed as is; several results of one expression are joined by a space.
import { usageError } from './errors.ts';

type Token = { text: string } | { path: string } | { range: string } | { end: true };

function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      tokens.push({ text: template.slice(i) });
      break;
    }
    if (open > i) tokens.push({ text: template.slice(i, open) });
    let close = open + 1;
    let quote: string | undefined;
    for (; close < template.length; close++) {
      const c = template[close]!;
      if (quote) {
        if (c === '\\') close++;
        else if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '}') break;
    }
    if (close >= template.length) throw usageError(`-o jsonpath: unclosed "{" in ${template}`);
    const inner = template.slice(open + 1, close).trim();
    if (inner === 'end') tokens.push({ end: true });
    else if (inner.startsWith('range ')) tokens.push({ range: inner.slice(6).trim() });
    else if (/^(["']).*\1$/s.test(inner)) tokens.push({ text: unescape(inner.slice(1, -1)) });
    else tokens.push({ path: inner });
    i = close + 1;
  }
  return tokens;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

/** The values `path` selects from `current` (`root` for a leading `$`). */
export function select(path: string, current: unknown, root: unknown = current): unknown[] {
  let values: unknown[] = [current];
  let rest = path;
  if (rest.startsWith('$')) {
    values = [root];
    rest = rest.slice(1);
  } else if (rest.startsWith('@')) rest = rest.slice(1);
  const segment = /^(?:\.([A-Za-z0-9_-]+|\*)|\[\s*(\*|-?\d+|'[^']*'|"[^"]*")\s*\])/;
  while (rest.length > 0) {
    const match = segment.exec(rest);
    if (!match) throw usageError(`-o jsonpath: cannot read "${rest}" in {${path}}`);
    rest = rest.slice(match[0].length);
    const key = match[1] ?? match[2]!;
    values = values.flatMap((value): unknown[] => {
      if (value === null || typeof value !== 'object') return [];
      if (key === '*') return Array.isArray(value) ? value : Object.values(value);
      if (/^-?\d+$/.test(key) && Array.isArray(value)) {
        const index = Number(key) < 0 ? value.length + Number(key) : Number(key);
        return index in value ? [value[index]] : [];
      }
      const name = /^['"]/.test(key) ? key.slice(1, -1) : key;
      return name in value ? [(value as Record<string, unknown>)[name]] : [];
    });
  }
  return values;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Renders `template` against `document`, as `kubectl get -o jsonpath=…` does. */
export function renderJsonPath(template: string, document: unknown): string {
  const tokens = tokenize(template);
  const render = (from: number, current: unknown): { out: string; next: number } => {
    let out = '';
    let i = from;
    while (i < tokens.length) {
      const token = tokens[i]!;
      if ('end' in token) return { out, next: i + 1 };
      if ('text' in token) {
        out += token.text;
        i++;
      } else if ('path' in token) {
        out += select(token.path, current, document).map(show).join(' ');
        i++;
      } else {
        const items = select(token.range, current, document);
        let next = i + 1;
        // The body is rendered once per item; an empty range still has to skip its body.
        if (items.length === 0) next = render(i + 1, undefined).next;
        for (const item of items) {
          const body = render(i + 1, item);
          out += body.out;
          next = body.next;
        }
        i = next;
      }
    }
    return { out, next: i };
  };
  return render(0, document).out;
}
