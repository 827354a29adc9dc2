/**
 * The idle guard right after a start (#14 item 7: its only round of the hour saw 0 of 3 running
 * servers): until a round has seen the platform (servers listed, each with utilisation figures,
 * no hub or Prometheus error) the next round comes soon, 30 s then twice as late each time, never
 * later than the interval; once it has, rounds come every interval.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { roundSawPlatform, runRounds, SETTLE_FIRST_MS } from '../src/features/idle/controller.js';
import { createIdleGuard, type IRoundResult } from '../src/features/idle/guard.js';
import type { IIdleHub } from '../src/features/idle/hub.js';
import type { IdleStore } from '../src/features/idle/store.js';
import { validateConfig } from '../src/platform/config.js';

const HOUR = 3600_000;
const quiet = () => undefined;
const log = {
  info: quiet,
  warn: quiet,
  error: quiet,
  debug: quiet,
  child: () => log
} as unknown as FastifyBaseLogger;

const result = (r: Partial<IRoundResult>): IRoundResult => ({
  servers: 0,
  measured: 0,
  judged: 0,
  warned: 0,
  stopped: 0,
  prometheusError: null,
  hubError: null,
  ...r
});

/** Runs the loop over scripted rounds (an Error is a round that throws) and returns its waits. */
async function waitsOf(rounds: (IRoundResult | Error)[], intervalMs = HOUR): Promise<number[]> {
  const stop = new AbortController();
  const waits: number[] = [];
  let n = 0;
  await runRounds({
    round: async () => {
      const r = rounds[n++];
      if (r instanceof Error) throw r;
      return r;
    },
    intervalMs,
    signal: stop.signal,
    log,
    wait: async ms => {
      waits.push(ms);
      if (n >= rounds.length) stop.abort();
    }
  });
  return waits;
}

test('a round sees the platform only with servers, all measured, and no error', () => {
  assert.equal(roundSawPlatform(null), false);
  assert.equal(roundSawPlatform(result({})), false);
  assert.equal(roundSawPlatform(result({ servers: 3, measured: 2 })), false);
  assert.equal(roundSawPlatform(result({ servers: 3, measured: 3, hubError: 'down' })), false);
  assert.equal(
    roundSawPlatform(result({ servers: 3, measured: 3, prometheusError: 'no answer' })),
    false
  );
  assert.equal(roundSawPlatform(result({ servers: 3, measured: 3 })), true);
});

test('after a start that saw 0 of 3 servers, the next rounds come soon until all are seen', async () => {
  const waits = await waitsOf([
    result({ servers: 0 }), // the hub does not list them yet
    result({ servers: 3, measured: 0 }), // Prometheus has not scraped their pods yet
    result({ servers: 3, measured: 3 }),
    result({ servers: 3, measured: 3 }),
    result({ servers: 0 }) // a quiet night later: no hurry any more
  ]);
  assert.deepEqual(waits, [SETTLE_FIRST_MS, 2 * SETTLE_FIRST_MS, HOUR, HOUR, HOUR]);
});

test('a failing first round (the hub or Prometheus still starting) is retried soon', async () => {
  const waits = await waitsOf([
    new Error('hub down'),
    result({ servers: 2, measured: 2, prometheusError: 'Prometheus did not answer' }),
    result({ servers: 2, measured: 2 })
  ]);
  assert.deepEqual(waits, [SETTLE_FIRST_MS, 2 * SETTLE_FIRST_MS, HOUR]);
});

test('a platform with no servers at all goes back to the interval within an interval', async () => {
  const waits = await waitsOf(Array.from({ length: 10 }, () => result({ servers: 0 })));
  assert.deepEqual(
    waits,
    [1, 2, 4, 8, 16, 32, 64, 120, 120, 120].map(k => Math.min(k * SETTLE_FIRST_MS, HOUR))
  );
  // A short interval (the browser test's 2 s policy) is never waited past.
  assert.deepEqual(await waitsOf([result({}), result({})], 2000), [2000, 2000]);
});

test('a round counts the running servers that have utilisation figures', async () => {
  const { idle } = validateConfig({});
  const written: unknown[] = [];
  const store = {
    all: async () => new Map(),
    write: async (w: unknown) => void written.push(w)
  } as unknown as IdleStore;
  const server = (user: string) => ({
    user,
    name: '',
    started: '2026-12-07T09:00:00Z',
    lastActivity: null,
    userOptions: {}
  });
  const hub: IIdleHub = {
    running: async () => [server('alice'), server('bob'), server('carol')],
    stop: async () => undefined
  };
  const guard = createIdleGuard({
    config: idle,
    store,
    hub,
    kernels: async () => undefined,
    // Only alice's pod has been scraped so far.
    measure: async () => new Map([['jupyter-alice', { cpuCores: 0.5, gpu: false }]]),
    mailer: null,
    addresses: {},
    log
  });
  const r = await guard.round();
  assert.equal(r.servers, 3);
  assert.equal(r.measured, 1);
  assert.equal(roundSawPlatform(r), false);
  assert.equal(written.length, 1);
});
