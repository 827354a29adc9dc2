import { createServer } from 'node:net';

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Poll until `ready` resolves true, or fail after `seconds`, calling `alive` to catch early exits. */
export async function waitFor(
  what: string,
  seconds: number,
  ready: () => Promise<boolean>,
  alive: () => string | undefined = () => undefined
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead) throw new Error(`${what} exited before it was ready: ${dead}`);
    if (await ready().catch(() => false)) return;
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready within ${seconds} s`);
}
