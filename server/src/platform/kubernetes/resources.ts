/**
 * What a tenant namespace's ResourceQuota and LimitRange may name, checked at start so that a typo
 * in a resource name (which Kubernetes would accept and never enforce) stops the companion instead.
 * No client-node import here: config.ts uses it.
 */

/**
 * NVIDIA MIG profiles as the device plugin exposes them (nvidia.com/mig-<profile>, "mixed"
 * strategy), from NVIDIA's MIG user guide, per GPU. The "+me" variants have no resource name of
 * their own. A new GPU generation means a new line here.
 */
export const MIG_PROFILES: Record<string, string[]> = {
  'A30 24GB': ['1g.6gb', '2g.12gb', '4g.24gb'],
  'A100 40GB': ['1g.5gb', '1g.10gb', '2g.10gb', '3g.20gb', '4g.20gb', '7g.40gb'],
  'A100/H100 80GB': ['1g.10gb', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb'],
  'H100 NVL 94GB': ['1g.12gb', '1g.24gb', '2g.24gb', '3g.47gb', '4g.47gb', '7g.94gb'],
  'GH200/H20 96GB': ['1g.12gb', '1g.24gb', '2g.24gb', '3g.48gb', '4g.48gb', '7g.96gb'],
  'H200 141GB': ['1g.18gb', '1g.35gb', '2g.35gb', '3g.71gb', '4g.71gb', '7g.141gb'],
  'B200 180GB': ['1g.23gb', '1g.45gb', '2g.45gb', '3g.90gb', '4g.90gb', '7g.180gb'],
  'RTX PRO 6000 96GB': ['1g.24gb', '2g.48gb', '4g.96gb']
};

const KNOWN_MIG = new Set(Object.values(MIG_PROFILES).flat());

/** Names of an integer count, where "1.5" or "500m" would be a mistake. */
const COUNTS = new Set([
  'pods',
  'services',
  'services.loadbalancers',
  'services.nodeports',
  'configmaps',
  'secrets',
  'persistentvolumeclaims',
  'replicationcontrollers',
  'resourcequotas'
]);

/** Quota names that count objects or compute resources, as ResourceQuota documents them. */
const STANDARD = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'requests.storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.nvidia.com/gpu',
  ...COUNTS
]);
const isCount = (name: string) =>
  COUNTS.has(name) || name.startsWith('count/') || name.startsWith('requests.nvidia.com/');

// A Kubernetes quantity (k8s.io/apimachinery resource.Quantity), without a sign: quotas are >= 0.
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[mkMGTPE]|[eE][+-]?\d+)?$/;

/** Why `value` is not a non-negative Kubernetes quantity, or undefined when it is one. */
export function quantityProblem(value: string): string | undefined {
  return QUANTITY.test(value)
    ? undefined
    : `"${value}" is not a Kubernetes quantity (e.g. 2, 500m, 16Gi)`;
}

/** Why `name` cannot be a ResourceQuota key, or undefined when it can. */
export function quotaKeyProblem(name: string): string | undefined {
  if (STANDARD.has(name)) return undefined;
  if (/^count\/[a-z0-9]+(\.[a-z0-9-]+)*$/.test(name)) return undefined;
  const mig = /^requests\.nvidia\.com\/mig-(.+)$/.exec(name);
  if (mig) {
    if (KNOWN_MIG.has(mig[1])) return undefined;
    return (
      `"mig-${mig[1]}" is not a known NVIDIA MIG profile (known: ` +
      `${[...KNOWN_MIG].map(p => `mig-${p}`).join(', ')})`
    );
  }
  if (/^(limits\.)?nvidia\.com\//.test(name)) {
    const bare = name.replace(/^limits\./, '');
    return (
      `GPUs are quota'd by what pods request: write "requests.${bare}" ` +
      '(Kubernetes allows only the requests. prefix for extended resources)'
    );
  }
  if (name.startsWith('requests.') && name.includes('/')) {
    return `"${name}" is not a known GPU resource (known: requests.nvidia.com/gpu, requests.nvidia.com/mig-<profile>)`;
  }
  return (
    `"${name}" is not a ResourceQuota resource name (e.g. requests.cpu, requests.memory, ` +
    'limits.memory, pods, count/jobs.batch, requests.nvidia.com/gpu, requests.nvidia.com/mig-1g.10gb)'
  );
}

/** Every problem with a quota map: [key, why]. */
export function quotaProblems(quota: Record<string, string>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(quota)) {
    const why = quotaKeyProblem(name) ?? quantityProblem(value);
    if (why) out.push([name, why]);
    else if (isCount(name) && !/^\d+$/.test(value)) {
      out.push([name, `"${value}" must be a whole number for ${name}`]);
    }
  }
  return out;
}
