/**
 * What the grader asks JupyterHub, with the companion's own service token: who is in a course's
 * groups (formgrade-<course> instructors, nbgrader-<course> students, nbgrader's convention),
 * whether each student's server runs and when they were last active. One paginated scan of
 * /users serves all of it, cached briefly, so a course of 500 students costs a few requests.
 */
import { HttpProblem } from '../../platform/problem.js';

export const INSTRUCTORS = 'formgrade-';
export const STUDENTS = 'nbgrader-';

export interface IHubUser {
  name: string;
  groups: string[];
  serverRunning: boolean;
  lastActivity: string | null;
}

export interface IGraderHubOptions {
  apiUrl: string;
  serviceToken?: string;
  timeoutSeconds: number;
  cacheMs?: number;
}

interface IHubUserModel {
  name: string;
  groups?: string[];
  last_activity?: string | null;
  servers?: Record<string, { ready?: boolean; last_activity?: string | null }>;
  server?: string | null;
}

export function createGraderHub(options: IGraderHubOptions) {
  const cacheMs = options.cacheMs ?? 10_000;
  let cached: { at: number; users: Promise<Map<string, IHubUser>> } | undefined;

  async function hub(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${options.apiUrl}${path}`, {
        method,
        headers: {
          Authorization: `token ${options.serviceToken ?? ''}`,
          Accept: 'application/jupyterhub-pagination+json',
          'Content-Type': 'application/json'
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000)
      });
    } catch (err) {
      throw new HttpProblem(
        503,
        'hub_unreachable',
        `JupyterHub did not answer (${(err as Error).message}); try again in a minute.`
      );
    }
    if (!res.ok && res.status !== 404) {
      throw new HttpProblem(
        503,
        'hub_refused',
        `JupyterHub answered HTTP ${res.status} to ${method} ${path.split('?')[0]}; the hotstepper service ` +
          'needs list:users, read:users and groups; tell the platform operators.'
      );
    }
    return res;
  }

  async function scan(): Promise<Map<string, IHubUser>> {
    const users = new Map<string, IHubUser>();
    let offset = 0;
    for (;;) {
      const res = await hub(
        'GET',
        `/users?include_stopped_servers=false&limit=200&offset=${offset}`
      );
      const page = (await res.json()) as
        | { items?: IHubUserModel[]; _pagination?: { next?: { offset: number } | null } }
        | IHubUserModel[];
      const items = Array.isArray(page) ? page : (page.items ?? []);
      for (const u of items) {
        const servers = Object.values(u.servers ?? {});
        users.set(u.name, {
          name: u.name,
          groups: u.groups ?? [],
          serverRunning: servers.some(s => s.ready),
          lastActivity: u.last_activity ?? null
        });
      }
      const next = Array.isArray(page) ? null : page._pagination?.next;
      if (!next || items.length === 0) break;
      offset = next.offset;
    }
    return users;
  }

  return {
    /** Every hub user with groups, server state and activity (cached for a few seconds). */
    users(): Promise<Map<string, IHubUser>> {
      if (!cached || Date.now() - cached.at > cacheMs) {
        const users = scan();
        cached = { at: Date.now(), users };
        users.catch(() => (cached = undefined));
      }
      return cached.users;
    },
    async members(group: string): Promise<string[]> {
      const users = await this.users();
      return [...users.values()]
        .filter(u => u.groups.includes(group))
        .map(u => u.name)
        .sort();
    },
    /** The names the hub has no user for, asked afresh: an account may have been made just now. */
    async unknown(names: string[]): Promise<string[]> {
      cached = undefined;
      const users = await this.users();
      return names.filter(n => !users.has(n));
    },
    /** Put a user in or out of a course's student group (needs the hub scope `groups`). */
    async setMember(group: string, user: string, member: boolean): Promise<void> {
      // A gradebook-only student (no hub account) is in no group: nothing to take them out of.
      if (!member && !(await this.users()).has(user)) return;
      const exists = await hub('GET', `/groups/${encodeURIComponent(group)}`);
      if (exists.status === 404) {
        if (!member) return;
        await hub('POST', `/groups/${encodeURIComponent(group)}`, { users: [] });
      }
      const res = await hub(
        member ? 'POST' : 'DELETE',
        `/groups/${encodeURIComponent(group)}/users`,
        { users: [user] }
      );
      if (res.status === 404) {
        throw new HttpProblem(
          404,
          'user_unknown',
          `JupyterHub has no user "${user}"; they must exist in the hub first.`
        );
      }
      cached = undefined;
    }
  };
}

export type GraderHub = ReturnType<typeof createGraderHub>;
