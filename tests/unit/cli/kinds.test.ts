// For every kind of access: what `kubectl request <kind>` prints after creating the request,
// what `grant` and `describe` print once an approver looks at it, and the words of the summary
// and the list. Each kind's grant names its own kubectl command (not `kubectl exec` for all).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodLike } from '../../../cli/lib/cluster.ts';
import { runCli } from '../../../cli/main.ts';
import type { AccessGrant } from '../../../functions/schemas.ts';
import { FakeCluster, fakeRuntime } from './fake.ts';

const web0: PodLike = {
  metadata: { name: 'web-0', namespace: 'shop', annotations: { 'kubectl.kubernetes.io/default-container': 'app' } },
  spec: { containers: [{ name: 'istio-proxy' }, { name: 'app' }] },
  status: { phase: 'Running' },
};

interface Case {
  kind: string;
  argv: string[];
  /** What follows "alice asks to". */
  asks: string;
  /** The access line of a one-shot request. */
  once: string;
  /** The list's COMMAND column. */
  listed: string;
  /** Printed after creating the request: what the user typed filled in. */
  created: string;
  /** Printed by grant and describe: from the request alone. */
  granted: string;
}

const cases: Case[] = [
  {
    kind: 'exec',
    argv: ['exec', 'web-0', '--', 'cat', '/etc/app.conf'],
    asks: 'exec in pod shop/web-0',
    once: 'once (a single exec)',
    listed: 'cat /etc/app.conf',
    created: 'kubectl exec -n shop web-0 -c app -- cat /etc/app.conf',
    granted: 'kubectl exec -n shop web-0 -c app -- cat /etc/app.conf',
  },
  {
    kind: 'attach',
    argv: ['attach', 'web-0'],
    asks: 'attach to pod shop/web-0',
    once: 'once (a single attach)',
    listed: 'attach to app (output only)',
    created: 'kubectl attach -n shop web-0 -c app',
    granted: 'kubectl attach -n shop web-0 -c app',
  },
  {
    kind: 'port-forward',
    argv: ['port-forward', 'web-0', '8888:8080'],
    asks: 'port-forward to pod shop/web-0',
    once: 'once (a single port-forward)',
    listed: 'port-forward to any port',
    created: 'kubectl port-forward -n shop pod/web-0 8888:8080',
    granted: 'kubectl port-forward -n shop pod/web-0 LOCAL_PORT:REMOTE_PORT',
  },
  {
    kind: 'port-forward --only-ports',
    argv: ['port-forward', 'web-0', '8888:8080', '--only-ports'],
    asks: 'port-forward to pod shop/web-0',
    once: 'once (a single port-forward)',
    listed: 'port-forward to port 8080',
    created: 'kubectl port-forward -n shop pod/web-0 8888:8080',
    granted: 'kubectl port-forward -n shop pod/web-0 8080',
  },
  {
    kind: 'debug',
    argv: ['debug', 'web-0', '--image', 'busybox:1.36', '--target', 'app', '--profile', 'general', '--', 'ps', 'aux'],
    asks: 'debug pod shop/web-0 with an ephemeral container',
    once: 'once (a single debug container)',
    listed: 'debug container of busybox:1.36 targeting app',
    created: 'kubectl debug -n shop web-0 --image=busybox:1.36 --target=app --profile=general -- ps aux',
    granted: 'kubectl debug -n shop web-0 --image=busybox:1.36 --target=app --profile=general -- ps aux',
  },
  {
    kind: 'debug --arguments-only',
    argv: ['debug', 'web-0', '--image', 'busybox:1.36', '-c', 'dbg', '--arguments-only', '--', 'sleep', '1'],
    asks: 'debug pod shop/web-0 with an ephemeral container',
    once: 'once (a single debug container)',
    listed: 'debug container of busybox:1.36',
    created: 'kubectl debug -n shop web-0 --image=busybox:1.36 -c dbg --arguments-only -- sleep 1',
    granted: 'kubectl debug -n shop web-0 --image=busybox:1.36 -c dbg --arguments-only -- sleep 1',
  },
  {
    kind: 'cp out',
    argv: ['cp', 'web-0:/app/config', './config'],
    asks: 'copy /app/config out of pod shop/web-0',
    once: 'once (a single copy)',
    listed: 'copy out of /app/config',
    created: 'kubectl cp -n shop -c app web-0:/app/config ./config',
    granted: 'kubectl cp -n shop -c app web-0:/app/config DEST',
  },
  {
    kind: 'cp in',
    argv: ['cp', './fix.sql', 'web-0:/tmp/upload/fix.sql'],
    asks: 'copy into /tmp/upload of pod shop/web-0',
    once: 'once (a single copy)',
    listed: 'copy into /tmp/upload',
    created: 'kubectl cp -n shop -c app ./fix.sql web-0:/tmp/upload/fix.sql',
    granted: 'kubectl cp -n shop -c app FILE web-0:/tmp/upload/',
  },
];

