// `audit-webhook serve | verify`: an audit webhook for kube-request-access that keeps a
// tamper-evident JSON-lines log and tells a chat channel about new requests.
//
//   tsx examples/audit-webhook/main.ts serve --cert-file tls.crt --key-file tls.key --file audit.jsonl \
//     --chat-webhook-url https://hooks.slack.com/services/...
//   tsx examples/audit-webhook/main.ts verify audit.jsonl
import { defineCommand, runMain } from 'citty';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { AuditType } from 'kube-request-access/webhooks';
import * as v from 'valibot';
import { chatNotifier, createAuditApp, jsonLog, type Log } from './app.ts';
import { ChainFile, verifyChain } from './chain.ts';
import { parseAddress, serveHttps, type Running } from '../shared/https.ts';

export const serveArgs = {
  address: { type: 'string', alias: 'a', default: '0.0.0.0:9443', description: 'Address to listen on (host:port)' },
  'cert-file': {
    type: 'string',
    alias: 'c',
    default: 'tls.crt',
    description: 'HTTPS certificate (PEM), re-read when it changes',
  },
  'key-file': { type: 'string', alias: 'k', default: 'tls.key', description: 'HTTPS private key (PEM)' },
  file: {
    type: 'string',
    alias: 'f',
    default: 'audit.jsonl',
    description: 'The hash-chained JSON-lines audit file to append to',
  },
  'chat-webhook-url': {
    type: 'string',
    description:
      'Slack-compatible incoming webhook URL: one {text} post per event (optional; default $CHAT_WEBHOOK_URL, which keeps the secret out of the process list)',
  },
  'chat-events': {
    type: 'string',
    default: 'audit-created',
    description: 'Comma-separated events posted to chat: audit-created, audit-granted, audit-exec',
  },
} as const;

export type ServeFlags = { [K in keyof typeof serveArgs]?: string };

export interface RunningAuditWebhook extends Running {
  chain: ChainFile;
}

export async function startAuditWebhook(flags: ServeFlags, log: Log = jsonLog): Promise<RunningAuditWebhook> {
  const { host, port } = parseAddress(flags.address ?? '0.0.0.0:9443');
  const events = (flags['chat-events'] ?? 'audit-created')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const notifyOn = events.map((event) => {
    const parsed = v.safeParse(AuditType, event);
    if (!parsed.success)
      throw new Error(`--chat-events: unknown event "${event}" (audit-created, audit-granted, audit-exec)`);
    return parsed.output;
  });
  const chatUrl = flags['chat-webhook-url'] || process.env.CHAT_WEBHOOK_URL || undefined;
  if (chatUrl && !/^https?:\/\//.test(chatUrl))
    throw new Error('--chat-webhook-url (or $CHAT_WEBHOOK_URL) is not an http(s) URL');
  const chain = await ChainFile.open(flags.file ?? 'audit.jsonl');
  const app = createAuditApp({ chain, notifyOn, log, ...(chatUrl ? { notify: chatNotifier(chatUrl) } : {}) });
  try {
    const running = await serveHttps({
      app,
      host,
      port,
      certFile: flags['cert-file'] ?? 'tls.crt',
      keyFile: flags['key-file'] ?? 'tls.key',
      onReloadError: (error) =>
        log('error', 'certificate changed but cannot be loaded; keeping the old one', { error: String(error) }),
    });
    log('info', 'serving', { url: running.url, file: chain.path, head: chain.head, chat: Boolean(chatUrl) });
    return {
      ...running,
      chain,
      async close() {
        await running.close();
        await chain.close();
      },
    };
  } catch (error) {
    await chain.close();
    throw error;
  }
}

/** `verify FILE`: the text to print and the exit code. */
export async function runVerify(file: string): Promise<{ code: number; output: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { code: 2, output: `cannot read ${file}: ${(error as Error).message}` };
  }
  const result = verifyChain(text);
  return result.ok
    ? { code: 0, output: `${file}: ok, ${result.lines} lines, head ${result.head}` }
    : { code: 1, output: `${file} line ${result.line}: ${result.reason}` };
}

const serve = defineCommand({
  meta: { name: 'serve', description: 'Receive audit events over HTTPS and append them to the hash chain' },
  args: serveArgs,
  async run({ args }) {
    let running: RunningAuditWebhook;
    try {
      running = await startAuditWebhook(args as ServeFlags);
    } catch (error) {
      process.stderr.write(`audit-webhook: ${(error as Error).message}\n`);
      process.exit(1);
    }
    const stop = () => void running.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
});

const verify = defineCommand({
  meta: { name: 'verify', description: 'Check the hash chain of an audit file; names the first broken line (exit 1)' },
  args: { file: { type: 'positional', required: true, description: 'The JSON-lines audit file' } },
  async run({ args }) {
    const { code, output } = await runVerify(args.file);
    (code === 0 ? process.stdout : process.stderr).write(`${output}\n`);
    process.exitCode = code;
  },
});

export const main = defineCommand({
  meta: { name: 'audit-webhook', description: 'Tamper-evident audit webhook for kube-request-access' },
  subCommands: { serve, verify },
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMain(main);
}
