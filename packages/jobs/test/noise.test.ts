import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterLines, isNoise, NOISE } from '../src/noise.js';

/** The log of a papermill job as the companion streams it (ui-tests/tests/jobs.spec.ts's job). */
const PAPERMILL = [
  'Input Notebook:  jobdemo.ipynb',
  'Output Notebook: jobdemo-20261207-072309.ipynb',
  'Black is not installed, parameters wont be formatted',
  'Working directory: /home/jovyan/.',
  'Executing notebook with kernel: python3',
  'Executing Cell 1---------------------------------------',
  'Ending Cell 1------------------------------------------',
  'Executing Cell 3---------------------------------------',
  'hi from the job #0',
  '',
  'hi from the job #1',
  'Ending Cell 3------------------------------------------'
];

describe('isNoise', () => {
  it('should hide papermill cell markers, progress bars and the black notice', () => {
    assert.equal(isNoise('Executing Cell 12--------------'), true);
    assert.equal(isNoise('Ending Cell 2---'), true);
    assert.equal(isNoise('Executing:  50%|█████     | 2/4 [00:01<00:01,  1.9cell/s]'), true);
    assert.equal(isNoise('Black is not installed, parameters wont be formatted'), true);
  });

  it('should hide pip lines about what is already there', () => {
    assert.equal(
      isNoise('Requirement already satisfied: numpy in /opt/conda/lib/python3.11 (1.26.4)'),
      true
    );
    assert.equal(isNoise('[notice] A new release of pip is available: 23.0 -> 24.2'), true);
    assert.equal(isNoise('[notice] To update, run: pip install --upgrade pip'), true);
  });

  it('should hide blank lines and tqdm bars, judged by what was drawn last', () => {
    assert.equal(isNoise(''), true);
    assert.equal(isNoise('   \t'), true);
    assert.equal(isNoise(' 40%|████      | 4/10 [00:02<00:03, 2.0it/s]'), true);
    assert.equal(isNoise('epoch 1\r 90%|█████████ | 9/10 [00:09<00:01]'), true);
  });

  it('should keep what a person reads', () => {
    for (const line of [
      'hi from the job #0',
      'Executing notebook with kernel: python3',
      'Input Notebook:  jobdemo.ipynb',
      'Collecting numpy',
      'ERROR: Could not find a version that satisfies the requirement nope',
      'Traceback (most recent call last):',
      'accuracy 97%'
    ]) {
      assert.equal(isNoise(line), false, line);
    }
  });

  it('should name every kind of noise', () => {
    for (const n of NOISE) assert.ok(n.name);
  });
});

describe('filterLines', () => {
  it('should show everything without a query or noise filter, as a copy', () => {
    const shown = filterLines(PAPERMILL, { query: '', hideNoise: false });
    assert.deepEqual(shown, PAPERMILL);
    assert.notEqual(shown, PAPERMILL);
  });

  it('should match a substring ignoring case', () => {
    assert.deepEqual(filterLines(PAPERMILL, { query: 'HI FROM', hideNoise: false }), [
      'hi from the job #0',
      'hi from the job #1'
    ]);
    assert.deepEqual(filterLines(PAPERMILL, { query: '#1', hideNoise: false }), [
      'hi from the job #1'
    ]);
  });

  it('should hide the noise and keep the order', () => {
    assert.deepEqual(filterLines(PAPERMILL, { query: '', hideNoise: true }), [
      'Input Notebook:  jobdemo.ipynb',
      'Output Notebook: jobdemo-20261207-072309.ipynb',
      'Working directory: /home/jovyan/.',
      'Executing notebook with kernel: python3',
      'hi from the job #0',
      'hi from the job #1'
    ]);
  });

  it('should apply both at once', () => {
    assert.deepEqual(filterLines(PAPERMILL, { query: 'cell', hideNoise: true }), []);
    assert.deepEqual(filterLines(PAPERMILL, { query: 'executing', hideNoise: true }), [
      'Executing notebook with kernel: python3'
    ]);
  });
});
