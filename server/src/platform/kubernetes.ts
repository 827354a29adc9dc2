/**
 * Just enough Kubernetes to say whether the cluster answers: the API server's GET /version, with
 * the credentials of a kubeconfig file or of the pod's service account.
 *
 * TODO(kubernetes issue): when @kubernetes/client-node arrives, load the KubeConfig with it (which
 * also covers exec and auth-provider users) and probe through its client instead of this file.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { IConfig } from './config.js';
import type { IProbe } from './probes.js';
import { describeFailure } from './probes.js';

export interface IKubeTarget {
  server: string;
  source: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  insecure: boolean;
}

interface INamed<T> {
  name: string;
  [key: string]: T | string;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Where the API server is and how to authenticate, from a kubeconfig or the in-cluster account. */
export function kubeTarget(config: IConfig['kubernetes'], env = process.env): IKubeTarget {
  if (config.kubeconfig) {
    // KUBECONFIG may list several files; the first one is the one we read.
    const file = resolve(config.kubeconfig.split(':')[0]);
    return fromKubeconfig(file);
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) {
    throw new Error(
      'kubernetes.enabled is set, but there is no kubeconfig (kubernetes.kubeconfig / KUBECONFIG) ' +
        'and no in-cluster service account (KUBERNETES_SERVICE_HOST is not set)'
    );
  }
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    source: 'the in-cluster service account',
    ca: readFileSync(`${SERVICE_ACCOUNT}/ca.crt`),
    token: readFileSync(`${SERVICE_ACCOUNT}/token`, 'utf8').trim(),
    insecure: false
  };
}

function fromKubeconfig(file: string): IKubeTarget {
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot read the kubeconfig ${file}: ${describeFailure(err)}`);
  }
  const pick = <T>(list: unknown, name: unknown, field: string): T => {
    const found = ((list as INamed<T>[] | undefined) ?? []).find(e => e.name === name);
    if (!found) throw new Error(`the kubeconfig ${file} has no ${field} "${String(name)}"`);
    return found[field] as T;
  };
  const context = pick<Record<string, string>>(doc.contexts, doc['current-context'], 'context');
  const cluster = pick<Record<string, string | boolean>>(doc.clusters, context.cluster, 'cluster');
  const user = context.user ? pick<Record<string, string>>(doc.users, context.user, 'user') : {};
  // Paths inside a kubeconfig are relative to the kubeconfig itself.
  const read = (data?: string, path?: string) =>
    data
      ? Buffer.from(data, 'base64')
      : path
        ? readFileSync(resolve(dirname(file), path))
        : undefined;
  return {
    server: String(cluster.server).replace(/\/+$/, ''),
    source: file,
    ca: read(
      cluster['certificate-authority-data'] as string,
      cluster['certificate-authority'] as string
    ),
    cert: read(user['client-certificate-data'], user['client-certificate']),
    key: read(user['client-key-data'], user['client-key']),
    token: user.token ?? (user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : undefined),
    insecure: cluster['insecure-skip-tls-verify'] === true
  };
}

/** GET {server}/version: the API server's build, e.g. {gitVersion: "v1.31.0"}. */
export function getVersion(
  target: IKubeTarget,
  signal: AbortSignal
): Promise<{ gitVersion?: string }> {
  const url = new URL('/version', target.server);
  const get = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((done, fail) => {
    const req = get(
      url,
      {
        signal,
        ca: target.ca,
        cert: target.cert,
        key: target.key,
        rejectUnauthorized: !target.insecure,
        headers: {
          Accept: 'application/json',
          ...(target.token ? { Authorization: `Bearer ${target.token}` } : {})
        }
      },
      res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', chunk => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200)
            return fail(new Error(`answered HTTP ${res.statusCode} to GET /version`));
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
}

export function kubernetesProbe(config: IConfig['kubernetes']): IProbe {
  const configured = config.enabled || Boolean(config.kubeconfig);
  return {
    name: 'kubernetes',
    notConfigured: configured
      ? undefined
      : 'Not configured: set KUBECONFIG (or kubernetes.kubeconfig), or kubernetes.enabled inside a cluster.',
    async check({ signal, timeoutSeconds }) {
      const target = kubeTarget(config);
      try {
        const { gitVersion } = await getVersion(target, signal);
        return `Kubernetes ${gitVersion ?? '(unknown version)'} at ${target.server} (from ${target.source})`;
      } catch (err) {
        const why = signal.aborted
          ? describeFailure(signal.reason, timeoutSeconds)
          : err instanceof Error && err.message.startsWith('answered')
            ? err.message
            : describeFailure(err);
        throw new Error(
          `Kubernetes at ${target.server} (from ${target.source}) did not answer: ${why}`
        );
      }
    }
  };
}
