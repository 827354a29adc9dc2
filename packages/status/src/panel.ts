import type { ITranslator } from '@jupyterlab/translation';
import { nullTranslator } from '@jupyterlab/translation';
import { refreshIcon, SidePanel, ToolbarButton } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';
import { hotstepperIcon } from './icon.js';
import type { StatusModel } from './model.js';
import { StatusView } from './view.js';

/** The id of the sidebar panel, for the shell and the layout restorer. */
export const PANEL_ID = 'hotstepper-status';

const PANEL_CLASS = 'jp-HotstepperStatus';

/**
 * The left-sidebar panel: a header, a Refresh button and the {@link StatusView}.
 * It tells the model when it is on screen, so that polling stops while it is not.
 */
export class StatusPanel extends SidePanel {
  /** Create the panel for a model. */
  constructor(options: IStatusPanelOptions) {
    const translator = options.translator ?? nullTranslator;
    // A plain Panel, not SidePanel's default accordion: the view is the one section.
    super({ content: new Panel(), translator });
    const trans = translator.load('hotstepper');
    this._model = options.model;
    this.id = PANEL_ID;
    this.addClass(PANEL_CLASS);
    this.title.icon = hotstepperIcon;
    this.title.caption = trans.__('Hotstepper');

    const heading = new Widget({ node: document.createElement('h2') });
    heading.node.textContent = trans.__('Hotstepper');
    heading.addClass('jp-HotstepperStatus-title');
    heading.addClass('jp-text-truncated');
    this.header.addWidget(heading);
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Refresh'),
        onClick: () => void this._model.refresh()
      })
    );
    this.addWidget(new StatusView(this._model, trans));
  }

  /** Stop the model's polling with the panel. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.visible = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.visible = false;
  }

  private _model: StatusModel;
}

/** Options of a {@link StatusPanel}. */
export interface IStatusPanelOptions {
  model: StatusModel;
  translator?: ITranslator | null;
}
