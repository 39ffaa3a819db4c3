// `kubectl request ui` in a real browser (Debian's chromium driven by playwright-core) against the
// real control plane with KWOK pods: carol's page shows alice's new request without a reload, carol
// grants it there and alice's kubectl exec then runs; bob (a developer, who may not create grants)
// gets the cluster's refusal on the page; a grant for a request re-created since the page showed it
// gets the webhook's refusal; a request without the URL token is refused. In team-b an AccessPolicy
// wants two approvals: carol's page shows "1 of 2" live after she grants, bob (who may not read
// policies) still gets a working page; a grant narrowed on the page carries exactly the narrowed
// fields, and wrong narrowing is refused by the browser and by the page's handler; the history
// shows granted, denied and used requests, and alice's page the exact kubectl exec to run.
// KRA_SCREENSHOTS=docs writes the screenshots of docs/ui.md (docs/ui-queue.png, docs/ui-request.png).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startControlPlane, type ControlPlane, type User } from '../controlplane/cluster.ts';
import { accessRequest, create, kubectlRequest, roleBindings, runningPod, waitFor } from './_kra.ts';

const NS = 'team-a';
/** Governed by an AccessPolicy that wants two approvals (carol's and dave's). */
const NS2 = 'team-b';
const NOTES = "granted from the approvers' page\n";
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.KRA_SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs') : undefined;

let cp: ControlPlane;
let dir: string;
let browser: Browser;
const uis: ChildProcess[] = [];

/** Runs the real plugin's `ui` as `user`; resolves with the URL it prints. */
async function startUi(user: User): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.BROWSER;
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/kubectl-request.mjs'), '--kubeconfig', cp.kubeconfig, '--context', user, 'ui', '--no-open'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  uis.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return waitFor(
    `kubectl request ui as ${user} to print its URL`,
    async () => {
      if (child.exitCode !== null) throw new Error(`kubectl request ui as ${user} exited ${child.exitCode}: ${out}`);
      return /Open in your browser: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out)?.[1];
    },
    60_000,
    100,
  );
}

/** alice asks with the plugin; returns the request's name. */
async function ask(user: User, args: readonly string[], namespace = NS): Promise<string> {
  const asked = await kubectlRequest(cp, user, ['exec', '-n', namespace, ...args]);
  assert.equal(asked.code, 0, asked.stderr + asked.stdout);
  const name = /accessrequest\/(\S+) created/.exec(asked.stdout)?.[1];
  assert.ok(name, asked.stdout);
  return name;
}

async function newPage(options: { javaScriptEnabled?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, ...options });
  return context.newPage();
}

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM`,
  );
  dir = await mkdtemp(path.join(tmpdir(), 'kra-ui-'));
  cp = await startControlPlane({ dir, webhook: true, kwok: true, log: (line) => console.error(`# ${line}`) });
  const sandbox = await runningPod(cp, 'box', NS, ['app', 'sidecar']);
  await writeFile(path.join(sandbox, 'notes.txt'), NOTES);
  await writeFile(path.join(await runningPod(cp, 'box', NS2, ['app']), 'notes.txt'), NOTES);
  await cp.apply([
    {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessPolicy',
      metadata: { name: 'two-approvers', namespace: NS2 },
      spec: { requiredApprovals: 2, requireReason: true },
    },
    // dave approves in team-b too; carol and dave may read its AccessPolicies (bob may not read any).
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'dave-approves', namespace: NS2 },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kube-request-access:approver' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'dave' }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'policy-reader', namespace: NS2 },
      rules: [
        { apiGroups: ['kube-request-access.io'], resources: ['accesspolicies'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'approvers-read-policies', namespace: NS2 },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'policy-reader' },
      subjects: [
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'carol' },
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'dave' },
      ],
    },
  ]);
  // The policy reaches the webhook's cache through its watch: wait until a request without a reason is refused.
  await waitFor(
    'the two-approvers policy in the webhook cache',
    async () => {
      const probe = await create(
        cp,
        'alice',
        accessRequest({ name: 'probe', namespace: NS2, user: 'alice', pod: 'box' }),
        ['--dry-run=server'],
      );
      return probe.code !== 0 && /requires a reason/.test(probe.stderr);
    },
    15_000,
    200,
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
    headless: true,
  });
});

