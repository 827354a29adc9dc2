/**
 * nbgrader's kinds of cell, as its create_assignment extension writes them into
 * `cell.metadata.nbgrader` (schema_version 3): the same flags, so nbgrader reads our cells as its own.
 */

export type CellKind = '' | 'manual' | 'solution' | 'tests' | 'readonly' | 'task';

/** What nbgrader stores per marked cell. */
export interface INbgraderMetadata {
  grade: boolean;
  solution: boolean;
  locked: boolean;
  task: boolean;
  grade_id: string;
  points?: number;
  schema_version: 3;
}

/** The labels of nbgrader's own toolbar, and which cells each kind fits. */
export const KINDS: { kind: CellKind; label: string; cells: readonly string[] }[] = [
  { kind: '', label: '—', cells: ['code', 'markdown', 'raw'] },
  { kind: 'manual', label: 'Manually graded answer', cells: ['code', 'markdown'] },
  { kind: 'solution', label: 'Autograded answer', cells: ['code'] },
  { kind: 'tests', label: 'Autograder tests', cells: ['code'] },
  { kind: 'readonly', label: 'Read-only', cells: ['code', 'markdown'] },
  { kind: 'task', label: 'Manually graded task', cells: ['markdown'] }
];

const FLAGS: Record<
  Exclude<CellKind, ''>,
  Pick<INbgraderMetadata, 'grade' | 'solution' | 'locked' | 'task'>
> = {
  manual: { grade: true, solution: true, locked: false, task: false },
  solution: { grade: false, solution: true, locked: false, task: false },
  tests: { grade: true, solution: false, locked: true, task: false },
  readonly: { grade: false, solution: false, locked: true, task: false },
  task: { grade: false, solution: false, locked: true, task: true }
};

/** Whether the kind carries points (nbgrader keeps points only on graded cells and tasks). */
export const graded = (kind: CellKind) => kind === 'manual' || kind === 'tests' || kind === 'task';

/** The kind nbgrader's flags describe; '' for an unmarked cell. */
export function kindOf(meta: unknown): CellKind {
  const m = meta as Partial<INbgraderMetadata> | undefined;
  if (!m || typeof m !== 'object') return '';
  if (m.task) return 'task';
  if (m.grade && m.solution) return 'manual';
  if (m.solution) return 'solution';
  if (m.grade) return 'tests';
  if (m.locked) return 'readonly';
  return '';
}

/** A new grade id as nbgrader makes them: "cell-" and 16 hex digits. */
export function newGradeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `cell-${Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The metadata of a cell turned into kind, keeping its grade id and points; null unmarks it. */
export function metadataFor(
  kind: CellKind,
  previous: Partial<INbgraderMetadata> | undefined,
  change: { gradeId?: string; points?: number } = {}
): INbgraderMetadata | null {
  if (kind === '') return null;
  const out: INbgraderMetadata = {
    ...FLAGS[kind],
    grade_id: change.gradeId ?? previous?.grade_id ?? newGradeId(),
    schema_version: 3
  };
  if (graded(kind)) out.points = change.points ?? previous?.points ?? 1;
  return out;
}
