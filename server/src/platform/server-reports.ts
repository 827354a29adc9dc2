/**
 * What users' notebook servers report about themselves: the TCP ports listening in the server's
 * process tree (Flare) and its kernels' activity (the idle guard). Each server's Hotstepper
 * extension pushes a report with the server's own token (PUT /api/v1/me/server-report, the `me`
 * feature's route); the companion keeps the latest per (user, server) and never asks a user's
 * server itself, so its service token goes to the hub API only. Shared by two features, so it
 * lives here, with its one table.
 */
import type { ServerReport } from '@hotstepper/schema';
import fp from 'fastify-plugin';
import type { Kysely, Migration } from 'kysely';

// A type alias, not an interface: Kysely's withTables<T> needs index-signature-compatible types.
export type ServerReportsTable = {
  user_name: string;
  server_name: string;
  /** The report as received (ServerReport JSON). */
  document: string;
  /** Epoch ms of its arrival, by the companion's clock: what ages it. */
  received_at: number;
};

type Tables = { server_reports: ServerReportsTable };

/** The platform's own tables (features bring theirs in their IFeature). */
export const serverReportMigrations: Record<string, Migration> = {
  '2026-12-07_platform_server_reports': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('server_reports')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('server_name', 'text', c => c.notNull())
        .addColumn('document', 'text', c => c.notNull())
        .addColumn('received_at', 'double precision', c => c.notNull())
        .addPrimaryKeyConstraint('server_reports_pk', ['user_name', 'server_name'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('server_reports').execute();
    }
  }
};

export interface IReportedPort {
  port: number;
  pid?: number;
  command?: string;
}

export interface IServerReports {
  /** Keep `report` as the latest of (user, report.server). */
  put(user: string, report: ServerReport): Promise<void>;
  /** The latest report of one server, undefined when there is none younger than the maximum age. */
  latest(user: string, server: string): Promise<ServerReport | undefined>;
  /** Every fresh report of the user's servers (the default one is server ''). */
  fresh(user: string): Promise<ServerReport[]>;
}

export function createServerReports(options: {
  db: Kysely<object>;
  maxAgeSeconds: number;
  now?: () => number;
}): IServerReports {
  const tables = options.db.withTables<Tables>();
  const now = options.now ?? Date.now;
  const oldest = () => now() - options.maxAgeSeconds * 1000;

  return {
    async put(user, report) {
      const row = {
        user_name: user,
        server_name: report.server,
        document: JSON.stringify(report),
        received_at: now()
      };
      await tables
        .insertInto('server_reports')
        .values(row)
        .onConflict(c =>
          c
            .columns(['user_name', 'server_name'])
            .doUpdateSet({ document: row.document, received_at: row.received_at })
        )
        .execute();
    },
    async latest(user, server) {
      const row = await tables
        .selectFrom('server_reports')
        .select('document')
        .where('user_name', '=', user)
        .where('server_name', '=', server)
        .where('received_at', '>=', oldest())
        .executeTakeFirst();
      return row ? (JSON.parse(row.document) as ServerReport) : undefined;
    },
    async fresh(user) {
      const rows = await tables
        .selectFrom('server_reports')
        .select('document')
        .where('user_name', '=', user)
        .where('received_at', '>=', oldest())
        .orderBy('server_name')
        .execute();
      return rows.map(r => JSON.parse(r.document) as ServerReport);
    }
  };
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    serverReports: IServerReports;
  }
}

export const serverReportsPlugin = fp(
  async app => {
    app.decorate(
      'serverReports',
      createServerReports({
        db: app.database.db,
        maxAgeSeconds: app.config.jupyterhub.serverReportMaxAgeSeconds
      })
    );
  },
  { name: 'server-reports', dependencies: ['config', 'database'] }
);
