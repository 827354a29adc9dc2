/**
 * The spawn page's rules (src/model.ts): pre-filling (defaults, last options, a link), search,
 * presets, validation in the companion's words, the cost estimate and the permalink.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyPreset,
  costPerHour,
  freeNow,
  imageRef,
  initialChoice,
  linkParams,
  matches,
  presetOf,
  quotaHint,
  requestFromParams,
  validate,
  type ISpawnData
} from '../src/model';

const IMAGE = 'registry.example.org/notebook';

function data(overrides: Partial<ISpawnData> = {}): ISpawnData {
  return {
    user: 'bob',
    server: '',
    companionDown: false,
    options: {
      images: [
        {
          name: IMAGE,
          description: 'Python with the scientific stack',
          category: 'Python',
          keywords: ['numpy', 'pandas'],
          tags: [{ tag: '2026-12-01', date: '2026-12-01' }, { tag: '2026-11-01' }]
        },
        {
          name: 'registry.example.org/r',
          description: 'R',
          category: 'R',
          keywords: ['tidyverse'],
          tags: [{ tag: '4.4' }]
        }
      ],
      customImages: { allowed: true, pattern: 'registry\\.example\\.org/.+' },
      cpu: { min: 0.5, max: 2, step: 0.5, default: 1 },
      memory: { min: 1, max: 4, step: 0.5, default: 1 },
      gpus: [
        { model: 'A100', label: 'A100', migProfiles: ['1g.10gb'], whole: true, simulated: true },
        { model: 'L4', label: 'L4', migProfiles: [], whole: false, simulated: true }
      ],
      storage: {
        home: ['keep', 'fresh'],
        volumes: [{ name: 'shared', label: 'Shared', mountPath: '/s', access: 'ro' }]
      },
      maxServers: 2,
      presets: [
        {
          name: 'gpu',
          label: 'GPU',
          description: '',
          request: { cpu: 2, gpu: { mig: '1g.10gb' } }
        },
        { name: 'course', label: 'Course', description: '', request: { volumes: ['shared'] } }
      ],
      defaults: { image: `${IMAGE}:2026-12-01`, cpu: 1, memory: 1, home: 'keep', volumes: [] },
      quota: { cpu: 1.5 }
    },
    last: null,
    rateCard: {
      currency: 'CZK',
      charge: 'requests',
      cpuCoreHour: 2,
      memoryGibHour: 0.5,
      gpuHour: { default: 40 },
      migHour: { default: 6, '1g.10gb': 5 }
    },
    gpus: null,
    notices: [],
    ...overrides
  };
}

describe('model', () => {
  it('pre-fills the defaults, then the last options, then a link', () => {
    assert.equal(initialChoice(data(), undefined).source, 'defaults');
    const last = data({
      last: {
        server: '',
        request: {
          image: `${IMAGE}:2026-11-01`,
          cpu: 2,
          gpu: { mig: '1g.10gb' },
          volumes: ['shared', 'gone']
        },
        startedAt: '2026-12-01T10:00:00Z'
      }
    });
    const fromLast = initialChoice(last, undefined);
    assert.equal(fromLast.source, 'last');
    assert.equal(imageRef(fromLast.choice), `${IMAGE}:2026-11-01`);
    assert.equal(fromLast.choice.gpu, 'mig:1g.10gb');
    assert.deepEqual(fromLast.choice.volumes, ['shared']);
    const link = requestFromParams(
      new URLSearchParams('cpu=0.5&gpu=none&image=registry.example.org/x:1')
    );
    const fromLink = initialChoice(last, link);
    assert.equal(fromLink.source, 'link');
    assert.equal(fromLink.choice.cpu, 0.5);
    assert.equal(fromLink.choice.gpu, '');
    assert.equal(imageRef(fromLink.choice), 'registry.example.org/x:1'); // a custom image
    assert.equal(fromLink.choice.home, 'keep');
    assert.equal(requestFromParams(new URLSearchParams('home=fresh')), undefined);
  });

  it('fills CPU, memory and GPU from a preset, keeps what it does not name, and knows which is on', () => {
    const d = data();
    const [gpu, course] = d.options.presets;
    const start = {
      ...initialChoice(d, undefined).choice,
      tag: '2026-11-01',
      home: 'fresh' as const,
      memory: 3
    };
    assert.equal(presetOf(start, d.options), undefined);
    const first = applyPreset(start, gpu, d.options);
    assert.deepEqual(
      [first.cpu, first.memory, first.gpu, first.home],
      [2, 1, 'mig:1g.10gb', 'fresh']
    );
    assert.equal(presetOf(first, d.options)?.name, 'gpu');
    // The second preset leaves nothing of the first behind: no GPU, the default CPU.
    const second = applyPreset(first, course, d.options);
    assert.deepEqual([second.cpu, second.gpu, second.volumes], [1, '', ['shared']]);
    // What the presets do not name stays as chosen: the older tag, the fresh home.
    assert.deepEqual([second.tag, second.home], ['2026-11-01', 'fresh']);
    assert.equal(presetOf(second, d.options)?.name, 'course');
    assert.equal(presetOf({ ...second, cpu: 1.5 }, d.options), undefined);
  });

  it('searches name, tag, description and packages, every word', () => {
    const [python, r] = data().options.images;
    assert.ok(matches(python, 'note'));
    assert.ok(matches(python, 'PANDAS 2026-11'));
    assert.ok(!matches(python, 'tidyverse'));
    assert.ok(matches(r, 'tidy'));
    assert.ok(matches(r, ''));
  });

  it('validates as the companion does, with the confirmation typed', () => {
    const d = data();
    const { choice } = initialChoice(d, undefined);
    assert.deepEqual(validate(choice, d), {});
    assert.match(
      validate({ ...choice, cpu: 0.7 }, d).cpu ?? '',
      /steps of 0\.5 cores from 0\.5; choose 0\.5 or 1 instead of 0\.7/
    );
    assert.match(validate({ ...choice, cpu: 2 }, d).cpu ?? '', /quota has left \(1\.5 cores\)/);
    assert.match(validate({ ...choice, memory: 9 }, d).memory ?? '', /between 1 and 4 GiB/);
    assert.match(validate({ ...choice, home: 'fresh' }, d).confirmHome ?? '', /Type "bob"/);
    assert.deepEqual(validate({ ...choice, home: 'fresh', confirmHome: 'bob' }, d), {});
    assert.match(
      validate({ ...choice, imageName: '', custom: 'docker.io/x:1' }, d).image ?? '',
      /does not match/
    );
    assert.match(
      validate({ ...choice, imageName: '', custom: 'registry.example.org/x' }, d).image ?? '',
      /a tag/
    );
    assert.deepEqual(
      validate({ ...choice, imageName: '', custom: 'registry.example.org/x:1' }, d),
      {}
    );
  });

  it('estimates the cost per hour from the rate card', () => {
    const d = data();
    const { choice } = initialChoice(d, undefined);
    assert.equal(costPerHour({ ...choice, cpu: 0.5, memory: 1.5 }, d.rateCard), 1.75);
    assert.equal(
      costPerHour({ ...choice, cpu: 0.5, memory: 1.5, gpu: 'mig:1g.10gb' }, d.rateCard),
      6.75
    );
    assert.equal(
      costPerHour({ ...choice, cpu: 1, memory: 1, gpu: 'model:A100' }, d.rateCard),
      42.5
    );
    assert.equal(costPerHour(choice, null), undefined);
  });

  it("bills the pod's requests where the card charges requests: the guarantees, capped at the choice", () => {
    const d = data();
    const card = d.rateCard!;
    const { choice } = initialChoice(d, undefined);
    const mine = { ...choice, cpu: 0.5, memory: 1.5 };
    assert.equal(
      costPerHour(mine, card, { cpu: 0.1, memory: 4 }),
      0.1 * card.cpuCoreHour + 1.5 * card.memoryGibHour
    );
    assert.equal(costPerHour(mine, card, null), costPerHour(mine, card));
    // Billed on use: the choice is the most it can cost.
    assert.equal(
      costPerHour(mine, { ...card, charge: 'usage' }, { cpu: 0.1, memory: 0.25 }),
      costPerHour(mine, card)
    );
  });

  it('refuses a GPU the quota has none of left, or a whole one not offered, and says what is left', () => {
    const d = data();
    const choice = { ...initialChoice(d, undefined).choice };
    const quota = { cpu: 1.5, gpus: { 'nvidia.com/gpu': 0, 'nvidia.com/mig-1g.10gb': 2 } };
    const q = data({ options: { ...d.options, quota } });
    assert.match(
      validate({ ...choice, gpu: 'model:A100' }, q).gpu ?? '',
      /no nvidia\.com\/gpu left/
    );
    assert.equal(validate({ ...choice, gpu: 'mig:1g.10gb' }, q).gpu, undefined);
    assert.match(validate({ ...choice, gpu: 'model:L4' }, d).gpu ?? '', /whole L4 is not offered/);
    assert.equal(quotaHint(q.options, 'mig:1g.10gb'), ' · your quota has 2 left');
    assert.equal(quotaHint(d.options, 'mig:1g.10gb'), '');
  });

  it('counts the free GPUs of a choice', () => {
    const gpus = {
      models: [],
      migProfiles: [
        {
          profile: '1g.10gb',
          product: 'A100',
          simulated: true,
          total: 7,
          free: 5,
          unavailable: 0,
          nodes: 1
        }
      ],
      updatedAt: '2026-12-07T00:00:00Z',
      stale: false
    };
    assert.deepEqual(freeNow(gpus, 'mig:1g.10gb', 'A100'), { free: 5, simulated: true });
    assert.deepEqual(freeNow(gpus, 'model:A100', 'A100'), { free: 0, simulated: false });
    assert.equal(freeNow(null, 'mig:1g.10gb', 'A100'), undefined);
  });

  it('makes a link that fills the same choices in again', () => {
    const d = data();
    const { choice } = initialChoice(d, undefined);
    const params = linkParams({ ...choice, cpu: 0.5, gpu: 'mig:1g.10gb', volumes: ['shared'] });
    assert.equal(
      params.toString(),
      'image=registry.example.org%2Fnotebook%3A2026-12-01&cpu=0.5&memory=1&gpu=mig%3A1g.10gb&volumes=shared'
    );
    const again = initialChoice(d, requestFromParams(params)).choice;
    assert.equal(again.cpu, 0.5);
    assert.equal(again.gpu, 'mig:1g.10gb');
    assert.deepEqual(again.volumes, ['shared']);
  });
});
