/**
 * A small Kubernetes API stand-in for tests of what the companion does with watch events: it
 * answers lists with fixed objects (label selectors applied), holds watches open and sends the
 * events a test gives it, takes creates and deletes, and records every request. It schedules
 * and runs nothing: tests that need a real control plane use cluster.ts.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { scratchDir } from './build.js';

export interface IKubeStub {
  /** A kubeconfig file for the stub (plain HTTP on loopback). */
  kubeconfig: string;
  /** Every request so far, as `METHOD path?query`. */
  requests: string[];
  /** Send a watch event to every open watch of `path`. */
  event(path: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: object): void;
  close(): Promise<void>;
}

interface ILabelled {
  metadata?: { labels?: Record<string, string> };
}

function matches(object: ILabelled, selector: string | null): boolean {
  const labels = object.metadata?.labels ?? {};
  return (selector ?? '')
    .split(',')
    .filter(Boolean)
    .every(term => {
      const [key, value] = term.split('=');
      return value === undefined ? key in labels : labels[key] === value;
    });
}

/** `lists`: the objects each collection path lists, e.g. { '/api/v1/pods': [pod] }. */
export async function startKubeStub(lists: Record<string, object[]>): Promise<IKubeStub> {
  const requests: string[] = [];
  const watches = new Map<string, Set<ServerResponse>>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    requests.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST') {
      let body = '';
      req.on('data', d => (body += d));
      req.on('end', () => res.writeHead(201).end(body));
      return;
    }
    if (req.method === 'DELETE') return res.end('{}');
    if (url.searchParams.get('watch')) {
      res.writeHead(200);
      res.flushHeaders();
      const open = watches.get(url.pathname) ?? new Set();
      watches.set(url.pathname, open.add(res));
      res.on('close', () => open.delete(res));
      return;
    }
    const selector = url.searchParams.get('labelSelector');
    const items = (lists[url.pathname] ?? []).filter(o => matches(o as ILabelled, selector));
    res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '1' }, items }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const kubeconfig = join(scratchDir(), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: the client takes it only with TLS checks declared off.
      clusters: [
        {
          name: 'stub',
          cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true }
        }
      ],
      users: [{ name: 'companion', user: {} }],
      contexts: [{ name: 'stub', context: { cluster: 'stub', user: 'companion' } }],
      'current-context': 'stub'
    })
  );
  return {
    kubeconfig,
    requests,
    event(path, type, object) {
      for (const res of watches.get(path) ?? []) res.write(`${JSON.stringify({ type, object })}\n`);
    },
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      })
  };
}
