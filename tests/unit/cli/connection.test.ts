// The real client (cli/lib/kube.ts) against local HTTPS servers that misbehave as clusters do: one
// whose certificate the kubeconfig does not trust, one that accepts and never answers. The runtime
// is the process's, except for the captured output.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../../cli/main.ts';
import { processRuntime, type Runtime } from '../../../cli/lib/runtime.ts';
import { startHttpsServer } from '../../support/https-server.ts';
import { createCA, type CertificateAuthority } from '../../support/pki.ts';

let dir: string;
let ca: CertificateAuthority;
let other: CertificateAuthority;
let silent: Awaited<ReturnType<typeof startHttpsServer>>;

async function kubeconfig(name: string, server: string, caPem: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } },
      ],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'shop' } }],
      'current-context': 'x',
    }),
  );
  return file;
}

function capture(): Runtime & { stderr: string[]; stdout: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    ...processRuntime,
    stdout,
    stderr,
    io: { ...processRuntime.io, stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t), interactive: false },
  };
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'krq-conn-'));
  [ca, other] = await Promise.all([createCA('cluster CA'), createCA('some other CA')]);
  const pem = await ca.issue({ commonName: 'apiserver', hosts: ['127.0.0.1'] });
  // Accepts every request and never answers it.
  silent = await startHttpsServer(pem, () => {});
});

after(async () => {
  await silent?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('talking to a misbehaving cluster', () => {
  it('gives up after --request-timeout when the apiserver accepts and never answers', async () => {
    const config = await kubeconfig('silent.yaml', silent.url.replace(/\/$/, ''), ca.cert);
    const rt = capture();
    const started = Date.now();
    const code = await runCli(['list', '--kubeconfig', config, '--request-timeout=300ms'], rt);
    assert.equal(code, 1);
    // The server never answers: without the timeout this would hang until the test's own timeout.
    // The bound is loose (module loading on a loaded machine takes seconds); the message below
    // proves it was --request-timeout that ended the call.
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.deepEqual(rt.stderr, [
      `error: the cluster at ${silent.url.replace(/\/$/, '')} did not answer within 300ms (--request-timeout); check that the cluster is healthy, or raise --request-timeout`,
    ]);
  });

  it('says the certificate is not trusted, not that the network failed, when the CA is wrong', async () => {
    const config = await kubeconfig('wrong-ca.yaml', silent.url.replace(/\/$/, ''), other.cert);
    const rt = capture();
    assert.equal(await runCli(['list', '--kubeconfig', config], rt), 1);
    assert.equal(rt.stderr.length, 1, rt.stderr.join('\n'));
    assert.match(
      rt.stderr[0]!,
      /^error: the cluster at https:\/\/127\.0\.0\.1:\d+ is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): its certificate is not signed by the kubeconfig's certificate-authority; check the cluster's certificate-authority\(-data\) in your kubeconfig, or --context$/,
    );
    assert.doesNotMatch(rt.stderr[0]!, /cannot reach/);
  });
});
