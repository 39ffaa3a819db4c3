// `kube-request-access`: the server's command line. Subcommands load lazily so --help is instant.
import { defineCommand, runMain } from 'citty';
import { pathToFileURL } from 'node:url';

export const main = defineCommand({
  meta: {
    name: 'kube-request-access',
    description: 'Audited, approved access to kubectl exec and its friends: the admission webhook server',
  },
  subCommands: {
    serve: () => import('./serve.ts').then((m) => m.default),
  },
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMain(main);
}
