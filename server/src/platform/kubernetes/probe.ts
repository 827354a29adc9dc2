/**
 * Whether the cluster answers: the API server's GET /version, with the credentials client-node
 * makes from the kubeconfig or the pod's service account (tokens, client certificates, exec and
 * auth-provider users alike). The kubeconfig is read again on every check, so a fixed file or a
 * rotated token is picked up without a restart.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { resolve } from 'node:path';
import type { IConfig } from '../config.js';
import { describeFailure, type IProbe } from '../probes.js';
import { isKubernetesConfigured, loadKubeConfig } from './client.js';

export interface IKubeTarget {
  kc: KubeConfig;
  /** The API server's URL. */
  server: string;
  /** Where the credentials came from: the kubeconfig's path, or the in-cluster account. */
  source: string;
}

/** The KubeConfig with its current context checked, or an Error an operator can act on. */
export function kubeTarget(config: IConfig['kubernetes'], env = process.env): IKubeTarget {
  const file = config.kubeconfig ? resolve(config.kubeconfig.split(':')[0]) : undefined;
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(config, env);
  } catch (err) {
    if (!file) throw err;
    throw new Error(`cannot read the kubeconfig ${file}: ${describeFailure(err)}`);
  }
  const source = file ?? 'the in-cluster service account';
  const context = kc.getCurrentContext();
  const missing = (what: string, name: string | undefined) =>
    new Error(`the kubeconfig ${source} has no ${what} "${name ?? ''}"`);
  const contextObject = kc.getContextObject(context);
  if (!contextObject) throw missing('context', context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw missing('cluster', contextObject.cluster);
  return { kc, server: cluster.server.replace(/\/+$/, ''), source };
}

/** GET {server}/version: the API server's build, e.g. {gitVersion: "v1.36.3"}. */
export async function getVersion(
  target: IKubeTarget,
  signal: AbortSignal
): Promise<{ gitVersion?: string }> {
  const options: RequestOptions = { method: 'GET', headers: {} };
  await target.kc.applyToHTTPSOptions(options);
  const url = new URL('/version', target.server);
  const get = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const agent = options.agent as Agent | undefined;
  try {
    return await new Promise((done, fail) => {
      const req = get(
        url,
        {
          ...options,
          signal,
          headers: { ...options.headers, Accept: 'application/json' }
        },
        res => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', chunk => (body += chunk));
          res.on('error', fail);
          res.on('end', () => {
            if (res.statusCode !== 200) {
              const rejected = res.statusCode === 401 || res.statusCode === 403;
              return fail(
                new Error(
                  `answered HTTP ${res.statusCode} to GET /version` +
                    (rejected ? ': it does not accept the credentials' : '')
                )
              );
            }
            try {
              done(JSON.parse(body) as { gitVersion?: string });
            } catch {
              fail(new Error('answered GET /version with something that is not JSON'));
            }
          });
        }
      );
      req.on('error', fail);
      req.end();
    });
  } finally {
    // client-node makes an agent per call; without this its socket would linger.
    agent?.destroy();
  }
}

export function kubernetesProbe(config: IConfig['kubernetes']): IProbe {
  return {
    name: 'kubernetes',
    notConfigured: isKubernetesConfigured(config)
      ? undefined
      : 'Not configured: set KUBECONFIG (or kubernetes.kubeconfig), or kubernetes.enabled inside a cluster.',
    async check({ signal, timeoutSeconds }) {
      const target = kubeTarget(config);
      const where = `Kubernetes at ${target.server} (from ${target.source})`;
      try {
        const { gitVersion } = await getVersion(target, signal);
        return `Kubernetes ${gitVersion ?? '(unknown version)'} at ${target.server} (from ${target.source})`;
      } catch (err) {
        const why = signal.aborted
          ? describeFailure(signal.reason, timeoutSeconds)
          : err instanceof Error && err.message.startsWith('answered')
            ? err.message
            : describeFailure(err);
        throw new Error(`${where} did not answer: ${why}`);
      }
    }
  };
}
