#!/usr/bin/env node
/**
 * The companion's command line: hotstepper-companion [--config <file>]. Reads the configuration,
 * builds the app, listens; SIGTERM or SIGINT closes it gracefully.
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type IConfig } from './platform/config.js';
import { DatabaseError } from './platform/database.js';

async function main(): Promise<void> {
  let config: IConfig;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(err.exitCode);
  }

  let app: FastifyInstance;
  try {
    app = await buildApp(config);
    await app.ready();
  } catch (err) {
    // A feature may find a combination of keys it cannot start with (flare.gateway.target).
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(err.exitCode);
    }
    if (!(err instanceof DatabaseError)) throw err;
    console.error(err.message);
    process.exit(1);
  }

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down: finishing requests in flight');
    // Stops accepting, waits for requests in flight, then stops probes and closes the database.
    await app.close();
  });

  const { host, port } = config.server;
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    console.error(
      `startup error: cannot listen on ${host}:${port} (${code}). Is another process using the ` +
        'port? Set server.port (HOTSTEPPER_PORT) or server.host (HOTSTEPPER_HOST).'
    );
    await app.close();
    process.exit(1);
  }
}

await main();
