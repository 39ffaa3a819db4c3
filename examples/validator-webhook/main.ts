// `validator-webhook serve`: an extended-validation webhook for kube-request-access that requires a
// ticket on every AccessRequest.
//
//   tsx examples/validator-webhook/main.ts serve --cert-file tls.crt --key-file tls.key \
//     --ticket-pattern '^[A-Z]+-[0-9]+$'
import { defineCommand, runMain } from 'citty';
import { pathToFileURL } from 'node:url';
import { createValidatorApp, jsonLog, type Log } from './app.ts';
import { parseAddress, serveHttps, type Running } from '../shared/https.ts';
import { DEFAULT_TICKET_PATTERN, rulesFrom } from './rules.ts';

export const serveArgs = {
  address: { type: 'string', alias: 'a', default: '0.0.0.0:10443', description: 'Address to listen on (host:port)' },
  'cert-file': {
    type: 'string',
    alias: 'c',
    default: 'tls.crt',
    description: 'HTTPS certificate (PEM), re-read when it changes',
  },
  'key-file': { type: 'string', alias: 'k', default: 'tls.key', description: 'HTTPS private key (PEM)' },
  'ticket-pattern': {
    type: 'string',
    default: DEFAULT_TICKET_PATTERN,
    description: 'Regular expression customKeys.ticket must match',
  },
  'ticket-example': {
    type: 'string',
    default: 'OPS-123',
    description: 'A valid ticket, quoted in messages to requesters',
  },
  'example-key-value': {
    type: 'string',
    default: 'example-value',
    description: 'The value customKeys.example-key must have when set',
  },
} as const;

export type ServeFlags = { [K in keyof typeof serveArgs]?: string };

export async function startValidatorWebhook(flags: ServeFlags, log: Log = jsonLog): Promise<Running> {
  const { host, port } = parseAddress(flags.address ?? '0.0.0.0:10443');
  const rules = rulesFrom({
    ...(flags['ticket-pattern'] !== undefined ? { ticketPattern: flags['ticket-pattern'] } : {}),
    ...(flags['ticket-example'] !== undefined ? { ticketExample: flags['ticket-example'] } : {}),
    ...(flags['example-key-value'] !== undefined ? { exampleKeyValue: flags['example-key-value'] } : {}),
  });
  const running = await serveHttps({
    app: createValidatorApp({ rules, log }),
    host,
    port,
    certFile: flags['cert-file'] ?? 'tls.crt',
    keyFile: flags['key-file'] ?? 'tls.key',
    onReloadError: (error) =>
      log('error', 'certificate changed but cannot be loaded; keeping the old one', { error: String(error) }),
  });
  log('info', 'serving', { url: running.url, ticketPattern: rules.ticketPattern.source });
  return running;
}

const serve = defineCommand({
  meta: { name: 'serve', description: 'Validate AccessRequests over HTTPS: a ticket is required' },
  args: serveArgs,
  async run({ args }) {
    let running: Running;
    try {
      running = await startValidatorWebhook(args as ServeFlags);
    } catch (error) {
      process.stderr.write(`validator-webhook: ${(error as Error).message}\n`);
      process.exit(1);
    }
    const stop = () => void running.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
});

export const main = defineCommand({
  meta: { name: 'validator-webhook', description: 'Ticket-checking validation webhook for kube-request-access' },
  subCommands: { serve },
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMain(main);
}
