// Test helper, not a route: move a user's last visit and runs of one notebook back by N days,
// straight in the companion's SQLite file, so "I have been away a week" can be tried today.
//   node dev/welcome/backdate.mjs --db .state/hotstepper.sqlite --user alice --path rain.ipynb --days 7
// Prints how many runs and visits it moved; exits 3 when there is nothing to move.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../../server/package.json', import.meta.url));
const SQLite = require('better-sqlite3');

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    user: { type: 'string' },
    path: { type: 'string' },
    days: { type: 'string', default: '7' }
  }
});
if (!values.db || !values.user || !values.path) {
  console.error('usage: backdate.mjs --db <sqlite> --user <name> --path <notebook> [--days 7]');
  process.exit(2);
}
const ms = Number(values.days) * 86_400_000;
const shift = iso => (iso ? new Date(Date.parse(iso) - ms).toISOString() : iso);
const db = new SQLite(values.db);
db.pragma('busy_timeout = 5000');
const moved = db.transaction(() => {
  const runs = db
    .prepare('SELECT rowid, started_at FROM welcome_executions WHERE user_name = ? AND path = ?')
    .all(values.user, values.path);
  const setRun = db.prepare('UPDATE welcome_executions SET started_at = ? WHERE rowid = ?');
  for (const r of runs) setRun.run(shift(r.started_at), r.rowid);
  const visits = db
    .prepare(
      'SELECT last_opened_at, last_closed_at FROM welcome_notebooks WHERE user_name = ? AND path = ?'
    )
    .all(values.user, values.path);
  for (const v of visits) {
    db.prepare(
      'UPDATE welcome_notebooks SET last_opened_at = ?, last_closed_at = ? WHERE user_name = ? AND path = ?'
    ).run(shift(v.last_opened_at), shift(v.last_closed_at), values.user, values.path);
  }
  return { runs: runs.length, visits: visits.length };
})();
db.close();
console.log(JSON.stringify(moved));
if (moved.runs === 0 && moved.visits === 0) process.exit(3);
