/**
 * One volume seen from many namespaces. A claim lives in one namespace and binds one
 * PersistentVolume, so a volume every user may mount (course files, all homes for teachers) is one
 * PersistentVolume per namespace, each pre-bound to that namespace's claim and all pointing at the
 * same folder or export. Whether a pod mounts it read-only is the pod's (the spawner's) business.
 */
import { createHash } from 'node:crypto';
import {
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type V1PersistentVolumeSpec
} from '@kubernetes/client-node';

export interface ISharedClaim {
  /** The volume's name in the spawn configuration. */
  volume: string;
  /** The claim's name in the user's namespace. */
  claimName: string;
  source: { hostPath: { path: string } } | { nfs: { server: string; path: string } };
  size: string;
}

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
export const VOLUME_LABEL = 'hotstepper.io/shared-volume';

/** hotstepper-<volume>-<namespace>, hashed when that would not be a valid object name. */
export function sharedVolumeName(volume: string, namespace: string): string {
  const plain = `hotstepper-${volume}-${namespace}`;
  if (plain.length <= 253) return plain;
  const hash = createHash('sha256').update(plain).digest('hex').slice(0, 12);
  return `${plain.slice(0, 240)}-${hash}`;
}

/**
 * The claim and its own volume in `namespace`, applied server-side (so a second call is a no-op),
 * then waited for until bound: a pod on an unbound claim would wait without saying why.
 */
export async function ensureSharedClaim(
  core: CoreV1Api,
  namespace: string,
  labels: Record<string, string>,
  claim: ISharedClaim
): Promise<void> {
  const volumeName = sharedVolumeName(claim.volume, namespace);
  const marks = { ...labels, [VOLUME_LABEL]: claim.volume };
  const source: Partial<V1PersistentVolumeSpec> =
    'hostPath' in claim.source
      ? { hostPath: { path: claim.source.hostPath.path, type: 'DirectoryOrCreate' } }
      : { nfs: { server: claim.source.nfs.server, path: claim.source.nfs.path } };
  await core.patchPersistentVolume(
    {
      name: volumeName,
      fieldManager: 'hotstepper',
      force: true,
      body: {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: volumeName, labels: marks },
        spec: {
          capacity: { storage: claim.size },
          accessModes: ['ReadWriteMany'],
          // Deleting a namespace must never delete the shared folder behind it.
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          claimRef: { namespace, name: claim.claimName },
          ...source
        }
      }
    },
    APPLY
  );
  await core.patchNamespacedPersistentVolumeClaim(
    {
      name: claim.claimName,
      namespace,
      fieldManager: 'hotstepper',
      force: true,
      body: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claim.claimName, namespace, labels: marks },
        spec: {
          accessModes: ['ReadWriteMany'],
          storageClassName: '',
          volumeName,
          resources: { requests: { storage: claim.size } }
        }
      }
    },
    APPLY
  );
  for (let i = 0, delay = 100; i < 30; i++, delay = Math.min(delay * 2, 1000)) {
    const pvc = await core.readNamespacedPersistentVolumeClaim({
      name: claim.claimName,
      namespace
    });
    if (pvc.status?.phase === 'Bound') {
      if (pvc.spec?.volumeName !== volumeName) {
        throw new Error(
          `claim ${namespace}/${claim.claimName} is bound to ${pvc.spec?.volumeName}, not ${volumeName}`
        );
      }
      return;
    }
    await new Promise(r => setTimeout(r, delay));
  }
  throw new Error(`claim ${namespace}/${claim.claimName} did not bind to ${volumeName}`);
}
