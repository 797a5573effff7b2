// Slots: work that must not run too many at once (a job's diff) waits its turn, and a waiter that
// goes away takes no slot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots } from '../src/server/slots.js';

const settled = async <T>(p: Promise<T>) => {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

test('a third taker waits until one of two slots is released, in the order asked', async () => {
  const slots = new Slots(2);
  const first = await slots.take();
  await slots.take();
  const third = slots.take();
  const fourth = slots.take();
  assert.equal(await settled(third), 'pending');
  assert.equal(slots.queued, 2);
  first();
  first();
  assert.equal(await settled(third), 'resolved', 'a release hands its slot on');
  assert.equal(await settled(fourth), 'pending', 'a second release of the same slot does nothing');
  (await third)();
  assert.equal(await settled(fourth), 'resolved');
});

test('a waiter whose signal aborts leaves the line and takes no slot', async () => {
  const slots = new Slots(1);
  const held = await slots.take();
  const gone = new AbortController();
  const leaving = slots.take(gone.signal);
  const next = slots.take();
  gone.abort();
  await assert.rejects(leaving, { name: 'AbortError' });
  assert.equal(slots.queued, 1);
  held();
  assert.equal(await settled(next), 'resolved', 'the slot went to the one still waiting');
  await assert.rejects(slots.take(AbortSignal.abort()), { name: 'AbortError' }, 'an aborted signal is refused at once');
});
