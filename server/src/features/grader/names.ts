/** Names nbgrader can use as course, assignment, notebook and student ids: no path separators, no "+". */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
