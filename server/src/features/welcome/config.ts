/**
 * The `welcome` section of the companion's configuration. It lives beside the feature, and
 * platform/config.ts folds it into the one validated schema.
 */

export interface IWelcomeConfig {
  /**
   * Summaries asked with `refresh` (past the cache, so each one is an LLM call) per user in any
   * hour; one more answers 429. Counted on each companion replica. Cached reads are not counted.
   */
  refreshesPerHour: number;
  /** Journal runs, visits and cached summaries older than this many days are deleted. */
  retentionDays: number;
}

export const welcomeConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    refreshesPerHour: { type: 'integer', minimum: 1, maximum: 10000, default: 5 },
    retentionDays: { type: 'integer', minimum: 1, maximum: 36500, default: 180 }
  }
};
