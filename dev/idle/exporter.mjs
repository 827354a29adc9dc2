// The single-machine platform's stand-in for cAdvisor: each local-process notebook server (the
// processes whose environment names JUPYTERHUB_USER, kernels included) measured from /proc and
// published as the series a cluster would have, with pod="jupyter-<user>[--<server>]", so the
// idle guard judges local servers by the same queries as pods. Only servers of the platform whose
// state directory is given count (HOTSTEPPER_PLATFORM_STATE in their environment, set by
// dev/jupyterhub_config.py): other platforms on the machine have users of the same names.
//   node dev/idle/exporter.mjs --port 9091 --state .state/dev
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const TICKS = 100; // USER_HZ on Linux
const PAGE = 4096;

function servers() {
  const out = new Map();
  for (const pid of readdirSync('/proc').filter(d => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      const user = env.find(e => e.startsWith('JUPYTERHUB_USER='))?.slice(16);
      if (!user || !env.includes(`HOTSTEPPER_PLATFORM_STATE=${state}`)) continue;
      const server = env.find(e => e.startsWith('JUPYTERHUB_SERVER_NAME='))?.slice(23) ?? '';
      // Fields after the command name, which may hold spaces: utime is 14th, stime 15th, rss 24th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pod = `jupyter-${server ? `${user}--${server}` : user}`.toLowerCase();
      const s = out.get(pod) ?? { cpu: 0, rss: 0 };
      s.cpu += (Number(f[11]) + Number(f[12])) / TICKS;
      s.rss += Number(f[21]) * PAGE;
      out.set(pod, s);
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

// A process that ends takes its CPU seconds with it; keep the counter monotonic per pod.
const floor = new Map();
function render() {
  const lines = [
    '# TYPE container_cpu_usage_seconds_total counter',
    '# TYPE container_memory_working_set_bytes gauge'
  ];
  for (const [pod, s] of servers()) {
    const cpu = Math.max(s.cpu, floor.get(pod) ?? 0);
    floor.set(pod, cpu);
    const l = `namespace="local",pod="${pod}",container="notebook"`;
    lines.push(`container_cpu_usage_seconds_total{${l}} ${cpu.toFixed(2)}`);
    lines.push(`container_memory_working_set_bytes{${l}} ${s.rss}`);
  }
  return `${lines.join('\n')}\n`;
}

const arg = name => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('port') ?? 9091);
const state = arg('state') ?? process.env.HOTSTEPPER_STATE;
createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(render());
}).listen(port, '127.0.0.1', () => console.log(`idle exporter: http://127.0.0.1:${port}/metrics`));
