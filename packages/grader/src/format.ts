/** How times and durations read in the panel: in the reader's locale, with words for units. */
import type { TranslationBundle } from '@jupyterlab/translation';

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A moment within the term, as a person says it: "Mon 7 Dec, 14:02". */
export function day(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit'
  });
}

/** "12 minutes", "2 hours", "1 day 3 hours"; '' for none. */
export function duration(seconds: number, trans: TranslationBundle): string {
  if (seconds <= 0) return '';
  if (seconds < 3600) {
    const m = Math.max(1, Math.round(seconds / 60));
    return trans._n('%1 minute', '%1 minutes', m);
  }
  if (seconds < 86400) {
    const h = Math.round(seconds / 3600);
    return h < 24 ? trans._n('%1 hour', '%1 hours', h) : trans._n('%1 day', '%1 days', 1);
  }
  const d = Math.floor(seconds / 86400);
  const h = Math.round((seconds - d * 86400) / 3600);
  const days = trans._n('%1 day', '%1 days', d);
  return h === 0 || h === 24 ? days : `${days} ${trans._n('%1 hour', '%1 hours', h)}`;
}

export function ago(iso: string | null | undefined, trans: TranslationBundle): string {
  if (!iso) return trans.__('never');
  const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 90 ? trans.__('just now') : trans.__('%1 ago', duration(s, trans));
}
