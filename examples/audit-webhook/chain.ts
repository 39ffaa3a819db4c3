// A tamper-evident JSON-lines file: every line carries the sha256 of the line before it (`prev`)
// and of itself (`hash`), so an edited, removed, inserted or reordered line breaks the chain at
// that line. Cutting lines off the end leaves a valid shorter chain: keep the head hash somewhere
// else (the chat summary, a second system) and compare it with `verify`'s output.
import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';

export const GENESIS = '0'.repeat(64);

/** What one line holds besides the chain fields. */
export type Entry = Record<string, unknown>;

export interface ChainLine extends Entry {
  seq: number;
  prev: string;
  hash: string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The line text for `entry` after a line with hash `prev`. The hash covers the exact bytes of the
 * line without its `hash` field (`{...,"prev":"…"}`), so verification needs no canonical JSON.
 */
export function chainLine(seq: number, prev: string, entry: Entry): { text: string; hash: string } {
  const { seq: _s, prev: _p, hash: _h, ...rest } = entry;
  const body = JSON.stringify({ seq, ...rest, prev });
  const hash = sha256(body);
  return { text: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

const TAIL = /,"hash":"([0-9a-f]{64})"}$/;

export type Verification =
  { ok: true; lines: number; head: string } | { ok: false; line: number; reason: string; lines: number };

/** Checks every line of a chain file's text; names the first broken line (1-based). */
export function verifyChain(text: string): Verification {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let prev = GENESIS;
  for (const [index, line] of lines.entries()) {
    const number = index + 1;
    const broken = (reason: string): Verification => ({ ok: false, line: number, reason, lines: lines.length });
    const tail = TAIL.exec(line);
    if (!tail) return broken('no trailing "hash" field: the line was edited or cut');
    const body = `${line.slice(0, tail.index)}}`;
    if (sha256(body) !== tail[1]) return broken('the content does not match its hash: the line was edited');
    let parsed: { seq?: unknown; prev?: unknown };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      return broken('not JSON');
    }
    if (parsed.prev !== prev) {
      return broken(
        number === 1
          ? 'the first line does not start the chain: lines before it were removed'
          : `"prev" does not match the hash of line ${number - 1}: a line was removed, inserted or reordered`,
      );
    }
    if (parsed.seq !== number) return broken(`"seq" is ${JSON.stringify(parsed.seq)}, expected ${number}`);
    prev = tail[1]!;
  }
  return { ok: true, lines: lines.length, head: prev };
}

/** Appends entries to a chain file, one at a time, each flushed to disk before `append` resolves. */
export class ChainFile {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private seq: number,
    private prev: string,
  ) {}

  /**
   * Opens (or creates) `path` and continues its chain. Refuses a file whose chain is broken, so
   * new lines never hide old damage: run `verify` to find it, and move the file aside.
   */
  static async open(path: string): Promise<ChainFile> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
    const check = verifyChain(text);
    if (!check.ok) {
      throw new Error(`${path} line ${check.line}: ${check.reason}; refusing to append to a broken chain`);
    }
    if (text !== '' && !text.endsWith('\n')) {
      throw new Error(`${path} does not end with a newline; refusing to append`);
    }
    const handle = await open(path, 'a', 0o600);
    return new ChainFile(path, handle, check.lines, check.head);
  }

  /** Appends one line; resolves with its hash once it is on disk. Concurrent calls are serialised. */
  append(entry: Entry): Promise<{ seq: number; hash: string }> {
    const result = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      const seq = this.seq + 1;
      const line = chainLine(seq, this.prev, entry);
      try {
        await this.handle.appendFile(`${line.text}\n`, 'utf8');
        await this.handle.datasync();
      } catch (error) {
        // A partial line may be on disk: every later line would extend a broken chain, so stop
        // accepting (the audit webhook then answers 500 and kube-request-access denies).
        this.failure = new Error(
          `writing ${this.path} failed (${(error as Error).message}); restart after checking it with verify`,
        );
        throw this.failure;
      }
      this.seq = seq;
      this.prev = line.hash;
      return { seq, hash: line.hash };
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.prev };
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle.close();
  }
}
