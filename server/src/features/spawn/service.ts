/**
 * Spawn options for a user and the check of a spawn request, with what the cluster (quota
 * headroom) and the hub (running servers) add; each server's last options. No HTTP here.
 */
import type { SpawnCheck, SpawnLast, SpawnOptions, SpawnRequest, User } from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { parseQuantity } from '../../platform/kubernetes/gpus.js';
import type { ITenancy } from '../../platform/kubernetes/tenancy.js';
import { HttpProblem } from '../../platform/problem.js';
import type { ISpawnConfig, ISpawnImageConfig } from './config.js';
import type { ActiveServers } from './hub.js';
import type { SpawnTables } from './migrations.js';
import {
  checkRequest,
  defaultsOf,
  GIB,
  resolveOptions,
  wholeGpuModels,
  type ISpawnContext
} from './options.js';

export interface ISpawnServiceDeps {
  db: Kysely<object>;
  config: ISpawnConfig;
  /** Absent without Kubernetes: then there is no quota to check. */
  tenancy?: ITenancy;
  activeServers: ActiveServers;
  /** The user's own images (none without spawn.userImages.registry). */
  ownImages?: (user: string) => ISpawnImageConfig[];
  log: FastifyBaseLogger;
}

type Headroom = NonNullable<ISpawnContext['headroom']>;

export function createSpawnService({
  db,
  config,
  tenancy,
  activeServers,
  ownImages = () => [],
  log
}: ISpawnServiceDeps) {
  const tables = db.withTables<SpawnTables>();

  /** What the user's namespace quota leaves; undefined when there is none or it cannot be read. */
  async function headroom(user: string): Promise<Headroom | undefined> {
    if (!tenancy) return undefined;
    try {
      const { quota } = await tenancy.describe(user);
      const left = (key: string) =>
        quota.hard[key] === undefined
          ? undefined
          : parseQuantity(quota.hard[key]) - parseQuantity(quota.used[key] ?? '0');
      const resources: Record<string, number> = {};
      for (const key of Object.keys(quota.hard)) {
        if (key.startsWith('requests.nvidia.com/')) {
          resources[key.slice('requests.'.length)] = left(key) as number;
        }
      }
      const memory = left('requests.memory');
      return {
        cpu: left('requests.cpu'),
        memory: memory === undefined ? undefined : memory / GIB,
        resources
      };
    } catch (err) {
      // Kubernetes' own quota admission still refuses the pod; the check only says it earlier.
      log.warn({ err, user }, 'spawn: the namespace quota could not be read');
      return undefined;
    }
  }

  return {
    async options(user: User): Promise<SpawnOptions> {
      const resolved = resolveOptions(config, user.groups, ownImages(user.name));
      const room = await headroom(user.name);
      const gpus = Object.fromEntries(
        Object.entries(room?.resources ?? {}).map(([resource, n]) => [resource, Math.max(0, n)])
      );
      const quota = {
        ...(room?.cpu !== undefined ? { cpu: Math.max(0, room.cpu) } : {}),
        ...(room?.memory !== undefined ? { memory: Math.max(0, room.memory) } : {}),
        ...(Object.keys(gpus).length ? { gpus } : {})
      };
      // claims name the cluster's objects: the pod needs them, the page does not.
      const { claims, ...shown } = resolved;
      void claims;
      return {
        ...shown,
        defaults: defaultsOf(resolved),
        ...(Object.keys(quota).length ? { quota } : {})
      };
    },

    async check(user: User, request: SpawnRequest): Promise<SpawnCheck> {
      const options = resolveOptions(config, user.groups, ownImages(user.name));
      const [active, room] = await Promise.all([activeServers(user.name), headroom(user.name)]);
      const result = checkRequest(options, wholeGpuModels(config, user.groups), request, {
        user: user.name,
        activeServers: active,
        headroom: room
      });
      if ('errors' in result) {
        const list = result.errors.map(e => e.message).join(' ');
        throw new HttpProblem(
          422,
          'spawn_refused',
          `The server cannot start with these options. ${list}`,
          result.errors
        );
      }
      if (result.check.request.spawning) {
        await shareVolumes(user.name, result.check.pod.volumes);
        await remember(user.name, result.check.request);
      }
      return result.check;
    },

    async last(user: string, server: string): Promise<SpawnLast> {
      const name = server === '-' ? '' : server;
      const row = await tables
        .selectFrom('spawn_last')
        .selectAll()
        .where('user_name', '=', user)
        .where('server', '=', name)
        .executeTakeFirst();
      if (!row) {
        throw new HttpProblem(
          404,
          'not_found',
          `${name ? `Your server "${name}"` : 'Your default server'} has not started with ` +
            'checked options yet, so there are none to offer again.'
        );
      }
      return {
        server: name,
        request: JSON.parse(row.request) as SpawnRequest,
        startedAt: row.started_at
      };
    }
  };

  /**
   * The claims of the chosen volumes that the platform shares (a `source` in the configuration),
   * made in the user's namespace before the pod asks for them. Others are the operator's.
   */
  async function shareVolumes(user: string, chosen: SpawnCheck['pod']['volumes']) {
    for (const v of chosen) {
      const volume = config.volumes.find(c => c.name === v.name);
      if (!volume?.source) continue;
      if (!tenancy) {
        throw new HttpProblem(
          503,
          'kubernetes_not_configured',
          `The volume "${volume.label || volume.name}" needs Kubernetes, which this platform does not run.`
        );
      }
      await tenancy.sharedClaim(user, {
        volume: volume.name,
        claimName: v.claimName,
        source: volume.source,
        size: volume.size
      });
    }
  }

  /** The options to offer again: never a fresh home, which deletes one. */
  async function remember(user: string, request: SpawnRequest) {
    const kept: SpawnRequest = { ...request, home: 'keep' };
    delete kept.confirmHome;
    delete kept.spawning;
    const row = {
      user_name: user,
      server: request.server ?? '',
      request: JSON.stringify(kept),
      started_at: new Date().toISOString()
    };
    await tables
      .insertInto('spawn_last')
      .values(row)
      .onConflict(c =>
        c
          .columns(['user_name', 'server'])
          .doUpdateSet({ request: row.request, started_at: row.started_at })
      )
      .execute();
  }
}

export type SpawnService = ReturnType<typeof createSpawnService>;
