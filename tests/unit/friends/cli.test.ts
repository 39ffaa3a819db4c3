// kubectl request attach | port-forward | debug | cp, driven through runCli against the in-memory
// cluster; every request they create passes the request webhook and then lets through exactly the
// kubectl command they print (checked against the concerns with apiserver-shaped reviews).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import type { PodLike } from '../../../cli/lib/cluster.ts';
import { runCli } from '../../../cli/main.ts';
import { attach } from '../../../functions/attach/index.ts';
import { concernFor } from '../../../functions/index.ts';
import { debug } from '../../../functions/debug/index.ts';
import { portforward } from '../../../functions/portforward/index.ts';
import { request as requestConcern } from '../../../functions/request/index.ts';
import { AccessRequest } from '../../../functions/schemas.ts';
import { accessGrant, context, lookupOf, objectReview } from '../../support/builders.ts';
import { FakeCluster, fakeRuntime } from '../cli/fake.ts';
import { review } from './_builders.ts';

const web0: PodLike = {
  metadata: { name: 'web-0', namespace: 'shop', annotations: { 'kubectl.kubernetes.io/default-container': 'app' } },
  spec: { containers: [{ name: 'istio-proxy' }, { name: 'app' }] },
  status: { phase: 'Running' },
};

async function run(argv: string[]) {
  const cluster = new FakeCluster({ pods: [web0] });
  const rt = fakeRuntime(cluster);
  const code = await runCli(argv, rt);
  return { code, cluster, out: rt.out };
}

/** The created request as stored (named, in team-a for the recorded reviews), its grant, and the request webhook's verdict. */
async function stored(created: unknown) {
  const raw = structuredClone(created) as Record<string, any>;
  raw.metadata = {
    ...raw.metadata,
    name: 'alice-web-0',
    namespace: 'team-a',
    resourceVersion: '100',
    creationTimestamp: '2026-11-28T09:30:00Z',
  };
  raw.spec.forObject.namespace = 'team-a';
  const accessRequest = v.parse(AccessRequest, raw);
  const admitted = await requestConcern(objectReview(accessRequest), lookupOf([]), context());
  assert.equal(admitted.allowed, true, `the request webhook accepts what the CLI creates: ${admitted.message}`);
  return [accessRequest, accessGrant({ grantForUID: accessRequest.metadata.uid })];
}

describe('kubectl request attach', () => {
  it('asks for an output-only attach to the default container and prints kubectl attach', async () => {
    const { code, cluster, out } = await run(['attach', 'web-0', '--valid-for', '1h']);
    assert.equal(code, 0, out.stderr.join('\n'));
    const created = cluster.requests[0]!;
    assert.equal(created.spec.forObject.subResource, 'attach');
    assert.deepEqual(created.spec.attachOptions, { container: 'app', stdout: true, stderr: true });
    assert.equal(created.spec.execOptions, undefined);
    assert.match(out.stdout.join('\n'), /kubectl attach -n shop web-0 -c app/);
    const objects = await stored(created);
    assert.equal((await attach(review('attach-review'), lookupOf(objects), context())).allowed, true);
  });

  it('refuses -i and -t', async () => {
    for (const flag of ['-i', '-t', '--stdin']) {
      const { code, out, cluster } = await run(['attach', 'web-0', flag]);
      assert.equal(code, 2);
      assert.match(out.stderr.join('\n'), /output-only/);
      assert.equal(cluster.requests.length, 0);
    }
  });
});

describe('kubectl request port-forward', () => {
  it('asks for any port (kubectl names none to the apiserver) and prints the kubectl port-forward', async () => {
    const { code, cluster, out } = await run(['port-forward', 'web-0', '8888:8080', '5432']);
    assert.equal(code, 0, out.stderr.join('\n'));
    const created = cluster.requests[0]!;
    assert.equal(created.spec.forObject.subResource, 'portforward');
    assert.deepEqual(created.spec.portForwardOptions, {});
    assert.match(out.stderr.join('\n'), /does not tell the apiserver its ports/);
    assert.match(out.stdout.join('\n'), /kubectl port-forward -n shop pod\/web-0 8888:8080 5432/);
    const objects = await stored(created);
    assert.equal((await portforward(review('portforward-review'), lookupOf(objects), context())).allowed, true);
  });

  it('--only-ports records the remote ports, which then bind', async () => {
    const { code, cluster } = await run(['port-forward', 'web-0', '8888:8080', '--only-ports']);
    assert.equal(code, 0);
    const created = cluster.requests[0]!;
    assert.deepEqual(created.spec.portForwardOptions, { ports: [8080] });
    const objects = await stored(created);
    const forPort = (port: number) =>
      review('portforward-review', (r) => {
        r.object.ports = [port];
      });
    assert.equal((await portforward(forPort(8080), lookupOf(objects), context())).allowed, true);
    assert.equal((await portforward(forPort(5432), lookupOf(objects), context())).allowed, false);
  });

  it('refuses a port that is not a number', async () => {
    const { code, out } = await run(['port-forward', 'web-0', 'http']);
    assert.equal(code, 2);
    assert.match(out.stderr.join('\n'), /named ports are not supported/);
  });
});

