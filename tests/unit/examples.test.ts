// The two example extension webhooks: the hash chain and its verify command, the audit app with
// chat notifications, the ticket rules, and both served over real HTTPS to the real clients.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import type { AuditEvent } from '../../functions/types.ts';
import type { AccessRequest, AdmissionRequest } from '../../functions/schemas.ts';
import { auditWebhookSink } from '../../adapters/audit/webhook.ts';
import { validatorWebhook } from '../../adapters/validator/webhook.ts';
import { ChainFile, chainLine, GENESIS, verifyChain } from '../../examples/audit-webhook/chain.ts';
import { createAuditApp } from '../../examples/audit-webhook/app.ts';
import { runVerify, startAuditWebhook } from '../../examples/audit-webhook/main.ts';
import { DEFAULT_RULES, rulesFrom, validate } from '../../examples/validator-webhook/rules.ts';
import { startValidatorWebhook } from '../../examples/validator-webhook/main.ts';
import { createCA, type CertificateAuthority } from '../support/pki.ts';

const run = promisify(execFile);
const quiet = () => {};
const tmp = () => mkdtemp(join(tmpdir(), 'kra-examples-'));

const admission = (over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: 'uid-1',
  kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
  resource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
  subResource: '',
  name: '',
  namespace: 'default',
  operation: 'CREATE',
  userInfo: { username: 'alice', groups: [] },
  dryRun: false,
  ...over,
});
const accessRequest = (customKeys?: Record<string, string>): AccessRequest => ({
  metadata: { name: 'alice-ls', namespace: 'default', uid: '', resourceVersion: '' },
  spec: {
    userInfo: { username: 'alice' },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'nginx',
      namespace: 'default',
    },
    validFor: '1h',
    execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'nginx', command: ['ls', '-l'] },
    ...(customKeys ? { customKeys } : {}),
  },
});
const grant = {
  metadata: { name: 'alice-ls-grant', namespace: 'default', uid: '', resourceVersion: '' },
  spec: { grantFor: 'alice-ls', grantedBy: { username: 'bob' } },
  status: 'granted' as const,
};
const events: AuditEvent[] = [
  { type: 'audit-created', data: { request: admission(), accessRequest: accessRequest({ ticket: 'OPS-1' }) } },
  {
    type: 'audit-granted',
    data: {
      request: admission({ userInfo: { username: 'bob', groups: [] } }),
      accessRequest: accessRequest({ ticket: 'OPS-1' }),
      accessGrant: grant,
    },
  },
  {
    type: 'audit-exec',
    data: {
      request: admission({
        kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'nginx',
        operation: 'CONNECT',
      }),
      isAllowed: true,
      execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'nginx', command: ['ls', '-l'] },
      isAdmin: false,
    },
  },
];

async function chainOf(count: number): Promise<{ file: string; text: string }> {
  const file = join(await tmp(), 'audit.jsonl');
  const chain = await ChainFile.open(file);
  for (let i = 0; i < count; i++) await chain.append({ type: 'test', n: i, note: `entry ${i}` });
  await chain.close();
  return { file, text: await readFile(file, 'utf8') };
}

