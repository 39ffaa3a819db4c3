// The page behind `kubectl request ui`, driven through app.request: the token, Host and Origin
// guards, the CSP, what the queue shows, grants pinned to the uid the approver saw, refusals shown
// as the cluster gave them, and live updates over Server-Sent Events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTENT_SECURITY_POLICY, uiApp } from '../../../cli/ui/app.ts';
import { StoreSource } from '../../../cli/ui/source.ts';
import type { AccessGrantBody } from '../../../cli/lib/cluster.ts';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import { status } from './fake.ts';

const TOKEN = 'tok-0123456789';
const ORIGIN = 'http://127.0.0.1:4567';
const NOW = new Date('2025-05-01T10:10:00Z');

function request(
  name: string,
  user: string,
  extra: Partial<AccessRequest['spec']> = {},
  uid = `uid-${name}`,
): AccessRequest {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: { name, namespace: 'team-a', uid, resourceVersion: '1', creationTimestamp: '2025-05-01T10:00:00Z' },
    spec: {
      userInfo: { username: user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'team-a',
      },
      validFor: '',
      execOptions: {
        container: 'app',
        command: ['sh', '-c', 'cat /etc/x && echo "<b>"'],
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
      },
      ...extra,
    },
  };
}

function grant(forName: string, by: string, state: 'granted' | 'denied', reason?: string): AccessGrant {
  return {
    metadata: {
      name: `${forName}-grant`,
      namespace: 'team-a',
      uid: 'g',
      resourceVersion: '1',
      creationTimestamp: '2025-05-01T10:05:00Z',
    },
    spec: {
      grantFor: forName,
      grantForUID: `uid-${forName}`,
      grantedBy: { username: by },
      ...(reason ? { reason } : {}),
    },
    status: state,
  };
}

function policy(namespace: string, name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessPolicy',
    metadata: { name, namespace, uid: `p-${name}`, resourceVersion: '1' },
    spec,
  };
}

/** A further approval of the same request, by another approver (named as the CLI names it). */
function approval(
  forName: string,
  by: string,
  at = '2025-05-01T10:06:00Z',
  extra: Record<string, unknown> = {},
): AccessGrant {
  const g = grant(forName, by, 'granted');
  return {
    ...g,
    metadata: { ...g.metadata, name: `${forName}-grant-${by}`, creationTimestamp: at },
    spec: { ...g.spec, ...extra },
  };
}

