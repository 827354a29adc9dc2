import { HotstepperAPI } from '@hotstepper/api';
import type {
  CompanionError,
  GpuAvailability,
  Job,
  JobOptions,
  JobPreview,
  JobSpec
} from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useId, useMemo, useState } from 'react';
import { num, quantities, splitArgs } from './format.js';

/** What the form starts from: a notebook or script from the file browser, or nothing. */
export interface IFormStart {
  path?: string;
}

type Field =
  | 'name'
  | 'template'
  | 'path'
  | 'parameters'
  | 'command'
  | 'image'
  | 'cpu'
  | 'memory'
  | 'gpu'
  | 'time'
  | 'env'
  | 'other';

/** body.notebook.path -> path: where the companion's message goes in the form. */
function fieldOf(path: string): Field {
  const p = path.replace(/^body\.?/, '');
  if (p.startsWith('notebook.parameters')) return 'parameters';
  if (p.startsWith('notebook')) return 'path';
  if (p.startsWith('command') || p.startsWith('shell')) return 'command';
  if (p.startsWith('memoryMiB')) return 'memory';
  if (p.startsWith('gpu')) return 'gpu';
  if (p.startsWith('timeLimitSeconds')) return 'time';
  if (p.startsWith('env') || p.startsWith('secretEnv')) return 'env';
  for (const f of ['name', 'template', 'image', 'cpu'] as Field[]) if (p.startsWith(f)) return f;
  return 'other';
}

/**
 * The fields that show another unit than the companion's (memoryMiB, timeLimitSeconds): how many
 * of the companion's units make one of the field's, and the field's unit.
 */
const UNITS: Partial<Record<Field, [per: number, unit: string]>> = {
  cpu: [1, 'cores'],
  memory: [1024, 'GiB'],
  time: [60, 'min']
};

/** 65536 MiB in the memory field -> "64 GiB". */
function inUnits(field: Field, value: number): string {
  const [per, unit] = UNITS[field] ?? [1, ''];
  return `${+(value / per).toFixed(4)} ${unit}`.trim();
}

const BOUND: Record<string, string> = {
  '<=': 'at most',
  '>=': 'at least',
  '<': 'less than',
  '>': 'more than'
};

/**
 * A companion message in the field's unit, since a person typed GiB, not MiB: "must be <= 4194304"
 * (the schema) or "must be at most 65536 MiB" (the limits) -> "must be at most 4096 GiB".
 */
function inFieldUnits(field: Field, message: string): string {
  if (!UNITS[field]) return message;
  return message.replace(
    /(<=|>=|<|>|at most|at least)\s*(\d+(?:\.\d+)?)(?: ?(?:MiB|s|cores)\b)?/g,
    (_, bound: string, n: string) => `${BOUND[bound] ?? bound} ${inUnits(field, Number(n))}`
  );
}

interface IState {
  kind: 'notebook' | 'command';
  name: string;
  template: string;
  path: string;
  parameters: string;
  command: string;
  shell: boolean;
  image: string;
  cpu: string;
  memoryGiB: string;
  gpu: string;
  gpuCount: string;
  minutes: string;
  env: string;
}

function initial(start: IFormStart): IState {
  const path = start.path ?? '';
  const notebook = path.endsWith('.ipynb');
  const command = !path
    ? ''
    : path.endsWith('.py')
      ? `python ${path}`
      : path.endsWith('.sh')
        ? `bash ${path}`
        : '';
  return {
    kind: notebook || !path ? 'notebook' : 'command',
    name: '',
    template: '',
    path: notebook ? path : '',
    parameters: '{}',
    command,
    shell: false,
    image: '',
    cpu: '',
    memoryGiB: '',
    gpu: '',
    gpuCount: '1',
    minutes: '',
    env: '',
    ...(notebook || !path ? {} : {})
  };
}

/**
 * The form as a JobSpec, or the fields that cannot be read. The operator's limits are checked
 * here too, so that the message gives the real limit in the field's unit (the schema's own maximum
 * is far higher).
 */
