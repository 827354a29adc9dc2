/**
 * What a feature hands the platform: its routes (an encapsulated plugin) and the migrations of the
 * tables it owns. app.ts lists the features; the platform collects and runs their migrations.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Migration } from 'kysely';

export interface IFeature {
  /** The same word as in schema/, server/src/features/ and packages/. */
  name: string;
  routes: FastifyPluginAsync;
  /**
   * Named `YYYY-MM-DD_<feature>_<what>` (e.g. `2026-11-25_me_preferences`): the date orders them,
   * the feature name keeps them apart. Never rename or edit one that has shipped; add another.
   */
  migrations?: Record<string, Migration>;
}

/** Every feature's migrations in one table, checked for names that would collide or mislead. */
export function collectMigrations(features: IFeature[]): Record<string, Migration> {
  const all: Record<string, Migration> = {};
  for (const feature of features) {
    for (const [name, migration] of Object.entries(feature.migrations ?? {})) {
      const match = /^\d{4}-\d{2}-\d{2}_([a-z][a-z0-9-]*)_[a-z0-9_]+$/.exec(name);
      if (!match || match[1] !== feature.name) {
        throw new Error(
          `migration "${name}" of feature ${feature.name} must be named YYYY-MM-DD_${feature.name}_<what>`
        );
      }
      if (all[name]) throw new Error(`two migrations are named "${name}"`);
      all[name] = migration;
    }
  }
  return all;
}
