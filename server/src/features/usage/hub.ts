/**
 * What the usage feature asks JupyterHub: every group and its members, with the companion's own
 * service token (read:groups). The same paginated scan as flare/hub.ts and grader/hub.ts do for
 * users; cached briefly, so an operator paging through the table costs the hub little.
 */
import { HttpProblem } from '../../platform/problem.js';

export interface IHubGroup {
  name: string;
  users: string[];
}

export interface IUsageHubOptions {
  apiUrl: string;
  serviceToken?: string;
  timeoutSeconds: number;
  cacheMs?: number;
}

interface IGroupPage {
  items?: { name: string; users?: string[] }[];
  _pagination?: { next?: { offset: number } | null };
}

export function createUsageHub(options: IUsageHubOptions) {
  const cacheMs = options.cacheMs ?? 30_000;
  let cached: { at: number; groups: Promise<IHubGroup[]> } | undefined;

  async function page(offset: number): Promise<IGroupPage> {
    let res: Response;
    try {
      res = await fetch(`${options.apiUrl}/groups?limit=200&offset=${offset}`, {
        headers: {
          Authorization: `token ${options.serviceToken ?? ''}`,
          Accept: 'application/jupyterhub-pagination+json'
        },
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000)
      });
    } catch (err) {
      throw new HttpProblem(
        503,
        'hub_unreachable',
        `JupyterHub did not answer (${(err as Error).message}); try again in a minute.`
      );
    }
    if (!res.ok) {
      throw new HttpProblem(
        503,
        'hub_refused',
        `JupyterHub answered HTTP ${res.status} when asked for its groups (the hotstepper ` +
          'service needs list:groups and read:groups); tell the platform operators.'
      );
    }
    const body = (await res.json()) as IGroupPage | IGroupPage['items'];
    return Array.isArray(body) ? { items: body } : (body ?? {});
  }

  async function scan(): Promise<IHubGroup[]> {
    const groups: IHubGroup[] = [];
    for (let offset = 0; ;) {
      const { items = [], _pagination } = await page(offset);
      for (const g of items) {
        // With list:groups but not read:groups the hub lists groups without their members: that
        // is a missing scope, not groups that are empty.
        if (!Array.isArray(g.users)) {
          throw new HttpProblem(
            503,
            'hub_refused',
            'JupyterHub lists its groups without their members: the hotstepper service needs ' +
              'read:groups; tell the platform operators.'
          );
        }
        groups.push({ name: g.name, users: g.users });
      }
      const next = _pagination?.next;
      if (!next || items.length === 0) return groups;
      offset = next.offset;
    }
  }

  return {
    /** Every hub group with its members (cached for cacheMs). */
    groups(): Promise<IHubGroup[]> {
      if (!cached || Date.now() - cached.at > cacheMs) {
        const groups = scan();
        cached = { at: Date.now(), groups };
        groups.catch(() => (cached = undefined));
      }
      return cached.groups;
    }
  };
}

export type UsageHub = ReturnType<typeof createUsageHub>;
