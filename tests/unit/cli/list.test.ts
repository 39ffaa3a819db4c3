// list's outputs as kubectl users script them: -o name, -o jsonpath, --no-headers, -l, -w.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import { renderJsonPath } from '../../../cli/lib/jsonpath.ts';
import { runCli } from '../../../cli/main.ts';
import { FakeCluster, fakeRuntime } from './fake.ts';

function request(name: string, user: string, labels?: Record<string, string>): AccessRequest {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: '2026-01-10T11:55:00Z',
      ...(labels ? { labels } : {}),
    },
    spec: {
      userInfo: { username: user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'shop',
      },
      validFor: '',
      execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: ['ls'] },
    },
  };
}

function granted(r: AccessRequest): AccessGrant {
  return {
    metadata: {
      name: `${r.metadata.name}-grant`,
      namespace: 'shop',
      uid: 'g',
      resourceVersion: '2',
      creationTimestamp: '2026-01-10T11:58:00Z',
    },
    spec: { grantFor: r.metadata.name, grantForUID: r.metadata.uid, grantedBy: { username: 'carol' } },
    status: 'granted',
  };
}

const a = request('alice-web-0-aaaaa', 'alice', { team: 'shop' });
const b = request('bob-web-0-bbbbb', 'bob', { team: 'db' });

describe('kubectl request list outputs', () => {
  it('-o name prints resource.group/name, one a line', async () => {
    const rt = fakeRuntime(new FakeCluster({ requests: [a, b] }));
    assert.equal(await runCli(['list', '-o', 'name'], rt), 0);
    assert.deepEqual(rt.out.stdout, [
      'accessrequest.kube-request-access.io/alice-web-0-aaaaa\naccessrequest.kube-request-access.io/bob-web-0-bbbbb',
    ]);
  });

  it('-o jsonpath renders kubectl templates over the List', async () => {
    const rt = fakeRuntime(new FakeCluster({ requests: [a, b] }));
    assert.equal(
      await runCli(
        ['list', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.userInfo.username}{"\\n"}{end}'],
        rt,
      ),
      0,
    );
    assert.deepEqual(rt.out.stdout, ['alice-web-0-aaaaa\talice\nbob-web-0-bbbbb\tbob\n']);
    const names = fakeRuntime(new FakeCluster({ requests: [a, b] }));
    assert.equal(await runCli(['list', '-o=jsonpath={.items[*].metadata.name}'], names), 0);
    assert.deepEqual(names.out.stdout, ['alice-web-0-aaaaa bob-web-0-bbbbb']);
  });

  it('jsonpath: indices, quoted keys, wildcards and missing fields', () => {
    const doc = {
      items: [{ metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'web' } } }, { metadata: { name: 'y' } }],
    };
    assert.equal(renderJsonPath('{.items[0].metadata.name}', doc), 'x');
    assert.equal(renderJsonPath('{.items[-1].metadata.name}', doc), 'y');
    assert.equal(renderJsonPath("{.items[0].metadata.labels['app.kubernetes.io/name']}", doc), 'web');
    assert.equal(renderJsonPath('{.items[*].metadata.nope}', doc), '');
    assert.equal(renderJsonPath('n={.items[1].metadata}', doc), 'n={"name":"y"}');
    assert.equal(renderJsonPath('{range .items[*]}[{.metadata.name}]{end}!', doc), '[x][y]!');
    assert.equal(renderJsonPath('{range .nothing[*]}[{.metadata.name}]{end}!', doc), '!');
  });

  it('--no-headers leaves out the header, -l selects by label', async () => {
    const rt = fakeRuntime(new FakeCluster({ requests: [a, b] }));
    assert.equal(await runCli(['list', '--no-headers', '-l', 'team=shop'], rt), 0);
    assert.equal(rt.out.stdout.length, 1);
    assert.match(rt.out.stdout[0]!, /^alice-web-0-aaaaa\s+alice\s+web-0\s+ls\s+once\s+Pending\s+5m$/);
  });

  it('-w prints the list, then a line for each request that appears or changes state', async () => {
    let polls = 0;
    const stop = new Error('stop watching');
    const cluster = new FakeCluster({
      requests: [a],
      onSleep: (fake) => {
        polls++;
        if (polls === 1) fake.requests.push(b);
        if (polls === 2) fake.grants.push(granted(a));
        if (polls === 4) throw stop;
      },
    });
    const rt = fakeRuntime(cluster);
    await runCli(['list', '-w'], rt);
    assert.equal(rt.out.stdout.length, 3, rt.out.stdout.join('\n---\n'));
    assert.match(rt.out.stdout[0]!, /^NAME\s+USER.*\nalice-web-0-aaaaa\s+alice\s.*Pending/);
    assert.match(rt.out.stdout[1]!, /^bob-web-0-bbbbb\s+bob\s.*Pending\s+5m$/);
    assert.match(rt.out.stdout[2]!, /^alice-web-0-aaaaa\s+alice\s.*Granted\s+5m$/);
  });
});
