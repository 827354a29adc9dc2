/**
 * The one place a KubeConfig is made: from a kubeconfig file (local platform, out-of-cluster) or
 * the pod's service account (in-cluster). Everything Kubernetes in the companion starts here.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { resolve } from 'node:path';
import type { IConfig } from '../config.js';

export function isKubernetesConfigured(config: IConfig['kubernetes']): boolean {
  return config.enabled || Boolean(config.kubeconfig);
}

/** Throws with a sentence an operator can act on when there is nothing to load. */
export function loadKubeConfig(config: IConfig['kubernetes'], env = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) {
    // KUBECONFIG may list several files; like the probe, we read the first.
    kc.loadFromFile(resolve(config.kubeconfig.split(':')[0]));
    return kc;
  }
  if (!env.KUBERNETES_SERVICE_HOST) {
    throw new Error(
      'kubernetes.enabled is set, but there is no kubeconfig (kubernetes.kubeconfig / KUBECONFIG) ' +
        'and no in-cluster service account (KUBERNETES_SERVICE_HOST is not set)'
    );
  }
  kc.loadFromCluster();
  return kc;
}
