/**
 * Who may open a route, and the signed values that carry the answer between requests: a visitor's
 * session cookie on one app host, the state of a hub login, and the one-time ticket that moves a
 * login from the login host to an app host. All are HMAC-signed for one purpose and one host, so
 * nothing server-side is kept per visitor (only used tickets, in the database) and several
 * replicas agree when they share flare.cookieSecret.
 *
 * Apps live at <name>.<domain>: they are same-site with each other, so SameSite does not keep one
 * app's page from sending requests to another with the visitor's cookie, and an app may set
 * cookies for the whole domain. Hence: the session cookie is host-only (over https a `__Host-`
 * name, which browsers refuse to take with a Domain), signed for its host, read by trying every
 * cookie of its name (a tossed one does not hide the visitor's own), and requests that can change
 * something or open a WebSocket must come from the app's own origin (gateway.ts).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FlareAccess } from '@hotstepper/schema';
import type { FlareRouteRow } from './migrations.js';

export const SESSION_COOKIE = 'flare_session';
export const STATE_COOKIE = 'flare_state';
/** Marks a visit already counted (see VISIT_SECONDS): requests that carry it are no new hit. */
export const VISIT_COOKIE = 'flare_visit';
const SESSION_SECONDS = 12 * 3600;
/** One visit: a visitor's requests to one app within this long count as one hit. */
export const VISIT_SECONDS = 30 * 60;

/**
 * The cookie names of a deployment. Over https they carry the `__Host-` prefix: a browser takes
 * such a cookie only host-only, Secure and with Path=/, so no sibling app can set one for the
 * whole domain. (SameSite=Strict is not an option: the hub's OAuth answer is a cross-site
 * navigation that must bring the login state cookie along, and a visitor following a link to an
 * app expects to arrive logged in.)
 */
export const cookieNames = (secure: boolean) => ({
  session: secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE,
  state: secure ? `__Host-${STATE_COOKIE}` : STATE_COOKIE,
  visit: secure ? `__Host-${VISIT_COOKIE}` : VISIT_COOKIE
});

/** What a signed value is for: a value signed for one purpose never verifies for another. */
export const purposes = {
  /** A visitor's session cookie on one app host. */
  session: (host: string) => `session:${host.toLowerCase()}`,
  /** The one-time ticket that carries a login to the app named `route`. */
  ticket: (route: string) => `ticket:${route}`,
  /** The state of a hub login, between the login host and the hub's answer. */
  state: 'state',
  /** A counted visit on one app host: a sibling app cannot toss one in to hide visits. */
  visit: (host: string) => `visit:${host.toLowerCase()}`
};

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
  const mac = (purpose: string, data: string) =>
    createHmac('sha256', secret).update(purpose).update('\n').update(data).digest('base64url');
  return {
    /** `value` signed for `purpose` (see purposes): it verifies for that purpose only. */
    sign(value: object, purpose: string): string {
      const data = Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${data}.${mac(purpose, data)}`;
    },
    /** The signed value, or undefined when the signature is wrong (or for another purpose) or it has expired. */
    verify<T extends { exp: number }>(token: string | undefined, purpose: string): T | undefined {
      if (!token) return undefined;
      const [data, sig] = token.split('.');
      if (!data || !sig) return undefined;
      const want = Buffer.from(mac(purpose, data));
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
    case 'owner':
      // Only the owner, who passed above: anyone else is told so, a stranger is asked to log in.
      return user ? 'forbidden' : 'login';
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

/**
 * Every value of cookie `name` in a Cookie header, in the order the browser sent them (the most
 * specific first). Several are normal when another host of the domain set one with a Domain.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) out.push(part.slice(i + 1).trim());
  }
  return out;
}

/**
 * The visitor's session on app host `host` (route `route`): the first cookie of that name that
 * was signed for this host. Cookies another app tossed in never verify here and hide nothing.
 */
export function sessionOf(
  signer: Signer,
  header: string | undefined,
  name: string,
  route: string,
  host: string
): ISession | undefined {
  for (const value of cookieValues(header, name)) {
    const session = signer.verify<ISession>(value, purposes.session(host));
    if (session?.r === route) return session;
  }
  return undefined;
}

const OURS = new Set(
  [SESSION_COOKIE, STATE_COOKIE, VISIT_COOKIE].flatMap(name => [name, `__Host-${name}`])
);

/** The Cookie header without Flare's own cookies (any of their names): the app never sees them. */
export function stripOurCookies(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map(p => p.trim())
    .filter(p => p && !OURS.has(p.slice(0, Math.max(0, p.indexOf('='))).trim()));
  return kept.length ? kept.join('; ') : undefined;
}

/** Methods that only read: a browser sends them cross-site freely, so they must change nothing. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether the visitor's cookie may count for this HTTP request to the app at `origin`, from what
 * a browser says about where the request comes from (Origin, Fetch Metadata):
 * - a request that names another Origin (a fetch, a form post) does not get it;
 * - one from another site or another Flare app (Sec-Fetch-Site same-site or cross-site) gets it
 *   only as a top-level navigation that reads (following a link), not as a subresource (a
 *   script, an image) or a frame of a plugin;
 * - one that may change something (not GET, HEAD or OPTIONS) needs the app's own Origin or
 *   Sec-Fetch-Site same-origin: a browser always sends one of them, other clients get no cookie.
 */
export function mayUseCookie(
  headers: Record<string, string | string[] | undefined>,
  method: string,
  origin: string
): boolean {
  const safe = SAFE_METHODS.has(method);
  const sent = headers.origin;
  if (sent !== undefined && sent !== origin) return false;
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    const dest = headers['sec-fetch-dest'];
    return (
      safe && headers['sec-fetch-mode'] === 'navigate' && dest !== 'object' && dest !== 'embed'
    );
  }
  return safe || sent === origin || site === 'same-origin';
}

/**
 * Whether a browser says the request comes from a page of `origin` itself: its Origin header,
 * else Sec-Fetch-Site ("none" is the visitor typing or bookmarking). Undefined when it says
 * neither, i.e. the client is not a browser.
 */
export function fromOrigin(
  headers: Record<string, string | string[] | undefined>,
  origin: string
): boolean | undefined {
  const sent = headers.origin;
  if (sent !== undefined) return sent === origin;
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  return undefined;
}

/** Control and white-space characters (browsers drop some from URLs), and `\` (read as `/`). */
const NOT_IN_A_PATH =
  /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff\\]/;

/**
 * Where to send a visitor back to on the app at `origin` after login: `next` when it is a path on
 * that host, else "/". Browsers drop tabs and line breaks from URLs and read `\` as `/`, so
 * "/<tab>/evil.com" would become "//evil.com", another host: refused, as is any control or
 * white-space character.
 */
export function localPath(next: string | null | undefined, origin: string): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || NOT_IN_A_PATH.test(next)) {
    return '/';
  }
  try {
    const url = new URL(next, origin);
    return url.origin === origin ? next : '/';
  } catch {
    return '/';
  }
}
