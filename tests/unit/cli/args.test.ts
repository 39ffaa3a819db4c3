import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExecArgs } from '../../../cli/commands/exec.ts';
import { parseDecideArgs } from '../../../cli/commands/grant.ts';
import { parseListArgs } from '../../../cli/commands/list.ts';
import {
  DEFAULT_WAIT_MS,
  parseCommandLine,
  parseCustomKeys,
  parseTarget,
  parseWait,
  type FlagsDef,
} from '../../../cli/lib/args.ts';
import { CliError, ExitCode } from '../../../cli/lib/errors.ts';

function usageFailure(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CliError, `expected a CliError, got ${String(error)}`);
    assert.equal(error.exitCode, ExitCode.USAGE);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('exec arguments', () => {
  it('splits at "--": everything after it is the command, flags included', () => {
    const options = parseExecArgs(['web-0', '-c', 'app', '--', 'ls', '-la', '--help', '-c', 'x']);
    assert.deepEqual(options.command, ['ls', '-la', '--help', '-c', 'x']);
    assert.equal(options.container, 'app');
    assert.deepEqual(options.target, { kind: 'pod', name: 'web-0' });
  });

  it('asks for ANY command only with --any-command, never by leaving out "--"', () => {
    usageFailure(
      () => parseExecArgs(['web-0', '--valid-for', '5m']),
      /^name the command to run after "--", e\.g\. kubectl request exec web-0 -- ls \/tmp; to ask for ANY command in the container, pass --any-command$/,
    );
    usageFailure(() => parseExecArgs(['web-0', '--']), /pass --any-command/);
    assert.deepEqual(parseExecArgs(['web-0', '--any-command']).command, []);
    assert.deepEqual(parseExecArgs(['web-0', '--any-command', '--']).command, []);
    usageFailure(() => parseExecArgs(['web-0', '--any-command', '--', 'id']), /give one or the other/);
  });

  it('explains -i and -t instead of calling them unknown, also combined as -it', () => {
    for (const flags of [['-i'], ['-t'], ['-it'], ['-ti'], ['--stdin'], ['--tty', '-i']]) {
      usageFailure(
        () => parseExecArgs(['web-0', ...flags, '--', 'sh']),
        /^interactive exec is not allowed: -i\/--stdin and -t\/--tty cannot be requested \(an interactive session cannot be audited\); ask for the exact command instead, e\.g\. kubectl request exec web-0 -- sh$/,
      );
    }
  });

  it('takes --wait DURATION as well as --wait=DURATION, and leaves a pod name alone', () => {
    const spaced = parseExecArgs(['web-0', '--wait', '5s', '--', 'id']);
    assert.equal(spaced.waitMs, 5000);
    assert.deepEqual(spaced.command, ['id']);
    assert.deepEqual(spaced.target, { kind: 'pod', name: 'web-0' });
    assert.equal(parseExecArgs(['--wait', '2m', 'web-0', '--', 'id']).waitMs, 120_000);
    assert.equal(parseExecArgs(['--wait', 'web-0', '--', 'id']).waitMs, DEFAULT_WAIT_MS);
    assert.equal(parseExecArgs(['web-0', '--wait', '--', 'id']).waitMs, DEFAULT_WAIT_MS);
  });

  it('suggests the flag meant', () => {
    usageFailure(
      () => parseExecArgs(['web-0', '--valid-fro', '1h', '--', 'id']),
      /^unknown flag --valid-fro; did you mean "--valid-for"\?$/,
    );
    usageFailure(() => parseExecArgs(['web-0', '--contianer', 'app', '--', 'id']), /did you mean "--container"\?/);
    usageFailure(
      () => parseExecArgs(['web-0', '--frobnicate', '--', 'id']),
      /^unknown flag --frobnicate; put the command and its flags after "--"$/,
    );
  });

  it('reads --request-timeout as kubectl does: a duration, seconds, or 0 for none', () => {
    assert.equal(parseExecArgs(['web-0', '--request-timeout', '5s', '--', 'id']).connection.requestTimeoutMs, 5000);
    assert.equal(parseExecArgs(['web-0', '--request-timeout=10', '--', 'id']).connection.requestTimeoutMs, 10_000);
    assert.equal(parseExecArgs(['web-0', '--request-timeout=0', '--', 'id']).connection.requestTimeoutMs, 0);
    usageFailure(
      () => parseExecArgs(['web-0', '--request-timeout=soon', '--', 'id']),
      /--request-timeout takes a duration/,
    );
  });

  it('collects repeated -k flags in order, values may contain "="', () => {
    const options = parseExecArgs(['web-0', '-k', 'ticket=OPS-1', '--key=reason=a=b', '-kteam=core', '--', 'id']);
    assert.deepEqual(options.customKeys, { ticket: 'OPS-1', reason: 'a=b', team: 'core' });
  });

  it('rejects a -k without key=value', () => {
    usageFailure(() => parseExecArgs(['web-0', '-k', 'novalue', '--', 'id']), /key=value/);
    usageFailure(() => parseExecArgs(['web-0', '-k', '=x', '--', 'id']), /key=value/);
  });

  it('takes --wait alone as the default timeout and --wait=TIMEOUT as given', () => {
    assert.equal(parseExecArgs(['web-0', '--', 'id']).waitMs, undefined);
    assert.equal(parseExecArgs(['web-0', '--wait', '--', 'id']).waitMs, DEFAULT_WAIT_MS);
    assert.equal(parseExecArgs(['web-0', '--wait=90s', '--', 'id']).waitMs, 90_000);
  });

  it('does not let a bare --wait swallow the pod name', () => {
    const options = parseExecArgs(['--wait', 'web-0', '--', 'id']);
    assert.deepEqual(options.target, { kind: 'pod', name: 'web-0' });
    assert.equal(options.waitMs, DEFAULT_WAIT_MS);
  });

  it('rejects a --wait timeout that is not a duration', () => {
    usageFailure(() => parseExecArgs(['web-0', '--wait=soon', '--', 'id']), /--wait=10m/);
    assert.throws(() => parseWait('0'), CliError);
  });

  it('parses TYPE/NAME targets and kubectl short names', () => {
    assert.deepEqual(parseExecArgs(['deployment/web', '--', 'id']).target, { kind: 'deployment', name: 'web' });
    assert.deepEqual(parseTarget('deploy/web'), { kind: 'deployment', name: 'web' });
    assert.deepEqual(parseTarget('deployment.apps/web'), { kind: 'deployment', name: 'web' });
    assert.deepEqual(parseTarget('sts/db'), { kind: 'statefulset', name: 'db' });
    assert.deepEqual(parseTarget('ds/agent'), { kind: 'daemonset', name: 'agent' });
    assert.deepEqual(parseTarget('rs/web-7fb9'), { kind: 'replicaset', name: 'web-7fb9' });
    assert.deepEqual(parseTarget('job.batch/migrate'), { kind: 'job', name: 'migrate' });
    assert.deepEqual(parseTarget('pod/web-0'), { kind: 'pod', name: 'web-0' });
  });

  it('refuses kinds that have no pods to resolve', () => {
    usageFailure(() => parseTarget('service/web'), /cannot resolve "service"/);
    usageFailure(() => parseTarget('deployment.batch/web'), /cannot resolve/);
    usageFailure(() => parseTarget('deployment/'), /not TYPE\/NAME/);
  });

  it('reads connection, validity and on-behalf-of flags', () => {
    const options = parseExecArgs([
      '-n',
      'shop',
      '--context=alice',
      '--kubeconfig',
      '/tmp/kc',
      '--valid-for',
      '1h30m',
      '--on-behalf-of',
      'bob',
      'web-0',
      '--',
      'id',
    ]);
    assert.deepEqual(options.connection, { namespace: 'shop', context: 'alice', kubeconfig: '/tmp/kc' });
    assert.equal(options.validFor, '1h30m');
    assert.equal(options.onBehalfOf, 'bob');
    assert.deepEqual(parseExecArgs(['-nshop', 'web-0', '--any-command']).connection, { namespace: 'shop' });
  });

  it('explains the usual mistakes', () => {
    usageFailure(() => parseExecArgs(['--', 'ls']), /name a pod/);
    usageFailure(
      () => parseExecArgs(['web-0', 'ls', '-la']),
      /unknown flag -l; put the command and its flags after "--"/,
    );
    usageFailure(
      () => parseExecArgs(['web-0', 'ls', '/tmp']),
      /put the command after "--", e.g. kubectl request exec web-0 -- ls \/tmp/,
    );
    usageFailure(() => parseExecArgs(['web-0', '--valid-for', 'forever', '--', 'id']), /--valid-for needs a duration/);
    usageFailure(() => parseExecArgs(['web-0', '--bogus', '--', 'id']), /unknown flag --bogus/);
    usageFailure(() => parseExecArgs(['web-0', '-c']), /-c needs a value/);
  });

  it('parses custom keys on their own', () => {
    assert.deepEqual(parseCustomKeys([]), {});
    assert.deepEqual(parseCustomKeys(['a=', 'b=2']), { a: '', b: '2' });
  });
});

