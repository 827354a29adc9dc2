/**
 * What the idle guard asks JupyterHub's API, with the companion's service token: the running
 * servers (paginated user list), the owner's address from auth state, and the stop itself. The
 * token is never logged and never sent to a user's server: kernel activity comes from the report
 * each server pushes (platform/server-reports.ts).
 */
import { describeFailure } from '../../platform/probes.js';

export interface IRunningServer {
  user: string;
  /** '' for the default server. */
  name: string;
  started: string;
  /** Epoch ms, or null when the hub has not seen any. */
  lastActivity: number | null;
  userOptions: Record<string, unknown>;
  /** From the hub's auth state, when the service may read it. */
  email?: string;
}

export interface IIdleHub {
  running(): Promise<IRunningServer[]>;
  /** Resolves when the hub accepted the stop; rejects with a sentence saying why not. */
  stop(user: string, server: string): Promise<void>;
}

export class HubError extends Error {
  constructor(
    message: string,
    readonly status?: number
  ) {
    super(message);
    this.name = 'HubError';
  }
}

interface IHubServer {
  name?: string;
  ready?: boolean;
  pending?: string | null;
  started?: string | null;
  last_activity?: string | null;
  user_options?: Record<string, unknown> | null;
}

interface IHubUser {
  name: string;
  servers?: Record<string, IHubServer>;
  auth_state?: { email?: unknown } | null;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);
const enc = encodeURIComponent;

export function createIdleHub(options: {
  apiUrl: string;
  token: string;
  timeoutSeconds: number;
}): IIdleHub {
  const { apiUrl, token } = options;
  const limit = options.timeoutSeconds * 1000;

  async function call(url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        redirect: 'manual',
        headers: { Authorization: `token ${token}`, Accept: 'application/json', ...init.headers },
        signal: AbortSignal.timeout(limit)
      });
    } catch (err) {
      throw new HubError(`${init.method ?? 'GET'} ${url}: ${describeFailure(err, limit / 1000)}`);
    }
  }

  return {
    async running() {
      const out: IRunningServer[] = [];
      const pageSize = 200;
      for (let offset = 0; ; offset += pageSize) {
        const url = `${apiUrl}/users?state=active&limit=${pageSize}&offset=${offset}`;
        const res = await call(url, {
          headers: { Accept: 'application/jupyterhub-pagination+json' }
        });
        if (!res.ok) throw new HubError(`GET ${url}: HTTP ${res.status}`, res.status);
        const page = (await res.json()) as { items: IHubUser[]; _pagination?: { next?: unknown } };
        for (const user of page.items) {
          const email = user.auth_state?.email;
          for (const [name, s] of Object.entries(user.servers ?? {})) {
            // A server starting or stopping is the hub's business until it settles.
            if (!s.ready || s.pending || !s.started) continue;
            out.push({
              user: user.name,
              name,
              started: s.started,
              lastActivity: ms(s.last_activity),
              userOptions: s.user_options ?? {},
              ...(typeof email === 'string' ? { email } : {})
            });
          }
        }
        if (!page._pagination?.next || page.items.length === 0) return out;
      }
    },
    async stop(user, server) {
      const path = server
        ? `/users/${enc(user)}/servers/${enc(server)}`
        : `/users/${enc(user)}/server`;
      const res = await call(`${apiUrl}${path}`, { method: 'DELETE' });
      // 204: stopped; 202: stopping; 400 "not running": what we wanted anyway.
      if (res.status === 204 || res.status === 202) return;
      const body = await res.text();
      if (res.status === 400 && /not running/i.test(body)) return;
      const why = safeMessage(body) ?? `HTTP ${res.status}`;
      throw new HubError(
        `JupyterHub refused to stop the server (${res.status}: ${why})`,
        res.status
      );
    }
  };
}

function safeMessage(body: string): string | undefined {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === 'string' ? m.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
