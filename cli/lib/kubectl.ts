// `--run`: the real kubectl as a child process, with this process's stdin, stdout and stderr, so
// its output, prompts and exit code are the user's as if they had typed the command.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CliError } from './errors.ts';

/** `$KUBECTL`, else `kubectl` on PATH (kubectl does not tell a plugin where it lives). */
export function kubectlBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.KUBECTL || 'kubectl';
}

/** Runs kubectl with `args`; resolves with its exit code (128 + N when signal N ended it). */
export function runKubectl(args: readonly string[]): Promise<number> {
  const binary = kubectlBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: 'inherit' });
    // Ctrl-C reaches kubectl too (same process group): stay to report its exit code. A TERM sent
    // to the plugin alone is passed on.
    const onInt = () => {};
    const onTerm = () => child.kill('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const done = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
    child.once('error', (error) => {
      done();
      reject(new CliError(`could not run ${binary}: ${error.message}; install kubectl, or set KUBECTL to its path`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
