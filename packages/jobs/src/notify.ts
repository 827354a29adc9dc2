import { HotstepperAPI } from '@hotstepper/api';
import type { Job } from '@hotstepper/api';
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';

/**
 * Tell the user when one of their jobs ends: the companion flags each finished job `unseen`
 * until a Lab has told its user, so a job that ended while Lab was closed is announced when it
 * opens, and one Lab's announcement is not repeated by the next.
 */
export function watchFinishedJobs(
  trans: TranslationBundle,
  show: (job: Job) => void,
  intervalMs = 5000
): Poll {
  const poll = new Poll({
    factory: async () => {
      const page = await HotstepperAPI.listJobs({ query: { unseen: true, limit: 20 } });
      const done = page.items.filter(j => j.state !== 'pending' && j.state !== 'running');
      if (!done.length) return;
      await HotstepperAPI.markJobsSeen({ body: { ids: done.map(j => j.id) } });
      for (const job of done.reverse()) {
        const options = {
          autoClose: job.state === 'succeeded' ? 8000 : (false as const),
          actions: [{ label: trans.__('Show'), callback: () => show(job) }]
        };
        if (job.state === 'succeeded') {
          Notification.success(trans.__('Job "%1" succeeded', job.name), options);
        } else if (job.state === 'failed') {
          Notification.error(trans.__('Job "%1" failed: %2', job.name, job.message ?? ''), options);
        } else {
          Notification.info(trans.__('Job "%1" was cancelled', job.name), options);
        }
      }
    },
    frequency: { interval: intervalMs, backoff: true, max: 5 * 60_000 },
    name: '@hotstepper/jobs:notify',
    standby: 'when-hidden'
  });
  return poll;
}
