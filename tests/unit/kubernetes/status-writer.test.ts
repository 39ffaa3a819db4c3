// adapters/kubernetes/status.ts with a fake patcher: what the merge patch carries (never usedAt or
// uses, the uid as precondition), which answers are a lost race, what is counted as a failure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyStatusWrites,
  type RequestStatusPatcher,
  type StatusPatchBody,
} from '../../../adapters/kubernetes/status.ts';
import { silentLogger } from '../../../adapters/log.ts';
import type { AccessRequest } from '../../../functions/schemas.ts';
import { planStatuses } from '../../../functions/status/index.ts';
import { accessGrant, accessRequest, minutes, NOW } from '../../support/builders.ts';

function fakePatcher(answer: (namespace: string, name: string) => unknown = () => ({ ok: true })) {
  const calls: { namespace: string; name: string; body: StatusPatchBody }[] = [];
  const patcher: RequestStatusPatcher = {
    async patchRequestStatus(namespace, name, body) {
      calls.push({ namespace, name, body: JSON.parse(JSON.stringify(body)) });
      const result = answer(namespace, name);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { patcher, calls };
}

const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

describe('applyStatusWrites', () => {
  it('merge-patches the owned fields with the uid as precondition, never usedAt or uses', async () => {
    const used = { ...accessRequest(), status: { usedAt: minutes(-1), uses: 1 } } as unknown as AccessRequest;
    const plan = planStatuses({ requests: [used], grants: [accessGrant()], now: NOW });
    const { patcher, calls } = fakePatcher();
    const written: unknown[] = [];
    assert.equal(await applyStatusWrites(patcher, plan.writes, silentLogger, (w) => written.push(w)), 0);
    assert.equal(calls.length, 1);
    const { body } = calls[0]!;
    assert.deepEqual(body.metadata, { uid: 'uid-alice-web-0' });
    assert.equal(body.status.state, 'Used');
    assert.deepEqual(Object.keys(body.status).sort(), ['approvals', 'command', 'conditions', 'expiresAt', 'state']);
    // null removes a field in a merge patch: expiresAt and approvals of an earlier state go.
    assert.equal(body.status.expiresAt, null);
    assert.deepEqual(written, [{ ok: true }]);
  });

  it('takes 404 and 409 (gone, or re-created under the name) as nothing to do; counts other errors and goes on', async () => {
    const requests = ['gone', 'recreated', 'broken', 'fine'].map((name) => accessRequest({ name }));
    const plan = planStatuses({ requests, grants: [], now: NOW });
    const errors: Record<string, unknown> = { gone: apiError(404), recreated: apiError(409), broken: apiError(500) };
    const { patcher, calls } = fakePatcher((_ns, name) => errors[name] ?? { ok: name });
    const written: unknown[] = [];
    const logged: string[] = [];
    const logger = { ...silentLogger, error: (msg: string) => void logged.push(msg) };
    assert.equal(await applyStatusWrites(patcher, plan.writes, logger, (w) => written.push(w)), 1);
    assert.deepEqual(
      calls.map((c) => c.name),
      ['gone', 'recreated', 'broken', 'fine'],
    );
    assert.deepEqual(written, [{ ok: 'fine' }]);
    assert.deepEqual(logged, ['writing AccessRequest status failed']);
  });

  it('writes nothing for a request whose status already says it', async () => {
    const request = accessRequest();
    const [first] = planStatuses({ requests: [request], grants: [], now: NOW }).writes;
    const settled = { ...request, status: first!.patch } as unknown as AccessRequest;
    const { patcher, calls } = fakePatcher();
    await applyStatusWrites(patcher, planStatuses({ requests: [settled], grants: [], now: NOW }).writes, silentLogger);
    assert.equal(calls.length, 0);
  });
});
