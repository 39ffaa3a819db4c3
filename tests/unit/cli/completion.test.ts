// Completion as kubectl ≥ 1.26 asks for it (kubectl_complete-request WORDS…, Cobra's format) and
// the scripts of `kubectl request completion`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import { runCli } from '../../../cli/main.ts';
import { FakeCluster, fakeRuntime } from './fake.ts';

function request(name: string, command: string[]): AccessRequest {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
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
      validFor: '',
      execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command },
    },
  };
}
const open = request('alice-web-0-aaaaa', ['ls']);
const done = request('alice-web-0-bbbbb', ['id']);
const grant: AccessGrant = {
  metadata: {
    name: `${done.metadata.name}-grant`,
    namespace: 'shop',
    uid: 'g',
    resourceVersion: '2',
    creationTimestamp: '2026-01-10T11:58:00Z',
  },
  spec: { grantFor: done.metadata.name, grantForUID: done.metadata.uid, grantedBy: { username: 'carol' } },
  status: 'granted',
};

async function completeWith(
  words: string[],
  cluster = new FakeCluster({
    requests: [open, done],
    grants: [grant],
    pods: [{ metadata: { name: 'web-0' } }, { metadata: { name: 'db-0' } }],
  }),
) {
  const rt = fakeRuntime(cluster);
  assert.equal(await runCli(['__complete', ...words], rt), 0);
  return { lines: rt.out.stdout.join('\n').split('\n'), connections: rt.connections };
}

describe('completion', () => {
  it('completes commands, with their summaries, and no files', async () => {
    const { lines } = await completeWith(['gr']);
    assert.deepEqual(lines, ['grant\tGrant an access request (after a summary and a y/N prompt)', ':4']);
    const all = (await completeWith([''])).lines;
    for (const name of ['exec', 'wait', 'revoke', 'completion'])
      assert.ok(
        all.some((l) => l.startsWith(`${name}\t`)),
        name,
      );
  });

  it('completes request names from the cluster, as each command takes them', async () => {
    assert.deepEqual((await completeWith(['grant', ''])).lines, [
      'alice-web-0-aaaaa\talice: ls on web-0 (Pending)',
      ':4',
    ]);
    assert.deepEqual((await completeWith(['revoke', ''])).lines, [
      'alice-web-0-bbbbb\talice: id on web-0 (Granted)',
      ':4',
    ]);
    assert.deepEqual((await completeWith(['describe', 'alice-web-0-b'])).lines, [
      'alice-web-0-bbbbb\talice: id on web-0 (Granted)',
      ':4',
    ]);
    const { connections } = await completeWith(['-n', 'team-a', 'describe', '--context', 'x', '']);
    assert.deepEqual(connections, [{ namespace: 'team-a', context: 'x', requestTimeoutMs: 5000 }]);
  });

  it('completes pod names for exec, flags, and -o values', async () => {
    assert.deepEqual((await completeWith(['exec', 'w'])).lines, ['web-0', ':4']);
    const flags = (await completeWith(['exec', 'web-0', '--any'])).lines;
    assert.match(flags[0]!, /^--any-command\tAsk for ANY command/);
    assert.deepEqual((await completeWith(['list', '-o', ''])).lines, [
      'wide',
      'name',
      'json',
      'yaml',
      'jsonpath=',
      ':4',
    ]);
    assert.deepEqual((await completeWith(['exec', 'web-0', '--', ''])).lines, [':0']);
  });

  it('reads from the flag definitions which flags take the next word: -k does, --wait (an optional value) does not', async () => {
    assert.deepEqual((await completeWith(['exec', '--wait', 'w'])).lines, ['web-0', ':4']);
    assert.deepEqual((await completeWith(['exec', '-k', 'w'])).lines, [':4']);
    assert.deepEqual((await completeWith(['exec', '--custom-key', 'w'])).lines, [':4']);
    assert.deepEqual((await completeWith(['exec', '-k', 'a=1', 'w'])).lines, ['web-0', ':4']);
    const flags = (await completeWith(['exec', 'web-0', '--cus'])).lines;
    assert.match(flags[0]!, /^--custom-key\tCustom keys/);
  });

  it('completes nothing, quietly, when the cluster fails', async () => {
    const cluster = new FakeCluster({ fail: { listAccessRequests: new Error('boom') } });
    assert.deepEqual((await completeWith(['grant', ''], cluster)).lines, [':4']);
  });

  it('prints scripts for bash, zsh and fish, and refuses other shells', async () => {
    for (const [shell, pattern] of [
      ['bash', /complete -F _kubectl_request kubectl-request/],
      ['zsh', /^#compdef kubectl-request/],
      ['fish', /complete -c kubectl-request/],
    ] as const) {
      const rt = fakeRuntime(new FakeCluster());
      assert.equal(await runCli(['completion', shell], rt), 0);
      assert.match(rt.out.stdout.join('\n'), pattern);
      assert.match(rt.out.stdout.join('\n'), /kubectl-request __complete/);
    }
    const rt = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['completion', 'bsh'], rt), 2);
    assert.match(rt.out.stderr[0]!, /^error: name one shell: bash, zsh, fish; did you mean "bash"\?/);
  });

  it('bin/kubectl_complete-request runs __complete (the kubectl ≥ 1.26 convention)', async () => {
    const bin = fileURLToPath(new URL('../../../bin/kubectl_complete-request.mjs', import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [bin, 'revo'],
        { env: { ...process.env, KUBECONFIG: '/nonexistent' } },
        (error, out) => (error ? reject(error) : resolve(out)),
      ),
    );
    assert.equal(stdout, 'revoke\tTake back the grant of an access request (approvers and admins)\n:4\n');
  });
});
