// `notifier serve`: an audit webhook for kube-request-access that posts new requests and decisions
// to a chat incoming webhook (Slack-compatible JSON, or generic JSON), with retries and a
// dead-letter file.
//
//   CHAT_WEBHOOK_URL=https://hooks.slack.com/services/... \
//   tsx examples/notifier/main.ts serve --cert-file tls.crt --key-file tls.key
import { defineCommand, runMain } from 'citty';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { jsonLog, type Log } from '../audit-webhook/app.ts';
import { parseAddress, serveHttps, type Running } from '../shared/https.ts';
import { createNotifierApp } from './app.ts';
import { deliverer, nodePost, redact, type Deliverer } from './deliver.ts';
import type { Format } from './message.ts';

export const serveArgs = {
  address: { type: 'string', alias: 'a', default: '0.0.0.0:9443', description: 'Address to listen on (host:port)' },
  'cert-file': {
    type: 'string',
    alias: 'c',
    default: 'tls.crt',
    description: 'HTTPS certificate (PEM), re-read when it changes',
  },
  'key-file': { type: 'string', alias: 'k', default: 'tls.key', description: 'HTTPS private key (PEM)' },
  'chat-webhook-url': {
    type: 'string',
    description:
      'Incoming-webhook URL to post to (default $CHAT_WEBHOOK_URL, which keeps the secret out of the process list)',
  },
  format: {
    type: 'string',
    default: 'slack',
    description: 'slack (Slack-compatible {text, blocks}) or generic (plain JSON of the event)',
  },
  'chat-ca-file': {
    type: 'string',
    description: 'Extra CA bundle (PEM) to trust for the chat webhook (an in-house receiver)',
  },
  'dead-letter-file': {
    type: 'string',
    default: 'notifier-dead-letters.jsonl',
    description: 'Messages that could not be posted, one JSON line each',
  },
  attempts: { type: 'string', default: '5', description: 'Attempts per message, the first included' },
  'retry-delay': {
    type: 'string',
    default: '1000',
    description: 'First retry after this many ms, doubling (at most 60 s)',
  },
} as const;

export type ServeFlags = { [K in keyof typeof serveArgs]?: string };

export interface RunningNotifier extends Running {
  deliverer: Deliverer;
}

export async function startNotifier(flags: ServeFlags, log: Log = jsonLog): Promise<RunningNotifier> {
  const { host, port } = parseAddress(flags.address ?? '0.0.0.0:9443');
  const url = flags['chat-webhook-url'] || process.env.CHAT_WEBHOOK_URL || '';
  if (!/^https?:\/\//.test(url)) throw new Error('--chat-webhook-url (or $CHAT_WEBHOOK_URL) must be an http(s) URL');
  const format = (flags.format ?? 'slack') as Format;
  if (format !== 'slack' && format !== 'generic') throw new Error(`--format "${flags.format}": use slack or generic`);
  const attempts = Number(flags.attempts ?? '5');
  const baseDelayMs = Number(flags['retry-delay'] ?? '1000');
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new Error(`--attempts "${flags.attempts}" is not a positive integer`);
  if (!Number.isFinite(baseDelayMs) || baseDelayMs < 0)
    throw new Error(`--retry-delay "${flags['retry-delay']}" is not a number of ms`);
  const ca = flags['chat-ca-file'] ? readFileSync(flags['chat-ca-file'], 'utf8') : undefined;
  const deadLetterFile = flags['dead-letter-file'] ?? 'notifier-dead-letters.jsonl';
  const send = deliverer({ url, post: nodePost(ca ? { ca } : {}), deadLetterFile, attempts, baseDelayMs, log });
  const running = await serveHttps({
    app: createNotifierApp({ deliverer: send, format }),
    host,
    port,
    certFile: flags['cert-file'] ?? 'tls.crt',
    keyFile: flags['key-file'] ?? 'tls.key',
    onReloadError: (error) =>
      log('error', 'certificate changed but cannot be loaded; keeping the old one', { error: String(error) }),
  });
  log('info', 'serving', { url: running.url, chat: redact(url), format, deadLetterFile });
  return {
    ...running,
    deliverer: send,
    async close() {
      await running.close();
      await send.drain();
    },
  };
}

const serve = defineCommand({
  meta: { name: 'serve', description: 'Receive audit events over HTTPS and post new requests and decisions to chat' },
  args: serveArgs,
  async run({ args }) {
    let running: RunningNotifier;
    try {
      running = await startNotifier(args as ServeFlags);
    } catch (error) {
      process.stderr.write(`notifier: ${(error as Error).message}\n`);
      process.exit(1);
    }
    const stop = () => void running.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
});

export const main = defineCommand({
  meta: { name: 'notifier', description: 'Chat notifications of kube-request-access requests and decisions' },
  subCommands: { serve },
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMain(main);
}
