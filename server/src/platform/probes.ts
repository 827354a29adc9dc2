/**
 * Probes: one small check per part of the platform, each resolving to a sentence that says what is
 * connected or rejecting with one that says what failed. connections.ts runs and caches them.
 */
import type { Connection } from '@hotstepper/schema';
import type { IConfig } from './config.js';
import { llmApiKey, SCRIPTED_OWNER } from './llm.js';

export interface IProbeContext {
  signal: AbortSignal;
  /** What the signal's timeout is, so a failure can say how long we waited. */
  timeoutSeconds: number;
}

export interface IProbe {
  name: Connection['name'];
  /** Set when the part is switched off: says how to switch it on. */
  notConfigured?: string;
  check(context: IProbeContext): Promise<string>;
}

/** Why a request failed, in a few words: "ECONNREFUSED", "no answer within 2 s". */
export function describeFailure(err: unknown, timeoutSeconds?: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown };
  if (e?.name === 'TimeoutError') {
    return timeoutSeconds ? `no answer within ${timeoutSeconds} s` : 'no answer in time';
  }
  if (e?.name === 'AbortError') return 'the check was cancelled';
  const cause = e?.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? e?.code ?? cause?.message ?? e?.message ?? String(err);
}

/** GET url; a network failure or a non-2xx answer becomes an Error naming `what` and `base`. */
export async function httpGet(
  what: string,
  base: string,
  path: string,
  { signal, timeoutSeconds }: IProbeContext,
  headers: Record<string, string> = {}
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { headers, signal });
  } catch (err) {
    throw new Error(`${what} at ${base} did not answer: ${describeFailure(err, timeoutSeconds)}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${what} at ${base} answered HTTP ${res.status} to GET ${path}`);
  }
  return res;
}

export function hubProbe({ apiUrl, apiToken }: IConfig['jupyterhub']): IProbe {
  return {
    name: 'jupyterhub',
    async check(context) {
      const res = await httpGet('JupyterHub', apiUrl, '/', context);
      const { version } = (await res.json()) as { version?: string };
      const hub = `JupyterHub ${version ?? '(unknown version)'} at ${apiUrl}`;
      if (!apiToken) {
        return `${hub}; no service token is configured (JUPYTERHUB_API_TOKEN), so hub actions are off`;
      }
      // The service token is ours to use; the users' tokens only ever go to /user in identity.ts.
      const who = await fetch(`${apiUrl}/user`, {
        headers: { Authorization: `token ${apiToken}` },
        signal: context.signal
      }).catch((err: unknown) => {
        throw new Error(`${hub} did not answer: ${describeFailure(err, context.timeoutSeconds)}`);
      });
      await who.body?.cancel();
      if (who.status === 401 || who.status === 403) {
        throw new Error(
          `${hub} rejects the companion's service token (jupyterhub.apiToken / JUPYTERHUB_API_TOKEN)`
        );
      }
      if (!who.ok) throw new Error(`${hub} answered HTTP ${who.status} to GET /user`);
      return hub;
    }
  };
}

export function prometheusProbe({ url }: IConfig['prometheus']): IProbe {
  return {
    name: 'prometheus',
    notConfigured: url
      ? undefined
      : 'Not configured: set prometheus.url (HOTSTEPPER_PROMETHEUS_URL).',
    async check(context) {
      const base = (url ?? '').replace(/\/+$/, '');
      await (await httpGet('Prometheus', base, '/-/ready', context)).body?.cancel();
      return `Prometheus at ${base} is ready`;
    }
  };
}

export function llmProbe(config: IConfig['llm']): IProbe {
  const { baseUrl, model } = config;
  return {
    name: 'llm',
    notConfigured: baseUrl
      ? undefined
      : 'Not configured: set llm.baseUrl (HOTSTEPPER_LLM_BASE_URL).',
    async check(context) {
      const base = (baseUrl ?? '').replace(/\/+$/, '');
      const apiKey = llmApiKey(config);
      const headers: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
      const res = await httpGet('The LLM endpoint', base, '/models', context, headers);
      const { data } = (await res.json()) as { data?: { id: string; owned_by?: string }[] };
      const ids = (data ?? []).map(m => m.id);
      if (model && !ids.includes(model)) {
        throw new Error(
          `The LLM endpoint at ${base} does not serve the configured model "${model}" ` +
            `(it serves: ${ids.join(', ') || 'nothing'})`
        );
      }
      // dev/llm's server is no model: say so wherever the connection is shown.
      if ((data ?? []).some(m => m.owned_by === SCRIPTED_OWNER)) {
        return `Scripted test server (dev/llm, not a language model) at ${base}`;
      }
      return (
        `LLM endpoint at ${base} serves ${ids.length} model${ids.length === 1 ? '' : 's'}` +
        (model ? `, including ${model}` : '')
      );
    }
  };
}
