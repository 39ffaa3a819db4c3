// pods/portforward: the requested ports when the apiserver names them; kubectl names none, and
// then only a request for any port of the pod counts (a port list that cannot be checked is not used).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { portforward } from '../../../functions/portforward/index.ts';
import { accessGrant, context, lookupOf } from '../../support/builders.ts';
import { admin, attachRequest, bob, execRequest, portForwardRequest, review } from './_builders.ts';

const withPorts =
  (...ports: number[]) =>
  (r: Record<string, any>) => {
    r.object.ports = ports;
  };

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
    name: 'allows a requested port named in the review and consumes the request',
    objects: [portForwardRequest([8080]), accessGrant()],
    change: withPorts(8080),
    allowed: true,
    consumes: true,
    message: /used up by this port-forward/,
  },
  {
    name: 'a port-forward request for 8080 does not allow 5432',
    objects: [portForwardRequest([8080]), accessGrant()],
    change: withPorts(5432),
    allowed: false,
    message:
      /port-forward to port 5432 of pod team-a\/web-0; request it with: kubectl request port-forward -n team-a web-0 --valid-for 1h 5432/,
  },
  {
    name: 'denies when one of several ports is not requested',
    objects: [portForwardRequest([8080]), accessGrant()],
    change: withPorts(8080, 5432),
    allowed: false,
  },
  {
    name: 'allows several requested ports',
    objects: [portForwardRequest([8080, 9090]), accessGrant()],
    change: withPorts(9090, 8080),
    allowed: true,
  },
  {
    name: 'allows any port for a request that names none',
    objects: [portForwardRequest([]), accessGrant()],
    change: withPorts(5432),
    allowed: true,
  },
  {
    name: 'allows kubectl (no ports in the review) for a request for any port',
    objects: [portForwardRequest([]), accessGrant()],
    allowed: true,
    consumes: true,
  },
  {
    name: 'denies kubectl (no ports in the review) for a port-restricted request, and says why',
    objects: [portForwardRequest([8080]), accessGrant()],
    allowed: false,
    message:
      /allows only port 8080, but kubectl port-forward does not tell the apiserver which ports.*kubectl request port-forward -n team-a web-0 --valid-for 1h$/,
  },
  {
    name: 'denies without a request',
    objects: [],
    allowed: false,
    message: /no AccessRequest of yours matches this port-forward to unnamed ports/,
  },
  { name: 'denies a pending request', objects: [portForwardRequest([])], allowed: false, message: /not granted yet/ },
  {
    name: 'denies another pod',
    objects: [portForwardRequest([]), accessGrant()],
    change: (r) => {
      r.name = 'db-0';
    },
    allowed: false,
  },
  {
    name: 'denies another user',
    objects: [portForwardRequest([]), accessGrant()],
    change: (r) => {
      r.userInfo = bob;
    },
    allowed: false,
  },
  { name: 'an exec request does not allow port-forward', objects: [execRequest([]), accessGrant()], allowed: false },
  {
    name: 'an attach grant does not allow port-forward',
    objects: [attachRequest(), accessGrant()],
    change: withPorts(8080),
    allowed: false,
  },
  {
    name: 'allows a time-bound request without consuming it',
    objects: [portForwardRequest([], { validFor: '2h' }), accessGrant()],
    allowed: true,
    consumes: false,
  },
  {
    name: 'lets an always-allowed identity forward any port',
    objects: [],
    change: (r) => {
      r.userInfo = admin;
      r.object.ports = [22];
    },
    allowed: true,
    consumes: false,
  },
  {
    name: 'refuses a port outside 1-65535',
    objects: [portForwardRequest([]), accessGrant()],
    change: withPorts(70000),
    allowed: false,
    code: 400,
  },
  {
    name: 'refuses a review that is not CONNECT',
    objects: [],
    change: (r) => {
      r.operation = 'CREATE';
    },
    allowed: false,
    code: 400,
  },
  {
    name: 'refuses malformed PodPortForwardOptions',
    objects: [],
    change: (r) => {
      r.object.ports = '8080';
    },
    allowed: false,
    code: 400,
  },
];

describe('portforward', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const decision = await portforward(review('portforward-review', c.change), lookupOf(c.objects), context());
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.code) assert.equal(decision.code, c.code);
      if (c.message) assert.match(decision.message, c.message);
      if (c.consumes !== undefined) assert.equal(decision.effects.length > 0, c.consumes);
      if (!c.allowed) assert.deepEqual(decision.effects, []);
      if (!c.code) {
        const event = decision.audit[0];
        assert.ok(event?.type === 'audit-exec', 'every port-forward decision is audited');
        assert.equal(event.data.isAllowed, c.allowed);
      }
    });
  }

  it('audits the forwarded ports', async () => {
    const decision = await portforward(
      review('portforward-review', withPorts(8080)),
      lookupOf([portForwardRequest([8080]), accessGrant()]),
      context(),
    );
    const event = decision.audit[0]!;
    assert.ok(event.type === 'audit-exec');
    assert.deepEqual(event.data.execOptions.ports, [8080]);
    assert.deepEqual(event.data.execOptions.command, []);
    assert.equal(event.data.execOptions.stdin, false);
  });
});
