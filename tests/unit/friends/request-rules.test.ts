// Creating AccessRequests for the friends of exec: each subresource's rule, and a request carries
// only the options of its own subresource.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from '../../../functions/request/index.ts';
import { context, lookupOf, objectReview } from '../../support/builders.ts';
import { attachRequest, copyInRequest, debugRequest, friendRequest, portForwardRequest } from './_builders.ts';

const cases: Array<{ name: string; object: Record<string, unknown>; allowed: boolean; message?: RegExp }> = [
  { name: 'accepts an output-only attach request', object: attachRequest(), allowed: true },
  {
    name: 'refuses an attach request with stdin',
    object: friendRequest('attach', { attachOptions: { container: 'app', stdin: true } }),
    allowed: false,
    message: /spec\.attachOptions: stdin .* attach is output-only/,
  },
  {
    name: 'refuses an attach request with a tty',
    object: friendRequest('attach', { attachOptions: { container: 'app', tty: true } }),
    allowed: false,
  },
  { name: 'accepts a port-forward request for ports', object: portForwardRequest([8080, 9090]), allowed: true },
  { name: 'accepts a port-forward request for any port', object: portForwardRequest([]), allowed: true },
  { name: 'refuses port 0', object: portForwardRequest([0]), allowed: false, message: /0 is not a port number/ },
  { name: 'refuses a fractional port', object: portForwardRequest([80.5]), allowed: false },
  {
    name: 'refuses a port listed twice',
    object: portForwardRequest([80, 80]),
    allowed: false,
    message: /listed twice/,
  },
  { name: 'accepts a debug request', object: debugRequest(), allowed: true },
  {
    name: 'accepts a debug request with a profile and a container name',
    object: debugRequest({ profile: 'general', container: 'dbg-1' }),
    allowed: true,
  },
  {
    name: 'refuses a debug request without an image',
    object: friendRequest('ephemeralcontainers', { debugOptions: { target: 'app' } }),
    allowed: false,
    message: /spec\.debugOptions\.image/,
  },
  {
    name: 'refuses a debug request without debugOptions',
    object: friendRequest('ephemeralcontainers'),
    allowed: false,
  },
  {
    name: 'refuses an unknown debug profile',
    object: debugRequest({ profile: 'root' }),
    allowed: false,
    message: /not a kubectl debug profile/,
  },
  { name: 'refuses an invalid container name', object: debugRequest({ container: 'Debug_Me' }), allowed: false },
  { name: 'refuses both command and args', object: debugRequest({ command: ['ps'], args: ['aux'] }), allowed: false },
  { name: 'accepts a copy-in request', object: copyInRequest('/tmp/upload'), allowed: true },
  {
    name: 'refuses a copy-out request (copy out is a plain exec)',
    object: friendRequest('exec', {
      execOptions: { container: 'app' },
      copyOptions: { direction: 'out', path: '/tmp' },
    }),
    allowed: false,
    message: /only "in" is supported/,
  },
  {
    name: 'refuses a relative copy-in path',
    object: copyInRequest('tmp/upload'),
    allowed: false,
    message: /absolute, clean directory path/,
  },
  { name: 'refuses an unclean copy-in path', object: copyInRequest('/tmp/upload/../../etc'), allowed: false },
  { name: 'refuses a copy-in path with a trailing slash', object: copyInRequest('/tmp/upload/'), allowed: false },
  {
    name: 'refuses a copy-in request with a command',
    object: friendRequest('exec', {
      execOptions: { container: 'app', command: ['sh'] },
      copyOptions: { direction: 'in', path: '/tmp' },
    }),
    allowed: false,
    message: /leave the command empty/,
  },
  {
    name: 'still refuses an exec request with stdin, copy or not',
    object: friendRequest('exec', {
      execOptions: { container: 'app', stdin: true },
      copyOptions: { direction: 'in', path: '/tmp' },
    }),
    allowed: false,
    message: /stdin/,
  },
  {
    name: 'refuses exec options on an attach request',
    object: friendRequest('attach', { attachOptions: { container: 'app' }, execOptions: { command: ['sh'] } }),
    allowed: false,
    message: /spec\.execOptions: does not fit subResource "attach"/,
  },
  {
    name: 'refuses attach options on an exec request',
    object: friendRequest('exec', { execOptions: { command: ['ls'] }, attachOptions: { container: 'app' } }),
    allowed: false,
    message: /spec\.attachOptions: does not fit subResource "exec"/,
  },
  {
    name: 'refuses copy options on a port-forward request',
    object: friendRequest('portforward', { copyOptions: { direction: 'in', path: '/tmp' } }),
    allowed: false,
  },
];

describe('AccessRequests for the friends of exec', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const decision = await request(objectReview(c.object), lookupOf([]), context());
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
    });
  }

  it('lists every requestable subresource for an unknown one', async () => {
    const decision = await request(objectReview(friendRequest('log')), lookupOf([]), context());
    assert.equal(decision.code, 400);
    assert.match(decision.message, /use one of exec, attach, portforward, ephemeralcontainers/);
  });
});

describe('requestedAccess (what an approver reads)', () => {
  it('names the copy-in directory instead of "ANY command"', async () => {
    const { requestedAccess } = await import('../../../functions/kinds.ts');
    const lines = Object.fromEntries(requestedAccess(copyInRequest('/tmp/upload').spec));
    assert.match(lines['copy in']!, /write any file below \/tmp\/upload/);
    assert.equal(lines.command, undefined);
  });

  it('names image, target, command and profile of a debug request', async () => {
    const { requestedAccess } = await import('../../../functions/kinds.ts');
    assert.deepEqual(requestedAccess(debugRequest({ profile: 'netadmin' }).spec), [
      ['image', 'busybox:1.36'],
      ['target', 'app'],
      ['container', '(any name)'],
      ['command', 'ps aux'],
      ['profile', 'netadmin'],
    ]);
  });

  it('says any port for a port-forward request without ports, and output only for attach', async () => {
    const { requestedAccess } = await import('../../../functions/kinds.ts');
    assert.deepEqual(requestedAccess(portForwardRequest([]).spec), [['ports', 'ANY port of the pod']]);
    assert.deepEqual(requestedAccess(attachRequest().spec)[1], ['attach', 'output only (stdout, stderr)']);
  });
});
