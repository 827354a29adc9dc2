// Demo and test helper, not a route: write N days of plausible usage rollups for some users
// straight into the companion's SQLite file, so the Usage panel has a history to show today.
// Deterministic (a seeded generator), and it replaces those users' rows, so it can run again.
//   node dev/usage/seed.mjs --db .state/hotstepper.sqlite --users alice,bob,carol [--days 90]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../../server/package.json', import.meta.url));
const SQLite = require('better-sqlite3');

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    users: { type: 'string' },
    days: { type: 'string', default: '90' }
  }
});
if (!values.db || !values.users) {
  console.error('usage: seed.mjs --db <sqlite> --users a,b,c [--days 90]');
  process.exit(2);
}
const days = Number(values.days);
const db = new SQLite(values.db);
let state = 42;
const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

const insert = db.prepare(
  `INSERT INTO usage_rollups (user_name, day, resource, requested, used, unmeasured)
   VALUES (?, ?, ?, ?, ?, ?)
   ON CONFLICT (user_name, day, resource) DO UPDATE SET
     requested = excluded.requested, used = excluded.used, unmeasured = excluded.unmeasured`
);
let rows = 0;
db.transaction(() => {
  for (const [u, user] of values.users.split(',').entries()) {
    db.prepare('DELETE FROM usage_rollups WHERE user_name = ?').run(user);
    const scale = 1 / (u + 1);
    for (let d = days - 1; d >= 0; d--) {
      const day = new Date(Date.now() - d * 86_400_000).toISOString().slice(0, 10);
      const weekday = new Date(`${day}T00:00:00Z`).getUTCDay() % 6 !== 0;
      const hoursOn = (weekday ? 6 + random() * 6 : random() * 3) * scale;
      const put = (resource, amount, efficiency) => {
        const requested = amount * hoursOn;
        if (requested <= 0) return;
        insert.run(
          user,
          day,
          resource,
          requested,
          requested * efficiency * (0.7 + random() * 0.6),
          0
        );
        rows++;
      };
      put('cpu', 2, 0.35);
      put('memory', 8, 0.55);
      // A GPU week every few weeks, MIG slices for the smaller experiments.
      if (Math.floor(d / 7) % 3 === 0 && weekday) put('gpu:NVIDIA-A100-SXM4-80GB', 1, 0.6);
      if (d % 5 === 1) put('mig:1g.10gb', 1, 0.4);
      if (d % 11 === 3) put('gpu:NVIDIA-L4', 1, 0.7);
    }
  }
})();
console.log(`seeded ${rows} rollup rows for ${values.users} over ${days} days`);
