/**
 * An index of the repositories an OCI registry holds under a prefix, each tag with the date its
 * image was built. The distribution API has no watch, so the index is refreshed in the background
 * and requests read it from memory; a refresh that fails keeps the last good index. A tag's date
 * is read once per manifest digest (its image config's `created`), so a refresh costs the catalogue
 * and one tag list per repository.
 */
import type { FastifyBaseLogger } from 'fastify';

export interface IRegistryTag {
  tag: string;
  /** YYYY-MM-DD, when the image config says. */
  date?: string;
}

export interface IRegistryRepository {
  /** The repository's name in the registry, e.g. hotstepper/users/hs-bob/rstats. */
  name: string;
  /** Newest first. */
  tags: IRegistryTag[];
}

export interface IRegistryIndex {
  /** host[:port] as image references name it, e.g. 127.0.0.1:5000. */
  readonly host: string;
  /** Repositories whose name starts with `prefix`, as of the last refresh. */
  under(prefix: string): IRegistryRepository[];
  /** Reads the registry now; the background refresh calls this. */
  refresh(): Promise<void>;
  close(): void;
}

const MANIFESTS = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'
].join(', ');

interface IManifest {
  config?: { digest?: string };
  manifests?: { digest?: string }[];
}

export function createRegistryIndex(options: {
  /** The registry's base URL, e.g. http://127.0.0.1:5000. */
  url: string;
  /** Only repositories under this prefix are indexed (and only their tags read). */
  prefix: string;
  refreshSeconds: number;
  timeoutSeconds?: number;
  log: FastifyBaseLogger;
}): IRegistryIndex {
  const base = options.url.replace(/\/+$/, '');
  const timeout = (options.timeoutSeconds ?? 10) * 1000;
  let repositories: IRegistryRepository[] = [];
  const dates = new Map<string, string | undefined>();
  let failing = false;
  let running: Promise<void> | undefined;

  async function get(path: string, accept = 'application/json'): Promise<Response> {
    const res = await fetch(`${base}${path}`, {
      headers: { accept },
      signal: AbortSignal.timeout(timeout)
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res;
  }

  async function catalogue(): Promise<string[]> {
    const names: string[] = [];
    let next: string | undefined = '/v2/_catalog?n=1000';
    while (next) {
      const res = await get(next);
      names.push(...(((await res.json()) as { repositories?: string[] }).repositories ?? []));
      // RFC 5988: </v2/_catalog?last=x&n=1000>; rel="next"
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    return names;
  }

  async function manifest(repo: string, ref: string): Promise<[IManifest, string]> {
    const res = await get(`/v2/${repo}/manifests/${ref}`, MANIFESTS);
    return [(await res.json()) as IManifest, res.headers.get('docker-content-digest') ?? ''];
  }

  /** The build date of repo:tag, from its image config (the first image of an index). */
  async function dateOf(repo: string, tag: string): Promise<string | undefined> {
    const [top, key] = await manifest(repo, tag);
    if (key && dates.has(key)) return dates.get(key);
    let m = top;
    if (!m.config && m.manifests?.[0]?.digest) [m] = await manifest(repo, m.manifests[0].digest);
    let date: string | undefined;
    if (m.config?.digest) {
      const res = await get(`/v2/${repo}/blobs/${m.config.digest}`);
      const created = ((await res.json()) as { created?: string }).created;
      if (created && /^\d{4}-\d{2}-\d{2}/.test(created)) date = created.slice(0, 10);
    }
    if (key) dates.set(key, date);
    return date;
  }

  async function read(): Promise<void> {
    const names = (await catalogue()).filter(n => n.startsWith(options.prefix));
    const out: IRegistryRepository[] = [];
    for (const name of names) {
      const list = (await (await get(`/v2/${name}/tags/list`)).json()) as {
        tags?: string[] | null;
      };
      const tags: IRegistryTag[] = [];
      for (const tag of list.tags ?? []) {
        const date = await dateOf(name, tag);
        tags.push(date ? { tag, date } : { tag });
      }
      // Newest first: by date, then by tag (dated tags such as 20261207-ab12cd34 sort too).
      tags.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? '') || b.tag.localeCompare(a.tag));
      if (tags.length) out.push({ name, tags });
    }
    repositories = out;
  }

  async function refresh(): Promise<void> {
    running ??= read()
      .then(() => {
        if (failing) options.log.info({ registry: base }, 'registry: readable again');
        failing = false;
      })
      .catch((err: Error) => {
        // Logged once per outage, not every refresh; the last good index stays.
        if (!failing) options.log.warn({ err, registry: base }, 'registry: cannot read it');
        failing = true;
      })
      .finally(() => (running = undefined));
    return running;
  }

  const timer = setInterval(() => void refresh(), options.refreshSeconds * 1000);
  timer.unref();
  void refresh();

  return {
    host: new URL(base).host,
    under: prefix => repositories.filter(r => r.name.startsWith(prefix)),
    refresh,
    close: () => clearInterval(timer)
  };
}
