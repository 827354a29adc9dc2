/** Who the caller is, and their preferences. No HTTP here: routes.ts adapts. */
import type { Me, Preferences, User } from '@hotstepper/schema';
import type { Kysely } from 'kysely';
import { userFacing, type IConnections } from '../../platform/connections.js';
import type { MeTables } from './migrations.js';

export const DEFAULT_PREFERENCES: Preferences = { welcomeBack: true, idleMail: true };

export interface IMeServiceDeps {
  db: Kysely<object>;
  connections: IConnections;
}

export function createMeService({ db, connections }: IMeServiceDeps) {
  const tables = db.withTables<MeTables>();

  return {
    async me(user: User): Promise<Me> {
      const all = await connections.list();
      // Operators need the addresses and hints to act; everyone else gets the state only.
      return { user, connections: user.admin ? all : all.map(userFacing) };
    },

    async preferences(userName: string): Promise<Preferences> {
      const row = await tables
        .selectFrom('preferences')
        .select('document')
        .where('user_name', '=', userName)
        .executeTakeFirst();
      if (!row) return { ...DEFAULT_PREFERENCES };
      const stored = JSON.parse(row.document) as Partial<Preferences>;
      // Only the keys the contract knows today: defaults fill new ones, dropped ones disappear.
      const result = { ...DEFAULT_PREFERENCES };
      for (const key of Object.keys(result) as (keyof Preferences)[]) {
        if (typeof stored[key] === typeof result[key]) result[key] = stored[key] as boolean;
      }
      return result;
    },

    async setPreferences(userName: string, preferences: Preferences): Promise<Preferences> {
      const row = {
        user_name: userName,
        document: JSON.stringify(preferences),
        updated_at: new Date().toISOString()
      };
      await tables
        .insertInto('preferences')
        .values(row)
        .onConflict(c =>
          c.column('user_name').doUpdateSet({ document: row.document, updated_at: row.updated_at })
        )
        .execute();
      return preferences;
    }
  };
}

export type MeService = ReturnType<typeof createMeService>;
