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

function setup(options: { createFails?: unknown } = {}) {
  const source = new StoreSource();
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
