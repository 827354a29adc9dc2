/**
 * The `grader` section of the companion's configuration. It lives beside the feature, and
 * platform/config.ts folds it into the one validated schema.
 */

export interface IGraderConfig {
  /** The course environment's python, with nbgrader from PyPI (dev/grader/venv.sh prints it). Unset: grader off. */
  python?: string;
  /** Course directories are <coursesRoot>/<course> (nbgrader's CourseDirectory.root). */
  coursesRoot: string;
  /** nbgrader's exchange root (Exchange.root), shared by all courses. */
  exchangeRoot: string;
  /** A student's home, where fetch puts assignments: `{user}` is replaced. Unset: no student fetch/submit. */
  homes?: string;
  /** Autograde units that run at once. */
  concurrency: number;
  /** nbgrader's ExecutePreprocessor.timeout: one cell's limit (an infinite loop is interrupted). */
  cellTimeoutSeconds: number;
  /** Wall-clock limit of one autograde unit, kernel included; then it is killed and marked failed. */
  unitTimeoutSeconds: number;
  /** Address-space limit (RLIMIT_AS) of one unit and its kernel. */
  unitMemoryMb: number;
  /** nbgrader's LateSubmissionPlugin.penalty_method: none, or zero points when late. */
  latePenalty: 'none' | 'zero';
  /** A submit through the companion after the due date (plus extension): allowed and flagged, or refused. */
  lateSubmissions: 'flag' | 'block';
}

export const graderConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    python: { type: 'string', minLength: 1 },
    coursesRoot: { type: 'string', minLength: 1, default: 'courses' },
    exchangeRoot: { type: 'string', minLength: 1, default: 'exchange' },
    homes: { type: 'string', pattern: '\\{user\\}' },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    cellTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
    unitTimeoutSeconds: { type: 'integer', minimum: 5, maximum: 7200, default: 300 },
    unitMemoryMb: { type: 'integer', minimum: 256, maximum: 262144, default: 4096 },
    latePenalty: { enum: ['none', 'zero'], default: 'none' },
    lateSubmissions: { enum: ['flag', 'block'], default: 'flag' }
  }
};

/** Environment variables of the grader section (platform/config.ts merges them). */
export const graderEnvKeys: Record<string, [path: string, kind: 'string' | 'integer']> = {
  HOTSTEPPER_GRADER_PYTHON: ['grader.python', 'string'],
  HOTSTEPPER_GRADER_COURSES: ['grader.coursesRoot', 'string'],
  HOTSTEPPER_GRADER_EXCHANGE: ['grader.exchangeRoot', 'string'],
  HOTSTEPPER_GRADER_HOMES: ['grader.homes', 'string'],
  HOTSTEPPER_GRADER_CONCURRENCY: ['grader.concurrency', 'integer']
};
