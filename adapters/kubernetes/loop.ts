// A serial, coalescing task runner: triggers during a run cause exactly one more run; the task
// answers when it next needs to run by itself (an expiry), bounded by `maxIntervalMs`.
import type { Logger } from '../ports.ts';

export interface Loop {
  /** Run soon (after `debounceMs`), coalescing bursts of events into one pass. */
  trigger(): void;
  /** Resolves after the next complete pass (for tests and shutdown). */
  runNow(): Promise<void>;
  stop(): void;
}

export function serialLoop(options: {
  name: string;
  /** One pass; returns when the next pass is due by itself. */
  task: () => Promise<Date | undefined>;
  clock: () => Date;
  logger: Logger;
  maxIntervalMs: number;
  debounceMs?: number;
  retryMs?: number;
}): Loop {
  const { clock, logger, name } = options;
  const debounce = options.debounceMs ?? 20;
  const retry = options.retryMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  function schedule(atMs: number): void {
    if (stopped) return;
    if (timer && timerAt <= atMs) return;
    if (timer) clearTimeout(timer);
    timerAt = atMs;
    const delay = Math.min(Math.max(0, atMs - clock().getTime()), 2_000_000_000);
    timer = setTimeout(() => void fire(), delay);
    timer.unref?.();
  }

  async function fire(): Promise<void> {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let next: number;
      try {
        const due = await options.task();
        const fallback = clock().getTime() + options.maxIntervalMs;
        next = due ? Math.min(due.getTime() + 10, fallback) : fallback;
      } catch (err) {
        logger.error(`${name} pass failed; retrying`, { error: err, retryInMs: retry });
        next = clock().getTime() + retry;
      }
      running = undefined;
      schedule(next);
      if (again) {
        again = false;
        schedule(clock().getTime() + debounce);
      }
    })();
    return running;
  }

  return {
    trigger: () => schedule(clock().getTime() + debounce),
    async runNow() {
      if (running) await running;
      await fire();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