describe('hash chain', () => {
  test('appended lines verify, carry seq, prev and hash, and the head is the last hash', async () => {
    const { text } = await chainOf(4);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.seq),
      [1, 2, 3, 4],
    );
    assert.equal(lines[0].prev, GENESIS);
    for (let i = 1; i < lines.length; i++) assert.equal(lines[i].prev, lines[i - 1].hash);
    assert.deepEqual(verifyChain(text), { ok: true, lines: 4, head: lines[3].hash });
  });

  test('an empty file is a valid empty chain', () => {
    assert.deepEqual(verifyChain(''), { ok: true, lines: 0, head: GENESIS });
  });

  test('editing any line makes verify fail at that line', async () => {
    const { text } = await chainOf(5);
    const lines = text.trimEnd().split('\n');
    for (let i = 0; i < lines.length; i++) {
      const edits = [
        lines[i]!.replace(`entry ${i}`, `entry ${i}!`),
        lines[i]!.replace('"type":"test"', '"type":"tset"'),
        lines[i]!.replace(/"hash":"(.)/, (_m, c: string) => `"hash":"${c === 'a' ? 'b' : 'a'}`),
        lines[i]!.slice(0, -2),
      ];
      for (const edited of edits) {
        assert.notEqual(edited, lines[i]);
        const tampered = [...lines.slice(0, i), edited, ...lines.slice(i + 1)].join('\n') + '\n';
        const result = verifyChain(tampered);
        assert.equal(result.ok, false, `edit of line ${i + 1} went unnoticed: ${edited}`);
        assert.equal(!result.ok && result.line, i + 1);
      }
    }
  });

  test('removing, inserting or swapping lines fails at the first line out of place', async () => {
    const { text } = await chainOf(4);
    const lines = text.trimEnd().split('\n');
    const check = (variant: string[], line: number, reason: RegExp) => {
      const result = verifyChain(variant.join('\n') + '\n');
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.line, line);
      assert.match(!result.ok ? result.reason : '', reason);
    };
    check([lines[0]!, lines[2]!, lines[3]!], 2, /does not match the hash of line 1/);
    check([lines[1]!, lines[2]!, lines[3]!], 1, /lines before it were removed/);
    check([lines[0]!, lines[2]!, lines[1]!, lines[3]!], 2, /removed, inserted or reordered/);
    // A line that is internally consistent but forged (re-hashed) still breaks the link after it.
    const forged = chainLine(2, JSON.parse(lines[0]!).hash, { type: 'test', n: 1, note: 'forged' }).text;
    check([lines[0]!, forged, lines[2]!, lines[3]!], 3, /does not match the hash of line 2/);
  });

  test('reopening continues the chain', async () => {
    const { file } = await chainOf(2);
    const chain = await ChainFile.open(file);
    assert.equal(chain.head.seq, 2);
    await chain.append({ type: 'test', n: 2 });
    await chain.close();
    const result = verifyChain(await readFile(file, 'utf8'));
    assert.equal(result.ok && result.lines, 3);
  });

  test('refuses to append to a broken chain, naming the line', async () => {
    const { file, text } = await chainOf(3);
    await writeFile(file, text.replace('entry 1', 'entry one'));
    await assert.rejects(ChainFile.open(file), /line 2: the content does not match its hash.*refusing to append/);
  });

  test('concurrent appends are serialised into one valid chain', async () => {
    const file = join(await tmp(), 'audit.jsonl');
    const chain = await ChainFile.open(file);
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => chain.append({ n })));
    await chain.close();
    assert.deepEqual(
      results.map((r) => r.seq).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(verifyChain(await readFile(file, 'utf8')).ok, true);
  });
});

describe('audit-webhook verify command', () => {
  const cli = ['--import', 'tsx', 'examples/audit-webhook/main.ts', 'verify'];

  test('exits 0 and prints the head on an intact file', async () => {
    const { file } = await chainOf(3);
    const { stdout } = await run(process.execPath, [...cli, file]);
    assert.match(stdout, new RegExp(`${file}: ok, 3 lines, head [0-9a-f]{64}`));
  });

  test('exits 1 naming the first broken line', async () => {
    const { file, text } = await chainOf(3);
    await writeFile(file, text.replace('entry 2', 'entry 2 (edited)'));
    await assert.rejects(run(process.execPath, [...cli, file]), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, new RegExp(`${file} line 3: the content does not match its hash`));
      return true;
    });
  });

  test('exits 2 for a missing file', async () => {
    assert.equal((await runVerify('/nonexistent/audit.jsonl')).code, 2);
  });
});

describe('audit app', () => {
  const post = (app: ReturnType<typeof createAuditApp>, event: AuditEvent) =>
    app.request(`/audit?type=${event.type}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(event.data),
    });

  test('stores every event with a summary, and posts only new requests to chat', async () => {
    const file = join(await tmp(), 'audit.jsonl');
    const chain = await ChainFile.open(file);
    const posted: string[] = [];
    const app = createAuditApp({ chain, log: quiet, notify: async (text) => void posted.push(text) });
    for (const event of events) assert.equal((await post(app, event)).status, 200);
    await chain.close();
    const lines = (await readFile(file, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.type),
      ['audit-created', 'audit-granted', 'audit-exec'],
    );
    assert.deepEqual(lines[2].data, events[2]!.data);
    assert.equal(
      lines[0].summary,
      'alice requests `ls -l` in pod default/nginx (valid for 1h, container nginx, ticket OPS-1); to decide: kubectl request grant alice-ls -n default',
    );
    assert.equal(lines[1].summary, "bob granted alice's request default/alice-ls for `ls -l` in pod nginx");
    assert.equal(lines[2].summary, 'alice exec `ls -l` in pod default/nginx (container nginx): allowed');
    assert.deepEqual(posted, [lines[0].summary]);
  });

  test('a failing chat post neither loses the audit line nor fails the answer', async () => {
    const file = join(await tmp(), 'audit.jsonl');
    const chain = await ChainFile.open(file);
    const warnings: string[] = [];
    const app = createAuditApp({
      chain,
      log: (level, msg) => level === 'warn' && warnings.push(msg),
      notify: async () => {
        throw new Error('chat is down');
      },
    });
    assert.equal((await post(app, events[0]!)).status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    await chain.close();
    assert.equal(verifyChain(await readFile(file, 'utf8')).ok && true, true);
    assert.equal((await readFile(file, 'utf8')).trimEnd().split('\n').length, 1);
    assert.deepEqual(warnings, ['chat notification failed; the audit line is stored']);
  });

  test('dry runs are stored but not posted', async () => {
    const chain = await ChainFile.open(join(await tmp(), 'audit.jsonl'));
    const posted: string[] = [];
    const app = createAuditApp({ chain, log: quiet, notify: async (text) => void posted.push(text) });
    const dry: AuditEvent = {
      type: 'audit-created',
      data: { ...events[0]!.data, request: admission({ dryRun: true }) },
    } as AuditEvent;
    assert.equal((await post(app, dry)).status, 200);
    await chain.close();
    assert.equal(chain.head.seq, 1);
    assert.deepEqual(posted, []);
  });

  test('answers 500 when the line cannot be stored, so kube-request-access denies', async () => {
    const chain = await ChainFile.open(join(await tmp(), 'audit.jsonl'));
    await chain.close(); // writes now fail
    const app = createAuditApp({ chain, log: quiet });
    assert.equal((await post(app, events[2]!)).status, 500);
  });

  test('answers 400 to a malformed event and stores nothing', async () => {
    const chain = await ChainFile.open(join(await tmp(), 'audit.jsonl'));
    const app = createAuditApp({ chain, log: quiet });
    const res = await app.request('/audit?type=audit-exec', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"isAllowed":true}',
    });
    assert.equal(res.status, 400);
    assert.equal(chain.head.seq, 0);
    await chain.close();
  });
});

