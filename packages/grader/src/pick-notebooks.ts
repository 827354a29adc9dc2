/**
 * "Add notebooks…": a JupyterLab dialog listing the notebooks of the teacher's own server, each
 * with a checkbox; the chosen ones, or undefined when cancelled.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { ILocalNotebook } from './lab-files.js';

class PickBody extends Widget implements Dialog.IBodyWidget<ILocalNotebook[]> {
  constructor(
    private readonly _notebooks: ILocalNotebook[],
    trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HotstepperGrader-pick');
    this.node.dataset.testid = 'grader-pick-notebooks';
    if (!_notebooks.length) {
      const p = document.createElement('p');
      p.textContent = trans.__('There are no notebooks in your files yet.');
      this.node.append(p);
    }
    const list = document.createElement('ul');
    list.setAttribute('aria-label', trans.__('Notebooks in your files'));
    _notebooks.forEach((nb, i) => {
      const row = document.createElement('li');
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = String(i);
      box.setAttribute('aria-label', nb.path);
      label.append(box, ` ${nb.path}`);
      row.append(label);
      list.append(row);
    });
    this.node.append(list);
  }

  getValue(): ILocalNotebook[] {
    return [...this.node.querySelectorAll<HTMLInputElement>('input:checked')].map(
      box => this._notebooks[Number(box.value)]
    );
  }
}

export async function pickNotebooks(
  notebooks: ILocalNotebook[],
  assignment: string,
  trans: TranslationBundle
): Promise<ILocalNotebook[] | undefined> {
  const result = await showDialog({
    title: trans.__('Add notebooks to %1', assignment),
    body: new PickBody(notebooks, trans),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: trans.__('Add') })]
  });
  return result.button.accept && result.value?.length ? result.value : undefined;
}
