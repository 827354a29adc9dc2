/**
 * The usage meter: each pass turns the time every pod of a user ran since its watermark into
 * daily rollups (requested, and used where Prometheus has figures), and moves the watermarks, in
 * one transaction. A pod's requests can change while it runs (in-place resize) and it can end
 * between passes: the index tells the meter at once (changed()), which closes the old interval
 * at that moment, so each stretch is billed at the requests it really had. After a restart the
 * next pass starts at the stored watermarks: the time the companion was down is backfilled and
 * nothing is counted twice. Pod timestamps come from the cluster's clocks, so they are clamped
 * to ours (never in the future, never before a watermark).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { UsageTables } from './migrations.js';
import { reserved, type IUsagePod } from './pods.js';
import { RollupBatch, splitByDay, writePass, type IWatermark } from './rollups.js';

/** Average use over a stretch: cores, GiB, GPUs busy (utilisation summed over devices). */
export interface IPodUse {
  cpu?: number;
  memory?: number;
  gpu?: number;
}

/** Average use per pod uid over [from, to]; a pod missing from the answer was not measured. */
export type Measure = (
  pods: IUsagePod[],
  from: number,
  to: number
) => Promise<Map<string, IPodUse>>;

export interface IMeterOptions {
  db: Kysely<object>;
  /** The pods the index holds now. */
  pods(): Iterable<IUsagePod>;
  /** The hub user a namespace belongs to (tenancy's annotation), if any. */
  userOf(namespace: string): string | undefined;
  /** The GPU model of a node. */
  modelOf(node: string): string | undefined;
  /** False until the index has listed the cluster once: before that, absent does not mean gone. */
  synced(): boolean;
  measure?: Measure;
  now?: () => number;
  log?: FastifyBaseLogger;
}

export interface IMeterPassStats {
  pods: number;
  intervals: number;
  rows: number;
  measured: boolean;
  ms: number;
}

interface IStretch {
  pod: IUsagePod;
  user: string;
  from: number;
  to: number;
}

export interface IMeter {
  /** Tell the meter that the index replaced `previous` (by `next`, or removed it). */
  changed(previous: IUsagePod, next: IUsagePod | undefined): void;
  /** Meter everything up to now. Serialised: a second call waits for the first. */
  pass(): Promise<IMeterPassStats>;
  /** Forget cached watermarks (on gaining the lease: another replica may have moved them). */
  reset(): void;
  /** Run passes every `intervalMs` until `signal` aborts. */
  run(intervalMs: number, signal: AbortSignal): Promise<void>;
}

const sameReservation = (a: IUsagePod, b: IUsagePod) =>
  a.cpu.request === b.cpu.request &&
  a.memory.request === b.memory.request &&
  a.node === b.node &&
  a.startedAt === b.startedAt &&
  JSON.stringify(a.gpus) === JSON.stringify(b.gpus);

