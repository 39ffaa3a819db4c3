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
  /** Asks on stderr (a terminal), reads one line from stdin (a terminal or a pipe); undefined when stdin ends first. */
  question(prompt: string): Promise<string | undefined>;
}

export interface Runtime {
  io: Io;
  connect(options: ConnectionOptions): Promise<Cluster>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Runs kubectl (`--run`) with the terminal passed through; resolves with its exit code. */
  runKubectl?(args: readonly string[]): Promise<number>;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  get interactive() {
    return Boolean(process.stdin.isTTY && process.stderr.isTTY);
  },
  async question(prompt) {
    const { createInterface } = await import('node:readline');
    // A pipe has nobody to read the question: only a terminal gets it.
    if (processIo.interactive) process.stderr.write(prompt);
    const rl = createInterface({ input: process.stdin, terminal: false });
    try {
      for await (const line of rl) return line;
      return undefined;
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
  runKubectl: async (args) => (await import('./kubectl.ts')).runKubectl(args),
};

const current = new AsyncLocalStorage<Runtime>();

export function runtime(): Runtime {
  return current.getStore() ?? processRuntime;
}

export function withRuntime<T>(value: Runtime, fn: () => Promise<T>): Promise<T> {
  return current.run(value, fn);
}
