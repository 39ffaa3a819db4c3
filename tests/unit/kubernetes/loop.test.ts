import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../adapters/log.ts';
import { serialLoop } from '../../../adapters/kubernetes/loop.ts';

describe('serialLoop', () => {
  // The loop's timers are unref'd (they must not keep a server alive); keep the test process alive.
  let keepAlive: NodeJS.Timeout;
  before(() => {
    keepAlive = setInterval(() => {}, 1000);
  });
  after(() => clearInterval(keepAlive));

  it('coalesces a burst of triggers into one pass, and triggers during a pass into one more', async () => {
    let running = 0;
    let passes = 0;
    let overlap = false;
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    const loop = serialLoop({
      name: 't',
      clock: () => new Date(),
      logger: silentLogger,
      maxIntervalMs: 60_000,
      debounceMs: 5,
      task: async () => {
        running++;
        if (running > 1) overlap = true;
        passes++;
        started();
        await sleep(50);
        running--;
        return undefined;
      },
    });
    for (let i = 0; i < 50; i++) loop.trigger();
    await firstStarted;
    for (let i = 0; i < 50; i++) loop.trigger();
    while (passes < 2 || running > 0) await sleep(10);
    await sleep(100);
    loop.stop();
    assert.equal(overlap, false);
    assert.equal(passes, 2);
  });

  it('runs again at the time the task asks for', async () => {
    let passes = 0;
    const loop = serialLoop({
      name: 't',
      clock: () => new Date(),
      logger: silentLogger,
      maxIntervalMs: 60_000,
      task: async () => {
        passes++;
        return passes === 1 ? new Date(Date.now() + 30) : undefined;
      },
    });
    await loop.runNow();
    assert.equal(passes, 1);
    await sleep(80);
    loop.stop();
    assert.equal(passes, 2);
  });

  it('retries a failed pass', async () => {
    let passes = 0;
    const loop = serialLoop({
      name: 't',
      clock: () => new Date(),
      logger: silentLogger,
      maxIntervalMs: 60_000,
      retryMs: 20,
      task: async () => {
        passes++;
        if (passes === 1) throw new Error('boom');
        return undefined;
      },
    });
    await loop.runNow();
    await sleep(60);
    loop.stop();
    assert.equal(passes, 2);
  });
});
