/**
 * What Flare asks JupyterHub's API, always with the companion's own service token (never a
 * user's): whether users and groups exist, a visitor's groups, and the OAuth code exchange that
 * tells the gateway who a visitor is. Never a user's server: the ports an owner's server listens
 * on come from the report that server pushes (platform/server-reports.ts).
 */
import { HttpProblem } from '../../platform/problem.js';

export interface IFlareHubOptions {
  apiUrl: string;
  hubUrl: string;
  serviceToken?: string;
  timeoutSeconds: number;
  /** Where the hub sends visitors back after login (registered as the service's oauth_redirect_uri). */
  redirectUri: string;
}

const GROUPS_TTL_MS = 30_000;

export function createFlareHub(options: IFlareHubOptions) {
  const groupsCache = new Map<string, { at: number; groups: Promise<string[] | undefined> }>();
  const timeout = () => AbortSignal.timeout(options.timeoutSeconds * 1000);
  const auth = () => ({ Authorization: `token ${options.serviceToken ?? ''}` });

  async function hubGet(path: string): Promise<Response> {
    try {
      return await fetch(`${options.apiUrl}${path}`, { headers: auth(), signal: timeout() });
    } catch (err) {
      throw new HttpProblem(
        503,
        'hub_unreachable',
        `JupyterHub did not answer (${(err as Error).message}); try again in a minute.`
      );
    }
  }

  async function exists(kind: 'users' | 'groups', name: string): Promise<boolean> {
    const res = await hubGet(`/${kind}/${encodeURIComponent(name)}`);
    if (res.status === 404) return false;
    if (!res.ok) {
      throw new HttpProblem(
        503,
        'hub_refused',
        `JupyterHub answered HTTP ${res.status} when asked about ${kind} (the hotstepper ` +
          'service needs read:users and read:groups); tell the platform operators.'
      );
    }
    return true;
  }

  return {
    userExists: (name: string) => exists('users', name),
    groupExists: (name: string) => exists('groups', name),

    /** The hub groups of a visitor, cached briefly; undefined when the user is gone. */
    groupsOf(user: string): Promise<string[] | undefined> {
      const hit = groupsCache.get(user);
      if (hit && Date.now() - hit.at < GROUPS_TTL_MS) return hit.groups;
      const groups = hubGet(`/users/${encodeURIComponent(user)}`).then(async res =>
        res.ok ? (((await res.json()) as { groups?: string[] }).groups ?? []) : undefined
      );
      groups.catch(() => groupsCache.delete(user));
      groupsCache.set(user, { at: Date.now(), groups });
      return groups;
    },

    authorizeUrl(state: string): string {
      const query = new URLSearchParams({
        client_id: 'service-hotstepper',
        redirect_uri: options.redirectUri,
        response_type: 'code',
        state
      });
      return `${options.hubUrl}/hub/api/oauth2/authorize?${query}`;
    },

    /** The hub user name behind an OAuth authorization code, or undefined if the hub says no. */
    async userForCode(code: string): Promise<string | undefined> {
      const res = await fetch(`${options.apiUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: 'service-hotstepper',
          client_secret: options.serviceToken ?? '',
          grant_type: 'authorization_code',
          code,
          redirect_uri: options.redirectUri
        }),
        signal: timeout()
      });
      if (!res.ok) return undefined;
      const { access_token: token } = (await res.json()) as { access_token?: string };
      if (!token) return undefined;
      const who = await fetch(`${options.apiUrl}/user`, {
        headers: { Authorization: `token ${token}` },
        signal: timeout()
      });
      if (!who.ok) return undefined;
      const model = (await who.json()) as { kind?: string; name?: string };
      return model.kind === 'user' ? model.name : undefined;
    }
  };
}

export type FlareHub = ReturnType<typeof createFlareHub>;
