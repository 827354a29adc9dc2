/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause License.
 */
/**
 * The spawn page's form, in plain DOM inside the hub's own `#spawn_form`: every control labelled,
 * errors tied to their field with aria-describedby, the hub's Start button held back while the
 * choices cannot start. The hub posts the form; its spawner has the companion check it again.
 */
import {
  applyPreset,
  byCategory,
  confirmationWord,
  costPerHour,
  FORM_FIELDS,
  freeNow,
  imageRef,
  initialChoice,
  linkParams,
  matches,
  presetOf,
  quotaHint,
  requestFromParams,
  validate,
  type ChoiceSource,
  type Field,
  type IChoice,
  type ISpawnData
} from './model';

const PREFIX = 'hs-Spawn';
const ID = 'hs-spawn';

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** An element with attributes (false and undefined leave one out) and children. */
function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

const fmt = (n: number) => String(Math.round(n * 1000) / 1000);

/** The form, mounted in `root`, posting through `form` (the hub's #spawn_form). */
export class SpawnForm {
  constructor(
    private readonly _root: HTMLElement,
    private readonly _data: ISpawnData,
    private readonly _form: HTMLFormElement | null
  ) {
    const link =
      requestFromParams(new URLSearchParams(window.location.hash.replace(/^#/, ''))) ??
      requestFromParams(new URLSearchParams(window.location.search));
    const { choice, source } = initialChoice(_data, link);
    this._choice = choice;
    this._render(source);
    this._update();
  }

  /** The hub's Start button. */
  private get _start(): HTMLButtonElement | HTMLInputElement | null {
    return this._form?.querySelector('button[type="submit"], input[type="submit"]') ?? null;
  }

  private _render(source: ChoiceSource): void {
    const data = this._data;
    const root = this._root;
    root.classList.add(PREFIX);
    root.replaceChildren();
    if (data.companionDown) {
      root.append(
        h(
          'div',
          { class: `${PREFIX}-notice ${PREFIX}-notice--warn`, role: 'status' },
          "Hotstepper's options are unavailable right now; you can start with the defaults."
        )
      );
    }
    for (const notice of data.notices) {
      root.append(h('div', { class: `${PREFIX}-notice`, role: 'status' }, notice));
    }
    root.append(
      h(
        'p',
        { class: `${PREFIX}-server` },
        'Server: ',
        h('strong', {}, data.server ? `"${data.server}"` : 'your default server'),
        data.options.maxServers > 1
          ? ` (you may run up to ${data.options.maxServers} servers at once)`
          : ''
      )
    );
    if (source === 'last' && data.last) {
      root.append(
        h(
          'p',
          { class: `${PREFIX}-prefill`, id: `${ID}-prefill` },
          `Your last options for this server (started ${new Date(
            data.last.startedAt
          ).toLocaleString()}).`
        )
      );
    } else if (source === 'link') {
      root.append(
        h('p', { class: `${PREFIX}-prefill`, id: `${ID}-prefill` }, 'Filled in from a link.')
      );
    }

    // Disabled while the companion is down: nothing is posted, so the spawn takes the defaults.
    const all = h('fieldset', {
      class: `${PREFIX}-all`,
      disabled: data.companionDown
    }) as HTMLFieldSetElement;
    all.append(
      h('legend', { class: `${PREFIX}-visuallyHidden` }, 'Server options'),
      ...[this._presetSection()].filter(s => s !== null),
      this._imageSection(),
      this._resourceSection(),
      this._gpuSection(),
      this._storageSection()
    );
    root.append(
      all,
      h(
        'div',
        { class: `${PREFIX}-footer` },
        h('output', { id: `${ID}-cost`, class: `${PREFIX}-cost`, 'aria-live': 'polite' }),
        this._linkSection()
      ),
      h('p', { id: `${ID}-summary`, class: `${PREFIX}-summary`, 'aria-live': 'polite' })
    );
    this._image = h('input', { type: 'hidden', name: 'image' }) as HTMLInputElement;
    root.append(this._image);

    const changed = (event: Event) => {
      // Choosing a tag (or typing a custom image) chooses its image too.
      const target = event.target as HTMLElement;
      const row = target.closest(`.${PREFIX}-image`);
      if (row && target.matches('select, input[type="text"]')) {
        const radio = row.querySelector<HTMLInputElement>('input[type="radio"]');
        if (radio) radio.checked = true;
      }
      this._read();
    };
    root.addEventListener('input', changed);
    root.addEventListener('change', changed);
    this._filter('');
    const start = this._start;
    if (start) start.setAttribute('aria-describedby', `${ID}-summary`);
    this._form?.addEventListener('submit', event => {
      if (this._data.companionDown) return;
      const errors = validate(this._choice, this._data);
      const first = Object.keys(errors)[0] as Field | undefined;
      if (first) {
        event.preventDefault();
        event.stopImmediatePropagation();
        this._focus(first);
      }
    });
    // Only SpawnRequest's fields go to the hub: the search box, the image list and the tag
    // choosers are this page's own (the companion refuses fields it does not know).
    this._form?.addEventListener('formdata', event => {
      for (const key of [...new Set(event.formData.keys())]) {
        if (!FORM_FIELDS.includes(key)) event.formData.delete(key);
      }
    });
  }

  /** The operators' named sets of choices: one click fills the form, which stays editable. */
  private _presetSection(): HTMLElement | null {
    const { options } = this._data;
    const presets = options.presets ?? [];
    if (!presets.length) return null;
    const section = h(
      'fieldset',
      { class: `${PREFIX}-section` },
      h('legend', {}, 'Presets'),
      h(
        'p',
        { id: `${ID}-presets-hint`, class: `${PREFIX}-hint` },
        'A preset fills in the choices below; change any of them afterwards.'
      )
    );
    const list = h('div', { class: `${PREFIX}-presets` });
    for (const preset of presets) {
      const button = h(
        'button',
        {
          type: 'button',
          class: `${PREFIX}-preset`,
          'data-preset': preset.name,
          'aria-pressed': 'false',
          'aria-describedby': `${ID}-presets-hint`
        },
        h('span', { class: `${PREFIX}-presetLabel` }, preset.label),
        preset.description ? h('span', { class: `${PREFIX}-hint` }, preset.description) : null
      );
      button.addEventListener('click', () =>
        this._show(applyPreset(this._choice, preset, options))
      );
      list.append(button);
    }
    section.append(list);
    return section;
  }

  private _imageSection(): HTMLElement {
    const { options } = this._data;
    const section = h('fieldset', { class: `${PREFIX}-section` }, h('legend', {}, 'Image'));
    const search = h('input', {
      id: `${ID}-search`,
      type: 'search',
      class: `${PREFIX}-input`,
      autocomplete: 'off',
      placeholder: 'name, tag, package or tool',
      'aria-controls': `${ID}-images`,
      'aria-describedby': `${ID}-search-count`
    }) as HTMLInputElement;
    search.addEventListener('input', () => this._filter(search.value));
    // Enter in the search box picks the first match instead of submitting the form.
    search.addEventListener('keydown', event => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      const first = this._root.querySelector<HTMLInputElement>(
        `.${PREFIX}-image:not([hidden]) input[type="radio"]`
      );
      if (first) {
        first.checked = true;
        first.focus();
        this._read();
      }
    });
    section.append(
      h(
        'div',
        { class: `${PREFIX}-row` },
        h('label', { for: `${ID}-search` }, 'Search images'),
        search
      ),
      h('p', { id: `${ID}-search-count`, class: `${PREFIX}-hint`, 'aria-live': 'polite' })
    );
    const list = h('div', {
      id: `${ID}-images`,
      class: `${PREFIX}-images`,
      role: 'radiogroup',
      'aria-label': 'Images',
      'aria-describedby': `${ID}-image-error`
    });
    byCategory(options.images).forEach(([category, images], c) => {
      const heading = `${ID}-category-${c}`;
      const group = h(
        'div',
        { class: `${PREFIX}-category`, role: 'group', 'aria-labelledby': heading },
        h('h3', { id: heading, class: `${PREFIX}-categoryTitle` }, category)
      );
      for (const image of images) {
        const i = options.images.indexOf(image);
        const radio = h('input', {
          type: 'radio',
          name: 'hs-image',
          id: `${ID}-image-${i}`,
          value: image.name,
          checked: this._choice.imageName === image.name,
          'aria-describedby': `${ID}-image-${i}-about`
        });
        const tags = h(
          'select',
          { id: `${ID}-tag-${i}`, class: `${PREFIX}-select`, 'data-image': image.name },
          ...image.tags.map((t, n) =>
            h(
              'option',
              {
                value: t.tag,
                selected:
                  this._choice.imageName === image.name ? this._choice.tag === t.tag : n === 0
              },
              `${t.tag}${t.date ? ` (${t.date})` : ''}${n === 0 ? ', newest' : ''}`
            )
          )
        );
        group.append(
          h(
            'div',
            { class: `${PREFIX}-image`, 'data-index': i },
            radio,
            h(
              'div',
              { class: `${PREFIX}-imageText` },
              h('label', { for: `${ID}-image-${i}`, class: `${PREFIX}-imageName` }, image.name),
              h(
                'span',
                { id: `${ID}-image-${i}-about`, class: `${PREFIX}-hint` },
                image.description,
                image.keywords.length ? ` · ${image.keywords.join(', ')}` : ''
              )
            ),
            h(
              'div',
              { class: `${PREFIX}-tag` },
              h(
                'label',
                { for: `${ID}-tag-${i}`, class: `${PREFIX}-visuallyHidden` },
                `Tag of ${image.name}`
              ),
              tags
            )
          )
        );
      }
      list.append(group);
    });
    if (options.customImages.allowed) {
      list.append(
        h(
          'div',
          { class: `${PREFIX}-image ${PREFIX}-custom`, 'data-custom': 'true' },
          h('input', {
            type: 'radio',
            name: 'hs-image',
            id: `${ID}-image-custom`,
            value: '',
            checked: !this._choice.imageName,
            'aria-describedby': `${ID}-custom-hint`
          }),
          h(
            'div',
            { class: `${PREFIX}-imageText` },
            h('label', { for: `${ID}-image-custom`, class: `${PREFIX}-imageName` }, 'Custom image'),
            h(
              'span',
              { id: `${ID}-custom-hint`, class: `${PREFIX}-hint` },
              `A reference with its tag, matching ${options.customImages.pattern}`
            )
          ),
          h(
            'label',
            { for: `${ID}-custom`, class: `${PREFIX}-visuallyHidden` },
            'Custom image reference'
          ),
          h('input', {
            id: `${ID}-custom`,
            type: 'text',
            class: `${PREFIX}-input`,
            value: this._choice.custom,
            spellcheck: 'false',
            autocomplete: 'off',
            placeholder: 'registry.example.org/image:tag',
            'aria-describedby': `${ID}-custom-hint ${ID}-image-error`
          })
        )
      );
    }
    if (!options.images.length && !options.customImages.allowed) {
      list.append(h('p', {}, 'The platform offers no image; tell its operators.'));
    }
    section.append(list, this._error('image'));
    return section;
  }

  private _resourceSection(): HTMLElement {
    const { options } = this._data;
    const number = (field: 'cpu' | 'memory', label: string, unit: string) => {
      const range = options[field];
      const left = options.quota?.[field];
      return h(
        'div',
        { class: `${PREFIX}-row` },
        h('label', { for: `${ID}-${field}` }, label),
        h(
          'div',
          { class: `${PREFIX}-number` },
          h('input', {
            id: `${ID}-${field}`,
            name: field,
            type: 'number',
            class: `${PREFIX}-input`,
            inputmode: 'decimal',
            min: range.min,
            max: range.max,
            step: range.step || 'any',
            value: this._choice[field],
            required: true,
            'aria-describedby': `${ID}-${field}-hint ${ID}-${field}-error`
          }),
          h('span', { class: `${PREFIX}-unit` }, unit)
        ),
        h(
          'p',
          { id: `${ID}-${field}-hint`, class: `${PREFIX}-hint` },
          `${fmt(range.min)} to ${fmt(range.max)} ${unit} in steps of ${fmt(range.step)}`,
          left === undefined ? '' : `; your quota has ${fmt(left)} ${unit} left`
        ),
        this._error(field)
      );
    };
    return h(
      'fieldset',
      { class: `${PREFIX}-section` },
      h('legend', {}, 'Resources'),
      number('cpu', 'CPU', 'cores'),
      number('memory', 'Memory', 'GiB')
    );
  }

  private _gpuSection(): HTMLElement {
    const { options, gpus } = this._data;
    const section = h('fieldset', { class: `${PREFIX}-section` }, h('legend', {}, 'GPU'));
    // "(simulated)" once per line: in its label, where the catalogue or the cluster says so
    const radio = (value: string, label: string, model: string, n: number, simulated = false) => {
      const id = `${ID}-gpu-${n}`;
      const now = freeNow(gpus, value, model);
      const text =
        (simulated || now?.simulated) && !/simulated/i.test(label) ? `${label} (simulated)` : label;
      return h(
        'div',
        { class: `${PREFIX}-choice` },
        h('input', {
          type: 'radio',
          name: 'gpu',
          id,
          value,
          checked: this._choice.gpu === value,
          'aria-describedby': value ? `${id}-free` : undefined
        }),
        h('label', { for: id }, text),
        value
          ? h(
              'span',
              { id: `${id}-free`, class: `${PREFIX}-hint` },
              now === undefined ? 'free count unknown' : `${now.free} free now`,
              quotaHint(this._data.options, value)
            )
          : null
      );
    };
    let n = 0;
    section.append(radio('', 'No GPU', '', n++));
    for (const g of options.gpus) {
      const sim = !!g.simulated;
      // a model offered only as slices has no "whole" choice at all
      if (g.whole !== false) {
        section.append(radio(`model:${g.model}`, `Whole ${g.label}`, g.model, n++, sim));
      }
      for (const p of g.migProfiles) {
        section.append(radio(`mig:${p}`, `MIG slice ${p} of ${g.label}`, g.model, n++, sim));
      }
    }
    if (gpus?.stale) {
      section.append(
        h('p', { class: `${PREFIX}-hint` }, 'The free counts may be out of date right now.')
      );
    }
    section.append(this._error('gpu'));
    return section;
  }

  private _storageSection(): HTMLElement {
    const { options } = this._data;
    const word = confirmationWord(this._data);
    const home = (value: 'keep' | 'fresh', text: string) =>
      h(
        'div',
        { class: `${PREFIX}-choice` },
        h('input', {
          type: 'radio',
          name: 'home',
          id: `${ID}-home-${value}`,
          value,
          checked: this._choice.home === value
        }),
        h('label', { for: `${ID}-home-${value}` }, text)
      );
    const section = h(
      'fieldset',
      { class: `${PREFIX}-section` },
      h('legend', {}, 'Storage'),
      h(
        'div',
        { role: 'radiogroup', 'aria-label': 'Home' },
        home('keep', 'Keep my home'),
        options.storage.home.includes('fresh')
          ? home('fresh', 'Start with a fresh home (deletes everything in the old one)')
          : null
      ),
      h(
        'div',
        { id: `${ID}-confirm-row`, class: `${PREFIX}-row ${PREFIX}-danger`, hidden: true },
        h('label', { for: `${ID}-confirmHome` }, `Type "${word}" to confirm deleting your home`),
        h('input', {
          id: `${ID}-confirmHome`,
          name: 'confirmHome',
          type: 'text',
          class: `${PREFIX}-input`,
          autocomplete: 'off',
          spellcheck: 'false',
          'aria-describedby': `${ID}-confirmHome-error`
        }),
        this._error('confirmHome')
      )
    );
    if (options.storage.volumes.length) {
      const group = h(
        'div',
        { role: 'group', 'aria-labelledby': `${ID}-volumes-title`, class: `${PREFIX}-volumes` },
        h('p', { id: `${ID}-volumes-title`, class: `${PREFIX}-subtitle` }, 'Volumes to attach')
      );
      options.storage.volumes.forEach((v, i) => {
        const access = v.access === 'ro' ? 'read-only' : 'read-write';
        group.append(
          h(
            'div',
            { class: `${PREFIX}-choice` },
            h('input', {
              type: 'checkbox',
              name: 'volumes',
              id: `${ID}-volume-${i}`,
              value: v.name,
              checked: this._choice.volumes.includes(v.name)
            }),
            h('label', { for: `${ID}-volume-${i}` }, v.label),
            h(
              'span',
              { class: `${PREFIX}-hint` },
              `${v.mountPath}, `,
              h('span', { class: `${PREFIX}-badge ${PREFIX}-badge--${v.access}` }, access)
            )
          )
        );
      });
      section.append(group);
    }
    return section;
  }

  private _linkSection(): HTMLElement {
    const input = h('input', {
      id: `${ID}-link`,
      type: 'text',
      class: `${PREFIX}-input`,
      readonly: true,
      'aria-describedby': `${ID}-link-status`
    }) as HTMLInputElement;
    const copy = h(
      'button',
      { type: 'button', class: `${PREFIX}-button btn btn-light`, id: `${ID}-copy` },
      'Copy link'
    );
    const status = h('span', {
      id: `${ID}-link-status`,
      class: `${PREFIX}-hint`,
      'aria-live': 'polite'
    });
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        status.textContent = 'Link copied.';
      } catch {
        // No clipboard (a page without https): the link is selected to copy by hand.
        input.focus();
        input.select();
        status.textContent = 'Press Ctrl+C (⌘C) to copy the selected link.';
      }
    });
    return h(
      'div',
      { class: `${PREFIX}-link` },
      h('label', { for: `${ID}-link` }, 'Link to these options'),
      h('div', { class: `${PREFIX}-number` }, input, copy),
      status
    );
  }

  private _error(field: Field): HTMLElement {
    return h('p', { id: `${ID}-${field}-error`, class: `${PREFIX}-error`, hidden: true });
  }

  private _filter(query: string): void {
    const images = this._data.options.images;
    let shown = 0;
    for (const row of this._root.querySelectorAll<HTMLElement>(`.${PREFIX}-image[data-index]`)) {
      const ok = matches(images[Number(row.dataset.index)], query);
      row.hidden = !ok;
      if (ok) shown++;
    }
    for (const group of this._root.querySelectorAll<HTMLElement>(`.${PREFIX}-category`)) {
      group.hidden = !group.querySelector(`.${PREFIX}-image:not([hidden])`);
    }
    const count = this._root.querySelector(`#${ID}-search-count`);
    if (count) {
      count.textContent = query.trim()
        ? `${shown} of ${images.length} images match`
        : `${images.length} image${images.length === 1 ? '' : 's'}`;
    }
  }

  /** Puts a choice into the controls, then reads them back as if the user had made it. */
  private _show(choice: IChoice): void {
    const root = this._root;
    for (const radio of root.querySelectorAll<HTMLInputElement>('input[name="hs-image"]')) {
      radio.checked = radio.value === choice.imageName;
    }
    const tag = root.querySelector<HTMLSelectElement>(
      `select[data-image="${CSS.escape(choice.imageName)}"]`
    );
    if (tag) tag.value = choice.tag;
    const custom = root.querySelector<HTMLInputElement>(`#${ID}-custom`);
    if (custom) custom.value = choice.custom;
    for (const field of ['cpu', 'memory'] as const) {
      const input = root.querySelector<HTMLInputElement>(`#${ID}-${field}`);
      if (input) input.value = String(choice[field]);
    }
    for (const radio of root.querySelectorAll<HTMLInputElement>('input[name="gpu"]')) {
      radio.checked = radio.value === choice.gpu;
    }
    for (const box of root.querySelectorAll<HTMLInputElement>('input[name="volumes"]')) {
      box.checked = choice.volumes.includes(box.value);
    }
    this._read();
  }

  /** The choice from the controls, then everything that follows from it. */
  private _read(): void {
    const root = this._root;
    const value = (selector: string) => root.querySelector<HTMLInputElement>(selector)?.value ?? '';
    const picked = root.querySelector<HTMLInputElement>('input[name="hs-image"]:checked');
    const imageName = picked?.value ?? this._choice.imageName;
    const tag = imageName
      ? (root.querySelector<HTMLSelectElement>(`select[data-image="${CSS.escape(imageName)}"]`)
          ?.value ?? '')
      : '';
    this._choice = {
      imageName,
      tag,
      custom: value(`#${ID}-custom`),
      cpu: Number(value(`#${ID}-cpu`) || NaN),
      memory: Number(value(`#${ID}-memory`) || NaN),
      gpu: root.querySelector<HTMLInputElement>('input[name="gpu"]:checked')?.value ?? '',
      home:
        root.querySelector<HTMLInputElement>('input[name="home"]:checked')?.value === 'fresh'
          ? 'fresh'
          : 'keep',
      confirmHome: value(`#${ID}-confirmHome`),
      volumes: [...root.querySelectorAll<HTMLInputElement>('input[name="volumes"]:checked')].map(
        v => v.value
      )
    };
    this._update();
  }

  private _update(): void {
    const root = this._root;
    const choice = this._choice;
    const data = this._data;
    if (this._image) this._image.value = data.companionDown ? '' : imageRef(choice);
    // Which rows are the chosen image; the custom field only matters when chosen.
    for (const row of root.querySelectorAll<HTMLElement>(`.${PREFIX}-image`)) {
      const radio = row.querySelector<HTMLInputElement>('input[type="radio"]');
      row.classList.toggle(`${PREFIX}-image--chosen`, !!radio?.checked);
    }
    const preset = presetOf(choice, data.options)?.name;
    for (const button of root.querySelectorAll<HTMLElement>(`.${PREFIX}-preset`)) {
      button.setAttribute('aria-pressed', String(button.dataset.preset === preset));
    }
    const confirmRow = root.querySelector<HTMLElement>(`#${ID}-confirm-row`);
    if (confirmRow) confirmRow.hidden = choice.home !== 'fresh';
    const confirm = root.querySelector<HTMLInputElement>(`#${ID}-confirmHome`);
    if (confirm) confirm.disabled = choice.home !== 'fresh';

    const errors = data.companionDown ? {} : validate(choice, data);
    for (const field of ['image', 'cpu', 'memory', 'gpu', 'confirmHome'] as Field[]) {
      const box = root.querySelector<HTMLElement>(`#${ID}-${field}-error`);
      const message = errors[field];
      // An unconfirmed fresh home is a step still to take, not a mistake: no red until typed.
      const quiet = field === 'confirmHome' && !choice.confirmHome;
      if (box) {
        box.textContent = message && !quiet ? message : '';
        box.hidden = !message || quiet;
      }
      const input = this._input(field);
      if (input) input.setAttribute('aria-invalid', message && !quiet ? 'true' : 'false');
    }

    const cost = root.querySelector(`#${ID}-cost`);
    const perHour = costPerHour(choice, data.rateCard, data.guarantees);
    if (cost) {
      cost.textContent =
        perHour === undefined
          ? 'No cost estimate: the rate card is unavailable.'
          : `Estimated cost: ${perHour.toFixed(2)} ${data.rateCard?.currency ?? ''} per hour` +
            (data.rateCard?.charge === 'requests'
              ? data.guarantees?.cpu || data.guarantees?.memory
                ? ' (billed on what the server reserves; it may use up to what you choose)'
                : ' (billed on what you ask for)'
              : ' at most (billed on what the server uses)');
    }

    const link = root.querySelector<HTMLInputElement>(`#${ID}-link`);
    if (link) {
      const url = new URL(window.location.href);
      url.search = '';
      url.hash = linkParams(choice).toString();
      link.value = url.toString();
    }

    const problems = Object.values(errors);
    const summary = root.querySelector(`#${ID}-summary`);
    if (summary) {
      summary.textContent = problems.length
        ? `Start is not possible yet: ${problems.join(' ')}`
        : '';
    }
    const start = this._start;
    if (start) start.disabled = problems.length > 0;
  }

  private _input(field: Field): HTMLElement | null {
    switch (field) {
      case 'image':
        return this._root.querySelector(this._choice.imageName ? `#${ID}-images` : `#${ID}-custom`);
      case 'gpu':
        return null;
      case 'volumes':
        return null;
      case 'cpu':
      case 'memory':
      case 'confirmHome':
        return this._root.querySelector(`#${ID}-${field}`);
    }
  }

  private _focus(field: Field): void {
    const input =
      field === 'image'
        ? this._root.querySelector<HTMLElement>(
            this._choice.imageName ? `#${ID}-search` : `#${ID}-custom`
          )
        : this._input(field);
    input?.focus();
  }

  private _choice: IChoice;
  private _image: HTMLInputElement | null = null;
}
