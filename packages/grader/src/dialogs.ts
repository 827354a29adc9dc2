/**
 * The grader's small forms as JupyterLab dialogs (never the browser's native prompt): a new
 * assignment with a date and time picker in the teacher's own time zone, and a student's extension.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

/** A dialog body of labelled inputs; `read` turns them into the dialog's value. */
class FormBody<T> extends Widget implements Dialog.IBodyWidget<T> {
  constructor(
    fields: { label: string; input: HTMLInputElement | HTMLSelectElement; hint?: string }[],
    private readonly _read: () => T
  ) {
    super();
    this.addClass('jp-HotstepperGrader-form');
    for (const { label, input, hint } of fields) {
      const row = document.createElement('label');
      row.className = 'jp-HotstepperGrader-formRow';
      const text = document.createElement('span');
      text.textContent = label;
      input.classList.add('jp-mod-styled');
      row.append(text, input);
      if (hint) {
        const small = document.createElement('small');
        small.textContent = hint;
        row.append(small);
      }
      this.node.append(row);
    }
  }

  getValue(): T {
    return this._read();
  }
}

function input(type: string, attributes: Record<string, string> = {}): HTMLInputElement {
  const el = document.createElement('input');
  el.type = type;
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
  return el;
}

/** `YYYY-MM-DDTHH:mm` in the browser's zone, as datetime-local inputs want it. */
function localValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

export interface INewAssignment {
  name: string;
  /** ISO 8601 in UTC, or null for no due date. */
  duedate: string | null;
}

/** Asks for a new assignment's name and due date; undefined when cancelled. */
export async function askNewAssignment(): Promise<INewAssignment | undefined> {
  const name = input('text', {
    name: 'assignment',
    pattern: '[A-Za-z0-9_.\\-]+',
    placeholder: 'ps1',
    required: ''
  });
  const week = new Date(Date.now() + 7 * 86400_000);
  week.setHours(17, 0, 0, 0);
  const due = input('datetime-local', { name: 'duedate' });
  due.value = localValue(week);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const body = new FormBody<INewAssignment>(
    [
      { label: 'Name', input: name, hint: 'Letters, digits, _ - and . (it becomes a folder).' },
      { label: 'Due', input: due, hint: `In your time zone (${zone}); clear it for no due date.` }
    ],
    () => ({
      name: name.value.trim(),
      duedate: due.value ? new Date(due.value).toISOString() : null
    })
  );
  const result = await showDialog({
    title: 'New assignment',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
    focusNodeSelector: 'input[name="assignment"]'
  });
  return result.button.accept && result.value?.name ? result.value : undefined;
}

/** Asks for a student's extension in days and hours; the seconds, or undefined when cancelled. */
export async function askExtension(
  student: string,
  currentSeconds: number
): Promise<number | undefined> {
  const days = input('number', { name: 'days', min: '0', step: '1' });
  const hours = input('number', { name: 'hours', min: '0', step: '1' });
  days.value = String(Math.floor(currentSeconds / 86400));
  hours.value = String(Math.round((currentSeconds % 86400) / 3600));
  const body = new FormBody<number>(
    [
      { label: 'Days', input: days },
      { label: 'Hours', input: hours, hint: 'Added to the due date; 0 and 0 remove the extension.' }
    ],
    () => (Number(days.value) || 0) * 86400 + (Number(hours.value) || 0) * 3600
  );
  const result = await showDialog({
    title: `Extension for ${student}`,
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Save' })],
    focusNodeSelector: 'input[name="days"]'
  });
  if (!result.button.accept || result.value === null) return undefined;
  return Math.max(0, Math.round(result.value));
}
