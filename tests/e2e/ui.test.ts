// `kubectl request ui` in a real browser (Debian's chromium driven by playwright-core) against the
// real control plane with KWOK pods: carol's page shows alice's new request without a reload, carol
// grants it there and alice's kubectl exec then runs; bob (a developer, who may not create grants)
// gets the cluster's refusal on the page; a grant for a request re-created since the page showed it
// gets the webhook's refusal; a request without the URL token is refused.
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
import { kubectlRequest, roleBindings, runningPod, waitFor } from './_kra.ts';

const NS = 'team-a';
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
async function ask(user: User, args: readonly string[]): Promise<string> {
  const asked = await kubectlRequest(cp, user, ['exec', '-n', NS, ...args]);
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
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'ui-request.png'), fullPage: true });

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
    await page.context().close();
  });

  it('bob, who may not grant in team-a, gets the refusal on the page', async () => {
    const bobUrl = await startUi('bob');
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
});
