/**
 * The deterministic digest: what a notebook looks like now, read against the journal and the
 * snapshot of the last visit. No LLM. Excerpts are capped per cell, then the whole digest is cut
 * until it fits a token budget counted with a real tokenizer (cl100k_base).
 */
import { createHash } from 'node:crypto';
import type { WelcomeDigest, WelcomeDigestRequest } from '@hotstepper/schema';
import { getEncoding, type Tiktoken } from 'js-tiktoken';
import type { IVisitState } from './journal.js';
import type { WelcomeExecutionRow } from './migrations.js';

type Cell = WelcomeDigestRequest['cells'][number];

export interface IDigestInput {
  path: string;
  cells: Cell[];
  /** Newest first, as journal.executions() gives them. */
  executions: WelcomeExecutionRow[];
  visit: IVisitState;
  now: number;
  tokenBudget: number;
}

/** How much of each thing goes in; the budget loop walks down these steps. */
const STEPS = [
  { source: 1500, lines: 40, frame: 1200, outline: 40, runs: 10, changed: 20, neverRun: 20 },
  { source: 600, lines: 15, frame: 600, outline: 25, runs: 8, changed: 10, neverRun: 10 },
  { source: 200, lines: 6, frame: 300, outline: 15, runs: 6, changed: 6, neverRun: 5 },
  { source: 80, lines: 2, frame: 160, outline: 8, runs: 4, changed: 3, neverRun: 3 },
  { source: 0, lines: 0, frame: 80, outline: 3, runs: 2, changed: 1, neverRun: 1 }
];
type Caps = (typeof STEPS)[number];

const DAY_MS = 86_400_000;
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

let encoder: Tiktoken | undefined;
/** Tokens of a text, as OpenAI's cl100k_base counts them (loaded once, on first use). */
export function countTokens(text: string): number {
  encoder ??= getEncoding('cl100k_base');
  return encoder.encode(text).length;
}

export const sourceOf = (cell: Cell) =>
  Array.isArray(cell.source) ? cell.source.join('') : cell.source;

export const sourceHash = (source: string) => createHash('sha256').update(source).digest('hex');

export function computeDigest(input: IDigestInput): WelcomeDigest {
  const facts = gather(input);
  let digest = render(facts, STEPS[0]);
  for (let i = 0; ; i++) {
    const tokens = countTokens(JSON.stringify(digest));
    if (tokens <= input.tokenBudget || i === STEPS.length - 1) {
      digest.budget = { tokens, limit: input.tokenBudget, trimmed: i > 0 || facts.cut };
      return digest;
    }
    digest = render(facts, STEPS[i + 1]);
  }
}

interface IFailure {
  cell: Cell;
  index: number | null;
  errorName: string;
  errorValue: string;
  traceback: string[];
}

/** Everything the digest says, before caps. */
function gather({ path, cells, executions, visit, now }: IDigestInput) {
  const index = new Map(cells.map((c, i) => [c.id, i]));
  const latestRun = new Map<string, WelcomeExecutionRow>();
  for (const run of executions) if (!latestRun.has(run.cell_id)) latestRun.set(run.cell_id, run);

  const outline: { cell: Cell; index: number; level: number; text: string }[] = [];
  cells.forEach((cell, i) => {
    if (cell.cell_type !== 'markdown') return;
    let fenced = false;
    for (const line of sourceOf(cell).split('\n')) {
      if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
      const heading = !fenced && /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
      if (heading) outline.push({ cell, index: i, level: heading[1].length, text: heading[2] });
    }
  });

  let failing: IFailure | undefined;
  for (const [i, cell] of cells.entries()) {
    if (cell.cell_type !== 'code') continue;
    const run = latestRun.get(cell.id);
    const shown = errorOutput(cell);
    // The journal's latest run wins; a notebook from elsewhere has only its saved outputs.
    const failed = run ? run.status === 'error' : Boolean(shown);
    if (!failed) continue;
    failing = {
      cell,
      index: i,
      errorName: shown?.ename ?? run?.error_name ?? 'Error',
      errorValue: shown?.evalue ?? run?.error_value ?? '',
      traceback: shown?.traceback ?? []
    };
    break;
  }

  const changed: { cell: Cell; index: number; change: 'added' | 'changed' }[] = [];
  let removedCount = 0;
  if (visit.snapshot) {
    const ids = new Set<string>();
    cells.forEach((cell, i) => {
      ids.add(cell.id);
      const before = visit.snapshot!.get(cell.id);
      if (before === undefined) changed.push({ cell, index: i, change: 'added' });
      else if (before !== sourceHash(sourceOf(cell)))
        changed.push({ cell, index: i, change: 'changed' });
    });
    for (const id of visit.snapshot.keys()) if (!ids.has(id)) removedCount++;
  }

  const neverRun = cells
    .map((cell, i) => ({ cell, index: i }))
    .filter(
      ({ cell }) =>
        cell.cell_type === 'code' &&
        (cell.execution_count === null || cell.execution_count === undefined) &&
        !latestRun.has(cell.id) &&
        sourceOf(cell).trim() !== ''
    );

  const lastRunAt = executions[0]?.started_at ?? null;
  const lastWorkedAt = latest(visit.lastVisitAt, lastRunAt);
  return {
    path,
    cellCount: cells.length,
    lastVisitAt: visit.lastVisitAt,
    lastWorkedAt,
    daysAway: lastWorkedAt
      ? Math.max(0, Math.round(((now - Date.parse(lastWorkedAt)) / DAY_MS) * 10) / 10)
      : null,
    cells,
    index,
    outline,
    // Oldest first: the story in the order it happened.
    runs: executions.slice(0, STEPS[0].runs).reverse(),
    failing,
    changed,
    removedCount,
    neverRun,
    cut: outline.length > STEPS[0].outline || changed.length > STEPS[0].changed
  };
}

