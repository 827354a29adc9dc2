/**
 * A watch-based index of one kind of Kubernetes object, the way kubespawner's reflector keeps
 * one: list (paged), then watch from the list's resourceVersion with bookmarks, keyed ns/name.
 * Each object is cut down by `trim` before it is kept, so managedFields and the rest of a 30 kB
 * pod are never held. It never stops by itself: 410 Gone relists, any other error or end of the
 * stream re-watches after a capped, jittered exponential backoff, and a full relist runs every
 * `relistSeconds` anyway, not trusting a watch to have delivered every event.
 */
import type { FastifyBaseLogger } from 'fastify';
import { isGone, type IKubeTransport } from './transport.js';
import { sleep } from '../sleep.js';

/** The fields every object has that the informer itself reads. */
export interface IKubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

interface IList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: IKubeObject[];
}

interface IWatchEvent {
  type?: string;
  object?: IKubeObject & { code?: number; message?: string };
}

/** What a consumer keeps in step with the index, incrementally. */
export interface IInformerHandler<T> {
  upsert(key: string, value: T, previous: T | undefined): void;
  remove(key: string, previous: T): void;
}

export interface IInformerOptions<T> {
  /** For logs and metrics: `nodes`, `pods`. */
  name: string;
  /** The collection, e.g. /api/v1/nodes or /api/v1/pods (all namespaces). */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The slim record kept for an object, or undefined to keep nothing for it. */
  trim(obj: IKubeObject): T | undefined;
  handler?: IInformerHandler<T>;
  pageSize?: number;
  /** A full relist this often, as kubespawner restarts its watch (default 600). */
  relistSeconds?: number;
  /** The server ends each watch after about this long; we then re-watch (default 300). */
  watchTimeoutSeconds?: number;
  /** Without contact this long while the watch is down, the index counts as stale (default 30). */
  staleSeconds?: number;
  /** Backoff between failed attempts: from initial, doubling, capped at max (ms). */
  backoff?: { initialMs: number; maxMs: number };
  log?: FastifyBaseLogger;
}

export interface IInformerStats {
  name: string;
  objects: number;
  synced: boolean;
  connected: boolean;
  stale: boolean;
  /** Last list, watch open, event or bookmark; null before the first. */
  lastContactAt: Date | null;
  lastError: string | null;
  events: Record<'added' | 'modified' | 'deleted' | 'bookmark', number>;
  lists: number;
  relistsGone: number;
  watchRestarts: number;
  failures: number;
}

export interface IInformer<T> {
  /** Resolves after the first complete list; never rejects (it keeps retrying until stop). */
  readonly ready: Promise<void>;
  start(): void;
  stop(): Promise<void>;
  get(key: string): T | undefined;
  values(): IterableIterator<T>;
  stats(): IInformerStats;
  /** Relist at once instead of at the next period (tests, operators). */
  relist(): void;
}