/** alice asks with `argv`; returns the created request's name, the cluster, and what she was told. */
async function create(argv: string[]) {
  const cluster = new FakeCluster({ pods: [web0] });
  const rt = fakeRuntime(cluster);
  assert.equal(await runCli(argv, rt), 0, rt.out.stderr.join('\n'));
  return { name: cluster.requests[0]!.metadata.name, cluster, stdout: rt.out.stdout.join('\n') };
}

describe('every kind of access names its own kubectl command and words', () => {
  for (const c of cases) {
    describe(c.kind, () => {
      it('prints the kubectl command once it is granted, with what was typed filled in', async () => {
        const { stdout } = await create(c.argv);
        assert.ok(stdout.includes(`Once it is granted, run:\n  ${c.created}`), stdout);
      });

      it('grant shows the summary in its words and prints the command the grant allows', async () => {
        const { name, cluster } = await create(c.argv);
        const approver = new FakeCluster({ user: 'carol', pods: [web0], requests: cluster.requests });
        const rt = fakeRuntime(approver);
        assert.equal(await runCli(['grant', name, '--yes'], rt), 0, rt.out.stderr.join('\n'));
        const [summary, granted, command] = rt.out.stdout;
        assert.equal(summary!.split('\n')[0], `alice asks to ${c.asks}`);
        assert.ok(summary!.split('\n').includes(`  access:      ${c.once}`), summary);
        assert.equal(granted, `granted ${name}: alice may now run (once):`);
        assert.equal(command, `  ${c.granted}`);
        assert.doesNotMatch(summary!, /asks to (portforward|ephemeralcontainers)/);
      });

      it('describe prints the same command for a granted request', async () => {
        const { name, cluster } = await create(c.argv);
        const grant: AccessGrant = {
          metadata: {
            name: `${name}-grant`,
            namespace: 'shop',
            uid: 'g',
            resourceVersion: '2',
            creationTimestamp: '2026-01-10T11:58:00Z',
          },
          spec: { grantFor: name, grantForUID: `uid-${name}`, grantedBy: { username: 'carol' } },
          status: 'granted',
        };
        const rt = fakeRuntime(new FakeCluster({ pods: [web0], requests: cluster.requests, grants: [grant] }));
        assert.equal(await runCli(['describe', name], rt), 0, rt.out.stderr.join('\n'));
        const text = rt.out.stdout.join('\n');
        assert.equal(text.split('\n')[0], `alice asks to ${c.asks}`);
        assert.ok(text.endsWith(`\n  run:         ${c.granted}`), text);
      });

      it('list names what is asked in the COMMAND column', async () => {
        const { cluster } = await create(c.argv);
        const rt = fakeRuntime(new FakeCluster({ pods: [web0], requests: cluster.requests }));
        assert.equal(await runCli(['list', '-o', 'wide'], rt), 0, rt.out.stderr.join('\n'));
        const listed = c.listed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        assert.match(rt.out.stdout.join('\n'), new RegExp(` {3}${listed} {3,}once {3,}Pending`));
      });
    });
  }
});
