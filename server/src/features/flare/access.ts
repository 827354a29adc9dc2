/**
 * Who may open a route, and the signed values that carry the answer between requests: a visitor's
 * session cookie on one app host, the state of a hub login, and the one-time ticket that moves a
 * login from the login host to an app host. All are HMAC-signed, so nothing server-side is kept
 * per visitor and several replicas agree when they share flare.cookieSecret.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FlareAccess } from '@hotstepper/schema';
import type { FlareRouteRow } from './migrations.js';

export const SESSION_COOKIE = 'flare_session';
export const STATE_COOKIE = 'flare_state';
const SESSION_SECONDS = 12 * 3600;

/** What a visitor's cookie says: a hub user (after login) or a share-link holder. */
export interface ISession {
  /** The route the cookie was made for: an app host's cookie is worth nothing on another. */
  r: string;
  /** Hub user name (after a hub login). */
  u?: string;
  /** Fingerprint of the share token it was made with: rotating the link voids the cookie. */
  l?: string;
  exp: number;
}

export function createSigner(secret: string) {
  const mac = (data: string) => createHmac('sha256', secret).update(data).digest('base64url');
  return {
    sign(value: object): string {
      const data = Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${data}.${mac(data)}`;
    },
    /** The signed value, or undefined when the signature is wrong or it has expired. */
    verify<T extends { exp: number }>(token: string | undefined): T | undefined {
      if (!token) return undefined;
      const [data, sig] = token.split('.');
      if (!data || !sig) return undefined;
      const want = Buffer.from(mac(data));
      const got = Buffer.from(sig);
      if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
      try {
        const value = JSON.parse(Buffer.from(data, 'base64url').toString()) as T;
        return value.exp > Date.now() / 1000 ? value : undefined;
      } catch {
        return undefined;
      }
    }
  };
}

export type Signer = ReturnType<typeof createSigner>;

export const expiresIn = (seconds = SESSION_SECONDS) => Math.floor(Date.now() / 1000) + seconds;
export const nonce = () => randomBytes(16).toString('base64url');
export const linkFingerprint = (token: string) =>
  createHash('sha256').update(token).digest('base64url').slice(0, 22);

/** Constant-time comparison of a presented share token with the route's. */
export function tokenMatches(presented: string, actual: string | null): boolean {
  if (!actual) return false;
  const a = Buffer.from(linkFingerprint(presented));
  const b = Buffer.from(linkFingerprint(actual));
  return timingSafeEqual(a, b);
}

// Rows come from the gateway's short-lived cache: parse each one's access once, not per request.
const parsed = new WeakMap<FlareRouteRow, FlareAccess>();

/** The access document of a route row. */
export function accessOf(row: FlareRouteRow): FlareAccess {
  let access = parsed.get(row);
  if (!access) {
    access = JSON.parse(row.access) as FlareAccess;
    parsed.set(row, access);
  }
  return access;
}

export type Decision = 'allow' | 'login' | 'forbidden';

/**
 * The access check shared by the gateway and the ingress auth endpoint. `groupsOf` is asked only
 * when a named-groups rule needs it.
 */
export async function decide(
  row: FlareRouteRow,
  session: ISession | undefined,
  groupsOf: (user: string) => Promise<string[] | undefined>
): Promise<Decision> {
  const access = accessOf(row);
  if (access.mode === 'public') return 'allow';
  const valid = session?.r === row.name ? session : undefined;
  const user = valid?.u;
  if (user === row.owner) return 'allow';
  switch (access.mode) {
    case 'link':
      if (valid?.l && row.share_token && valid.l === linkFingerprint(row.share_token)) {
        return 'allow';
      }
      return user ? 'forbidden' : 'login';
    case 'hub':
      return user ? 'allow' : 'login';
    case 'users': {
      if (!user) return 'login';
      if (access.users?.includes(user)) return 'allow';
      if (access.groups?.length) {
        const groups = (await groupsOf(user)) ?? [];
        if (groups.some(g => access.groups?.includes(g))) return 'allow';
      }
      return 'forbidden';
    }
  }
}

/** The cookies of a request, by name (the last one wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/** The Cookie header without Flare's own cookies: the app never sees them. */
export function stripOurCookies(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map(p => p.trim())
    .filter(p => p && !p.startsWith(`${SESSION_COOKIE}=`) && !p.startsWith(`${STATE_COOKIE}=`));
  return kept.length ? kept.join('; ') : undefined;
}
