// kubectl cp through pods/exec: copying out is a plain exec of tar cf - SRC; copying in needs stdin,
// allowed only for kubectl cp's tar into the directory a copy-in request names, and audited as such.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanPath, extractDirectory, probedPath } from '../../../functions/copy/index.ts';
import { concernFor } from '../../../functions/index.ts';
import { accessGrant, context, lookupOf } from '../../support/builders.ts';
import { admin, attachRequest, bob, copyInRequest, execRequest, friendRequest, review } from './_builders.ts';

type Raw = Record<string, any>;
const execRoute = concernFor({ resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec' })!;
const command =
  (...argv: string[]) =>
  (r: Raw) => {
    r.object.command = argv;
  };
const probe = (path: string) => (r: Raw) => {
  r.object = {
    kind: 'PodExecOptions',
    apiVersion: 'v1',
    stdout: true,
    stderr: true,
    container: 'app',
    command: ['test', '-d', path],
  };
};
const granted = [copyInRequest(), accessGrant()];

const cases: Array<{
  name: string;
  objects: unknown[];
  change?: (request: Raw) => void;
  allowed: boolean;
  message?: RegExp;
  consumes?: boolean;
}> = [
  {
    name: 'allows kubectl cp into the requested directory, with stdin, and consumes the request',
    objects: granted,
    allowed: true,
    consumes: true,
    message: /stdin allowed for kubectl cp into \/tmp\/upload/,
  },
  {
    name: 'allows the --no-preserve form of the tar',
    objects: granted,
    change: command('tar', '--no-same-permissions', '--no-same-owner', '-xmf', '-', '-C', '/tmp/upload'),
    allowed: true,
  },
  {
    name: 'denies a copy into another directory',
    objects: granted,
    change: command('tar', '-xmf', '-', '-C', '/etc'),
    allowed: false,
    message: /kubectl cp into \/etc .*kubectl request cp -n team-a -c app --valid-for 1h FILE web-0:\/etc\//,
  },
  {
    name: 'denies a copy into a parent directory',
    objects: granted,
    change: command('tar', '-xmf', '-', '-C', '/tmp'),
    allowed: false,
  },
  {
    name: 'denies a copy into a path that only cleans to the directory',
    objects: granted,
    change: command('tar', '-xmf', '-', '-C', '/tmp/upload/../../etc'),
    allowed: false,
  },
  {
    name: 'denies tar with extra options (--to-command runs programs)',
    objects: granted,
    change: command('tar', '-xmf', '-', '-C', '/tmp/upload', '--to-command=sh'),
    allowed: false,
    message: /interactive exec is not allowed/,
  },
  {
    name: 'denies a copy-in with a tty',
    objects: granted,
    change: (r) => {
      r.object.tty = true;
    },
    allowed: false,
  },
  {
    name: 'denies a copy-in into another container',
    objects: granted,
    change: (r) => {
      r.object.container = 'sidecar';
    },
    allowed: false,
  },
  {
    name: 'denies a copy-in by another user',
    objects: granted,
    change: (r) => {
      r.userInfo = bob;
    },
    allowed: false,
  },
  {
    name: 'denies a copy-in without a request',
    objects: [],
    allowed: false,
    message: /no AccessRequest of yours matches this kubectl cp into \/tmp\/upload/,
  },
  {
    name: 'denies a copy-in with a pending request',
    objects: [copyInRequest()],
    allowed: false,
    message: /not granted yet/,
  },
  {
    name: 'a copy-in request does not allow a plain exec',
    objects: granted,
    change: (r) => {
      r.object.stdin = false;
      r.object.command = ['sh', '-c', 'id'];
    },
    allowed: false,
    message: /no AccessRequest of yours matches this exec/,
  },
  {
    name: 'a copy-in request does not allow an interactive shell',
    objects: granted,
    change: command('sh'),
    allowed: false,
    message: /interactive exec is not allowed/,
  },
  {
    name: 'a copy-in request does not allow the same tar without stdin as a plain exec',
    objects: granted,
    change: (r) => {
      r.object.stdin = false;
    },
    allowed: false,
  },
  {
    name: 'an exec request for any command does not allow copying in (stdin stays denied)',
    objects: [friendRequest('exec', { execOptions: { container: 'app' } }), accessGrant()],
    allowed: false,
  },
  {
    name: 'an exec request for the exact tar does not allow copying in',
    objects: [execRequest(['tar', '-xmf', '-', '-C', '/tmp/upload']), accessGrant()],
    allowed: false,
  },
  {
    name: 'a stored copy request in another direction does not allow copying in',
    objects: [
      friendRequest('exec', {
        execOptions: { container: 'app' },
        copyOptions: { direction: 'out', path: '/tmp/upload' },
      }),
      accessGrant(),
    ],
    allowed: false,
  },
  { name: 'an attach request does not allow copying in', objects: [attachRequest(), accessGrant()], allowed: false },
  {
    name: "allows kubectl cp's directory check of the directory without consuming",
    objects: granted,
    change: probe('/tmp/upload'),
    allowed: true,
    consumes: false,
    message: /does not use it up/,
  },
  {
    name: 'allows the directory check of a file inside the directory',
    objects: granted,
    change: probe('/tmp/upload/report.csv'),
    allowed: true,
    consumes: false,
  },
  {
    name: 'denies the directory check of anything else',
    objects: granted,
    change: probe('/etc'),
    allowed: false,
    message: /no AccessRequest of yours matches this exec/,
  },
  {
    name: 'denies the directory check two levels down',
    objects: granted,
    change: probe('/tmp/upload/a/b'),
    allowed: false,
  },
  {
    name: 'allows copying out through a plain exec request for tar cf - SRC',
    objects: [execRequest(['tar', 'cf', '-', '/app/config']), accessGrant()],
    change: (r) => {
      r.object.stdin = false;
      r.object.command = ['tar', 'cf', '-', '/app/config'];
    },
    allowed: true,
    consumes: true,
  },
  {
    name: 'allows a time-bound copy-in without consuming',
    objects: [copyInRequest('/tmp/upload', { validFor: '1h' }), accessGrant()],
    allowed: true,
    consumes: false,
  },
  {
    name: 'lets an always-allowed identity copy in anywhere',
    objects: [],
    change: (r) => {
      r.userInfo = admin;
      r.object.command = ['tar', '-xmf', '-', '-C', '/'];
    },
    allowed: true,
  },
];

describe('kubectl cp through pods/exec', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const decision = await execRoute(review('copy-in-review', c.change), lookupOf(c.objects), context());
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
      if (c.consumes !== undefined) assert.equal(decision.effects.length > 0, c.consumes);
      if (!c.allowed) assert.deepEqual(decision.effects, []);
      const event = decision.audit[0];
      assert.ok(event?.type === 'audit-exec', 'every decision is audited');
      assert.equal(event.data.isAllowed, c.allowed);
    });
  }

  it('says copy-in in the audit event, with stdin', async () => {
    const decision = await execRoute(review('copy-in-review'), lookupOf(granted), context());
    const event = decision.audit[0]!;
    assert.ok(event.type === 'audit-exec');
    assert.equal(event.data.execOptions.stdin, true);
    assert.deepEqual(event.data.execOptions.copy, { direction: 'in', path: '/tmp/upload' });
    assert.equal(event.data.isAdmin, false);
  });

  it('marks the directory check in the audit event', async () => {
    const decision = await execRoute(review('copy-in-review', probe('/tmp/upload/x')), lookupOf(granted), context());
    const event = decision.audit[0]!;
    assert.ok(event.type === 'audit-exec');
    assert.deepEqual(event.data.execOptions.copy, { direction: 'in', path: '/tmp/upload/x', probe: true });
  });

  it('reads kubectl cp argv exactly', () => {
    assert.equal(extractDirectory(['tar', '-xmf', '-', '-C', '/d']), '/d');
    assert.equal(extractDirectory(['tar', '-xmf', '-']), undefined);
    assert.equal(extractDirectory(['tar', '-xmf', '-', '-C']), undefined);
    assert.equal(extractDirectory(['tar', '-xvmf', '-', '-C', '/d']), undefined);
    assert.equal(probedPath(['test', '-d', '/d']), '/d');
    assert.equal(probedPath(['test', '-f', '/d']), undefined);
    assert.equal(cleanPath('/a//b/./c/../d/'), '/a/b/d');
    assert.equal(cleanPath('/../..'), '/');
  });
});
