import type { Job } from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { LabIcon, refreshIcon, SidePanel, ToolbarButton } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import type { JobsModel } from './model.js';
import { JobsView } from './view.js';

export const PANEL_ID = 'hotstepper-jobs';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 4h16v3H4zm0 6.5h10v3H4zM4 17h13v3H4z"/>
    <path d="M19 10l4 2.5-4 2.5z"/>
  </g>
</svg>`;

/** The Jobs mark: lines of work with a play arrow; `jp-icon3` lets the theme colour it. */
export const jobsIcon = new LabIcon({ name: 'hotstepper:jobs', svgstr });

/** The left-sidebar Jobs panel; it polls only while it is on screen. */
export class JobsPanel extends SidePanel {
  constructor(
    private _model: JobsModel,
    trans: TranslationBundle,
    submit: () => void,
    open: (path: string) => void,
    openLog: (job: Job) => void
  ) {
    super({ content: new Panel() });
    this.id = PANEL_ID;
    this.addClass('jp-HotstepperJobs');
    this.title.icon = jobsIcon;
    this.title.caption = trans.__('Jobs');
    const heading = new Widget({ node: document.createElement('h2') });
    heading.node.textContent = trans.__('Jobs');
    heading.addClass('jp-HotstepperJobs-heading');
    this.header.addWidget(heading);
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Refresh'),
        onClick: () => void this._model.refresh()
      })
    );
    this.addWidget(new JobsView(this._model, trans, submit, open, openLog));
  }

  dispose(): void {
    if (this.isDisposed) return;
    this._model.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Parameters<Widget['processMessage']>[0]): void {
    super.onAfterShow(msg);
    this._model.visible = true;
  }

  protected onAfterHide(msg: Parameters<Widget['processMessage']>[0]): void {
    super.onAfterHide(msg);
    this._model.visible = false;
  }
}
