// `kube-request-access serve` reads its flags strictly: a typo in a security setting is an error
// at start, never a default silently taken.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { configFrom, parseServeFlags } from '../../adapters/node/serve.ts';

const root = new URL('../..', import.meta.url).pathname;

describe('serve flags', () => {
  it('reads values inline or as the next argument, aliases, and --no- booleans', () => {
    const flags = parseServeFlags([
      '--address=127.0.0.1:0',
      '-c',
      'tls.crt',
      '--granted-role-name',
      'granted',
      '--no-http2',
    ]);
    assert.deepEqual(flags, {
      address: '127.0.0.1:0',
      'cert-file': 'tls.crt',
      'granted-role-name': 'granted',
      http2: false,
    });
  });

  it('refuses an unknown flag and names the one meant', () => {
    assert.throws(
      () => parseServeFlags(['--always-allowed-group=admins']),
      /unknown flag --always-allowed-group; did you mean --always-allowed-group-name\?/,
    );
    assert.throws(
      () => parseServeFlags(['--bogus']),
      /unknown flag --bogus \(kube-request-access serve --help lists them\)/,
    );
  });

  it('refuses a missing value, a stray argument and a single-valued flag given twice', () => {
    assert.throws(() => parseServeFlags(['--granted-role-name']), /--granted-role-name needs a value/);
    assert.throws(() => parseServeFlags(['--granted-role-name', '--no-http2']), /--granted-role-name needs a value/);
    assert.throws(() => parseServeFlags(['serve-me']), /serve takes no arguments, got "serve-me"/);
    assert.throws(
      () => parseServeFlags(['--granted-role-name=a', '--granted-role-name=b']),
      /--granted-role-name is given twice \("a" and "b"\)/,
    );
  });

  it('adds up list flags given twice (the seed keeps only the last: a lost admin group)', () => {
    const flags = parseServeFlags(['--always-allowed-group-name=a', '--always-allowed-group-name', 'b,c']);
    assert.deepEqual(configFrom(flags).alwaysAllowedGroups, ['a', 'b', 'c']);
  });

  it('exits 1 with one line at start for an unknown flag, without serving', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'adapters/node/main.ts',
        'serve',
        '--objects',
        'tests/fixtures/objects.json',
        '--granted-role-nam',
        'x',
      ],
      { cwd: root, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /unknown flag --granted-role-nam; did you mean --granted-role-name\?/);
  });

  it('prints --help without colour codes into a pipe', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts', 'serve', '--help'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NO_COLOR: undefined, CI: undefined, TEST: undefined } as NodeJS.ProcessEnv,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--ungated-namespaces/);
    assert.doesNotMatch(result.stdout, /\u001b\[/);
    // What the CA flags take, as tests/unit/ca-pin.test.ts and the client-certificate tests check it.
    const text = result.stdout.replace(/\s+/g, ' ');
    for (const flag of ['--audit-webhook-ca-bundle', '--extended-validation-webhook-ca-bundle']) {
      assert.match(text, new RegExp(`${flag}=\\S+ [^<]{0,120}?or that certificate itself \\(pinned exactly`), flag);
    }
    assert.match(text, /--client-ca-file=\S+ [^<]{0,120}? must chain to \(a leaf certificate is refused\)/);
  });
});
