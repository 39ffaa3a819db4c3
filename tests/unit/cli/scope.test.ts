// Grant scope from the plugin: --max-uses and --pin on the request commands, and an approver
// narrowing with `kubectl request grant --valid-for --max-uses`, through runCli against the fake cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessRequest } from '../../../functions/schemas.ts';
import type { PodLike } from '../../../cli/lib/cluster.ts';
import { runCli } from '../../../cli/main.ts';
import { FakeCluster, fakeRuntime, status } from './fake.ts';

const web0: PodLike = {
  metadata: { name: 'web-0', namespace: 'shop', uid: 'pod-uid-1' },
  spec: { containers: [{ name: 'app' }] },
  status: { phase: 'Running' },
};

function request(spec: { validFor?: string; maxUses?: number } = {}): AccessRequest {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name: 'alice-web-0-abcd',
      namespace: 'shop',
      uid: 'uid-alice-web-0-abcd',
      resourceVersion: '1',
      creationTimestamp: '2026-01-10T11:55:00Z',
    },
    spec: {
      userInfo: { username: 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'shop',
      },
      validFor: spec.validFor ?? '',
      execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: ['ls'] },
      ...(spec.maxUses !== undefined ? { maxUses: spec.maxUses } : {}),
    },
  };
}

describe('kubectl request exec --max-uses --pin', () => {
  it('puts spec.maxUses and the pod uid into the request', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    const rt = fakeRuntime(cluster);
    const code = await runCli(['exec', 'web-0', '--valid-for', '1h', '--max-uses', '3', '--pin', '--', 'ls'], rt);
    assert.equal(code, 0, rt.out.stderr.join('\n'));
    const created = cluster.requests.at(-1)!;
    assert.equal(created.spec.maxUses, 3);
    assert.equal(created.spec.forObject.uid, 'pod-uid-1');
  });

  it('refuses a --max-uses that is no whole number of at least 1', async () => {
    const rt = fakeRuntime(new FakeCluster({ pods: [web0] }));
    assert.equal(await runCli(['exec', 'web-0', '--max-uses', '0', '--', 'ls'], rt), 2);
    assert.match(rt.out.stderr.join('\n'), /--max-uses needs a whole number of at least 1 \(got "0"\)/);
  });

  it('says clearly when --pin cannot read the pod, and creates nothing', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    let reads = 0;
    const readPod = cluster.readPod.bind(cluster);
    cluster.readPod = async (namespace, name) => {
      if (++reads > 1) throw status(403, `pods "${name}" is forbidden: User "alice" cannot get resource "pods"`);
      return readPod(namespace, name);
    };
    const rt = fakeRuntime(cluster);
    const code = await runCli(['exec', 'web-0', '--pin', '--', 'ls'], rt);
    assert.notEqual(code, 0);
    assert.match(rt.out.stderr.join('\n'), /--pin: .*pod.*web-0.*leave --pin out to ask without it/s);
    assert.equal(cluster.requests.length, 0);
  });
});

describe('kubectl request grant --valid-for --max-uses', () => {
  it('narrows the grant and says what was narrowed', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [request({ validFor: '1h' })] });
    const rt = fakeRuntime(cluster);
    const code = await runCli(['grant', 'alice-web-0-abcd', '--yes', '--valid-for', '10m', '--max-uses', '2'], rt);
    assert.equal(code, 0, rt.out.stderr.join('\n'));
    const grant = cluster.grants.at(-1)!;
    assert.equal(grant.spec.validFor, '10m');
    assert.equal(grant.spec.maxUses, 2);
    const out = rt.out.stdout.join('\n');
    assert.match(out, /^ {2}narrowed: {4}10m instead of 1h, 2 uses instead of any number$/m);
    assert.match(out, /granted alice-web-0-abcd: alice may now run \(for 10m, 2 uses; narrowed: 10m instead of 1h/);
  });

  it('refuses to widen, before asking, with what is allowed', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [request({ validFor: '1h', maxUses: 3 })] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes', '--max-uses', '5'], rt), 2);
    assert.match(
      rt.out.stderr.join('\n'),
      /spec.maxUses 5 is more than AccessRequest alice-web-0-abcd asks for \(3\).*give at most 3/,
    );
    assert.equal(cluster.grants.length, 0);
  });

  it('refuses a window on a one-shot request, and narrowing a denial', async () => {
    const oneShot = fakeRuntime(new FakeCluster({ user: 'carol', requests: [request()] }));
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes', '--valid-for', '10m'], oneShot), 2);
    assert.match(oneShot.out.stderr.join('\n'), /one-shot \(no validFor\)/);
    const deny = fakeRuntime(new FakeCluster({ user: 'carol', requests: [request({ validFor: '1h' })] }));
    assert.equal(await runCli(['deny', 'alice-web-0-abcd', '--yes', '--max-uses', '1'], deny), 2);
  });
});
