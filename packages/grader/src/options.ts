/** What the plugin gives the Grader panel. */
export interface IGraderViewOptions {
  /** Opens manual grading of one submission in its own tab. */
  openGrading: (course: string, assignment: string, student: string) => void;
  /** The refresh interval from the settings, read when the next timer is set. */
  refreshSeconds: () => number;
}
