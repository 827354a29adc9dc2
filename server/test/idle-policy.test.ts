/** The idle guard's configuration checks and its pure judgement. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, validateConfig } from '../src/platform/config.js';
import {
  actionFor,
  countdownText,
  inQuietHours,
  judgeWindow,
  profileFor,
  stopTime,
  type IWindowFigures
} from '../src/features/idle/policy.js';

const refused = (raw: object, pattern: RegExp) =>
  assert.throws(
    () => validateConfig(raw),
    (err: unknown) => err instanceof ConfigError && pattern.test(err.message)
  );

test('the defaults follow CERIT-SC: GPU idle 2 days, CPU idle 4 days, 5-minute segments', () => {
  const { idle } = validateConfig({});
  assert.equal(idle.profiles.gpu.stopAfter, 2);
  assert.equal(idle.profiles.cpu.stopAfter, 4);
  assert.equal(idle.profiles.gpu.windowSeconds, 86400);
  assert.equal(idle.profiles.cpu.segmentSeconds, 300);
  assert.deepEqual(idle.profiles.cpu.activityCountsAsUse, { hubActivity: true, kernelBusy: true });
  assert.equal(idle.profiles.gpu.snooze.count, 1);
  assert.equal(idle.dryRun, false);
});

const profile = (extra: object = {}) => ({
  thresholds: { cpuCores: 0.1 },
  warnAfter: 1,
  stopAfter: 2,
  ...extra
});

test('a policy that stops before it warns is refused, naming the key', () => {
  refused(
    { idle: { profiles: { cpu: profile({ warnAfter: 3, stopAfter: 2 }) } } },
    /idle\.profiles\.cpu\.stopAfter: is 2, before warnAfter \(3\)/
  );
});

test('zero or negative windows are refused, naming the key', () => {
  refused(
    { idle: { profiles: { cpu: profile({ windowSeconds: 0 }) } } },
    /idle\.profiles\.cpu\.windowSeconds must be > 0/
  );
  refused(
    { idle: { profiles: { cpu: profile({ segmentSeconds: -5 }) } } },
    /idle\.profiles\.cpu\.segmentSeconds must be > 0/
  );
  refused(
    { idle: { profiles: { cpu: profile({ windowSeconds: 60, segmentSeconds: 300 }) } } },
    /segmentSeconds: is longer than windowSeconds/
  );
});

test('an unknown default profile is refused, naming the key and the known ones', () => {
  refused(
    { idle: { defaultProfile: 'gpus', profiles: { cpu: profile() } } },
    /idle\.defaultProfile: names no profile in idle\.profiles \(known: cpu\)/
  );
});

test('a profile with no threshold, or an unknown key, is refused', () => {
  refused(
    { idle: { profiles: { cpu: profile({ thresholds: {} }) } } },
    /idle\.profiles\.cpu\.thresholds/
  );
  refused(
    { idle: { profiles: { cpu: profile({ stopAftre: 3 }) } } },
    /unknown key "idle\.profiles\.cpu\.stopAftre"/
  );
});

const figures = (f: Partial<IWindowFigures>): IWindowFigures => ({
  cpuCores: 0,
  gpuPercent: null,
  memoryGrowthMiB: null,
  hubActivity: false,
  kernelBusy: false,
  ...f
});

test('a window is used when any figure reaches its threshold or counted activity happened', () => {
  const { idle } = validateConfig({});
  const gpu = idle.profiles.gpu;
  assert.equal(judgeWindow(gpu, figures({ gpuPercent: 0.1 })).kind, 'idle');
  assert.equal(judgeWindow(gpu, figures({ gpuPercent: 12 })).kind, 'used');
  assert.deepEqual(judgeWindow(gpu, figures({ gpuPercent: 0.1, kernelBusy: true })), {
    kind: 'used',
    reasons: ['a kernel is busy']
  });
  const noKernel = { ...gpu, activityCountsAsUse: { hubActivity: false, kernelBusy: false } };
  assert.equal(
    judgeWindow(noKernel, figures({ gpuPercent: 0.1, kernelBusy: true, hubActivity: true })).kind,
    'idle'
  );
});

test('a missing figure is never idle: the verdict is unknown', () => {
  const { idle } = validateConfig({});
  const v = judgeWindow(idle.profiles.gpu, figures({ gpuPercent: null }));
  assert.equal(v.kind, 'unknown');
  assert.match(v.reasons[0], /no GPU figures/);
});

test('warn after warnAfter idle windows, stop after stopAfter; the countdown says when', () => {
  const { idle } = validateConfig({});
  const gpu = idle.profiles.gpu;
  assert.equal(actionFor(gpu, 0), 'none');
  assert.equal(actionFor(gpu, 1), 'warn');
  assert.equal(actionFor(gpu, 2), 'stop');
  const start = Date.parse('2026-11-25T14:00:00Z'); // a Wednesday
  const at = stopTime(gpu, 1, start);
  assert.equal(new Date(at).toISOString(), '2026-11-26T14:00:00.000Z');
  assert.equal(countdownText(gpu, 1, at), 'idle 1 of 2 days — will stop Thu 14:00');
});

test('profiles match GPU servers and server names in file order, else the default', () => {
  const { idle } = validateConfig({
    idle: {
      profiles: {
        scratch: profile({ match: { serverName: '^tmp' } }),
        gpu: profile({ match: { gpu: true } }),
        cpu: profile()
      }
    }
  });
  assert.equal(profileFor(idle, { serverName: 'tmp1', gpu: true }), 'scratch');
  assert.equal(profileFor(idle, { serverName: '', gpu: true }), 'gpu');
  assert.equal(profileFor(idle, { serverName: '', gpu: false }), 'cpu');
});

test('quiet hours may span midnight, in their time zone', () => {
  const quiet = { from: '22:00', to: '07:00', timeZone: 'Europe/Prague' };
  assert.equal(inQuietHours(quiet, new Date('2026-11-25T22:30:00Z')), true); // 23:30 Prague
  assert.equal(inQuietHours(quiet, new Date('2026-11-25T05:30:00Z')), true); // 06:30
  assert.equal(inQuietHours(quiet, new Date('2026-11-25T06:30:00Z')), false); // 07:30
  assert.equal(inQuietHours(undefined, new Date()), false);
});
