import type { TranslationBundle } from '@jupyterlab/translation';
import type { ILabFiles } from './lab-files.js';

/** What the plugin gives the Grader panel. */
export interface IGraderViewOptions {
  /** Lab's translation bundle for the panel's words. */
  trans: TranslationBundle;
  /** Opens manual grading of one submission in its own tab. */
  openGrading: (course: string, assignment: string, student: string) => void;
  /** The refresh interval from the settings, read when the next timer is set. */
  refreshSeconds: () => number;
  /** The teacher's own server: notebooks to add, and copies to edit and preview. */
  files: ILabFiles;
}
