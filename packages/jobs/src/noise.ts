/**
 * Lines of a job's log that a person rarely needs, and the filter of the log view. Pure functions:
 * the log view and its tests use the same ones.
 */

/** A kind of noise: what it is, for the documentation and the tests, and how it is recognised. */
export interface INoise {
  name: string;
  pattern: RegExp;
}

/**
 * What "Hide noise" hides. Kept short on purpose: each entry is a line that says nothing about the
 * job's own work, so hiding it never hides an error.
 */
export const NOISE: readonly INoise[] = [
  // Empty lines, or only spaces.
  { name: 'blank line', pattern: /^\s*$/ },
  // papermill --log-output: "Executing Cell 3-----…" and "Ending Cell 3-----…" around every cell.
  { name: 'papermill cell marker', pattern: /^(Executing|Ending) Cell \d+-*\s*$/ },
  // papermill's progress bar (when it is on): "Executing:  50%|█████     | 2/4 [00:01<00:01, …]".
  { name: 'papermill progress bar', pattern: /^Executing:\s+\d+%\|/ },
  // papermill, every run without black installed.
  {
    name: 'papermill black notice',
    pattern: /^Black is not installed, parameters wont be formatted/
  },
  // Any tqdm-style progress bar: "  40%|████      | 4/10 [00:02<00:03, 2.0it/s]".
  { name: 'progress bar', pattern: /\d+%\|[^|]*\|\s*\d+(\.\d+)?[kMG]?\/\d+/ },
  // pip, for each package it already has.
  { name: 'pip already satisfied', pattern: /^\s*Requirement already satisfied:/ },
  // pip's advice to upgrade itself.
  { name: 'pip upgrade notice', pattern: /^\s*\[notice\] (A new release of pip|To update, run:)/ }
];

/**
 * The part of a line that shows on a terminal: progress bars redraw with carriage returns, so only
 * the text after the last one is what a person saw last.
 */
function visible(line: string): string {
  const cr = line.lastIndexOf('\r', line.length - 2);
  return cr >= 0 ? line.slice(cr + 1) : line;
}

/** Whether "Hide noise" hides this line. */
export function isNoise(line: string): boolean {
  const text = visible(line);
  return NOISE.some(n => n.pattern.test(text));
}

/** What the log view shows. */
export interface ILogFilter {
  /** Only lines containing this, ignoring case; empty shows all. */
  query: string;
  /** Leave out the lines of {@link NOISE}. */
  hideNoise: boolean;
}

/** The lines the log view shows, in order. */
export function filterLines(lines: readonly string[], filter: ILogFilter): string[] {
  const query = filter.query.toLowerCase();
  if (!query && !filter.hideNoise) return lines.slice();
  return lines.filter(
    line => (!query || line.toLowerCase().includes(query)) && !(filter.hideNoise && isNoise(line))
  );
}