function toSpec(
  s: IState,
  limits?: JobOptions['limits']
): { spec: JobSpec; errors: Partial<Record<Field, string>> } {
  const spec: JobSpec = {};
  const errors: Partial<Record<Field, string>> = {};
  if (s.name.trim()) spec.name = s.name.trim();
  if (s.template) spec.template = s.template;
  if (s.kind === 'notebook') {
    let parameters: unknown = {};
    try {
      parameters = JSON.parse(s.parameters || '{}');
      if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
        errors.parameters = 'must be a JSON object, e.g. {"epochs": 3}';
      }
    } catch (e) {
      errors.parameters = `is not JSON: ${(e as Error).message}`;
    }
    spec.notebook = { path: s.path.trim(), parameters: parameters as Record<string, unknown> };
  } else {
    spec.command = (s.shell ? [s.command] : splitArgs(s.command)) as JobSpec['command'];
    if (s.shell) spec.shell = true;
  }
  if (s.image) spec.image = s.image;
  if (s.cpu) spec.cpu = Number(s.cpu);
  if (s.memoryGiB) spec.memoryMiB = Math.round(Number(s.memoryGiB) * 1024);
  if (s.minutes) spec.timeLimitSeconds = Math.round(Number(s.minutes) * 60);
  const over = (field: Field, value: number | undefined, max: number) => {
    if (value !== undefined && value > max)
      errors[field] = `must be at most ${inUnits(field, max)}`;
  };
  if (limits) {
    over('cpu', spec.cpu, limits.maxCpu);
    over('memory', spec.memoryMiB, limits.maxMemoryMiB);
    over('time', spec.timeLimitSeconds, limits.maxTimeLimitSeconds);
  }
  if (s.gpu) {
    const [kind, value] = [s.gpu.slice(0, s.gpu.indexOf(':')), s.gpu.slice(s.gpu.indexOf(':') + 1)];
    spec.gpu = {
      count: Number(s.gpuCount) || 1,
      ...(kind === 'mig' ? { migProfile: value } : { model: value })
    };
  }
  const env: Record<string, string> = {};
  for (const line of s.env.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf('=');
    if (at < 1) errors.env = `"${line}" is not NAME=value`;
    else env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  if (Object.keys(env).length) spec.env = env;
  return { spec, errors };
}

export interface IJobFormProps {
  start: IFormStart;
  trans: TranslationBundle;
  onCreated(job: Job): void;
}

