// Preloaded (`node --import tsx --import ./tests/controlplane/parent-watchdog.ts …`) into the webhook
// server that startControlPlane spawns: when the process that started it dies, even by SIGKILL, the
// server gets SIGTERM (its own graceful shutdown) and is killed outright after a grace period. The
// server itself needs no test-only flag for this.
const expected = Number(process.env.KRA_PARENT_PID);

if (Number.isInteger(expected) && expected > 0) {
  // Re-parenting (to init or a subreaper) is how a child learns its parent died; immune to pid reuse.
  const direct = process.ppid === expected;
  const gone = (): boolean => {
    if (direct) return process.ppid !== expected;
    try {
      process.kill(expected, 0);
      return false;
    } catch {
      return true;
    }
  };
  const timer = setInterval(() => {
    if (!gone()) return;
    clearInterval(timer);
    process.stderr.write(`parent ${expected} is gone, shutting down\n`);
    setTimeout(() => process.exit(1), 10_000).unref();
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  timer.unref();
}
