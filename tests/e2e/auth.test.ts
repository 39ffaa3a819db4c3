// The webhook answers only its kube-apiserver (issue 12, hole 5): someone who reaches the webhook's
// port and POSTs a forged AdmissionReview in alice's name gets 401 and uses up nothing, while the
// real kube-apiserver, presenting its client certificate through its AdmissionConfiguration
// kubeConfigFile, is still reviewed as before.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import { createCA } from '../support/pki.ts';
import { accessGrant, accessRequest, execProbe, exists, getJson, mustCreate, pod, waitFor } from './_kra.ts';

let cp: ControlPlane;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-auth-'));
  // Standing exec RBAC: every refusal comes from the webhook, and a grant needs no RoleBinding first.
  cp = await startControlPlane({
    dir,
    developersCanExec: true,
    webhook: true,
    log: (line) => console.error(`# ${line}`),
  });
  await cp.apply(pod('web', 'team-a'));
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A granted one-shot request of alice for `ls` in team-a/web, as an approver leaves it. */
async function grantedOneShot(name: string): Promise<void> {
  await mustCreate(
    cp,
    'alice',
    accessRequest({ name, namespace: 'team-a', user: 'alice', pod: 'web', command: ['ls'] }),
  );
  const created = await getJson<{ metadata: { uid: string } }>(cp, ['accessrequest', '-n', 'team-a', name]);
  const grant = accessGrant({ name, namespace: 'team-a', grantFor: name, by: 'carol' });
  await mustCreate(cp, 'carol', { ...grant, spec: { ...grant.spec, grantForUID: created.metadata.uid } });
}

/** Whether a one-shot request can still be used: it exists and is not marked used (status.usedAt). */
async function unused(name: string): Promise<boolean> {
  if (!(await exists(cp, 'accessrequest', 'team-a', name))) return false;
  const request = await getJson<{ status?: { usedAt?: string } }>(cp, ['accessrequest', '-n', 'team-a', name]);
  return !request.status?.usedAt;
}

/** What the kube-apiserver would send for `kubectl exec -n team-a web -c app -- ls` by alice. */
function forgedReview(uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      requestKind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      requestSubResource: 'exec',
      name: 'web',
      namespace: 'team-a',
      operation: 'CONNECT',
      userInfo: { username: 'alice', uid: 'alice', groups: ['developers', 'system:authenticated'] },
      object: {
        kind: 'PodExecOptions',
        apiVersion: 'v1',
        stdout: true,
        stderr: true,
        container: 'app',
        command: ['ls'],
      },
      oldObject: null,
      dryRun: false,
      options: null,
    },
  });
}

/** POST straight to the webhook's port over HTTP/1.1, as anyone on the network could. */
function postToWebhook(
  body: string,
  client?: { cert: string; key: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      cp.webhookUrl,
      {
        method: 'POST',
        ca: cp.caPem,
        agent: false,
        timeout: 10_000,
        ...client,
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('the webhook did not answer')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The same over HTTP/2, what the kube-apiserver itself speaks to the webhook. */
function h2PostToWebhook(body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(cp.webhookUrl, { ca: cp.caPem });
    session.once('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/json' });
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => {
      session.close();
      resolve({ status, body: text });
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

describe('the webhook answers only its kube-apiserver', () => {
  it('refuses a forged review without a client certificate with 401 and leaves the one-shot request to alice', async () => {
    await grantedOneShot('alice-ls');
    const refused = await postToWebhook(forgedReview('forged-1'));
    assert.equal(refused.status, 401, refused.body);
    assert.match(refused.body, /client certificate .* required.*kubeConfigFile/);
    const refusedH2 = await h2PostToWebhook(forgedReview('forged-2'));
    assert.equal(refusedH2.status, 401, refusedH2.body);
    // A certificate with the apiserver's name from a CA the webhook does not trust: refused too.
    const impostor = await (
      await createCA('kube-request-access webhook client CA')
    ).issue({ commonName: 'kube-apiserver', client: true });
    assert.equal((await postToWebhook(forgedReview('forged-3'), impostor)).status, 401);

    assert.equal(await unused('alice-ls'), true, 'the forged reviews used nothing up');
    // Through the kube-apiserver, which presents its client certificate, alice's exec still gets
    // through (400 "no host assigned" = admitted; there is no kubelet here)…
    const allowed = await execProbe(cp, 'alice', {
      namespace: 'team-a',
      pod: 'web',
      container: 'app',
      command: ['ls'],
    });
    assert.equal(allowed.outcome, 'allowed', allowed.body);
    // …once.
    const again = await execProbe(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', command: ['ls'] });
    assert.equal(again.outcome, 'denied', again.body);
  });

  it("would have used the request up with the apiserver's certificate: the 401 is what protects it", async () => {
    // The control for the test above: the same forged review, sent with the client certificate
    // only the kube-apiserver holds, is reviewed and consumes the one-shot request.
    await grantedOneShot('alice-ls-2');
    const reviewed = await postToWebhook(forgedReview('with-cert'), cp.apiserverWebhookClient);
    assert.equal(reviewed.status, 200, reviewed.body);
    assert.equal(JSON.parse(reviewed.body).response.allowed, true);
    await waitFor('the one-shot request to be used up', async () => !(await unused('alice-ls-2')), 10_000, 200);
    const denied = await execProbe(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', command: ['ls'] });
    assert.equal(denied.outcome, 'denied', denied.body);
  });

  it('still answers kubelet-style probes without a client certificate', async () => {
    for (const probe of ['healthz', 'readyz']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${cp.webhookUrl}${probe}`, { ca: cp.caPem, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200, probe);
    }
  });
});