function setup(
  options: {
    createFails?: unknown;
    policiesKnown?: 'all' | string[];
    connection?: { kubeconfig?: string; context?: string };
  } = {},
) {
  const source = new StoreSource(undefined, undefined, options.policiesKnown ?? 'all');
  const created: { namespace: string; body: AccessGrantBody }[] = [];
  const cluster = {
    async getAccessRequest(namespace: string, name: string) {
      const found = source
        .snapshot()
        .requests.find((r) => r.metadata.namespace === namespace && r.metadata.name === name);
      if (!found)
        throw status(404, `accessrequests.kube-request-access.io "${name}" not found`, {
          name,
          kind: 'accessrequests',
        });
      return found;
    },
    async createAccessGrant(namespace: string, body: AccessGrantBody) {
      if (options.createFails) throw options.createFails;
      created.push({ namespace, body });
      return body as AccessGrant;
    },
  };
  const app = uiApp({
    cluster,
    source,
    me: 'carol',
    token: TOKEN,
    origins: () => [ORIGIN],
    now: () => NOW,
    debounceMs: 1,
    ...(options.connection ? { connection: options.connection } : {}),
  });
  const get = (path: string, headers: Record<string, string> = {}) =>
    app.request(`${ORIGIN}${path}`, { headers: { host: '127.0.0.1:4567', ...headers } });
  const post = (
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = { origin: ORIGIN, 'sec-fetch-site': 'same-origin' },
  ) =>
    app.request(`${ORIGIN}${path}`, {
      method: 'POST',
      headers: { host: '127.0.0.1:4567', 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  return { app, source, created, get, post };
}

describe('kubectl request ui: guards', () => {
  it('refuses every request without the token, or with a wrong one, with 403', async () => {
    const { get } = setup();
    for (const path of ['/', '/history', '/assets/ui.js', '/events?view=queue', '/requests/team-a/x']) {
      assert.equal((await get(path)).status, 403, path);
      assert.equal((await get(`${path}${path.includes('?') ? '&' : '?'}token=tok-0123456788`)).status, 403, path);
    }
    assert.equal((await get(`/?token=${TOKEN}`)).status, 200);
  });

  it('refuses a Host that is not the loopback address it serves (DNS rebinding)', async () => {
    const { get } = setup();
    assert.equal((await get(`/?token=${TOKEN}`, { host: 'evil.example:4567' })).status, 403);
  });

  it('sends a strict Content-Security-Policy, and a Referer to no other origin, on every answer', async () => {
    const { get } = setup();
    for (const path of ['/', `/?token=${TOKEN}`]) {
      const res = await get(path);
      assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
      assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
      assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/);
      assert.equal(res.headers.get('referrer-policy'), 'same-origin');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
    }
  });

  it('refuses POSTs from another origin, without an origin, or without the form token', async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    const path = `/requests/team-a/alice-web-0-abcde/grant?token=${TOKEN}`;
    const form = { csrf: TOKEN, uid: 'uid-alice-web-0-abcde' };
    assert.equal(
      (await post(path, form, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status,
      403,
    );
    assert.equal((await post(path, form, { 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await post(path, form, {})).status, 403);
    assert.equal((await post(path, form, { origin: 'null', 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await post(path, form, { origin: ORIGIN, 'sec-fetch-site': 'same-site' })).status, 403);
    assert.equal((await post(path, { uid: 'uid-alice-web-0-abcde' })).status, 403);
    assert.equal((await post(path, { ...form, csrf: 'nope' })).status, 403);
    assert.equal(created.length, 0);
  });
});

describe('kubectl request ui: pages', () => {
  it('lists pending requests of others with who, pod, container, argv, window, reason and custom keys, escaped', async () => {
    const { source, get } = setup();
    source.putRequest(
      request('alice-web-0-abcde', 'alice', {
        validFor: '30m',
        customKeys: { ticket: 'OPS-7' },
        reason: 'debug <prod>',
      } as never),
    );
    source.putRequest(request('carol-web-0-zzzzz', 'carol'));
    source.putRequest(request('bob-web-0-done1', 'bob'));
    source.putGrant(grant('bob-web-0-done1', 'carol', 'granted'));
    const body = await (await get(`/?token=${TOKEN}`)).text();
    const queue = body.slice(
      body.indexOf('data-testid="queue"'),
      body.indexOf('</table>', body.indexOf('data-testid="queue"')),
    );
    assert.match(queue, /alice/);
    assert.match(queue, /web-0/);
    assert.match(queue, /<td>app<\/td>/);
    assert.match(
      queue,
      /<li><code>sh<\/code><\/li><li><code>-c<\/code><\/li><li><code>cat \/etc\/x &amp;&amp; echo &quot;&lt;b&gt;&quot;<\/code><\/li>/,
    );
    assert.match(queue, /30m/);
    assert.match(queue, /debug &lt;prod&gt;/);
    assert.match(queue, /<dt>ticket<\/dt><dd>OPS-7<\/dd>/);
    assert.doesNotMatch(queue, /carol-web-0|bob-web-0/, 'own and decided requests are not in the queue');
    assert.match(body, new RegExp(`href="/requests/team-a/alice-web-0-abcde\\?token=${TOKEN}"`));
    assert.match(body, /data-testid="mine"[\s\S]*carol-web-0-zzzzz/, 'the user sees their own requests');
    assert.doesNotMatch(body, /<script>/, 'no inline script');
  });

  it('shows history: granted, denied, used and expired requests', async () => {
    const { source, get } = setup();
    source.putRequest(request('a-granted', 'alice', { validFor: '1h' }));
    source.putGrant(grant('a-granted', 'carol', 'granted'));
    source.putRequest(request('a-denied', 'alice'));
    source.putGrant(grant('a-denied', 'carol', 'denied', 'not now'));
    source.putRequest({ ...request('a-used', 'alice'), status: { usedAt: '2025-05-01T10:06:00Z' } });
    source.putGrant(grant('a-used', 'carol', 'granted'));
    source.putRequest(request('a-expired', 'alice', { validFor: '1m' }));
    source.putGrant(grant('a-expired', 'carol', 'granted'));
    source.putRequest(request('a-pending', 'alice'));
    const body = await (await get(`/history?token=${TOKEN}`)).text();
    for (const [name, state] of [
      ['a-granted', 'Granted'],
      ['a-denied', 'Denied'],
      ['a-used', 'Used'],
      ['a-expired', 'Expired'],
    ]) {
      assert.match(body, new RegExp(`data-request="team-a/${name}"[\\s\\S]*?state-[a-z]+">${state}`), name);
    }
    assert.match(body, /not now/);
    assert.doesNotMatch(body, /a-pending/);
  });

  it('gives a requester the kubectl exec to run once granted', async () => {
    const { source, app } = setup();
    source.putRequest(request('carol-web-0-zzzzz', 'carol'));
    source.putGrant(grant('carol-web-0-zzzzz', 'dave', 'granted'));
    const body = await (await app.request(`${ORIGIN}/?token=${TOKEN}`, { headers: { host: '127.0.0.1:4567' } })).text();
    assert.match(
      body,
      /<code class="copy ready">kubectl exec -n team-a web-0 -c app -- sh -c &#39;cat \/etc\/x &amp;&amp; echo &quot;&lt;b&gt;&quot;&#39;<\/code>/,
    );
  });

  it('shows one request with the summary the CLI shows before grant, and grant and deny forms', async () => {
    const { source, get } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice', { customKeys: { ticket: 'OPS-7' } }));
    const body = await (await get(`/requests/team-a/alice-web-0-abcde?token=${TOKEN}`)).text();
    assert.match(body, /alice asks to exec in pod team-a\/web-0/);
    assert.match(body, /request: {5}alice-web-0-abcde/);
    assert.match(body, /custom keys: ticket=OPS-7/);
    assert.match(body, /action="\/requests\/team-a\/alice-web-0-abcde\/grant\?token=/);
    assert.match(body, /action="\/requests\/team-a\/alice-web-0-abcde\/deny\?token=/);
    assert.match(body, /name="uid" value="uid-alice-web-0-abcde"/);
  });
});

describe('kubectl request ui: decisions', () => {
  it("grants with the CLI's grant, pinned to the uid the approver saw", async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    const res = await post(`/requests/team-a/alice-web-0-abcde/grant?token=${TOKEN}`, {
      csrf: TOKEN,
      uid: 'uid-seen-before',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(created, [
      {
        namespace: 'team-a',
        body: {
          apiVersion: 'kube-request-access.io/v1',
          kind: 'AccessGrant',
          metadata: { name: 'alice-web-0-abcde-grant', namespace: 'team-a' },
          spec: { grantFor: 'alice-web-0-abcde', grantForUID: 'uid-seen-before', grantedBy: { username: 'carol' } },
          status: 'granted',
        },
      },
    ]);
    const body = await res.text();
    assert.match(body, /Granted alice-web-0-abcde: alice may now run \(once\)/);
    assert.match(body, /kubectl exec -n team-a web-0 -c app -- sh -c/);
  });

  it('denies only with a reason, and stores it', async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    const path = `/requests/team-a/alice-web-0-abcde/deny?token=${TOKEN}`;
    assert.equal((await post(path, { csrf: TOKEN, uid: 'uid-alice-web-0-abcde', reason: ' ' })).status, 400);
    assert.equal(created.length, 0);
    const res = await post(path, { csrf: TOKEN, uid: 'uid-alice-web-0-abcde', reason: 'use the replica' });
    assert.equal(res.status, 200);
    const body = created[0]!.body as AccessGrant;
    assert.equal(body.status, 'denied');
    assert.equal(body.spec.reason, 'use the replica');
  });

  it("shows the cluster's refusal as it is, with its status code", async () => {
    const message =
      'admission webhook "objects.kube-request-access.io" denied the request: you cannot grant your own AccessRequest "x"; another approver has to';
    const { source, post } = setup({ createFails: status(403, message) });
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    const res = await post(`/requests/team-a/alice-web-0-abcde/grant?token=${TOKEN}`, {
      csrf: TOKEN,
      uid: 'uid-alice-web-0-abcde',
    });
    assert.equal(res.status, 403);
    const body = await res.text();
    assert.match(
      body,
      /Refused: denied by the objects.kube-request-access.io webhook: you cannot grant your own AccessRequest &quot;x&quot;/,
    );
    assert.match(
      body,
      /HTTP 403: admission webhook &quot;objects.kube-request-access.io&quot; denied the request: you cannot grant/,
    );
  });
});

describe('kubectl request ui: live updates', () => {
  it('pushes the re-rendered queue over Server-Sent Events when the watch sees a new request', async () => {
    const { source, get } = setup();
    const res = await get(`/events?view=queue&token=${TOKEN}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += decoder.decode(value);
      }
    };
    await until(/event: update\ndata: [\s\S]*No pending requests/);
    text = '';
    source.putRequest(request('alice-web-0-new01', 'alice'));
    await until(/event: update\n[\s\S]*alice-web-0-new01[\s\S]*\n\n/);
    await reader.cancel();
  });
});

/** The HTML of the table with `testid`, up to its end. */
function table(body: string, testid: string): string {
  const start = body.indexOf(`data-testid="${testid}"`);
  assert.notEqual(start, -1, `no ${testid} table in ${body}`);
  return body.slice(start, body.indexOf('</table>', start));
}

describe('kubectl request ui: policies and badges', () => {
  it('shows approvals so far and what a policy still requires, in the queue and on the request', async () => {
    const { source, get } = setup();
    source.putPolicy(policy('team-a', 'two', { requiredApprovals: 2 }));
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    let queue = table(await (await get(`/?token=${TOKEN}`)).text(), 'queue');
    assert.match(queue, /data-testid="approvals">0 of 2 approvals; needs 2 more</);
    source.putGrant(approval('alice-web-0-abcde', 'dave'));
    queue = table(await (await get(`/?token=${TOKEN}`)).text(), 'queue');
    assert.match(queue, /data-testid="approvals">1 of 2 approvals: dave; needs 1 more</);
    const page = await (await get(`/requests/team-a/alice-web-0-abcde?token=${TOKEN}`)).text();
    assert.match(page, /Pending \(1 of 2 approvals\)/);
    assert.match(page, /data-testid="grant"/, 'carol may still approve');
  });

  it('tells an approver who approved already that others must, and offers no second approval', async () => {
    const { source, get } = setup();
    source.putPolicy(policy('team-a', 'two', { requiredApprovals: 2 }));
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    source.putGrant(approval('alice-web-0-abcde', 'carol'));
    const page = await (await get(`/requests/team-a/alice-web-0-abcde?token=${TOKEN}`)).text();
    assert.match(page, /You approved this request; 1 of 2 approvals: carol; needs 1 more from other approvers/);
    assert.doesNotMatch(page, /data-testid="grant"/);
  });

  it("names the second approver's grant after them, and says how many approvals are still missing", async () => {
    const { source, post, created } = setup();
    source.putPolicy(policy('team-a', 'three', { requiredApprovals: 3 }));
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    source.putGrant(grant('alice-web-0-abcde', 'dave', 'granted'));
    const res = await post(`/requests/team-a/alice-web-0-abcde/grant?token=${TOKEN}`, {
      csrf: TOKEN,
      uid: 'uid-alice-web-0-abcde',
    });
    assert.equal(res.status, 200);
    assert.equal((created[0]!.body as AccessGrant).metadata.name, 'alice-web-0-abcde-grant-carol');
    const body = await res.text();
    assert.match(
      body,
      /Approved alice-web-0-abcde: 2 of 3 approvals: dave, carol; needs 1 more before alice may run it\./,
    );
    assert.doesNotMatch(body, /data-testid="grant"/, 'no buttons under the answer');
  });

  it('marks a request pre-approved by a policy, break-glass grants, and whether they were reviewed', async () => {
    const { source, get } = setup();
    source.putPolicy(policy('team-a', 'ops', { preApproved: [{ command: ['sh', '-c', 'cat /etc/x && echo "<b>"'] }] }));
    source.putRequest(request('alice-pre', 'alice'));
    source.putRequest(request('alice-glass', 'alice', { command: undefined } as never));
    source.putGrant({
      ...grant('alice-glass', 'alice', 'granted'),
      spec: { ...grant('alice-glass', 'alice', 'granted').spec, breakGlass: true },
    } as AccessGrant);
    source.putRequest(request('alice-glass2', 'alice'));
    source.putGrant({
      ...grant('alice-glass2', 'alice', 'granted'),
      spec: { ...grant('alice-glass2', 'alice', 'granted').spec, breakGlass: true },
    } as AccessGrant);
    source.putGrant({ ...approval('alice-glass2', 'dave'), status: 'reviewed' } as unknown as AccessGrant);
    const body = (await (await get(`/?token=${TOKEN}`)).text()) + (await (await get(`/history?token=${TOKEN}`)).text());
    const row = (name: string) => body.slice(body.indexOf(`data-request="team-a/${name}"`)).split('</tr>')[0]!;
    assert.match(row('alice-pre'), /data-badge="pre-approved">pre-approved by AccessPolicy ops</);
    assert.match(row('alice-glass'), /data-badge="break-glass">break-glass by alice</);
    assert.match(row('alice-glass'), /data-badge="needs-review">needs review</);
    assert.match(row('alice-glass2'), /data-badge="reviewed">reviewed by dave</);
    assert.doesNotMatch(row('alice-glass2'), /needs-review/);
    const history = await (await get(`/history?token=${TOKEN}`)).text();
    assert.match(history, /data-request="team-a\/alice-pre"[\s\S]*?AccessPolicy ops/);
  });

  it('works without the policies of a namespace the user may not read, and says what it cannot know', async () => {
    const { source, get } = setup({ policiesKnown: [] });
    source.putPolicy(policy('team-a', 'two', { requiredApprovals: 2 }));
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    source.putRequest({
      ...request('alice-web-0-srv01', 'alice'),
      status: { state: 'Pending', approvals: '1/2' },
    } as never);
    source.putGrant(approval('alice-web-0-srv01', 'dave'));
    source.putRequest(request('alice-web-0-one01', 'alice'));
    source.putGrant(grant('alice-web-0-one01', 'dave', 'granted'));
    const body = await (await get(`/?token=${TOKEN}`)).text();
    const queue = table(body, 'queue');
    assert.match(
      queue,
      /data-request="team-a\/alice-web-0-abcde"[\s\S]*?no approvals yet<\/span><span class="sub unsure">the AccessPolicies of team-a are not visible to you</,
    );
    assert.match(
      queue,
      /data-request="team-a\/alice-web-0-srv01"[\s\S]*?1 of 2 approvals: dave; needs 1 more/,
      'status.approvals, as the server wrote it',
    );
    const page = await (await get(`/requests/team-a/alice-web-0-one01?token=${TOKEN}`)).text();
    assert.match(page, /the AccessPolicies of team-a are not visible to you: it may need more approvals/);
  });

  it("reads status.state where the server wrote one, and evaluateGrant's answer elsewhere", async () => {
    const { source, get } = setup();
    source.putRequest({ ...request('a-expired', 'alice', { validFor: '1h' }), status: { state: 'Expired' } } as never);
    source.putGrant(grant('a-expired', 'carol', 'granted'));
    source.putRequest({ ...request('a-denied', 'alice'), status: { state: 'Denied' } } as never);
    source.putRequest({
      ...request('a-multi', 'alice', { validFor: '1h', maxUses: 5 } as never),
      status: { uses: 2 },
    } as never);
    source.putGrant(grant('a-multi', 'carol', 'granted'));
    const body = await (await get(`/history?token=${TOKEN}`)).text();
    assert.match(body, /data-request="team-a\/a-expired"[\s\S]*?state-expired">Expired/);
    assert.match(body, /data-request="team-a\/a-denied"[\s\S]*?state-denied">Denied/);
    assert.match(
      body,
      /data-request="team-a\/a-multi"[\s\S]*?state-granted">Granted \(55m left(, 2 of 5 uses)?\)[\s\S]*?2 of 5 uses/,
    );
    assert.doesNotMatch(await (await get(`/?token=${TOKEN}`)).text(), /a-denied/);
  });

  it("gives the requester's own command the kubeconfig flags the page was started with", async () => {
    const { source, get } = setup({ connection: { kubeconfig: '/home/carol/.kube/prod', context: 'prod' } });
    source.putRequest(
      request('carol-web-0-zzzzz', 'carol', { execOptions: { container: 'app', command: ['ls'] } } as never),
    );
    source.putGrant(grant('carol-web-0-zzzzz', 'dave', 'granted'));
    source.putRequest(request('alice-web-0-abcde', 'alice', { validFor: '1h' }));
    const body = await (await get(`/?token=${TOKEN}`)).text();
    assert.match(
      table(body, 'mine'),
      /<code class="copy ready">kubectl --kubeconfig \/home\/carol\/.kube\/prod --context prod exec -n team-a web-0 -c app -- ls<\/code>/,
    );
  });
});

describe('kubectl request ui: narrowed grants', () => {
  const path = `/requests/team-a/alice-web-0-abcde/grant?token=${TOKEN}`;
  const form = { csrf: TOKEN, uid: 'uid-alice-web-0-abcde' };

  it('offers a shorter window and fewer uses where the request leaves room, checked by the browser', async () => {
    const { source, get } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice', { validFor: '30m' }));
    source.putRequest(request('alice-web-0-once1', 'alice'));
    const page = await (await get(`/requests/team-a/alice-web-0-abcde?token=${TOKEN}`)).text();
    assert.match(
      page,
      /<input name="validFor" data-testid="valid-for" pattern="[^"]+" maxlength="32" placeholder="30m"/,
    );
    assert.match(page, /<input name="maxUses" data-testid="max-uses" type="number" min="1"  step="1"/);
    const once = await (await get(`/requests/team-a/alice-web-0-once1?token=${TOKEN}`)).text();
    assert.doesNotMatch(once, /name="validFor"|name="maxUses"/, 'a one-shot request has nothing to narrow');
  });

  it('puts exactly the narrowed fields on the AccessGrant', async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice', { validFor: '30m' }));
    const res = await post(path, { ...form, validFor: ' 10m ', maxUses: '3' });
    assert.equal(res.status, 200);
    assert.deepEqual((created[0]!.body as AccessGrant).spec, {
      grantFor: 'alice-web-0-abcde',
      grantForUID: 'uid-alice-web-0-abcde',
      grantedBy: { username: 'carol' },
      validFor: '10m',
      maxUses: 3,
    });
    assert.match(await res.text(), /may now run \(for 10m, at most 3 uses\)/);
  });

  it('refuses narrowing that is no duration, no number, or wider than the request, with a message', async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice', { validFor: '30m', maxUses: 5 } as never));
    const cases: [Record<string, string>, RegExp][] = [
      [{ validFor: 'soon' }, /spec\.validFor: &quot;soon&quot; is not a duration; give one such as 15m or 1h30m/],
      [{ validFor: '0' }, /spec\.validFor: give a window longer than 0/],
      [
        { validFor: '1h' },
        /spec\.validFor: a grant can only narrow the request, whose window is 30m; give 30m or less/,
      ],
      [{ validFor: '9'.repeat(40) + 's' }, /is not a duration/],
      [{ maxUses: 'two' }, /spec\.maxUses: &quot;two&quot; is not a whole number of at least 1/],
      [{ maxUses: '0' }, /spec\.maxUses: &quot;0&quot; is not a whole number of at least 1/],
      [{ maxUses: '1.5' }, /is not a whole number/],
      [{ maxUses: '6' }, /spec\.maxUses: a grant can only narrow the request, which allows 5 uses; give 5 or less/],
    ];
    for (const [fields, message] of cases) {
      const res = await post(path, { ...form, ...fields });
      assert.equal(res.status, 400, JSON.stringify(fields));
      assert.match(await res.text(), message, JSON.stringify(fields));
    }
    assert.equal(created.length, 0);
  });

  it('refuses a window for a one-shot request, and ignores narrowing on a denial', async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice'));
    const res = await post(path, { ...form, validFor: '5m' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /the request is for a single use and has no window to shorten/);
    const denied = await post(`/requests/team-a/alice-web-0-abcde/deny?token=${TOKEN}`, {
      ...form,
      reason: 'no',
      validFor: 'soon',
    });
    assert.equal(denied.status, 200);
    assert.deepEqual(Object.keys((created[0]!.body as AccessGrant).spec).sort(), [
      'grantFor',
      'grantForUID',
      'grantedBy',
      'reason',
    ]);
  });

  it('refuses a narrowing POST without the URL token or without the form token', async () => {
    const { source, post, created } = setup();
    source.putRequest(request('alice-web-0-abcde', 'alice', { validFor: '30m' }));
    assert.equal((await post('/requests/team-a/alice-web-0-abcde/grant', { ...form, validFor: '10m' })).status, 403);
    assert.equal((await post(path, { uid: form.uid, validFor: '10m' })).status, 403);
    assert.equal(created.length, 0);
  });
});
