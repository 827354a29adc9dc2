/**
 * Runs driver.py in the course environment (grader.python). Reads and short writes go to one
 * long-lived worker (nbgrader's imports cost seconds; paid once), one request at a time, so the
 * worker is also the single writer for everything but autograde units. A unit runs in a process
 * of its own with a wall-clock limit, killed with its kernel (a process group) when it overruns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HttpProblem } from '../../platform/problem.js';

// From dist/ the script is still in src/ (tsc does not copy it); the package ships both.
const here = fileURLToPath(new URL('./driver.py', import.meta.url));
export const DRIVER = existsSync(here)
  ? here
  : fileURLToPath(new URL('../../../src/features/grader/driver.py', import.meta.url));

export interface ICourseRef {
  courseDir: string;
  course: string;
  exchange: string;
  cellTimeoutSeconds: number;
  latePenalty: string;
}

type Answer = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** A driver failure as the API answers it: nbgrader's own message, a stable code. */
export class DriverError extends HttpProblem {}

const STATUS: Record<string, number> = {
  gradebook_locked: 409,
  not_a_notebook: 400,
  not_fetched: 409,
  assignment_unknown: 404,
  notebook_unknown: 404,
  not_generated: 404,
  submission_unknown: 404,
  grade_unknown: 404,
  comment_unknown: 400,
  student_unknown: 404,
  unsafe_path: 409,
  home_not_ready: 409,
  score_out_of_range: 400,
  nbgrader_failed: 422
};

function toError(answer: { code: string; message: string }): DriverError {
  const status = STATUS[answer.code];
  if (status === undefined) {
    // A traceback, with the server's paths and maybe what it read: for the operators' log only.
    return new DriverError(
      500,
      answer.code,
      'nbgrader failed inside the companion; it has been logged. Try again, and tell the ' +
        'platform operators if it keeps happening.',
      undefined,
      { cause: answer.message }
    );
  }
  return new DriverError(status, answer.code, answer.message);
}

