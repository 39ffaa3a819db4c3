import { CliError, ExitCode, usageError } from './errors.ts';
import type { Io } from './runtime.ts';

/**
 * Asks "QUESTION [y/N]" unless `yes`, and reads the answer from stdin: a terminal, or a pipe
 * (`echo y | kubectl request grant NAME`, as the seed's plugin took it). Only `y` or `yes`
 * confirms; an empty stdin (no terminal, nothing piped, e.g. a CI job) refuses rather than guess.
 */
export async function confirm(io: Io, question: string, options: { yes: boolean; what: string }): Promise<void> {
  if (options.yes) return;
  const answer = await io.question(`${question} [y/N] `);
  if (answer === undefined) {
    const where = io.interactive ? 'stdin ended before an answer' : 'no terminal to ask on and nothing on stdin';
    throw usageError(
      `refusing to ${options.what} without confirmation: ${where}; re-run with --yes, or pipe the answer in (echo y | ...)`,
    );
  }
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new CliError(`not confirmed; nothing was changed`, ExitCode.ERROR);
}
