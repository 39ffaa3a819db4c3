// `kube-request-access`: the server's command line. Subcommands load lazily so --help is instant.
import { pathToFileURL } from 'node:url';

// Help without colour codes in a pipe or a log: citty decides when it is loaded.
if (!process.stdout.isTTY && process.env.NO_COLOR === undefined && process.env.FORCE_COLOR === undefined)
  process.env.NO_COLOR = '1';
const { defineCommand, runMain } = await import('citty');

export const main = defineCommand({
  meta: {
    name: 'kube-request-access',
    description: 'Audited, approved access to kubectl exec and its friends: the admission webhook server',
  },
  subCommands: {
    serve: () => import('./serve.ts').then((m) => m.default),
    'migrate-from-seed': () => import('./migrate.ts').then((m) => m.default),
  },
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMain(main);
}
