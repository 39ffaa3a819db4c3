import type { ArgsDef } from 'citty';
import { defineCommand } from 'citty';
import { booleanFlag, parseCommandLine, stringFlag } from '../lib/args.ts';
import { usageError } from '../lib/errors.ts';
import { runtime } from '../lib/runtime.ts';
import type { UiCommandOptions } from '../ui/server.ts';
import { connectionArgs, connectionOptions, type CommandHelp } from './_shared.ts';

export const args = {
  port: { type: 'string', description: 'Port on 127.0.0.1 (default: a random free one)', valueHint: 'port' },
  open: {
    type: 'boolean',
    default: true,
    description: 'Open the page in a browser when there is one (--no-open: print the URL only)',
  },
  ...connectionArgs,
} satisfies ArgsDef;

export const help: CommandHelp = {
  usage: 'kubectl request ui [--port PORT] [--no-open]',
  examples: [
    "# The approvers' page: pending requests live, grant and deny, history, your own requests",
    'kubectl request ui',
    '# As another kubeconfig context, URL printed only',
    'kubectl request ui --context carol --no-open',
  ],
  notes: [
    'Serves a page on 127.0.0.1 that acts with your kubeconfig credentials: RBAC and the admission webhook judge every grant',
    'and denial as for kubectl request grant/deny. The URL carries a random token; anyone with it acts as you.',
  ],
};

export function parseUiArgs(rawArgs: readonly string[]): UiCommandOptions {
  const parsed = parseCommandLine(rawArgs, args);
  if (parsed.positionals.length > 0) throw usageError(`ui takes no arguments, got "${parsed.positionals.join(' ')}"`);
  const portText = stringFlag(parsed, 'port');
  const port = portText === undefined ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw usageError(`--port "${portText}" is not a port number`);
  return { connection: connectionOptions(parsed), port, open: booleanFlag(parsed, 'open') };
}

export default defineCommand({
  meta: {
    name: 'ui',
    description: "Serve the approvers' web page on 127.0.0.1 (the queue live, grant, deny, history)",
  },
  args,
  async run({ rawArgs }) {
    const options = parseUiArgs(rawArgs);
    return (await import('../ui/server.ts')).serveUi(runtime(), options);
  },
});
