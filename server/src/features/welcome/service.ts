/** Welcome back: the journal, the digest and the summary, over one user's records. No HTTP. */
import type {
  WelcomeDigest,
  WelcomeDigestRequest,
  WelcomeExecution,
  WelcomeNotebook,
  WelcomeNotebookMove,
  WelcomeSummary,
  WelcomeVisit
} from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { ILlm } from '../../platform/llm.js';
import { HttpProblem } from '../../platform/problem.js';
import type { IWelcomeConfig } from './config.js';
import { computeDigest } from './digest.js';
import { createJournal } from './journal.js';
import { createSummariser } from './summary.js';

/** Tokens the digest may take in the prompt (cl100k_base). */
export const TOKEN_BUDGET = 3000;

export interface IWelcomeDeps {
  db: Kysely<object>;
  llm: ILlm;
  llmTimeoutSeconds: number;
  log: FastifyBaseLogger;
  tokenBudget?: number;
  config: IWelcomeConfig;
}

export function createWelcomeService(deps: IWelcomeDeps) {
  const journal = createJournal(deps.db);
  const summariser = createSummariser({
    db: deps.db,
    llm: deps.llm,
    timeoutSeconds: deps.llmTimeoutSeconds,
    log: deps.log,
    refreshesPerHour: deps.config.refreshesPerHour
  });

  async function digest(user: string, request: WelcomeDigestRequest): Promise<WelcomeDigest> {
    const [executions, visit] = await Promise.all([
      journal.executions(user, request.path),
      journal.visitState(user, request.path)
    ]);
    return computeDigest({
      path: request.path,
      cells: request.cells,
      executions,
      visit,
      now: Date.now(),
      tokenBudget: deps.tokenBudget ?? TOKEN_BUDGET
    });
  }

  return {
    journal,
    async record(user: string, events: WelcomeExecution[]) {
      const accepted = await journal.record(user, events);
      // The writer's own old rows go at once; everyone else's with the periodic sweep.
      await journal.sweep(deps.config.retentionDays, user);
      return { accepted };
    },
    /** Everyone's rows past the retention: at start and then hourly (routes.ts). */
    sweep: () => journal.sweep(deps.config.retentionDays),
    notebook: (user: string, path: string): Promise<WelcomeNotebook> =>
      journal.describe(user, path),
    setHidden: (user: string, path: string, hidden: boolean) =>
      journal.setHidden(user, path, hidden),
    visit: (user: string, visit: WelcomeVisit) => journal.visit(user, visit),
    /** The notebook at `from` is now at `to`: its history follows (see journal.move). */
    async move(user: string, move: WelcomeNotebookMove): Promise<number> {
      const errors = [
        ...(['from', 'to'] as const)
          .filter(key => move[key].split('/').includes('..'))
          .map(key => ({
            path: `body.${key}`,
            message:
              "has a '..' segment; send the path JupyterLab shows, relative to your Jupyter root"
          }))
      ];
      if (errors.length) {
        const list = errors.map(e => `${e.path} ${e.message}`).join('; ');
        throw new HttpProblem(
          400,
          'validation_failed',
          `The request is not valid: ${list}.`,
          errors
        );
      }
      // A move onto itself moves nothing, like a move of a path with no history: 204 either way.
      if (move.from === move.to) return 0;
      return journal.move(user, move.from, move.to);
    },

    digest,
    async summary(
      user: string,
      request: WelcomeDigestRequest,
      signal?: AbortSignal
    ): Promise<WelcomeSummary> {
      return summariser.summarise(user, request, await digest(user, request), signal);
    },
    usage: () => summariser.usage()
  };
}

export type WelcomeService = ReturnType<typeof createWelcomeService>;
