/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** This Jupyter server's own CPU and memory, from its cgroup (hotstepper/usage.py). */
export interface ILocalUsage {
  source: 'cgroup-v2' | 'cgroup-v1' | 'process-tree';
  cpu: { usedCores: number; limitCores: number | null };
  memory: { usedBytes: number; limitBytes: number | null };
  sampledAt: string;
}

/** GET <base_url>/hotstepper-local/usage: answered by the server extension itself, not the companion. */
export async function fetchLocalUsage(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<ILocalUsage> {
  const url = URLExt.join(settings.baseUrl, 'hotstepper-local', 'usage');
  const response = await ServerConnection.makeRequest(url, { cache: 'no-cache' }, settings);
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response);
  }
  const body = (await response.json()) as ILocalUsage;
  if (typeof body?.memory?.usedBytes !== 'number') {
    throw new Error('the server extension answered something that is not a usage sample');
  }
  return body;
}
