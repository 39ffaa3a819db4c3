// Summarises a V8 .cpuprofile (node --cpu-prof): self time by area (TLS/HTTP in Node, Hono,
// valibot, policy, JSON, GC, ...) and the hottest functions, as Markdown.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Which part of the stack a frame belongs to. */
export function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8/native (program)';
    if (/^(parse|stringify)$/.test(functionName)) return 'JSON parse/stringify';
    return `native: ${functionName || '(anonymous)'}`;
  }
  if (url.includes('/node_modules/hono/')) return 'hono';
  if (url.includes('/node_modules/@hono/node-server/')) return '@hono/node-server';
  if (url.includes('/node_modules/valibot/')) return 'valibot';
  if (url.includes('/node_modules/@kubernetes/')) return '@kubernetes/client-node';
  if (url.includes('/node_modules/tsx/') || url.includes('/node_modules/esbuild')) return 'tsx loader';
  if (url.includes('/node_modules/')) return 'other node_modules';
  if (url.includes('/functions/')) return 'policy (functions/)';
  if (url.includes('/adapters/audit/')) return 'audit log (adapters/audit)';
  if (url.includes('/adapters/')) return 'adapters (http, node, kubernetes, log)';
  if (url.startsWith('node:internal/tls') || url.startsWith('node:_tls') || url.startsWith('node:tls'))
    return 'node: TLS';
  if (url.startsWith('node:internal/http2') || url.startsWith('node:http2')) return 'node: http2';
  if (url.startsWith('node:_http') || url.startsWith('node:http') || url.startsWith('node:https'))
    return 'node: http/1.1';
  if (url.startsWith('node:internal/deps/undici') || url.includes('undici'))
    return 'node: undici (fetch Request/Response)';
  if (
    url.startsWith('node:internal/webstreams') ||
    url.startsWith('node:internal/streams') ||
    url.startsWith('node:stream')
  )
    return 'node: streams';
  if (url.startsWith('node:internal/fs') || url.startsWith('node:fs')) return 'node: fs (log writes)';
  if (url.startsWith('node:')) return 'node: other internals';
  return 'other';
}

export interface ProfileSummary {
  totalMs: number;
  areas: { area: string; ms: number; share: number }[];
  functions: { name: string; where: string; area: string; ms: number; share: number }[];
}

/**
 * Maps frames in an esbuild bundle back to their source file: esbuild starts every module with a
 * `// path/to/file.ts` comment, so the last such comment above a line names its module.
 */
export function bundleResolver(bundleFile: string): (frame: CallFrame) => CallFrame {
  const starts: { line: number; module: string }[] = [];
  readFileSync(bundleFile, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const match = /^\/\/ ((?:\.\.\/)*[\w@./-]+\.(?:ts|mjs|js))$/.exec(text);
      if (match) starts.push({ line: i, module: match[1]!.replace(/^(\.\.\/)+/, '') });
    });
  return (frame) => {
    if (!frame.url.endsWith(bundleFile.split('/').pop()!)) return frame;
    let module = '';
    for (const start of starts) {
      if (start.line > frame.lineNumber) break;
      module = start.module;
    }
    return module
      ? { ...frame, url: `file:///${module.startsWith('node_modules/') ? module : `src/${module}`}` }
      : frame;
  };
}

/**
 * Self time per function and area. `skipMs` leaves out the first milliseconds of the profile
 * (start-up and the informers' initial list), so that only the measured load is summarised.
 */
export function summarise(
  profile: CpuProfile,
  top = 25,
  resolve: (frame: CallFrame) => CallFrame = (f) => f,
  skipMs = 0,
): ProfileSummary {
  for (const node of profile.nodes) node.callFrame = resolve(node.callFrame);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    let at = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      at += (profile.timeDeltas[i] ?? 0) / 1000;
      if (at < skipMs) continue;
      selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    }
  } else {
    const total = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
    const perHit = (profile.endTime - profile.startTime) / 1000 / total;
    for (const node of profile.nodes) selfMs.set(node.id, (node.hitCount ?? 0) * perHit);
  }
  const idle = [...selfMs]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((s, [, ms]) => s + ms, 0);
  const busy = [...selfMs.values()].reduce((s, ms) => s + ms, 0) - idle;
  const areas = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; area: string; ms: number }>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const a = area(node.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    const where = node.callFrame.url
      ? `${node.callFrame.url
          .replace(/^.*\/(node_modules\/)/, '$1')
          .replace(/^file:\/\/.*?\/(functions|adapters|bench)\//, '$1/')
          .replace(/^file:\/\/\/src\//, '')}:${node.callFrame.lineNumber + 1}`
      : '';
    const key = `${node.callFrame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: node.callFrame.functionName || '(anonymous)', where, area: a, ms: 0 };
    entry.ms += ms;
    functions.set(key, entry);
  }
  const share = (ms: number) => (busy > 0 ? ms / busy : 0);
  return {
    totalMs: busy,
    areas: [...areas].map(([name, ms]) => ({ area: name, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms),
    functions: [...functions.values()]
      .map((f) => ({ ...f, share: share(f.ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

export function summariseFile(file: string, top = 25, bundleFile?: string, skipMs = 0): ProfileSummary {
  return summarise(
    JSON.parse(readFileSync(file, 'utf8')) as CpuProfile,
    top,
    bundleFile ? bundleResolver(bundleFile) : undefined,
    skipMs,
  );
}

export function profileMarkdown(summary: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return [
    `Busy CPU time sampled: ${(summary.totalMs / 1000).toFixed(1)} s (idle excluded).`,
    '',
    '| area | self time | share |',
    '| --- | ---: | ---: |',
    ...summary.areas.slice(0, 16).map((a) => `| ${a.area} | ${a.ms.toFixed(0)} ms | ${pct(a.share)} |`),
    '',
    '| function | where | area | self | share |',
    '| --- | --- | --- | ---: | ---: |',
    ...summary.functions.map(
      (f) =>
        `| \`${f.name}\` | ${f.where ? `\`${f.where}\`` : ''} | ${f.area} | ${f.ms.toFixed(0)} ms | ${pct(f.share)} |`,
    ),
  ].join('\n');
}
