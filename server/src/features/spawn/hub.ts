/**
 * The one thing spawn asks JupyterHub, with the companion's service token: which servers a user
 * runs or is starting, to hold them to maxServers. Needs the service's read:servers scope.
 */
import { describeFailure } from '../../platform/probes.js';
import { HttpProblem } from '../../platform/problem.js';

export type ActiveServers = (user: string) => Promise<string[]>;

export function createActiveServers(options: {
  apiUrl: string;
  token?: string;
  timeoutSeconds: number;
}): ActiveServers {
  const unavailable = (why: string) =>
    new HttpProblem(
      503,
      'hub_unreachable',
      `The companion cannot count your running servers (${why}), so it cannot check the spawn; ` +
        'try again in a minute, and tell the platform operators if it persists.'
    );
  return async user => {
    if (!options.token) throw unavailable('it has no JupyterHub service token');
    const url = `${options.apiUrl}/users/${encodeURIComponent(user)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        redirect: 'manual',
        headers: { Authorization: `token ${options.token}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000)
      });
    } catch (err) {
      throw unavailable(describeFailure(err, options.timeoutSeconds));
    }
    if (!res.ok) throw unavailable(`JupyterHub answered ${res.status}`);
    const model = (await res.json()) as { servers?: Record<string, unknown> };
    // Without read:servers the hub leaves `servers` out: counting none would let anyone run any.
    if (!model.servers) throw unavailable('the hub does not show it the servers');
    return Object.keys(model.servers);
  };
}
