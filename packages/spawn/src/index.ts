/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause License.
 */
/**
 * The spawn page's entry: reads what the hub's spawner embedded (#hotstepper-spawn-data) and
 * builds the form in #hotstepper-spawn, inside the hub's #spawn_form.
 */
import { SpawnForm } from './form';
import type { ISpawnData } from './model';

function mount(): void {
  const root = document.getElementById('hotstepper-spawn');
  const script = document.getElementById('hotstepper-spawn-data');
  if (!root || !script || root.dataset.mounted) return;
  root.dataset.mounted = 'true';
  let data: ISpawnData;
  try {
    data = JSON.parse(script.textContent ?? '') as ISpawnData;
  } catch {
    root.textContent = 'The spawn options could not be read; you can start with the defaults.';
    return;
  }
  new SpawnForm(root, data, root.closest('form'));
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mount);
} else {
  mount();
}