function render(facts: ReturnType<typeof gather>, caps: Caps): WelcomeDigest {
  const excerpt = (cell: Cell | undefined) => (cell ? clip(sourceOf(cell), caps) : '');
  const byId = new Map(facts.cells.map(c => [c.id, c]));
  const f = facts.failing;
  return {
    path: facts.path,
    cellCount: facts.cellCount,
    lastVisitAt: facts.lastVisitAt,
    lastWorkedAt: facts.lastWorkedAt,
    daysAway: facts.daysAway,
    outline: facts.outline.slice(0, caps.outline).map(h => ({
      cellId: h.cell.id,
      index: h.index,
      level: h.level,
      text: h.text.slice(0, 120)
    })),
    lastExecutions: facts.runs.slice(-caps.runs).map(run => ({
      cellId: run.cell_id,
      index: facts.index.get(run.cell_id) ?? null,
      source: excerpt(byId.get(run.cell_id)),
      at: run.started_at,
      durationMs: run.duration_ms,
      status: run.status as 'ok' | 'error' | 'aborted',
      error: run.error_name ? `${run.error_name}: ${(run.error_value ?? '').slice(0, 300)}` : null
    })),
    failing: f
      ? {
          cellId: f.cell.id,
          index: f.index,
          source: excerpt(f.cell),
          errorName: f.errorName.slice(0, 200),
          errorValue: stripAnsi(f.errorValue).slice(0, 500),
          lastFrame: lastFrame(f.traceback).slice(-caps.frame)
        }
      : null,
    changed: facts.changed.slice(0, caps.changed).map(c => ({
      cellId: c.cell.id,
      index: c.index,
      source: excerpt(c.cell),
      change: c.change
    })),
    removedCount: facts.removedCount,
    neverRun: {
      count: facts.neverRun.length,
      cells: facts.neverRun.slice(0, caps.neverRun).map(n => ({
        cellId: n.cell.id,
        index: n.index,
        source: excerpt(n.cell)
      }))
    },
    budget: { tokens: 0, limit: 0, trimmed: false }
  };
}

/** The first error output of a cell (binary and other outputs are never read). */
function errorOutput(cell: Cell) {
  for (const out of cell.outputs ?? []) {
    const o = out as {
      output_type?: unknown;
      ename?: unknown;
      evalue?: unknown;
      traceback?: unknown;
    };
    if (o.output_type === 'error') {
      return {
        ename: typeof o.ename === 'string' ? o.ename : 'Error',
        evalue: typeof o.evalue === 'string' ? o.evalue : '',
        traceback: Array.isArray(o.traceback)
          ? o.traceback.filter((t): t is string => typeof t === 'string')
          : []
      };
    }
  }
  return undefined;
}

/** IPython's traceback is one entry per frame, then the error line: keep the last frame. */
export function lastFrame(traceback: string[]): string {
  const frames = traceback.map(stripAnsi).filter(t => t.trim() && !/^-{10,}/.test(t.trim()));
  if (frames.length === 0) return '';
  return (frames.length > 1 ? frames[frames.length - 2] : frames[0]).trim();
}

const stripAnsi = (text: string) => text.replace(ANSI, '');

function clip(source: string, caps: Caps): string {
  if (caps.source === 0) return '';
  const lines = source.split('\n');
  let text = lines.slice(0, caps.lines).join('\n');
  if (text.length > caps.source) text = text.slice(0, caps.source);
  return text.length < source.length ? `${text}\n…` : text;
}

function latest(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}
