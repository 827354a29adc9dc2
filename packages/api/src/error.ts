import type { Problem } from '@hotstepper/schema';

/**
 * A failed call to the companion, with the stable `code` a caller may branch on.
 *
 * `status` is 0 when no HTTP answer arrived at all (code `network_error`).
 */
export class CompanionError extends Error {
  /**
   * Create an error; `detail` becomes the message, as it is written for users.
   */
  constructor(options: ICompanionErrorOptions) {
    super(options.detail);
    this.name = 'CompanionError';
    this.status = options.status;
    this.code = options.code;
    this.title = options.title;
    this.detail = options.detail;
    this.problem = options.problem ?? null;
  }

  /** The HTTP status, or 0 when the request never got an answer. */
  readonly status: number;
  /** A stable machine-readable code, e.g. `companion_unreachable` or `http_500`. */
  readonly code: string;
  /** A short summary of the kind of problem. */
  readonly title: string;
  /** What happened and what to do about it. */
  readonly detail: string;
  /** The problem+json body when the answer carried one. */
  readonly problem: Problem | null;
}

/** What a {@link CompanionError} is made from. */
export interface ICompanionErrorOptions {
  status: number;
  code: string;
  title: string;
  detail: string;
  problem?: Problem | null;
}