function environment(python: string): NodeJS.ProcessEnv {
  // nbgrader's gradebook runs the `alembic` executable: the environment's bin/ goes first on PATH.
  // No hub token or other secret of the companion reaches nbgrader or the code it runs.
  return {
    PATH: `${dirname(python)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    PYTHONUNBUFFERED: '1'
  };
}

function killGroup(pid: number) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface IDriver {
  /** One operation on the worker. Throws DriverError with nbgrader's message on failure. */
  call<T>(op: string, req: Record<string, unknown>): Promise<T>;
  /** One operation in a process of its own with limits (autograde units), its log in logFile. Never throws. */
  isolated(
    op: string,
    req: Record<string, unknown>,
    limits: { timeoutMs: number; logFile: string }
  ): Promise<{ ok: boolean; code?: string; message?: string; answer?: unknown }>;
  close(): Promise<void>;
}

export function createDriver(python: string): IDriver {
  let worker: ChildProcess | undefined;
  let ready: Promise<void> | undefined;
  let waiting: ((line: string) => void)[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  function start(): Promise<void> {
    const child = spawn(python, [DRIVER, 'serve'], {
      env: environment(python),
      stdio: ['pipe', 'pipe', 'ignore']
    });
    worker = child;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', line => waiting.shift()?.(line));
    child.once('exit', () => {
      if (worker === child) {
        worker = undefined;
        ready = undefined;
      }
      // Whoever was waiting gets a failure instead of hanging.
      for (const w of waiting)
        w(
          JSON.stringify({ ok: false, code: 'driver_error', message: 'the nbgrader worker exited' })
        );
      waiting = [];
    });
    child.once('error', () => undefined);
    return new Promise<void>((resolve, reject) => {
      waiting.push(line => (line.includes('"ready"') ? resolve() : reject(new Error(line))));
    });
  }

  // Autograde units: forks of one process that imported nbgrader once (driver.py's pool).
  let pool: ChildProcess | undefined;
  let poolReady: Promise<void> | undefined;
  const units = new Map<string, { pid?: number; exited: (code: number) => void }>();
  let nextUnit = 0;

  function startPool(): Promise<void> {
    const child = spawn(python, [DRIVER, 'pool'], {
      env: environment(python),
      stdio: ['pipe', 'pipe', 'ignore']
    });
    pool = child;
    const lines = createInterface({ input: child.stdout! });
    let resolveReady: () => void;
    let rejectReady: (err: Error) => void;
    const readyPromise = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    lines.on('line', line => {
      const msg = JSON.parse(line) as { ready?: boolean; id?: string; pid?: number; exit?: number };
      if (msg.ready) return resolveReady();
      const unit = msg.id ? units.get(msg.id) : undefined;
      if (!unit) return;
      if (msg.pid !== undefined) unit.pid = msg.pid;
      if (msg.exit !== undefined) {
        units.delete(msg.id!);
        unit.exited(msg.exit);
      }
    });
    child.once('exit', () => {
      if (pool === child) {
        pool = undefined;
        poolReady = undefined;
      }
      rejectReady(new Error('the autograde pool exited before it was ready'));
      for (const [id, unit] of units) {
        units.delete(id);
        unit.exited(-1);
      }
    });
    child.once('error', () => undefined);
    return readyPromise;
  }

  async function runUnit(
    op: string,
    req: Record<string, unknown>,
    limits: { timeoutMs: number; logFile: string }
  ): Promise<{ ok: boolean; code?: string; message?: string; answer?: unknown }> {
    if (closed) return { ok: false, code: 'driver_error', message: 'the companion is stopping' };
    if (!poolReady) poolReady = startPool();
    try {
      await poolReady;
    } catch (err) {
      poolReady = undefined;
      return { ok: false, code: 'driver_error', message: (err as Error).message };
    }
    const id = String(nextUnit++);
    const resultFile = `${limits.logFile}.result.json`;
    let timedOut = false;
    const code = await new Promise<number>(resolve => {
      const unit: { pid?: number; exited: (code: number) => void } = { exited: resolve };
      units.set(id, unit);
      const timer = setTimeout(() => {
        timedOut = true;
        // The unit is a session of its own: its kernel goes with it.
        if (unit.pid) killGroup(unit.pid);
      }, limits.timeoutMs);
      unit.exited = c => {
        clearTimeout(timer);
        resolve(c);
      };
      pool!.stdin!.write(
        `${JSON.stringify({ ...req, op, id, log: limits.logFile, result: resultFile })}\n`
      );
    });
    if (timedOut) {
      return {
        ok: false,
        code: 'time_limit',
        message: `stopped after the unit time limit of ${Math.round(limits.timeoutMs / 1000)} s`
      };
    }
    try {
      const answer = JSON.parse(readFileSync(resultFile, 'utf8')) as Answer;
      if (!answer.ok) return { ok: false, code: answer.code, message: answer.message };
      // what an op answers besides its log (test_source's failures)
      return { ok: true, answer: (answer.value as { answer?: unknown } | null)?.answer };
    } catch {
      return {
        ok: false,
        code: 'driver_error',
        message: `the autograde process exited with ${code}`
      };
    } finally {
      rmSync(resultFile, { force: true });
    }
  }

  async function send(op: string, req: Record<string, unknown>): Promise<Answer> {
    if (closed) throw new Error('grader driver closed');
    if (!ready) ready = start();
    try {
      await ready;
    } catch (err) {
      ready = undefined;
      throw new HttpProblem(
        503,
        'grader_unavailable',
        `nbgrader could not start: ${(err as Error).message.slice(0, 300)}`
      );
    }
    const line = await new Promise<string>(resolve => {
      waiting.push(resolve);
      worker!.stdin!.write(`${JSON.stringify({ ...req, op })}\n`);
    });
    return JSON.parse(line) as Answer;
  }

  return {
    async call<T>(op: string, req: Record<string, unknown>): Promise<T> {
      // One request at a time: the worker answers in order, and it is the one gradebook writer.
      const run = chain.then(() => send(op, req));
      chain = run.catch(() => undefined);
      const answer = await run;
      if (!answer.ok) throw toError(answer);
      return answer.value as T;
    },

    isolated(op, req, limits) {
      return runUnit(op, req, limits);
    },

    async close() {
      closed = true;
      worker?.kill('SIGTERM');
      for (const unit of units.values()) if (unit.pid) killGroup(unit.pid);
      pool?.kill('SIGTERM');
    }
  };
}
