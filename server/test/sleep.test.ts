import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sleep } from '../src/platform/sleep.js';

it('sleep ends at once when its signal was aborted before it began', async () => {
  const stop = new AbortController();
  stop.abort();
  const t0 = performance.now();
  await sleep(60_000, stop.signal);
  assert.ok(performance.now() - t0 < 1_000);
});

it('sleep ends when its signal aborts, and otherwise after its time', async () => {
  const stop = new AbortController();
  const t0 = performance.now();
  setTimeout(() => stop.abort(), 50);
  await sleep(60_000, stop.signal);
  assert.ok(performance.now() - t0 < 1_000);
  const t1 = performance.now();
  await sleep(100, new AbortController().signal);
  assert.ok(performance.now() - t1 >= 95);
});
