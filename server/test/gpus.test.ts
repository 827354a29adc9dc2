/**
 * How the GPU index reads nodes and pods, and its accounting, on objects shaped as the API server
 * sends them: the cases a kwok cluster cannot show (NotReady nodes, which kwok turns Ready again;
 * the single MIG strategy; init containers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GpuAccounting } from '../src/platform/kubernetes/gpu-accounting.js';
import {
  parseQuantity,
  trimNode,
  trimPod,
  type INodeRecord
} from '../src/platform/kubernetes/gpus.js';

const node = (
  name: string,
  labels: Record<string, string>,
  allocatable: Record<string, string>
) => ({
  metadata: { name, labels, managedFields: [{ manager: 'kubelet' }] },
  spec: {},
  status: { allocatable, conditions: [{ type: 'Ready', status: 'True' }] }
});

describe('gpus', () => {
  it('reads quantities', () => {
    assert.equal(parseQuantity('8'), 8);
    assert.equal(parseQuantity('1k'), 1000);
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('2Gi'), 2 ** 31);
    assert.equal(parseQuantity('x'), 0);
  });

  it('keeps only GPU resources and the labels that matter of a node', () => {
    const n = node(
      'n1',
      { 'nvidia.com/gpu.product': 'A100', 'nvidia.com/gpu.memory': '40960', other: 'x' },
      { cpu: '64', 'nvidia.com/gpu': '4', 'nvidia.com/mig-1g.5gb': '0' }
    );
    assert.deepEqual(trimNode(n), {
      name: 'n1',
      product: 'A100',
      memoryMiB: 40960,
      migStrategy: null,
      simulated: false,
      available: true,
      allocatable: { 'nvidia.com/gpu': 4 }
    });
    assert.equal(
      trimNode(node('sim', { 'hotstepper.dev/gpu-simulated': 'true' }, { 'nvidia.com/gpu': '1' }))
        ?.simulated,
      true
    );
    assert.equal(trimNode(node('cpu', {}, { cpu: '64' })), undefined);
    const notReady = node('n2', {}, { 'nvidia.com/gpu': '1' });
    notReady.status.conditions[0].status = 'Unknown';
    assert.equal(trimNode(notReady)?.available, false);
  });

  it('counts a pod as the scheduler does: init containers, sidecars, limits only', () => {
    const gpu = (n: string) => ({ resources: { limits: { 'nvidia.com/gpu': n } } });
    const pod = {
      metadata: { name: 'p', namespace: 'u' },
      spec: {
        nodeName: 'n1',
        containers: [gpu('1'), gpu('1')],
        initContainers: [gpu('3'), { ...gpu('1'), restartPolicy: 'Always' }]
      },
      status: { phase: 'Running' }
    };
    // max(1 + 1 + 1 sidecar, 3 init) = 3
    assert.deepEqual(trimPod(pod), { node: 'n1', requests: { 'nvidia.com/gpu': 3 } });
    assert.equal(trimPod({ ...pod, status: { phase: 'Succeeded' } }), undefined);
    assert.equal(trimPod({ ...pod, spec: { ...pod.spec, nodeName: undefined } }), undefined);
  });

  it('accounts per node: unavailable nodes stay in total, single-strategy MIG is a profile', () => {
    const accounting = new GpuAccounting();
    const a: INodeRecord = {
      name: 'a',
      product: 'A100',
      memoryMiB: 40960,
      migStrategy: null,
      simulated: false,
      available: true,
      allocatable: { 'nvidia.com/gpu': 4 }
    };
    accounting.setNode('a', a);
    accounting.addPod({ node: 'a', requests: { 'nvidia.com/gpu': 5 } });
    accounting.setNode('b', { ...a, name: 'b', available: false });
    accounting.setNode('s', {
      ...a,
      name: 's',
      product: 'A100-SXM4-40GB-MIG-1g.5gb',
      migStrategy: 'single',
      allocatable: { 'nvidia.com/gpu': 7 }
    });
    accounting.addPod({ node: 's', requests: { 'nvidia.com/gpu': 2 } });
    assert.deepEqual(accounting.counts(), {
      models: [
        {
          product: 'A100',
          memoryMiB: 40960,
          simulated: false,
          total: 8,
          free: 0,
          unavailable: 4,
          nodes: 2
        }
      ],
      migProfiles: [
        {
          profile: '1g.5gb',
          product: 'A100-SXM4-40GB',
          simulated: false,
          total: 7,
          free: 5,
          unavailable: 0,
          nodes: 1
        }
      ]
    });
    accounting.setNode('b', undefined);
    accounting.removePod({ node: 'a', requests: { 'nvidia.com/gpu': 5 } });
    accounting.setNode('s', undefined);
    assert.deepEqual(accounting.counts(), {
      models: [
        {
          product: 'A100',
          memoryMiB: 40960,
          simulated: false,
          total: 4,
          free: 4,
          unavailable: 0,
          nodes: 1
        }
      ],
      migProfiles: []
    });
    // Simulated GPUs of the same model are counted on a row of their own, marked as such.
    accounting.setNode('fake', { ...a, name: 'fake', simulated: true });
    assert.deepEqual(
      accounting.counts().models.map(m => [m.simulated, m.total]),
      [
        [false, 4],
        [true, 4]
      ]
    );
  });
});