export function createMeter(options: IMeterOptions): IMeter {
  const { db, log } = options;
  const now = options.now ?? Date.now;
  /** Closed stretches per pod uid: the pod as it was, until when. */
  const closed = new Map<string, { pod: IUsagePod; until: number }[]>();
  /** Pods removed from the index since the last pass, with when we learnt it. */
  const gone = new Map<string, { pod: IUsagePod; at: number }>();
  let marks: Map<string, IWatermark> | undefined;
  let queue: Promise<void> = Promise.resolve();

  async function loadMarks() {
    const rows = await db.withTables<UsageTables>().selectFrom('usage_pods').selectAll().execute();
    const map = new Map<string, IWatermark>();
    for (const r of rows) {
      map.set(r.uid, {
        uid: r.uid,
        user: r.user_name,
        namespace: r.namespace,
        pod: r.pod,
        // PostgreSQL's bigint arrives as a string.
        until: Number(r.metered_until),
        done: Number(r.done) === 1
      });
    }
    return map;
  }

  function close(pod: IUsagePod, until: number) {
    if (pod.startedAt === null) return;
    const list = closed.get(pod.uid) ?? [];
    list.push({ pod, until });
    closed.set(pod.uid, list);
  }

  async function passOnce(): Promise<IMeterPassStats> {
    const started = performance.now();
    const t = now();
    marks ??= await loadMarks();
    const stretches: IStretch[] = [];
    const next: IWatermark[] = [];
    const seen = new Set<string>();

    const meter = (pod: IUsagePod, user: string, ending: number | null) => {
      seen.add(pod.uid);
      const mark = marks!.get(pod.uid);
      if (mark?.done) return;
      let from = mark?.until ?? -Infinity;
      for (const piece of closed.get(pod.uid) ?? []) {
        const start = Math.max(from, Math.min(piece.pod.startedAt ?? Infinity, t));
        const to = Math.min(piece.until, t);
        if (to > start) stretches.push({ pod: piece.pod, user, from: start, to });
        from = Math.max(from, to);
      }
      if (pod.startedAt === null && from === -Infinity) return;
      const start = Math.max(from, Math.min(pod.startedAt ?? t, t));
      const end = ending === null ? t : Math.min(Math.max(ending, start), t);
      if (end > start) stretches.push({ pod, user, from: start, to: end });
      next.push({
        uid: pod.uid,
        user,
        namespace: pod.namespace,
        pod: pod.name,
        until: Math.max(end, start),
        done: ending !== null
      });
    };

    for (const pod of options.pods()) {
      const user = options.userOf(pod.namespace);
      if (!user) continue;
      meter(pod, user, pod.endedAt);
    }
    for (const [uid, { pod, at }] of gone) {
      if (seen.has(uid)) continue;
      const user = options.userOf(pod.namespace) ?? marks.get(uid)?.user;
      if (user) meter(pod, user, pod.endedAt ?? at);
    }
    // Open watermarks of pods the cluster no longer has (deleted while we were not watching):
    // their end is unknown, so they are closed where they were last metered.
    if (options.synced()) {
      for (const mark of marks.values()) {
        if (!mark.done && !seen.has(mark.uid)) next.push({ ...mark, done: true });
      }
    }

    let use = new Map<string, IPodUse>();
    let measured = false;
    if (options.measure && stretches.length) {
      const from = Math.min(...stretches.map(s => s.from));
      try {
        use = await options.measure(
          [...new Map(stretches.map(s => [s.pod.uid, s.pod])).values()],
          from,
          t
        );
        measured = true;
      } catch (err) {
        log?.warn({ err }, 'usage meter: no figures from Prometheus; hours count as unmeasured');
      }
    }

    const batch = new RollupBatch();
    for (const s of stretches) {
      const amounts = reserved(s.pod, s.pod.node ? options.modelOf(s.pod.node) : undefined);
      const u = use.get(s.pod.uid);
      const gpuKeys = Object.keys(amounts).filter(
        k => k.startsWith('gpu:') || k.startsWith('mig:')
      );
      const gpuTotal = gpuKeys.reduce((sum, k) => sum + amounts[k], 0);
      for (const { day, hours } of splitByDay(s.from, s.to)) {
        for (const [key, amount] of Object.entries(amounts)) {
          const rate =
            key === 'cpu'
              ? u?.cpu
              : key === 'memory'
                ? u?.memory
                : u?.gpu === undefined
                  ? undefined
                  : (u.gpu * amount) / gpuTotal;
          batch.add(s.user, day, key, {
            requested: amount * hours,
            used: rate === undefined ? 0 : rate * hours,
            unmeasured: rate === undefined ? amount * hours : 0
          });
        }
      }
    }

    await writePass(db, batch, next);
    for (const m of next) marks.set(m.uid, m);
    for (const uid of seen) {
      closed.delete(uid);
      gone.delete(uid);
    }
    const stats = {
      pods: next.length,
      intervals: stretches.length,
      rows: batch.rows.size,
      measured,
      ms: performance.now() - started
    };
    log?.debug(stats, 'usage meter pass');
    return stats;
  }

  const meter: IMeter = {
    changed(previous, nextPod) {
      const t = now();
      if (!nextPod) {
        close(previous, previous.endedAt ?? t);
        gone.set(previous.uid, { pod: previous, at: t });
      } else if (!sameReservation(previous, nextPod) && previous.startedAt !== null) {
        close(previous, t);
      }
    },
    pass() {
      const mine = queue.then(passOnce);
      queue = mine.then(
        () => undefined,
        () => undefined
      );
      return mine;
    },
    reset() {
      marks = undefined;
    },
    async run(intervalMs, signal) {
      meter.reset();
      while (!signal.aborted) {
        if (options.synced()) {
          try {
            await meter.pass();
          } catch (err) {
            log?.error(
              { err },
              'usage meter pass failed; the next pass starts at the same watermarks'
            );
            meter.reset();
          }
        }
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, intervalMs);
          signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    }
  };
  return meter;
}