describe("the seed's request flags", () => {
  it('-d is --valid-for and --custom-key is -k, as in the seed', () => {
    const options = parseExecArgs(['web-0', '-d', '1h', '--custom-key', 'ticket=OPS-1', '-k', 'team=db', '--', 'id']);
    assert.equal(options.validFor, '1h');
    assert.deepEqual(options.customKeys, { ticket: 'OPS-1', team: 'db' });
    assert.equal(parseExecArgs(['web-0', '-d30m', '--', 'id']).validFor, '30m');
    assert.deepEqual(parseExecArgs(['web-0', '--custom-key=a=1', '--', 'id']).customKeys, { a: '1' });
  });

  it('-k a=1,b=2 gives two keys; a value with a comma is a -k of its own, or quoted', () => {
    assert.deepEqual(parseCustomKeys(['a=1,b=2']), { a: '1', b: '2' });
    assert.deepEqual(parseCustomKeys(['a=1,b=2,c=']), { a: '1', b: '2', c: '' });
    // One '=': the whole value, commas and all (pflag's StringToString does the same).
    assert.deepEqual(parseCustomKeys(['note=x,y']), { note: 'x,y' });
    assert.deepEqual(parseCustomKeys(['a=1,"note=x,y"']), { a: '1', note: 'x,y' });
    assert.deepEqual(parseCustomKeys(['a=1,"q=say ""hi"", x"']), { a: '1', q: 'say "hi", x' });
    // Later pairs win, across words too.
    assert.deepEqual(parseCustomKeys(['a=1,b=2', 'b=3']), { a: '1', b: '3' });
    // A value with '=' and no comma stays one pair.
    assert.deepEqual(parseCustomKeys(['url=https://x/?a=b']), { url: 'https://x/?a=b' });
  });

  it('refuses a piece without key=value instead of folding it into a value', () => {
    usageFailure(
      () => parseCustomKeys(['a=1,2,b=3']),
      /^-k needs key=value \(got "2" in "a=1,2,b=3"\); -k a=1,b=2 gives two keys: for a value with a comma, give that key its own -k/,
    );
    usageFailure(() => parseCustomKeys(['a=1,=2']), /got "=2"/);
    usageFailure(() => parseCustomKeys(['a=1,"b=2']), /a quote is not closed/);
  });
});

