/**
 * Raw JSON over HTTPS to the API server, with the KubeConfig's credentials, for the hot paths:
 * paged lists and watch streams of the informers, and Lease reads/writes of the leader elector.
 *
 * Why not the generated clients and client-node's Watch: the typed list deserializes every field
 * of every object into model classes (slow and large at 50k pods, and we keep a few fields); 1.x
 * makes a new https.Agent per request and per watch reconnect (#2893, a socket/FD leak); its
 * Watch cannot be aborted before the response headers arrive; and V1MicroTime serialization of
 * Lease times is easy to get wrong. One keep-alive agent here, an AbortSignal on everything.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';

/** A non-2xx answer of the API server, with its V1Status reason when it sent one. */
export class KubeHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string
  ) {
    super(message);
    this.name = 'KubeHttpError';
  }
}

/** 410 Gone: the resourceVersion asked for has been compacted away; the caller must relist. */
export const isGone = (err: unknown) =>
  typeof err === 'object' && err !== null && (err as { statusCode?: unknown }).statusCode === 410;

export interface IKubeTransport {
  /** One JSON request; throws KubeHttpError for a non-2xx answer. */
  request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T>;
  /**
   * A streaming GET of newline-delimited JSON (a watch). `onOpen` runs when the server answered
   * 200; the promise settles when the stream ends (resolves) or fails (rejects).
   */
  stream(
    path: string,
    onLine: (value: unknown) => void,
    options: { signal: AbortSignal; onOpen?: () => void }
  ): Promise<void>;
  close(): void;
}

export function createTransport(kc: KubeConfig, { maxSockets = 16 } = {}): IKubeTransport {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const base = new URL(cluster.server);
  const secure = base.protocol === 'https:';
  let agent: HttpAgent | undefined;

  /** Credentials are re-read per request: exec plugins and projected tokens rotate. */
  async function options(method: string, signal?: AbortSignal): Promise<RequestOptions> {
    const opts: RequestOptions = { method, headers: {} };
    await kc.applyToHTTPSOptions(opts);
    if (!agent) {
      // applyToHTTPSOptions makes a fresh agent every call; we take its TLS settings once and
      // keep one keep-alive agent, so reconnects do not leak sockets.
      const tls = {
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        servername: opts.servername,
        rejectUnauthorized: cluster?.skipTLSVerify ? false : opts.rejectUnauthorized
      };
      agent = secure
        ? new HttpsAgent({ ...tls, keepAlive: true, maxSockets })
        : new HttpAgent({ keepAlive: true, maxSockets });
    }
    return {
      method,
      agent,
      signal,
      auth: opts.auth,
      headers: { Accept: 'application/json', ...(opts.headers as Record<string, string>) }
    };
  }

  async function send(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined
  ): Promise<IncomingMessage> {
    const opts = await options(method, signal);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload) (opts.headers as Record<string, string>)['Content-Type'] = 'application/json';
    const url = new URL(path, base);
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(url, opts, resolve);
      req.on('error', reject);
      req.end(payload);
    });
  }

  async function readAll(res: IncomingMessage): Promise<string> {
    res.setEncoding('utf8');
    let text = '';
    for await (const chunk of res) text += chunk as string;
    return text;
  }

  async function failure(res: IncomingMessage, what: string): Promise<KubeHttpError> {
    const text = await readAll(res).catch(() => '');
    let reason = '';
    let message = `${what} answered HTTP ${res.statusCode}`;
    try {
      const status = JSON.parse(text) as { reason?: string; message?: string };
      reason = status.reason ?? '';
      if (status.message) message += `: ${status.message}`;
    } catch {
      // not a V1Status; the status code says enough
    }
    return new KubeHttpError(res.statusCode ?? 0, reason, message);
  }

  return {
    async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal) {
      const res = await send(method, path, body, signal);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw await failure(res, `${method} ${path}`);
      return JSON.parse(await readAll(res)) as T;
    },

    async stream(path, onLine, { signal, onOpen }) {
      const res = await send('GET', path, undefined, signal);
      if (res.statusCode !== 200) throw await failure(res, `GET ${path}`);
      // A dead peer without a FIN/RST (a partition) is noticed by keep-alive probes.
      res.socket.setKeepAlive(true, 30_000);
      onOpen?.();
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      await new Promise<void>((resolve, reject) => {
        // readline re-emits its input's errors on itself: both need a listener.
        res.on('error', reject);
        lines.on('error', reject);
        res.on('aborted', () => reject(new Error('the watch connection was cut')));
        lines.on('line', line => {
          if (!line) return;
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch {
            return reject(new Error('the watch stream sent a line that is not JSON'));
          }
          onLine(value);
        });
        lines.on('close', () => (res.complete ? resolve() : reject(new Error('watch cut'))));
      });
    },

    close() {
      agent?.destroy();
    }
  };
}
