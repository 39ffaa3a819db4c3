import { CliError, ExitCode, usageError } from './errors.ts';
import type { Io } from './runtime.ts';

/**
 * Asks "QUESTION [y/N]" unless `yes`. Without a terminal it refuses rather than hang on a
 * pipe or a CI job: the caller has to say --yes.
 */
export async function confirm(io: Io, question: string, options: { yes: boolean; what: string }): Promise<void> {
  if (options.yes) return;
  if (!io.interactive) {
    throw usageError(`refusing to ${options.what} without confirmation: no terminal to ask on; re-run with --yes`);
  }
  const answer = await io.question(`${question} [y/N] `);
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new CliError(`not confirmed; nothing was changed`, ExitCode.ERROR);
}
