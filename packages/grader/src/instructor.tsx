/**
 * An instructor's view of one course: its assignments (with the status table) and its roster, as
 * two tabs. The assignments stay mounted, so going back keeps the selected assignment and filter;
 * the roster loads afresh each time it is opened (the hub group may have changed meanwhile).
 */
import * as React from 'react';
import { Assignments } from './assignments.js';
import type { IGraderViewOptions } from './options.js';
import { Roster } from './roster.js';

type Section = 'assignments' | 'roster';

const SECTIONS: Record<Section, string> = { assignments: 'Assignments', roster: 'Roster' };

export function Instructor({
  course,
  options,
  onRosterChange
}: {
  course: string;
  options: IGraderViewOptions;
  onRosterChange: () => void;
}) {
  const [section, setSection] = React.useState<Section>('assignments');
  return (
    <div className="jp-HotstepperGrader-instructor">
      <div className="jp-HotstepperGrader-tabs" role="tablist" aria-label={`Course ${course}`}>
        {(Object.keys(SECTIONS) as Section[]).map(s => (
          <button
            key={s}
            id={`jp-HotstepperGrader-tab-${s}`}
            role="tab"
            aria-selected={section === s}
            aria-controls={`jp-HotstepperGrader-section-${s}`}
            className={`jp-HotstepperGrader-tab ${section === s ? 'jp-mod-current' : ''}`}
            onClick={() => setSection(s)}
          >
            {SECTIONS[s]}
          </button>
        ))}
      </div>
      <div
        id="jp-HotstepperGrader-section-assignments"
        role="tabpanel"
        aria-labelledby="jp-HotstepperGrader-tab-assignments"
        hidden={section !== 'assignments'}
      >
        <Assignments course={course} options={options} />
      </div>
      {section === 'roster' && (
        <div
          id="jp-HotstepperGrader-section-roster"
          role="tabpanel"
          aria-labelledby="jp-HotstepperGrader-tab-roster"
        >
          <Roster course={course} onChange={onRosterChange} />
        </div>
      )}
    </div>
  );
}