describe('kubectl request debug', () => {
  it('asks for the ephemeral container kubectl debug will add', async () => {
    const { code, cluster, out } = await run([
      'debug',
      'web-0',
      '--image',
      'busybox:1.36',
      '--target',
      'app',
      '--',
      'ps',
      'aux',
    ]);
    assert.equal(code, 0, out.stderr.join('\n'));
    const created = cluster.requests[0]!;
    assert.equal(created.spec.forObject.subResource, 'ephemeralcontainers');
    assert.deepEqual(created.spec.debugOptions, { image: 'busybox:1.36', target: 'app', command: ['ps', 'aux'] });
    assert.match(out.stdout.join('\n'), /kubectl debug -n shop web-0 --image=busybox:1\.36 --target=app -- ps aux/);
    const objects = await stored(created);
    assert.equal((await debug(review('ephemeralcontainers-review'), lookupOf(objects), context())).allowed, true);
  });

  it('requires --image and refuses -it', async () => {
    assert.equal((await run(['debug', 'web-0', '--', 'ps'])).code, 2);
    const interactive = await run(['debug', 'web-0', '--image', 'busybox', '-i', '-t']);
    assert.equal(interactive.code, 2);
    assert.match(interactive.out.stderr.join('\n'), /interactive debug container/);
  });

  it('refuses an unknown profile and a target container the pod lacks', async () => {
    assert.equal((await run(['debug', 'web-0', '--image', 'busybox', '--profile', 'root'])).code, 2);
    const missing = await run(['debug', 'web-0', '--image', 'busybox', '--target', 'db']);
    assert.equal(missing.code, 1);
    assert.match(missing.out.stderr.join('\n'), /container db not found/);
  });
});

describe('kubectl request cp', () => {
  const execRoute = concernFor({ resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec' })!;

  it('copying out asks for the exec of tar cf - SRC', async () => {
    const { code, cluster, out } = await run(['cp', 'web-0:/app/config', './config']);
    assert.equal(code, 0, out.stderr.join('\n'));
    const created = cluster.requests[0]!;
    assert.equal(created.spec.forObject.subResource, 'exec');
    assert.deepEqual(created.spec.execOptions?.command, ['tar', 'cf', '-', '/app/config']);
    assert.equal(created.spec.copyOptions, undefined);
    assert.match(out.stdout.join('\n'), /kubectl cp -n shop -c app web-0:\/app\/config \.\/config/);
    const objects = await stored(created);
    const tarOut = review('exec-review', (r) => {
      r.name = 'web-0';
      r.namespace = 'team-a';
      r.object.command = ['tar', 'cf', '-', '/app/config'];
    });
    assert.equal((await execRoute(tarOut, lookupOf(objects), context())).allowed, true);
  });

  it('copying into a directory asks for a copy-in request for it', async () => {
    const { code, cluster, out } = await run(['cp', './fix.sql', 'web-0:/tmp/upload/']);
    assert.equal(code, 0, out.stderr.join('\n'));
    const created = cluster.requests[0]!;
    assert.deepEqual(created.spec.copyOptions, { direction: 'in', path: '/tmp/upload' });
    assert.deepEqual(created.spec.execOptions, { container: 'app' });
    assert.match(out.stderr.join('\n'), /write any file below \/tmp\/upload/);
    const objects = await stored(created);
    assert.equal((await execRoute(review('copy-in-review'), lookupOf(objects), context())).allowed, true);
  });

  it('copying to a file path asks for its directory', async () => {
    const { cluster } = await run(['cp', './fix.sql', 'shop/web-0:/tmp/upload/fix.sql']);
    assert.deepEqual(cluster.requests[0]!.spec.copyOptions, { direction: 'in', path: '/tmp/upload' });
  });

  it('refuses two pods, two local paths, a relative pod path and a namespace mismatch', async () => {
    for (const argv of [
      ['cp', 'a:/x', 'b:/y'],
      ['cp', './a', './b'],
      ['cp', './a', 'web-0:tmp/x'],
      ['cp', '-n', 'team-b', './a', 'shop/web-0:/tmp/'],
    ]) {
      const { code, cluster } = await run(argv);
      assert.equal(code, 2, argv.join(' '));
      assert.equal(cluster.requests.length, 0);
    }
  });
});

describe('root help', () => {
  it('lists the friends of exec', async () => {
    const { code, out } = await run(['--help']);
    assert.equal(code, 0);
    for (const name of ['attach', 'port-forward', 'debug', 'cp'])
      assert.match(out.stdout.join('\n'), new RegExp(`\\n  ${name} `));
  });
});