export function JobForm(props: IJobFormProps): React.ReactElement {
  const { trans } = props;
  const [state, setState] = useState<IState>(() => initial(props.start));
  const [options, setOptions] = useState<JobOptions | null>(null);
  const [gpus, setGpus] = useState<GpuAvailability | null>(null);
  const [preview, setPreview] = useState<JobPreview | null>(null);
  const [problem, setProblem] = useState<CompanionError | null>(null);
  const [checking, setChecking] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const set = (patch: Partial<IState>) => setState(s => ({ ...s, ...patch }));
  // Radio groups are per document: each open form needs a group name of its own.
  const kindGroup = `jp-HotstepperJobs-kind-${useId()}`;

  useEffect(() => {
    void HotstepperAPI.getJobOptions()
      .then(o => {
        setOptions(o);
        if (o.executor === 'kubernetes') {
          void HotstepperAPI.getClusterGpus().then(setGpus, () => undefined);
        }
      })
      .catch(e => setProblem(e as CompanionError));
  }, []);

  const { spec, errors: local } = useMemo(() => toSpec(state, options?.limits), [state, options]);
  // The companion checks the proposed job as it is typed: quota, GPUs and every field.
  useEffect(() => {
    if (Object.keys(local).length) return;
    const timer = setTimeout(() => {
      setChecking(true);
      HotstepperAPI.previewJob({ body: spec })
        .then(p => {
          setPreview(p);
          setProblem(null);
        })
        .catch(e => {
          setPreview(null);
          setProblem(e as CompanionError);
        })
        .finally(() => setChecking(false));
    }, 350);
    return () => clearTimeout(timer);
  }, [JSON.stringify(spec)]);

  const remote: Partial<Record<Field, string>> = {};
  for (const e of problem?.problem?.errors ?? []) {
    const field = fieldOf(e.path);
    remote[field] = inFieldUnits(field, e.message);
  }
  const errors = { ...remote, ...local };
  const general = problem && !problem.problem?.errors?.length ? problem : null;

  const submit = async () => {
    setSubmitting(true);
    try {
      const job = await HotstepperAPI.createJob({ body: spec });
      props.onCreated(job);
    } catch (e) {
      setProblem(e as CompanionError);
    } finally {
      setSubmitting(false);
    }
  };

  const resolved = preview?.spec;
  const row = (field: Field, label: string, input: React.ReactNode, hint?: string) => (
    <div
      className={`jp-HotstepperJobs-field${errors[field] ? ' jp-mod-error' : ''}`}
      data-field={field}
    >
      <label>
        <span className="jp-HotstepperJobs-label">{label}</span>
        {input}
      </label>
      {errors[field] ? (
        <span className="jp-HotstepperJobs-fieldError" role="alert">
          {errors[field]}
        </span>
      ) : hint ? (
        <span className="jp-HotstepperJobs-hint">{hint}</span>
      ) : null}
    </div>
  );
  const canSubmit =
    !!preview && preview.fits && !Object.keys(errors).length && !checking && !submitting;

  return (
    <div className="jp-HotstepperJobs-form">
      <h2>{trans.__('Run as a background job')}</h2>
      <p className="jp-HotstepperJobs-meta">
        {options?.executor === 'kubernetes'
          ? trans.__(
              'Runs as a Kubernetes Job in your namespace; it keeps running when your server stops.'
            )
          : trans.__(
              'Runs on the hub machine in your home directory; it keeps running when your server stops.'
            )}
      </p>
      {!!options?.templates.length &&
        row(
          'template',
          trans.__('Template'),
          <select
            className="jp-mod-styled"
            value={state.template}
            onChange={e => set({ template: e.target.value })}
          >
            <option value="">{trans.__('None')}</option>
            {options.templates.map(t => (
              <option key={t.name} value={t.name} title={t.description}>
                {t.title}
              </option>
            ))}
          </select>
        )}
      <div className="jp-HotstepperJobs-kind" role="radiogroup">
        {(['notebook', 'command'] as const).map(k => (
          <label key={k}>
            <input
              type="radio"
              name={kindGroup}
              checked={state.kind === k}
              onChange={() => set({ kind: k })}
            />{' '}
            {k === 'notebook' ? trans.__('Notebook') : trans.__('Command')}
          </label>
        ))}
      </div>
      {state.kind === 'notebook' ? (
        <>
          {row(
            'path',
            trans.__('Notebook'),
            <input
              className="jp-mod-styled"
              name="path"
              value={state.path}
              onChange={e => set({ path: e.target.value })}
            />,
            trans.__('Relative to your home; the executed copy is written next to it.')
          )}
          {row(
            'parameters',
            trans.__('Parameters (JSON)'),
            <textarea
              className="jp-mod-styled"
              name="parameters"
              rows={3}
              value={state.parameters}
              onChange={e => set({ parameters: e.target.value })}
            />,
            trans.__('Fills the cell tagged "parameters".')
          )}
        </>
      ) : (
        <>
          {row(
            'command',
            trans.__('Command'),
            <input
              className="jp-mod-styled"
              name="command"
              value={state.command}
              onChange={e => set({ command: e.target.value })}
            />,
            state.shell
              ? trans.__('Run by /bin/sh -c.')
              : trans.__('Run as it is: no shell, so ; | > $ are plain text. Quotes group words.')
          )}
          <label className="jp-HotstepperJobs-check">
            <input
              type="checkbox"
              checked={state.shell}
              onChange={e => set({ shell: e.target.checked })}
            />{' '}
            {trans.__('Run through a shell')}
          </label>
        </>
      )}
      {row(
        'name',
        trans.__('Name'),
        <input
          className="jp-mod-styled"
          name="name"
          value={state.name}
          placeholder={resolved?.name}
          onChange={e => set({ name: e.target.value })}
        />
      )}
      {options?.executor === 'kubernetes' &&
        row(
          'image',
          trans.__('Image'),
          <select
            className="jp-mod-styled"
            name="image"
            value={state.image}
            onChange={e => set({ image: e.target.value })}
          >
            <option value="">
              {resolved?.image
                ? trans.__('Same as my server (%1)', resolved.image)
                : trans.__('Default')}
            </option>
            {options.images.map(i => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </select>
        )}
      <div className="jp-HotstepperJobs-grid">
        {row(
          'cpu',
          trans.__('CPU cores'),
          <input
            className="jp-mod-styled"
            name="cpu"
            type="number"
            step="0.25"
            min="0"
            value={state.cpu}
            placeholder={String(resolved?.cpu ?? options?.defaults.cpu ?? '')}
            onChange={e => set({ cpu: e.target.value })}
          />
        )}
        {row(
          'memory',
          trans.__('Memory (GiB)'),
          <input
            className="jp-mod-styled"
            name="memory"
            type="number"
            step="0.5"
            min="0"
            value={state.memoryGiB}
            placeholder={String((resolved?.memoryMiB ?? options?.defaults.memoryMiB ?? 0) / 1024)}
            onChange={e => set({ memoryGiB: e.target.value })}
          />
        )}
        {row(
          'time',
          trans.__('Time limit (min)'),
          <input
            className="jp-mod-styled"
            name="time"
            type="number"
            min="1"
            value={state.minutes}
            placeholder={String(
              (resolved?.timeLimitSeconds ?? options?.defaults.timeLimitSeconds ?? 0) / 60
            )}
            onChange={e => set({ minutes: e.target.value })}
          />
        )}
      </div>
      {options?.executor === 'kubernetes' &&
        row(
          'gpu',
          trans.__('GPU'),
          <span className="jp-HotstepperJobs-inline">
            <select
              className="jp-mod-styled"
              name="gpu"
              value={state.gpu}
              onChange={e => set({ gpu: e.target.value })}
            >
              <option value="">{trans.__('None')}</option>
              {gpus &&
                [...new Set(gpus.models.map(m => m.product))].map(product => {
                  const rows = gpus.models.filter(m => m.product === product);
                  const free = rows.reduce((n, r) => n + r.free, 0);
                  const total = rows.reduce((n, r) => n + r.total, 0);
                  return (
                    <option key={product} value={`model:${product}`}>
                      {rows.every(r => r.simulated)
                        ? trans.__('%1, simulated (%2 of %3 free)', product, free, total)
                        : trans.__('%1 (%2 of %3 free)', product, free, total)}
                    </option>
                  );
                })}
              {gpus &&
                [...new Set(gpus.migProfiles.map(m => m.profile))].map(p => {
                  const rows = gpus.migProfiles.filter(m => m.profile === p);
                  const free = rows.reduce((n, r) => n + r.free, 0);
                  const total = rows.reduce((n, r) => n + r.total, 0);
                  return (
                    <option key={p} value={`mig:${p}`}>
                      {rows.every(r => r.simulated)
                        ? trans.__('MIG %1, simulated (%2 of %3 free)', p, free, total)
                        : trans.__('MIG %1 (%2 of %3 free)', p, free, total)}
                    </option>
                  );
                })}
            </select>
            {state.gpu && (
              <input
                className="jp-mod-styled"
                name="gpuCount"
                type="number"
                min="1"
                value={state.gpuCount}
                onChange={e => set({ gpuCount: e.target.value })}
              />
            )}
          </span>
        )}
      {row(
        'env',
        trans.__('Environment'),
        <textarea
          className="jp-mod-styled"
          name="env"
          rows={2}
          value={state.env}
          placeholder="NAME=value"
          onChange={e => set({ env: e.target.value })}
        />,
        trans.__('One NAME=value a line; shown in the job, so no secrets.')
      )}
      <Headroom preview={preview} checking={checking} trans={trans} />
      {general && (
        <div className="jp-HotstepperJobs-error" role="alert">
          <strong>{general.title}</strong> {general.detail}
        </div>
      )}
      {errors.other && (
        <div className="jp-HotstepperJobs-error" role="alert">
          {errors.other}
        </div>
      )}
      <div className="jp-HotstepperJobs-bar">
        <Button
          className="jp-mod-styled jp-mod-accept"
          disabled={!canSubmit}
          onClick={() => void submit()}
        >
          {submitting ? trans.__('Submitting…') : trans.__('Submit job')}
        </Button>
        {preview && !preview.fits && (
          <span className="jp-HotstepperJobs-fieldError">
            {trans.__('This would exceed your quota.')}
          </span>
        )}
      </div>
    </div>
  );
}

/** The quota and GPUs the job would use, before it is submitted. */
function Headroom(props: {
  preview: JobPreview | null;
  checking: boolean;
  trans: TranslationBundle;
}): React.ReactElement {
  const { preview, trans } = props;
  return (
    <section className="jp-HotstepperJobs-headroom" aria-busy={props.checking}>
      <h3>
        {trans.__('Your quota')}
        {props.checking && (
          <span className="jp-HotstepperJobs-spinner" aria-label={trans.__('Checking')} />
        )}
      </h3>
      {!preview ? (
        <p className="jp-HotstepperJobs-meta">{trans.__('Checked as you type.')}</p>
      ) : preview.quota.length === 0 ? (
        <p className="jp-HotstepperJobs-meta">{trans.__('No quota applies to this job.')}</p>
      ) : (
        <table className="jp-HotstepperJobs-quota">
          <tbody>
            {preview.quota.map(q => {
              const used = num(q.used);
              const hard = num(q.hard) || 1;
              const add = num(q.requested);
              return (
                <tr
                  key={q.resource}
                  className={q.fits ? '' : 'jp-mod-over'}
                  data-resource={q.resource}
                >
                  <th>{q.resource.replace(/^requests\./, '')}</th>
                  <td className="jp-HotstepperJobs-bars">
                    <span
                      className="jp-HotstepperJobs-used"
                      style={{ width: `${Math.min(100, (used / hard) * 100)}%` }}
                    />
                    <span
                      className="jp-HotstepperJobs-add"
                      style={{
                        width: `${Math.max(0, Math.min(100 - (used / hard) * 100, (add / hard) * 100))}%`
                      }}
                    />
                  </td>
                  <td>
                    {trans.__(
                      '%1 used + %2 of %3',
                      ...quantities(q.resource, [q.used, q.requested, q.hard])
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {preview?.gpus && (
        <p className="jp-HotstepperJobs-gpus">
          {trans.__(
            '%1: %2 of %3 free now',
            preview.gpus.label,
            preview.gpus.free,
            preview.gpus.total
          )}
        </p>
      )}
      {preview?.notes.map(n => (
        <p key={n} className="jp-HotstepperJobs-meta">
          {n}
        </p>
      ))}
      {preview && (
        <p className="jp-HotstepperJobs-meta">
          {trans.__('Defaults from: %1', preview.defaultsFrom.join(', '))}
        </p>
      )}
    </section>
  );
}

/** A Kubernetes quantity as a number, for the bars only. */
/** The form in a main-area tab. */
export class JobFormWidget extends ReactWidget {
  constructor(private _props: IJobFormProps) {
    super();
    this.addClass('jp-HotstepperJobs-formWidget');
  }
  protected render(): React.ReactElement {
    return <JobForm {...this._props} />;
  }
}
