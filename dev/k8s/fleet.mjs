// Creates the simulated fleet (dev/k8s/fleet.json, or the file HOTSTEPPER_FLEET names) in the
// cluster KUBECONFIG points at (again: apply keeps it idempotent). Nodes may carry status on create, which is how a fake node gets
// its capacity; kwok then keeps them Ready (annotation kwok.x-k8s.io/node=fake).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const file = process.env.HOTSTEPPER_FLEET ?? new URL('./fleet.json', import.meta.url).pathname;
const fleet = JSON.parse(readFileSync(file, 'utf8'));

function node(spec, i) {
  const name = `${spec.pool}-${i}`;
  const labels = {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    type: 'kwok',
    'hotstepper.io/pool': spec.pool
  };
  const resources = { cpu: spec.cpu, memory: spec.memory, pods: '110' };
  const gpu = spec.gpu;
  if (gpu) {
    const mig = gpu.mig;
    Object.assign(labels, {
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.product': gpu.product,
      'nvidia.com/gpu.memory': String(gpu.memoryMiB),
      'nvidia.com/gpu.count': String(gpu.count),
      'nvidia.com/mig.capable': String(Boolean(mig)),
      // kwok's nodes run nothing: their GPUs are shown as simulated (server/.../gpus.ts)
      'hotstepper.dev/gpu-simulated': 'true',
      ...(mig ? { 'nvidia.com/mig.strategy': 'mixed', 'nvidia.com/mig.config': mig.config } : {})
    });
    // With the mixed strategy, whole GPUs stay nvidia.com/gpu; MIG slices are their own resources.
    resources['nvidia.com/gpu'] = String(gpu.count - (mig?.gpus ?? 0));
    for (const [profile, n] of Object.entries(mig?.profiles ?? {})) {
      resources[`nvidia.com/mig-${profile}`] = String(n);
      labels[`nvidia.com/mig-${profile}.count`] = String(n);
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    spec: {},
    status: { allocatable: resources, capacity: resources }
  };
}

const items = fleet.nodes.flatMap(spec =>
  Array.from({ length: spec.count }, (_, i) => node(spec, i))
);
const out = execFileSync('kubectl', ['apply', '-f', '-', '-o', 'name'], {
  input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  encoding: 'utf8'
});
console.log(`fleet: ${out.trim().split('\n').length} nodes from ${file}`);
