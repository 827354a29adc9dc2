import type { Job, JobSpec } from '@hotstepper/api';

/** 75 -> "1m 15s" */
export function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** "2 CPU · 4 GiB · 1× MIG 1g.10gb" */
export function resources(spec: JobSpec): string {
  const parts = [`${spec.cpu ?? '?'} CPU`, `${+((spec.memoryMiB ?? 0) / 1024).toFixed(2)} GiB`];
  if (spec.gpu) {
    const what = spec.gpu.migProfile ? `MIG ${spec.gpu.migProfile}` : (spec.gpu.model ?? 'GPU');
    parts.push(`${spec.gpu.count ?? 1}× ${what}`);
  }
  return parts.join(' · ');
}

const hours = (n: number) => (n < 0.01 && n > 0 ? n.toFixed(4) : n.toFixed(2));

/** The resource-hours, the basis of a job's cost. */
export function usage(job: Job): string {
  const u = job.usage;
  const parts = [`${hours(u.cpuHours)} CPU-h`, `${hours(u.memoryGiBHours)} GiB-h`];
  if (u.gpuHours > 0 || job.spec.gpu) parts.push(`${hours(u.gpuHours)} GPU-h`);
  return parts.join(' · ');
}

/** What runs, in one line. */
export function what(job: Job): string {
  if (job.spec.notebook) return job.spec.notebook.path;
  const command = job.spec.command ?? [];
  return job.spec.shell ? `sh -c ${command[0] ?? ''}` : command.map(quote).join(' ');
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/**
 * "python train.py --lr '0.1 0.2'" -> argv. Quotes group words; nothing else is special, since no
 * shell will read the result.
 */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | null = null;
  let has = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || current) out.push(current);
      current = '';
      has = false;
    } else {
      current += ch;
    }
  }
  if (has || current) out.push(current);
  return out;
}

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4
};

/** A Kubernetes quantity ("100m", "2Gi", "268435456") as a number; 0 when it is none. */
export function num(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q);
  if (!m) return 0;
  return Number(m[1]) * (SUFFIX[m[2]] ?? 1);
}

const trim = (n: number) => String(+n.toFixed(2));

/**
 * Used, requested and the limit of one quota line in the units a person reads, the unit once at the
 * end, chosen by the limit: cpu ["100m", "2", "8"] -> ["0.1", "2", "8 CPU"], memory ["268435456",
 * "2048Mi", "32Gi"] -> ["0.25", "2", "32 GiB"]; counts as they are.
 */
export function quantities(resource: string, [used, requested, hard]: string[]): string[] {
  const values = [used, requested, hard].map(num);
  let unit = '';
  let scale = 1;
  if (/(^|\.)cpu$/.test(resource)) unit = ' CPU';
  else if (/(^|\.)(memory|storage|ephemeral-storage)$/.test(resource)) {
    const gib = values[2] >= 1024 ** 3;
    unit = gib ? ' GiB' : ' MiB';
    scale = gib ? 1024 ** 3 : 1024 ** 2;
  }
  return values.map((v, i) => trim(v / scale) + (i === 2 ? unit : ''));
}
