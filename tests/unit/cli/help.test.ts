// Help must be instant: it never loads the Kubernetes client. Checked in a child process whose
// module loader refuses @kubernetes/client-node; a command that does connect shows the check bites.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../../cli/main.ts';
import { FakeCluster, fakeRuntime } from './fake.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin/kubectl-request.mjs');
const blocker = fileURLToPath(new URL('./fixtures/block-client-node.mjs', import.meta.url));

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', blocker, bin, ...args],
      { env: { ...process.env, ...env, NO_COLOR: '1' }, cwd: root },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('help', () => {
  for (const args of [
    ['--help'],
    [],
    ['exec', '--help'],
    ['grant', '-h'],
    ['help', 'list'],
    ['deny', '--help'],
    ['describe', '--help'],
    ['cancel', '--help'],
  ]) {
    it(`"kubectl request ${args.join(' ')}" prints help without loading the Kubernetes client`, async () => {
      const result = await run(args);
      assert.equal(result.stderr, '');
      assert.equal(result.code, 0);
      assert.match(result.stdout, /USAGE kubectl request/);
      assert.match(result.stdout, /kubectl request (exec|grant|list|deny|describe|cancel|COMMAND)/);
    });
  }

  it('the blocker does bite when a command connects', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'krq-'));
    const kubeconfig = join(dir, 'config');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const result = await run(['list', '--kubeconfig', kubeconfig]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /BLOCKED: @kubernetes\/client-node/);
  });

  it('every subcommand help has usage, options and examples', async () => {
    for (const name of ['exec', 'grant', 'deny', 'list', 'describe', 'cancel']) {
      const rt = fakeRuntime(new FakeCluster());
      assert.equal(await runCli([name, '--help'], rt), 0);
      const text = rt.out.stdout.join('\n');
      assert.match(text, new RegExp(`^USAGE kubectl request ${name}`, 'm'), name);
      assert.match(text, /^OPTIONS$/m, name);
      assert.match(text, /--kubeconfig=PATH/, name);
      assert.match(text, /^EXAMPLES\n\n[\s\S]*^ {2}kubectl request /m, name);
      assert.deepEqual(rt.connections, [], `${name} --help connects to nothing`);
    }
  });

  it('an unknown command is a usage error', async () => {
    const rt = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['frobnicate'], rt), 2);
    assert.deepEqual(rt.out.stderr, [
      'error: unknown command "frobnicate"; run "kubectl request --help" for the commands',
    ]);
  });

  it('suggests the command meant', async () => {
    for (const [typo, meant] of [
      ['grnat', 'grant'],
      ['lsit', 'list'],
      ['exce', 'exec'],
      ['descirbe', 'describe'],
    ] as const) {
      const rt = fakeRuntime(new FakeCluster());
      assert.equal(await runCli([typo, 'x'], rt), 2);
      assert.deepEqual(rt.out.stderr, [
        `error: unknown command "${typo}"; did you mean "${meant}"?; run "kubectl request --help" for the commands`,
      ]);
    }
  });
});

describe('connection flags before the command', () => {
  it('moves them after the command name, as kubectl accepts them', async () => {
    const { hoistCommand } = await import('../../../cli/main.ts');
    assert.deepEqual(hoistCommand(['-n', 'shop', '--context=alice', 'list', '--all']), [
      'list',
      '-n',
      'shop',
      '--context=alice',
      '--all',
    ]);
    assert.deepEqual(hoistCommand(['--kubeconfig', '/k', 'exec', 'p', '--', 'ls']), [
      'exec',
      '--kubeconfig',
      '/k',
      'p',
      '--',
      'ls',
    ]);
    assert.deepEqual(hoistCommand(['exec', '-n', 'x']), ['exec', '-n', 'x']);
    const rt = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['-n', 'shop', 'list'], rt), 0);
    assert.deepEqual(rt.connections, [{ namespace: 'shop' }]);
  });
});

describe('every registered subcommand is in the root help and in completion', () => {
  it('lists each one with its own description, so none can be registered and left out', async () => {
    const { main, rootHelp, commandHelp } = await import('../../../cli/main.ts');
    const registered = Object.keys((main.subCommands ?? {}) as Record<string, unknown>);
    assert.ok(registered.includes('ui') && registered.includes('exec'), registered.join(' '));
    const help = rootHelp();
    const rt = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['__complete', ''], rt), 0);
    const completed = rt.out.stdout.join('\n').split('\n');
    for (const name of registered) {
      const load = (main.subCommands as Record<string, () => Promise<{ meta?: { description?: string } }>>)[name]!;
      const description = (await load()).meta?.description ?? '';
      assert.ok(description, `${name} has a description`);
      assert.match(help, new RegExp(`^ {2}${name} +${escape(description)}$`, 'm'), name);
      assert.ok(completed.includes(`${name}\t${description}`), `completion offers ${name}: ${completed.join(' | ')}`);
      assert.match(await commandHelp(name), /^USAGE kubectl request /m, name);
    }
    const listed = help
      .slice(help.indexOf('COMMANDS'), help.indexOf('CONNECTION'))
      .split('\n')
      .filter((line) => /^ {2}\S/.test(line))
      .map((line) => line.trim().split(/\s+/)[0]);
    assert.deepEqual(listed, registered, 'the root help lists exactly the registered commands');
  });

  it("renders each flag from its definition: a repeatable one with '...', an optional value in brackets", async () => {
    const { commandHelp } = await import('../../../cli/main.ts');
    const exec = await commandHelp('exec');
    assert.match(exec, /^ {2}-k, --custom-key, --key=KEY=VALUE\.\.\. /m);
    assert.match(exec, /^ {2}--wait\[=TIMEOUT\] /m);
    assert.match(exec, /^ {2}-d, --valid-for=DURATION /m);
    assert.match(exec, /^ {2}--run /m);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