describe('validator rules', () => {
  const data = (customKeys?: Record<string, string>) => ({
    Request: admission(),
    AccessRequest: accessRequest(customKeys),
  });
  const cases: { name: string; keys?: Record<string, string>; status: 'valid' | 'invalid'; message?: RegExp }[] = [
    {
      name: 'a request with a well-formed ticket is valid',
      keys: { ticket: 'OPS-123' },
      status: 'valid',
      message: /ticket OPS-123/,
    },
    {
      name: 'a request without customKeys is told how to add a ticket',
      status: 'invalid',
      message: /a ticket is required: add -k ticket=OPS-123 to kubectl request exec/,
    },
    { name: 'an empty ticket is refused', keys: { ticket: ' ' }, status: 'invalid', message: /a ticket is required/ },
    {
      name: 'a malformed ticket is refused with an example',
      keys: { ticket: 'fix stuff' },
      status: 'invalid',
      message: /customKeys.ticket "fix stuff" is not a ticket id: use one like OPS-123/,
    },
    { name: 'a lower-case ticket is refused', keys: { ticket: 'ops-1' }, status: 'invalid' },
    {
      name: 'example-key with the expected value passes',
      keys: { ticket: 'OPS-1', 'example-key': 'example-value' },
      status: 'valid',
    },
    {
      name: 'example-key with another value is refused',
      keys: { ticket: 'OPS-1', 'example-key': 'nope' },
      status: 'invalid',
      message: /customKeys.example-key must be "example-value" when set, got "nope"/,
    },
    {
      name: 'both problems are reported at once',
      keys: { 'example-key': 'nope' },
      status: 'invalid',
      message: /a ticket is required.*; customKeys.example-key/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const result = validate(data(c.keys), DEFAULT_RULES);
      assert.equal(result.status, c.status);
      if (c.message) assert.match(result.message ?? '', c.message);
    });
  }

  test('the ticket pattern is configurable', () => {
    const rules = rulesFrom({ ticketPattern: '^INC[0-9]{6}$', ticketExample: 'INC000123' });
    assert.equal(validate(data({ ticket: 'INC004711' }), rules).status, 'valid');
    const refused = validate(data({ ticket: 'OPS-1' }), rules);
    assert.equal(refused.status, 'invalid');
    assert.match(refused.message ?? '', /use one like INC000123 \(matching \^INC\[0-9\]\{6\}\$\)/);
  });

  test('a bad pattern or an example that does not match it is a start-up error', () => {
    assert.throws(() => rulesFrom({ ticketPattern: '([' }), /--ticket-pattern: /);
    assert.throws(
      () => rulesFrom({ ticketPattern: '^INC[0-9]+$' }),
      /--ticket-example "OPS-123" does not match --ticket-pattern/,
    );
  });
});

