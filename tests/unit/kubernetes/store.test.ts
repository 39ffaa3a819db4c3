import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IndexedStore } from '../../../adapters/kubernetes/store.ts';

interface Obj {
  metadata: { namespace: string; name: string; uid: string };
  pod: string;
  user: string;
}
const obj = (name: string, pod: string, user: string, uid = `u-${name}`, namespace = 'ns'): Obj => ({
  metadata: { namespace, name, uid },
  pod,
  user,
});
const store = () => new IndexedStore<Obj, 'podUser'>({ podUser: (o) => [`${o.pod}/${o.user}`] });

describe('IndexedStore', () => {
  it('finds objects by index value', () => {
    const s = store();
    s.upsert(obj('a', 'web', 'alice'));
    s.upsert(obj('b', 'web', 'bob'));
    s.upsert(obj('c', 'db', 'alice'));
    assert.deepEqual(
      s.byIndex('podUser', 'ns', 'web/alice').map((o) => o.metadata.name),
      ['a'],
    );
    assert.deepEqual(s.byIndex('podUser', 'ns', 'nothing/alice'), []);
    assert.equal(s.get('ns', 'c')?.pod, 'db');
  });

  it('keeps every object of a shared index value through adds, updates and removals', () => {
    const s = store();
    const names = () =>
      s
        .byIndex('podUser', 'ns', 'web/alice')
        .map((o) => o.metadata.name)
        .sort();
    s.upsert(obj('a', 'web', 'alice'));
    s.upsert(obj('a', 'web', 'alice')); // the same object again: still one
    assert.deepEqual(names(), ['a']);
    s.upsert(obj('b', 'web', 'alice'));
    s.upsert(obj('c', 'web', 'alice'));
    assert.deepEqual(names(), ['a', 'b', 'c']);
    s.remove('ns', 'b');
    assert.deepEqual(names(), ['a', 'c']);
    s.remove('ns', 'a');
    assert.deepEqual(names(), ['c']);
    s.upsert(obj('d', 'web', 'alice'));
    assert.deepEqual(names(), ['c', 'd']);
    s.upsert(obj('c', 'db', 'alice'));
    assert.deepEqual(names(), ['d']);
    s.remove('ns', 'd');
    assert.deepEqual(names(), []);
    assert.deepEqual(
      s.byIndex('podUser', 'ns', 'db/alice').map((o) => o.metadata.name),
      ['c'],
    );
  });

  it('moves an object between index values on update', () => {
    const s = store();
    s.upsert(obj('a', 'web', 'alice'));
    s.upsert(obj('a', 'db', 'alice'));
    assert.deepEqual(s.byIndex('podUser', 'ns', 'web/alice'), []);
    assert.equal(s.byIndex('podUser', 'ns', 'db/alice').length, 1);
    assert.equal(s.size, 1);
  });

  it('removes from every index, and only the given uid when one is passed', () => {
    const s = store();
    s.upsert(obj('a', 'web', 'alice', 'one'));
    assert.equal(s.remove('ns', 'a', 'other'), false);
    assert.equal(s.byIndex('podUser', 'ns', 'web/alice').length, 1);
    assert.equal(s.remove('ns', 'a', 'one'), true);
    assert.deepEqual(s.byIndex('podUser', 'ns', 'web/alice'), []);
    assert.equal(s.get('ns', 'a'), undefined);
  });

  it('keeps namespaces apart: the same name and index value in two namespaces are two objects', () => {
    const s = store();
    s.upsert(obj('a', 'web', 'alice', 'one', 'ns'));
    s.upsert(obj('a', 'web', 'alice', 'two', 'other'));
    assert.equal(s.size, 2);
    assert.equal(s.get('ns', 'a')?.metadata.uid, 'one');
    assert.equal(s.get('other', 'a')?.metadata.uid, 'two');
    assert.deepEqual(
      s.byIndex('podUser', 'other', 'web/alice').map((o) => o.metadata.uid),
      ['two'],
    );
    assert.deepEqual(
      s.inNamespace('ns').map((o) => o.metadata.uid),
      ['one'],
    );
    assert.deepEqual(s.inNamespace('nowhere'), []);
    assert.deepEqual(
      s
        .values()
        .map((o) => o.metadata.uid)
        .sort(),
      ['one', 'two'],
    );
    assert.equal(s.remove('ns', 'a'), true);
    assert.equal(s.size, 1);
    assert.deepEqual(s.byIndex('podUser', 'ns', 'web/alice'), []);
    assert.equal(s.byIndex('podUser', 'other', 'web/alice').length, 1);
    assert.equal(s.remove('ns', 'a'), false);
    assert.equal(s.size, 1);
  });
});
