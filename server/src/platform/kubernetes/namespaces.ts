/**
 * How a hub user maps to a namespace, and the marks that say a namespace is theirs. Pure: no
 * Kubernetes call, so tests and other features can derive names without a cluster.
 */
import { createHash } from 'node:crypto';

export const FIELD_MANAGER = 'hotstepper';
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const USER_LABEL = 'hotstepper.io/user';
/** The exact hub name: labels cannot hold it (63 characters, a restricted alphabet). */
export const USER_ANNOTATION = 'hotstepper.io/user-name';

const DNS_LABEL = 63;

/**
 * `<prefix><name>` when the hub name is already a clean DNS label; otherwise the sanitised name
 * (lowercase, [a-z0-9-] only, no repeated or outer dashes, cut to fit) + `--` + the first 8 hex of
 * the name's sha256. The double dash cannot occur in a clean name, so a hashed name never equals
 * another user's clean one ("alice--1b2c3d4e" as a hub name is not clean: it is hashed too).
 */
export function namespaceName(prefix: string, user: string): string {
  const clean = user
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  const room = DNS_LABEL - prefix.length;
  if (clean === user && clean.length > 0 && clean.length <= room) return prefix + clean;
  const hash = createHash('sha256').update(user, 'utf8').digest('hex').slice(0, 8);
  const base = clean.slice(0, room - hash.length - 2).replace(/-+$/, '');
  return `${prefix}${base}--${hash}`;
}

/** The `hotstepper.io/user` label value: the namespace without its prefix (a valid label value). */
export const userLabel = (prefix: string, namespace: string) =>
  namespace.slice(prefix.length).replace(/^-+/, '');
