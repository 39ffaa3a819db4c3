import { defineCommand } from 'citty';
import { parseCommandLine, type FlagsDef } from '../lib/args.ts';
import { completionScript, SHELLS, type Shell } from '../lib/complete.ts';
import { usageError } from '../lib/errors.ts';
import { runtime } from '../lib/runtime.ts';
import { didYouMean } from '../lib/suggest.ts';
import type { CommandHelp } from './_shared.ts';

export const args = {
  shell: { type: 'positional', description: 'bash, zsh or fish', required: false },
} satisfies FlagsDef;

export const help: CommandHelp = {
  usage: 'kubectl request completion bash|zsh|fish',
  examples: [
    '# kubectl ≥ 1.26 completes "kubectl request …" by itself once kubectl_complete-request is on PATH',
    '# (npm install -g puts it there; from a checkout: ln -s "$PWD/bin/kubectl_complete-request.mjs" ~/.local/bin/kubectl_complete-request)',
    '# Completion for the kubectl-request command itself:',
    'source <(kubectl request completion bash)',
    'source <(kubectl request completion zsh)',
    'kubectl request completion fish | source',
  ],
  notes: [
    'Request names (grant, deny, wait, revoke, describe, cancel) and pod names (exec and its friends) come from the cluster.',
  ],
};

export default defineCommand({
  meta: { name: 'completion', description: 'Print a shell completion script (bash, zsh, fish)' },
  args,
  async run({ rawArgs }) {
    const [shell, ...extra] = parseCommandLine(rawArgs, args).positionals;
    if (!shell || extra.length > 0 || !(SHELLS as readonly string[]).includes(shell)) {
      throw usageError(`name one shell: ${SHELLS.join(', ')}${shell ? didYouMean(shell, SHELLS) : ''}`);
    }
    runtime().io.stdout(completionScript(shell as Shell));
    return 0;
  },
});