describe('flag kinds come from the flag definitions', () => {
  const defs = {
    pod: { type: 'positional', required: false },
    label: { type: 'string', alias: ['l'], multiple: true },
    wait: { type: 'string', optionalValue: true },
    name: { type: 'string' },
    quiet: { type: 'boolean', alias: ['q'] },
  } satisfies FlagsDef;

  it('a multiple: true flag collects every value, an optionalValue: true one may stand alone', () => {
    const parsed = parseCommandLine(['p', '-l', 'a', '--label=b', '--wait', '--name', 'x', '-q'], defs);
    assert.deepEqual(parsed.flags, { label: ['a', 'b'], wait: '', name: 'x', quiet: true });
    assert.deepEqual(parsed.positionals, ['p']);
    assert.deepEqual(parseCommandLine(['--wait', '5m', 'p'], defs).flags, { wait: '5m' });
    assert.deepEqual(parseCommandLine(['--wait', 'p'], defs), {
      flags: { wait: '' },
      positionals: ['p'],
      rest: undefined,
    });
    // Without the marker a flag keeps its last value.
    assert.deepEqual(parseCommandLine(['--name', 'x', '--name', 'y'], defs).flags, { name: 'y' });
  });

  it('the markers are typed: only string flags take them', () => {
    // @ts-expect-error a boolean flag cannot repeat values
    const wrong = { quiet: { type: 'boolean', multiple: true } } satisfies FlagsDef;
    assert.ok(wrong);
  });
});

describe('grant, deny and list arguments', () => {
  it('reads NAME, --yes and --reason', () => {
    assert.deepEqual(parseDecideArgs(['req-1', '--yes', '-n', 'shop'], 'granted'), {
      name: 'req-1',
      status: 'granted',
      yes: true,
      connection: { namespace: 'shop' },
    });
    assert.deepEqual(parseDecideArgs(['req-1', '--reason', 'not now'], 'denied'), {
      name: 'req-1',
      status: 'denied',
      yes: false,
      reason: 'not now',
      connection: {},
    });
  });

  it('needs exactly one name', () => {
    usageFailure(() => parseDecideArgs([], 'granted'), /name the request to grant/);
    usageFailure(() => parseDecideArgs(['a', 'b'], 'denied'), /one request name/);
  });

  it('reads list flags and checks -o', () => {
    assert.deepEqual(parseListArgs(['--all', '-A', '-o', 'wide']), {
      all: true,
      allNamespaces: true,
      output: 'wide',
      noHeaders: false,
      watch: false,
      connection: {},
    });
    assert.deepEqual(parseListArgs(['-ojson']).output, 'json');
    usageFailure(() => parseListArgs(['-o', 'table']), /-o must be one of wide, yaml, json, name or jsonpath=TEMPLATE/);
    usageFailure(() => parseListArgs(['-o', 'nmae']), /did you mean "name"\?/);
    const scripted = parseListArgs(['-o', 'jsonpath={.items[*].metadata.name}', '--no-headers', '-l', 'team=shop']);
    assert.deepEqual(
      {
        output: scripted.output,
        jsonPath: scripted.jsonPath,
        noHeaders: scripted.noHeaders,
        selector: scripted.selector,
        watch: scripted.watch,
      },
      {
        output: 'jsonpath',
        jsonPath: '{.items[*].metadata.name}',
        noHeaders: true,
        selector: 'team=shop',
        watch: false,
      },
    );
    assert.equal(parseListArgs(['-w']).watch, true);
    assert.equal(parseListArgs(['--watch', '-o', 'name']).watch, true);
    usageFailure(() => parseListArgs(['-w', '-o', 'json']), /-w prints table lines/);
  });
});
