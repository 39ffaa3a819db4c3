// pods/attach: output-only, for exactly the requested container, with its own request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attach } from '../../../functions/attach/index.ts';
import { accessGrant, context, lookupOf } from '../../support/builders.ts';
import {
  admin,
  attachRequest,
  bob,
  debugRequest,
  execRequest,
  friendRequest,
  portForwardRequest,
  review,
} from './_builders.ts';

const granted = [attachRequest(), accessGrant()];

const cases: Array<{
  name: string;
  objects: unknown[];
  change?: (request: Record<string, any>) => void;
  allowed: boolean;
  code?: number;
  message?: RegExp;
  consumes?: boolean;
}> = [
  {
    name: 'allows a granted one-shot attach and consumes it',
    objects: granted,
    allowed: true,
    consumes: true,
    message: /used up by this attach/,
  },
  {
    name: 'denies without a request and says how to ask',
    objects: [],
    allowed: false,
    message:
      /no AccessRequest of yours matches this attach to pod team-a\/web-0 container app; request it with: kubectl request attach -n team-a web-0 -c app/,
  },
  {
    name: 'denies a pending request and names the grant command',
    objects: [attachRequest()],
    allowed: false,
    message: /not granted yet.*kubectl request grant -n team-a alice-web-0/,
  },
  {
    name: 'denies attach with stdin (-i)',
    objects: granted,
    change: (r) => {
      r.object.stdin = true;
    },
    allowed: false,
    message: /interactive attach is not allowed/,
  },
  {
    name: 'denies attach with a tty (-t)',
    objects: granted,
    change: (r) => {
      r.object.tty = true;
      delete r.object.stderr;
    },
    allowed: false,
    message: /interactive attach/,
  },
  {
    name: 'denies another container',
    objects: granted,
    change: (r) => {
      r.object.container = 'sidecar';
    },
    allowed: false,
  },
  {
    name: 'denies another pod',
    objects: granted,
    change: (r) => {
      r.name = 'web-1';
    },
    allowed: false,
  },
  {
    name: 'denies another user',
    objects: granted,
    change: (r) => {
      r.userInfo = bob;
    },
    allowed: false,
  },
  {
    name: 'an exec request does not allow attach',
    objects: [execRequest([]), accessGrant()],
    allowed: false,
    message: /no AccessRequest of yours/,
  },
  {
    name: 'an exec request for any command does not allow attach',
    objects: [friendRequest('exec', { execOptions: { container: 'app' } }), accessGrant()],
    allowed: false,
  },
  {
    name: 'a port-forward request does not allow attach',
    objects: [portForwardRequest([]), accessGrant()],
    allowed: false,
  },
  {
    name: 'a debug request does not allow attaching to its container',
    objects: [debugRequest({ container: 'debugger' }), accessGrant()],
    change: (r) => {
      r.object.container = 'debugger';
    },
    allowed: false,
  },
  {
    name: 'a stored attach request asking for stdin matches nothing',
    objects: [friendRequest('attach', { attachOptions: { container: 'app', stdin: true } }), accessGrant()],
    allowed: false,
  },
  {
    name: 'allows a time-bound attach without consuming',
    objects: [attachRequest({ validFor: '1h' }), accessGrant()],
    allowed: true,
    consumes: false,
    message: /until/,
  },
  {
    name: 'lets an always-allowed identity attach, even interactively',
    objects: [],
    change: (r) => {
      r.userInfo = admin;
      r.object.stdin = true;
      r.object.tty = true;
    },
    allowed: true,
    consumes: false,
  },
  {
    name: 'refuses a review that is not CONNECT',
    objects: granted,
    change: (r) => {
      r.operation = 'UPDATE';
    },
    allowed: false,
    code: 400,
  },
  {
    name: 'refuses malformed PodAttachOptions',
    objects: granted,
    change: (r) => {
      r.object.stdin = 'yes';
    },
    allowed: false,
    code: 400,
    message: /malformed PodAttachOptions/,
  },
];

describe('attach', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const decision = await attach(review('attach-review', c.change), lookupOf(c.objects), context());
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.code) assert.equal(decision.code, c.code);
      if (c.message) assert.match(decision.message, c.message);
      if (c.consumes !== undefined) assert.equal(decision.effects.length > 0, c.consumes);
      if (!c.allowed) assert.deepEqual(decision.effects, []);
      if (c.code !== 400) {
        assert.equal(decision.audit.length, 1, 'every attach decision is audited');
        const event = decision.audit[0]!;
        assert.equal(event.type, 'audit-exec');
        if (event.type === 'audit-exec') assert.equal(event.data.isAllowed, c.allowed);
      }
    });
  }

  it('audits the attach options in the seed execOptions shape', async () => {
    const decision = await attach(review('attach-review'), lookupOf(granted), context());
    const event = decision.audit[0]!;
    assert.ok(event.type === 'audit-exec');
    assert.equal(event.data.request.subResource, 'attach');
    assert.deepEqual(
      {
        container: event.data.execOptions.container,
        stdin: event.data.execOptions.stdin,
        tty: event.data.execOptions.tty,
        command: event.data.execOptions.command,
      },
      { container: 'app', stdin: false, tty: false, command: [] },
    );
  });

  it('consumes exactly the matched request', async () => {
    const decision = await attach(review('attach-review'), lookupOf(granted), context());
    assert.deepEqual(decision.effects, [
      {
        type: 'consume-request',
        namespace: 'team-a',
        name: 'alice-web-0',
        uid: 'uid-alice-web-0',
        resourceVersion: '100',
        maxUses: 1,
      },
    ]);
  });
});