after(async () => {
  await browser?.close();
  for (const child of uis) child.kill('SIGTERM');
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubectl request ui in chromium', () => {
  let carolUrl: string;
  let bobUrl: string;
  /** Decided on the pages below, for the history. */
  const decided: { used?: string; narrowed?: string; denied?: string } = {};

  it('refuses a request missing the URL token, or with another one', async () => {
    carolUrl = await startUi('carol');
    const bare = new URL(carolUrl);
    bare.search = '';
    const page = await newPage();
    assert.equal((await page.goto(bare.href))?.status(), 403);
    assert.match((await page.textContent('body')) ?? '', /missing or wrong token/);
    const wrong = new URL(carolUrl);
    wrong.searchParams.set('token', 'x'.repeat(32));
    assert.equal((await fetch(wrong)).status, 403);
    assert.equal((await fetch(new URL('/events?view=queue', carolUrl))).status, 403);
    const csp = (await fetch(carolUrl)).headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    await page.context().close();
  });

  it("carol sees alice's new request appear without a reload, grants it on the page, and alice's exec runs", async () => {
    const earlier = await ask('bob', [
      'box',
      '-c',
      'sidecar',
      '--valid-for',
      '30m',
      '-k',
      'ticket=OPS-41',
      '--',
      'ls',
      '-la',
      '/var/log',
    ]);
    const page = await newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
    await page.goto(carolUrl);
    await page.waitForSelector(`tr[data-request="${NS}/${earlier}"]`);
    await page.waitForSelector('#connection.live');
    // Marks this document: a reload or navigation would lose it.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    const name = await ask('alice', ['box', '-c', 'app', '-k', 'ticket=OPS-42', '--', 'cat', 'notes.txt']);
    const row = page.locator(`tr[data-request="${NS}/${name}"]`);
    await row.waitFor({ timeout: 15_000 });
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: number }).marker),
      42,
      'the row came without a reload',
    );
    const text = (await row.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /alice/);
    assert.match(text, /box/);
    assert.match(text, /\bapp\b/);
    assert.deepEqual(await row.locator('ol.argv code').allInnerTexts(), ['cat', 'notes.txt']);
    assert.match(text, /once/);
    assert.match(text, /ticket OPS-42/);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'ui-queue.png'), fullPage: true });

    await row.getByRole('link', { name: 'Review' }).click();
    await page.waitForSelector('[data-testid="summary"]');
    const summary = await page.locator('[data-testid="summary"]').innerText();
    assert.match(summary, new RegExp(`alice asks to exec in pod ${NS}/box`));
    assert.match(summary, /command: {5}cat notes\.txt/);
    assert.match(summary, /custom keys: ticket=OPS-42/);

    await page.getByTestId('grant').click();
    const outcome = page.getByTestId('outcome');
    await outcome.waitFor();
    const said = await outcome.innerText();
    assert.match(said, new RegExp(`Granted ${name}: alice may now run \\(once\\)`), said);
    assert.match(said, new RegExp(`kubectl exec -n ${NS} box -c app -- cat notes.txt`));
    await waitFor(
      `the RoleBinding for ${name}`,
      async () => (await roleBindings(cp, NS)).some((b) => b.metadata.name.endsWith(`.${name}`)),
      15_000,
    );

    const grant = JSON.parse(
      (await cp.kubectl('admin', ['get', 'accessgrant', '-n', NS, `${name}-grant`, '-o', 'json'])).stdout,
    ) as {
      spec: { grantedBy: { username: string }; grantForUID?: string };
      status: string;
    };
    const uid = (await cp.kubectl('admin', ['get', 'accessrequest', '-n', NS, name, '-o', 'jsonpath={.metadata.uid}']))
      .stdout;
    assert.equal(grant.spec.grantedBy.username, 'carol');
    assert.equal(grant.spec.grantForUID, uid);
    assert.equal(grant.status, 'granted');

    const exec = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', 'cat', 'notes.txt']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, NOTES);

    // The queue follows: the granted request leaves it, live, on the page that is still open.
    await page.goto(carolUrl);
    await page.waitForSelector('#connection.live');
    assert.equal(await page.locator(`[data-testid="queue"] tr[data-request="${NS}/${name}"]`).count(), 0);
    await page.getByRole('link', { name: 'History' }).click();
    await page.waitForSelector(`[data-testid="history"] tr[data-request="${NS}/${name}"]`);
    assert.deepEqual(errors, [], 'no script errors (nothing the CSP blocked)');
    decided.used = name;
    await page.context().close();
  });

  it('bob, who may not grant in team-a, gets the refusal on the page', async () => {
    bobUrl = await startUi('bob');
    const name = await ask('alice', ['box', '-c', 'app', '--', 'cat', 'notes.txt']);
    const page = await newPage();
    await page.goto(bobUrl);
    await page.locator(`tr[data-request="${NS}/${name}"]`).getByRole('link', { name: 'Review' }).click();
    await page.getByTestId('grant').click();
    const outcome = page.getByTestId('outcome');
    await outcome.waitFor();
    const said = await outcome.innerText();
    assert.match(said, /Refused: not allowed to grant/);
    assert.match(
      said,
      /HTTP 403: accessgrants\.kube-request-access\.io is forbidden: User "bob" cannot create resource "accessgrants"/,
    );
    assert.equal(
      (await cp.kubectl('admin', ['get', 'accessgrant', '-n', NS, `${name}-grant`])).code,
      1,
      'no grant was made',
    );
    await page.context().close();
  });

  it("a request re-created since the page showed it gets the webhook's refusal, as it is", async () => {
    const name = await ask('alice', ['box', '-c', 'app', '--valid-for', '5m', '--', 'cat', 'notes.txt']);
    // Without script the page does not follow the watch (which would take the stale buttons away):
    // it stands for a page loaded before the request was re-created.
    const page = await newPage({ javaScriptEnabled: false });
    await page.goto(new URL(`/requests/${NS}/${name}?${new URL(carolUrl).searchParams}`, carolUrl).href);
    await page.waitForSelector('[data-testid="grant"]');
    // Same name, new object: the page still holds the old uid.
    const request = JSON.parse(
      (await cp.kubectl('admin', ['get', 'accessrequest', '-n', NS, name, '-o', 'json'])).stdout,
    ) as { metadata: Record<string, unknown>; spec: unknown };
    assert.equal((await cp.kubectl('alice', ['delete', 'accessrequest', '-n', NS, name])).code, 0);
    const again = {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name, namespace: NS },
      spec: request.spec,
    };
    const created = await cp.kubectl('alice', ['create', '-f', '-'], { input: JSON.stringify(again) });
    assert.equal(created.code, 0, created.stderr);
    await page.getByTestId('grant').click();
    const said = await page.getByTestId('outcome').innerText();
    assert.match(
      said,
      /Refused: denied by the objects\.kube-request-access\.io webhook: spec\.grantForUID: AccessRequest ".+" was re-created since you looked at it/,
    );
    assert.match(said, /admission webhook "objects\.kube-request-access\.io" denied the request/);
    await page.context().close();
  });
  it("shows a policy's approvals live: 0 of 2, then 1 of 2 after carol grants, then granted after dave", async () => {
    const queuePage = await newPage();
    await queuePage.goto(carolUrl);
    await queuePage.waitForSelector('#connection.live');
    const name = await ask(
      'alice',
      ['box', '-c', 'app', '--reason', 'OPS-77: read the notes', '--', 'cat', 'notes.txt'],
      NS2,
    );
    const row = queuePage.locator(`[data-testid="queue"] tr[data-request="${NS2}/${name}"]`);
    await row.waitFor({ timeout: 15_000 });
    assert.equal(await row.getByTestId('approvals').innerText(), '0 of 2 approvals; needs 2 more');

    const page = await newPage();
    await page.goto(new URL(`/requests/${NS2}/${name}?${new URL(carolUrl).searchParams}`, carolUrl).href);
    assert.equal(await page.getByTestId('approvals').innerText(), '0 of 2 approvals; needs 2 more');
    await page.getByTestId('grant').click();
    const said = await page.getByTestId('outcome').innerText();
    assert.match(
      said,
      new RegExp(`Approved ${name}: 1 of 2 approvals: carol; needs 1 more before alice may run it`),
      said,
    );
    await page.context().close();

    // The open queue follows the watch: no reload.
    await waitFor(
      'the queue to show 1 of 2',
      async () => (await row.getByTestId('approvals').innerText()) === '1 of 2 approvals: carol; needs 1 more',
      15_000,
      100,
    );
    if (SHOTS) await queuePage.screenshot({ path: path.join(SHOTS, 'ui-approvals.png'), fullPage: true });
    const refused = await cp.kubectl('alice', ['exec', '-n', NS2, 'box', '-c', 'app', '--', 'cat', 'notes.txt']);
    assert.notEqual(refused.code, 0, 'one approval of two grants nothing');

    // bob, no approver in team-b, sees the same count: from the policies where he may read them,
    // else from the request's status.approvals, which the server writes (a page without either
    // says what it cannot know: tests/unit/cli/ui.test.ts).
    const bobPage = await newPage();
    await bobPage.goto(new URL(`/requests/${NS2}/${name}?${new URL(bobUrl).searchParams}`, bobUrl).href);
    assert.match(await bobPage.getByTestId('summary').innerText(), /alice asks to exec in pod team-b\/box/);
    await waitFor(
      "bob's page to show 1 of 2",
      async () =>
        /Approvals: 1 of 2 approvals: carol; needs 1 more/.test(
          (await bobPage.locator('#live').innerText()).replace(/\s+/g, ' '),
        ),
      15_000,
      100,
    );
    await bobPage.context().close();

    const second = await kubectlRequest(cp, 'dave', ['grant', '-n', NS2, name, '--yes']);
    assert.equal(second.code, 0, second.stderr + second.stdout);
    await queuePage.waitForSelector(`[data-testid="queue"] tr[data-request="${NS2}/${name}"]`, {
      state: 'detached',
      timeout: 15_000,
    });
    const exec = await cp.kubectl('alice', ['exec', '-n', NS2, 'box', '-c', 'app', '--', 'cat', 'notes.txt']);
    assert.equal(exec.code, 0, exec.stderr);
    await queuePage.goto(new URL(`/history?${new URL(carolUrl).searchParams}`, carolUrl).href);
    const done = queuePage.locator(`[data-testid="history"] tr[data-request="${NS2}/${name}"]`);
    assert.match((await done.innerText()).replace(/\s+/g, ' '), /carol, dave/);
    await queuePage.context().close();
  });

  it('grants a narrowed window and fewer uses, and refuses narrowing that is no duration or no number', async () => {
    const name = await ask('alice', ['box', '-c', 'app', '--valid-for', '30m', '--', 'cat', 'notes.txt']);
    const page = await newPage();
    const url = new URL(`/requests/${NS}/${name}?${new URL(carolUrl).searchParams}`, carolUrl);
    await page.goto(url.href);
    const validFor = page.getByTestId('valid-for');
    const maxUses = page.getByTestId('max-uses');
    assert.equal(await validFor.getAttribute('placeholder'), '30m');
    if (SHOTS) {
      await validFor.fill('10m');
      await maxUses.fill('2');
      await page.screenshot({ path: path.join(SHOTS, 'ui-request.png'), fullPage: true });
    }

    // The browser stops an obviously wrong window before it is sent.
    await validFor.fill('soon');
    await page.getByTestId('grant').click();
    assert.equal(await validFor.evaluate((input) => (input as HTMLInputElement).validity.valid), false);
    assert.equal(page.url(), url.href, 'the form was not sent');

    // The page's handler refuses it too (a form sent without the browser's checks).
    await page.evaluate(() => {
      for (const form of document.querySelectorAll('form')) form.noValidate = true;
    });
    const answer = page.waitForResponse((res) => res.request().method() === 'POST');
    await page.getByTestId('grant').click();
    assert.equal((await answer).status(), 400);
    assert.match(
      await page.getByTestId('outcome').innerText(),
      /Not granted: spec\.validFor: "soon" is not a duration; give one such as 15m or 1h30m/,
    );
    await page.evaluate(() => {
      for (const form of document.querySelectorAll('form')) form.noValidate = true;
    });
    await page.getByTestId('valid-for').fill('');
    await page.getByTestId('max-uses').fill('-1');
    await page.getByTestId('grant').click();
    assert.match(
      await page.getByTestId('outcome').innerText(),
      /Not granted: spec\.maxUses: "-1" is not a whole number of at least 1/,
    );
    await page.getByTestId('valid-for').fill('1h');
    await page.evaluate(() => {
      for (const form of document.querySelectorAll('form')) form.noValidate = true;
    });
    await page.getByTestId('grant').click();
    assert.match(
      await page.getByTestId('outcome').innerText(),
      /Not granted: spec\.validFor: a grant can only narrow the request, whose window is 30m/,
    );
    assert.equal(
      (await cp.kubectl('admin', ['get', 'accessgrant', '-n', NS, `${name}-grant`])).code,
      1,
      'no grant yet',
    );

    // POSTs without the URL token, or without the form's, are refused (from the page's own origin).
    const uid = await page.locator('input[name="uid"]').first().inputValue();
    const token = new URL(carolUrl).searchParams.get('token')!;
    // No named function inside: tsx would wrap it in a helper the page does not have.
    const statuses = await page.evaluate(
      async ({ path, token, uid }) => [
        (await fetch(path, { method: 'POST', body: new URLSearchParams({ csrf: token, uid, validFor: '10m' }) }))
          .status,
        (await fetch(`${path}?token=${token}`, { method: 'POST', body: new URLSearchParams({ uid, validFor: '10m' }) }))
          .status,
      ],
      { path: `/requests/${NS}/${name}/grant`, token, uid },
    );
    assert.deepEqual(statuses, [403, 403]);

    await page.getByTestId('valid-for').fill('10m');
    await page.getByTestId('max-uses').fill('2');
    await page.getByTestId('grant').click();
    const said = await page.getByTestId('outcome').innerText();
    assert.match(said, new RegExp(`Granted ${name}: alice may now run \\(for 10m, at most 2 uses\\)`), said);
    const grant = JSON.parse(
      (await cp.kubectl('admin', ['get', 'accessgrant', '-n', NS, `${name}-grant`, '-o', 'json'])).stdout,
    ) as { spec: Record<string, unknown>; status: string };
    assert.equal(grant.status, 'granted');
    assert.equal(grant.spec.validFor, '10m');
    assert.equal(grant.spec.maxUses, 2);
    assert.deepEqual(Object.keys(grant.spec).sort(), ['grantFor', 'grantForUID', 'grantedBy', 'maxUses', 'validFor']);
    decided.narrowed = name;
    await page.context().close();
  });

  it('denies with a reason; the history shows granted, denied and used requests; alice sees what to run', async () => {
    const name = await ask('alice', ['box', '-c', 'sidecar', '--', 'ls', '/']);
    const page = await newPage();
    await page.goto(new URL(`/requests/${NS}/${name}?${new URL(carolUrl).searchParams}`, carolUrl).href);
    await page.locator('form.deny input[name="reason"]').fill('use the logs instead');
    await page.getByTestId('deny').click();
    assert.match(
      await page.getByTestId('outcome').innerText(),
      new RegExp(`Denied ${name} \\(reason: use the logs instead\\)`),
    );
    decided.denied = name;

    await page.getByRole('link', { name: 'History' }).click();
    const rowOf = (request: string) => page.locator(`[data-testid="history"] tr[data-request="${NS}/${request}"]`);
    await rowOf(name).waitFor();
    const text = async (request: string) => (await rowOf(request).innerText()).replace(/\s+/g, ' ');
    assert.match(await text(decided.denied), /^Denied alice .* carol, \d+[smh] ago use the logs instead/);
    assert.match(await text(decided.used!), /^Used alice .* carol, \d+[smh] ago .* used \d{4}-/);
    // The narrowing applies, not just the fields: at most 10 minutes left of a 30m request, 2 uses.
    assert.match(await text(decided.narrowed!), /^Granted \(\d+m left, 0 of 2 uses\) narrowed to 10m, 2 uses alice/);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'ui-history.png'), fullPage: true });
    await page.context().close();

    // alice's own page: her requests and the exact command, with the kubeconfig flags she started it with.
    const alice = await newPage();
    await alice.goto(await startUi('alice'));
    const mine = (request: string) => alice.locator(`[data-testid="mine"] tr[data-request="${NS}/${request}"]`);
    await mine(decided.narrowed!).waitFor();
    assert.equal(
      await mine(decided.narrowed!).locator('code.copy.ready').innerText(),
      `kubectl --kubeconfig ${cp.kubeconfig} --context alice exec -n ${NS} box -c app -- cat notes.txt`,
    );
    assert.match((await mine(decided.denied).innerText()).replace(/\s+/g, ' '), /Denied use the logs instead/);
    await alice.context().close();
  });
});