describe('examples served over HTTPS to the real clients', () => {
  let ca: CertificateAuthority;
  let dir: string;
  before(async () => {
    ca = await createCA();
    dir = await tmp();
    const pem = await ca.issue({ commonName: 'webhooks', hosts: ['127.0.0.1', 'localhost'] });
    await writeFile(join(dir, 'tls.crt'), pem.cert);
    await writeFile(join(dir, 'tls.key'), pem.key);
  });

  test('the validator refuses a request without ticket and accepts one with it', async () => {
    const server = await startValidatorWebhook(
      {
        address: '127.0.0.1:0',
        'cert-file': join(dir, 'tls.crt'),
        'key-file': join(dir, 'tls.key'),
        'ticket-pattern': '^[A-Z]+-[0-9]+$',
      },
      quiet,
    );
    try {
      const validator = validatorWebhook({ url: `${server.url}/validate`, caBundle: ca.cert });
      const refused = await validator.validateAccessRequest({ request: admission(), accessRequest: accessRequest() });
      assert.equal(refused.status, 'invalid');
      assert.match(refused.message ?? '', /add -k ticket=OPS-123 to kubectl request exec/);
      assert.equal(
        (
          await validator.validateAccessRequest({
            request: admission(),
            accessRequest: accessRequest({ ticket: 'OPS-9' }),
          })
        ).status,
        'valid',
      );
    } finally {
      await server.close();
    }
  });

  test('the audit webhook chains what the audit sink sends; verify passes', async () => {
    const file = join(dir, 'served.jsonl');
    const server = await startAuditWebhook(
      { address: '127.0.0.1:0', 'cert-file': join(dir, 'tls.crt'), 'key-file': join(dir, 'tls.key'), file },
      quiet,
    );
    try {
      const sink = auditWebhookSink({ url: `${server.url}/audit`, caBundle: ca.cert });
      for (const event of events) await sink.record(event);
    } finally {
      await server.close();
    }
    const verified = await runVerify(file);
    assert.equal(verified.code, 0, verified.output);
    assert.match(verified.output, /ok, 3 lines/);
  });

  test('a start-up problem is a one-line error naming the file', async () => {
    await assert.rejects(
      startValidatorWebhook(
        { address: '127.0.0.1:0', 'cert-file': join(dir, 'missing.crt'), 'key-file': join(dir, 'tls.key') },
        quiet,
      ),
      /^Error: cannot read --cert-file .*missing\.crt: no such file$/,
    );
  });
});