export const objectKey = (obj: IKubeObject) =>
  obj.metadata?.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}`
    : (obj.metadata?.name ?? '');

export function createInformer<T>(
  transport: IKubeTransport,
  options: IInformerOptions<T>
): IInformer<T> {
  const { name, trim, handler, log } = options;
  const pageSize = options.pageSize ?? 500;
  const relistMs = (options.relistSeconds ?? 600) * 1000;
  const watchTimeout = options.watchTimeoutSeconds ?? 300;
  const staleMs = (options.staleSeconds ?? 30) * 1000;
  const backoff = options.backoff ?? { initialMs: 200, maxMs: 30_000 };

  const items = new Map<string, T>();
  const events = { added: 0, modified: 0, deleted: 0, bookmark: 0 };
  let lists = 0;
  let relistsGone = 0;
  let watchRestarts = 0;
  let failures = 0;
  let synced = false;
  let connected = false;
  let lastContact = 0;
  let lastError: string | null = null;
  let resourceVersion = '';
  let listedAt = 0;
  let running: Promise<void> | undefined;
  let stopping = new AbortController();
  // Aborts the current watch only (periodic relist, relist()), not the whole loop.
  let watchAbort: AbortController | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>(resolve => (markReady = resolve));

  const query = (extra: Record<string, string>) => {
    const params = new URLSearchParams(extra);
    if (options.labelSelector) params.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) params.set('fieldSelector', options.fieldSelector);
    return `${options.path}?${params}`;
  };

  function put(key: string, obj: IKubeObject) {
    const value = trim(obj);
    const previous = items.get(key);
    if (value === undefined) {
      if (previous !== undefined) remove(key);
      return;
    }
    items.set(key, value);
    handler?.upsert(key, value, previous);
  }

  function remove(key: string) {
    const previous = items.get(key);
    if (previous === undefined) return;
    items.delete(key);
    handler?.remove(key, previous);
  }

  async function list(signal: AbortSignal) {
    // Pages of pageSize keep each answer (and our peak memory) small; the keys seen tell us at
    // the end which kept objects are gone, so consumers get removes, not a rebuild.
    const seen = new Set<string>();
    let token = '';
    let version = '';
    do {
      const page = await transport.request<IList>(
        'GET',
        query({ limit: String(pageSize), ...(token ? { continue: token } : {}) }),
        undefined,
        signal
      );
      for (const obj of page.items ?? []) {
        const key = objectKey(obj);
        seen.add(key);
        put(key, obj);
      }
      version = page.metadata?.resourceVersion ?? version;
      token = page.metadata?.continue ?? '';
      lastContact = Date.now();
    } while (token);
    for (const key of [...items.keys()]) if (!seen.has(key)) remove(key);
    resourceVersion = version;
    listedAt = Date.now();
    lists++;
    if (!synced) {
      synced = true;
      markReady();
      log?.info({ informer: name, objects: items.size }, 'kubernetes index synced');
    }
  }

  function onEvent(value: unknown) {
    const { type, object } = value as IWatchEvent;
    if (!object) return;
    lastContact = Date.now();
    const version = object.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        events[type === 'ADDED' ? 'added' : 'modified']++;
        put(objectKey(object), object);
        break;
      case 'DELETED':
        events.deleted++;
        remove(objectKey(object));
        break;
      case 'BOOKMARK':
        events.bookmark++;
        break;
      case 'ERROR': {
        // A Status object: 410 means our resourceVersion was compacted away (isGone).
        throw Object.assign(new Error(object.message ?? 'watch error'), {
          statusCode: object.code
        });
      }
      default:
        return;
    }
    if (version) resourceVersion = version;
  }

  async function watch(signal: AbortSignal) {
    watchAbort = new AbortController();
    const both = AbortSignal.any([signal, watchAbort.signal]);
    // A little jitter so replicas (and informers) do not reconnect in lockstep.
    const timeout = Math.round(watchTimeout * (0.9 + Math.random() * 0.2));
    const path = query({
      watch: 'true',
      allowWatchBookmarks: 'true',
      resourceVersion,
      timeoutSeconds: String(timeout)
    });
    let failure: unknown;
    try {
      await transport.stream(
        path,
        line => {
          if (failure) return;
          try {
            onEvent(line);
          } catch (err) {
            failure = err;
            watchAbort?.abort();
          }
        },
        {
          signal: both,
          onOpen: () => {
            connected = true;
            lastContact = Date.now();
          }
        }
      );
    } catch (err) {
      if (!failure && !watchAbort.signal.aborted) throw err;
    } finally {
      connected = false;
    }
    if (failure) throw failure;
  }

  const relistDue = () => Date.now() - listedAt >= relistMs;

  async function loop() {
    const signal = stopping.signal;
    let attempt = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList || relistDue()) {
          await list(signal);
          needList = false;
        }
        const timer = setTimeout(() => watchAbort?.abort(), relistMs - (Date.now() - listedAt));
        const watched = Date.now();
        try {
          await watch(signal);
        } finally {
          clearTimeout(timer);
        }
        watchRestarts++;
        // A watch the server (or a proxy) ends at once, again and again, must not spin: back off.
        const early = Date.now() - watched < 1000 && !relistDue();
        if (early) throw new Error('the API server ended the watch at once');
        attempt = 0;
        lastError = null;
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          relistsGone++;
          needList = true;
          log?.info({ informer: name }, 'kubernetes watch expired (410 Gone): relisting');
          continue;
        }
        failures++;
        lastError = err instanceof Error ? err.message : String(err);
        const cap = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt++);
        const delay = cap / 2 + (Math.random() * cap) / 2;
        log?.warn(
          { informer: name, attempt, retryInMs: Math.round(delay) },
          `kubernetes watch failed: ${lastError}`
        );
        await sleep(delay, signal);
      }
    }
  }

  return {
    ready,
    start() {
      if (running) return;
      stopping = new AbortController();
      running = loop().finally(() => (running = undefined));
    },
    async stop() {
      stopping.abort();
      await running;
    },
    get: key => items.get(key),
    values: () => items.values(),
    relist() {
      listedAt = 0;
      watchAbort?.abort();
    },
    stats() {
      const now = Date.now();
      const running_ = running !== undefined && !stopping.signal.aborted;
      // Stale: not in step with the cluster while we should be. A watch that is open but has
      // said nothing is fine only up to its own timeout (bookmarks and re-watches refresh it).
      const stale =
        running_ &&
        (!synced ||
          (!connected && now - lastContact > staleMs) ||
          now - lastContact > (watchTimeout * 1.1 + 5) * 1000 + staleMs);
      return {
        name,
        objects: items.size,
        synced,
        connected,
        stale,
        lastContactAt: lastContact ? new Date(lastContact) : null,
        lastError,
        events: { ...events },
        lists,
        relistsGone,
        watchRestarts,
        failures
      };
    }
  };
}
