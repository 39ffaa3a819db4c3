// What commands need from the outside world: terminal I/O, a cluster, a clock. The default is the
// real process; tests run commands inside `withRuntime` with their own. AsyncLocalStorage keeps
// concurrent test runs apart without a mutable global.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Cluster, ConnectionOptions } from './cluster.ts';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether a human can answer a prompt (stdin and stderr are terminals). */
  readonly interactive: boolean;
  /** Asks on stderr, reads one line from stdin. */
  question(prompt: string): Promise<string>;
}

export interface Runtime {
  io: Io;
  connect(options: ConnectionOptions): Promise<Cluster>;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  get interactive() {
    return Boolean(process.stdin.isTTY && process.stderr.isTTY);
  },
  async question(prompt) {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(prompt);
    } finally {
      rl.close();
    }
  },
};

export const processRuntime: Runtime = {
  io: processIo,
  // Loaded on demand: help and argument errors never pay for the Kubernetes client.
  connect: async (options) => (await import('./kube.ts')).connect(options),
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const current = new AsyncLocalStorage<Runtime>();

export function runtime(): Runtime {
  return current.getStore() ?? processRuntime;
}

export function withRuntime<T>(value: Runtime, fn: () => Promise<T>): Promise<T> {
  return current.run(value, fn);
}
