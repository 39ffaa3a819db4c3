// A grant's review must find the request it names even when the watch has not brought it yet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freshRequest } from '../../../adapters/kubernetes/fresh.ts';
import { request } from './_objects.ts';

const notFound = Object.assign(new Error('HTTP 404'), { code: 404 });

describe('freshRequest', () => {
  it('answers from the cache without asking the API when the uid is the one expected', async () => {
    let asked = 0;
    const read = freshRequest(
      () => request('r1'),
      async () => void asked++,
    );
    assert.equal((await read('default', 'r1', { uid: 'uid-default-r1' }))?.metadata.uid, 'uid-default-r1');
    assert.equal(asked, 0);
  });

  it('asks the API once when the cache has no such request yet', async () => {
    const calls: string[] = [];
    const read = freshRequest(
      () => undefined,
      async (namespace, name) => {
        calls.push(`${namespace}/${name}`);
        return request('r1');
      },
    );
    assert.equal((await read('default', 'r1', { uid: 'uid-default-r1' }))?.metadata.name, 'r1');
    assert.deepEqual(calls, ['default/r1']);
  });

  it('asks the API when the cache still holds an earlier object of that name', async () => {
    const read = freshRequest(
      () => request('r1', { uid: 'uid-old' }),
      async () => request('r1', { uid: 'uid-new' }),
    );
    assert.equal((await read('default', 'r1', { uid: 'uid-new' }))?.metadata.uid, 'uid-new');
  });

  it('answers none for a 404 and for a malformed object, and lets other errors through (fail closed)', async () => {
    assert.equal(
      await freshRequest(
        () => undefined,
        async () => {
          throw notFound;
        },
      )('default', 'r1'),
      undefined,
    );
    assert.equal(
      await freshRequest(
        () => undefined,
        async () => ({ kind: 'AccessRequest', spec: {} }),
      )('default', 'r1'),
      undefined,
    );
    await assert.rejects(
      freshRequest(
        () => undefined,
        async () => {
          throw new Error('timeout');
        },
      )('default', 'r1'),
      /timeout/,
    );
  });
});
