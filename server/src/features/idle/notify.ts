/**
 * What the owner is told, in Lab and by mail, in the same words: the countdown when warned, and
 * what was stopped, when and why (with the figures) after a stop.
 */
import type { IIdleConfig, IIdleProfile } from './config.js';
import { countdownText } from './policy.js';

export interface IEvidence {
  profile: string;
  windowStart: number;
  windowEnd: number;
  idleWindows: number;
  reasons: string[];
  figures: Record<string, number | boolean | null>;
  thresholds: Record<string, number>;
}

const serverLabel = (server: string) => (server ? `server "${server}"` : 'default server');
const when = (ms: number, timeZone = 'UTC') =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short'
  }).format(new Date(ms));

export function labUrl(config: IIdleConfig, server: string): string {
  const base = config.hubUrl.replace(/\/+$/, '');
  // user-redirect sends the owner to their own server; the extension offers "Keep running" there.
  return `${base}/hub/user-redirect/${server ? `${encodeURIComponent(server)}/` : ''}lab?hotstepper-idle=keep`;
}

export function warnMessage(
  config: IIdleConfig,
  profile: IIdleProfile,
  server: string,
  evidence: IEvidence,
  stopAt: number
) {
  const countdown = countdownText(
    profile,
    evidence.idleWindows,
    stopAt,
    config.quietHours?.timeZone
  );
  const subject = `Your ${serverLabel(server)} is idle — it will be stopped ${when(stopAt)}`;
  const text = [
    `Your Jupyter ${serverLabel(server)} has been idle: ${countdown}.`,
    '',
    `Why: ${evidence.reasons.join('; ')} (window ${when(evidence.windowStart)} – ${when(evidence.windowEnd)}).`,
    '',
    'Your files stay: stopping a server keeps your home directory.',
    `To keep it running, open ${labUrl(config, server)} and choose "Keep running",`,
    'or just use it (run something, open a terminal).'
  ].join('\n');
  return { subject, text, countdown };
}

export function stopMessage(config: IIdleConfig, server: string, evidence: IEvidence, at: number) {
  const subject = `Your ${serverLabel(server)} was stopped because it was idle`;
  const text = [
    `Your Jupyter ${serverLabel(server)} was stopped ${when(at)} after ${evidence.idleWindows} idle windows in a row.`,
    '',
    `Why: ${evidence.reasons.join('; ')}.`,
    '',
    'Your files are kept. Start the server again from the hub whenever you need it:',
    `${config.hubUrl.replace(/\/+$/, '')}/hub/home`
  ].join('\n');
  return { subject, text };
}
