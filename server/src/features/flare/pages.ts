/**
 * The few pages the gateway itself answers with, instead of a bare status code: a visitor should
 * learn whose app this is and what to do next. Plain HTML, light or dark with the visitor's system.
 */

import type { FlareAccess } from '@hotstepper/schema';

const escape = (s: string) => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

export interface IPage {
  status: number;
  title: string;
  /** Paragraphs; already escaped HTML is allowed through `html`. */
  lines: string[];
  link?: { href: string; text: string };
  /** The small line above the title; "Flare · <status>" unless given. */
  badge?: string;
}

export function renderPage(page: IPage): string {
  const lines = page.lines.map(l => `<p>${l}</p>`).join('\n');
  const link = page.link
    ? `<p><a class="button" href="${escape(page.link.href)}">${escape(page.link.text)}</a></p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(page.title)} · Flare</title>
<style>
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { max-width: 36rem; margin: 12vh auto; padding: 0 1.5rem; line-height: 1.5; }
h1 { font-size: 1.4rem; } code { font-size: 0.95em; }
.badge { font-size: 0.8rem; opacity: 0.7; letter-spacing: 0.05em; text-transform: uppercase; }
.button { display: inline-block; padding: 0.4rem 1rem; border-radius: 4px; background: #1976d2;
  color: #fff; text-decoration: none; }
.button:hover, .button:focus-visible { background: #1565c0; }
a:not(.button) { color: #1976d2; word-break: break-all; }
@media (prefers-color-scheme: dark) {
  body { background: #111; color: rgba(255, 255, 255, 0.87); }
  .button { background: #1e88e5; } .button:hover, .button:focus-visible { background: #42a5f5; }
  a:not(.button) { color: #64b5f6; }
}
</style></head>
<body><div class="badge">${escape(page.badge ?? `Flare · ${page.status}`)}</div>
<h1>${escape(page.title)}</h1>
${lines}
${link}
</body></html>
`;
}

/** What the login page says about who may open the app, by its access mode. */
function whoMay(mode: FlareAccess['mode'], owner: string): string {
  const o = `<strong>${escape(owner)}</strong>`;
  switch (mode) {
    case 'owner':
      return `Only ${o} may open it: log in if you are ${o}.`;
    case 'hub':
      return 'Anyone with an account on this JupyterHub may open it.';
    case 'users':
      return `${o} shares it with particular hub users and groups; the hub tells Flare who you are.`;
    case 'link':
      return `${o} shares it by link; log in here only if you are ${o}.`;
    case 'public':
      return 'Anyone may open it.';
  }
}

export const pages = {
  /** Before the hub's login: which app (its full address) and whose; the button starts the login. */
  login: (o: {
    url: string;
    owner: string;
    mode: FlareAccess['mode'];
    hubUrl: string;
    start: string;
  }): IPage => ({
    status: 200,
    badge: 'Flare · login',
    title: 'Log in to open this app',
    lines: [
      `Log in to open <a href="${escape(o.url)}">${escape(o.url)}</a>, an app of ` +
        `<strong>${escape(o.owner)}</strong>.`,
      whoMay(o.mode, o.owner),
      `You sign in on JupyterHub (<code>${escape(o.hubUrl)}</code>) and come straight back to ` +
        'the app; it never sees your hub password.'
    ],
    link: { href: o.start, text: 'Log in with the hub' }
  }),
  offline: (name: string, owner: string, port: number): IPage => ({
    status: 502,
    title: `${name}: the app is offline`,
    lines: [
      `This address belongs to <strong>${escape(owner)}</strong>'s app, which is not answering ` +
        'right now. Try again later.',
      `If you are ${escape(owner)}: start your notebook server, run your app in it listening on ` +
        `port <code>${port}</code> (for example <code>python -m http.server ${port}</code> in a ` +
        'terminal), then reload this page.'
    ]
  }),
  notFound: (why: string): IPage => ({
    status: 404,
    title: 'No app here',
    lines: [escape(why), 'The route may have been deleted, or the address is mistyped.']
  }),
  badRequest: (why: string): IPage => ({
    status: 400,
    title: 'Bad request',
    lines: [escape(why)]
  }),
  forbidden: (name: string, owner: string, user: string | undefined): IPage => ({
    status: 403,
    title: `${name}: no access`,
    lines: [
      user
        ? `You are logged in as <strong>${escape(user)}</strong>, and ${escape(owner)} has not ` +
          'shared this app with you.'
        : `${escape(owner)} shares this app only with particular people.`,
      `Ask ${escape(owner)} for access.`
    ]
  }),
  needLink: (name: string, owner: string, loginHref: string): IPage => ({
    status: 403,
    title: `${name}: share link needed`,
    lines: [
      `${escape(owner)} shares this app by link. Open it with the link you were given; a link ` +
        'that has been rotated or revoked no longer works.'
    ],
    link: { href: loginHref, text: `I am ${owner}: log in` }
  }),
  badLink: (name: string, owner: string): IPage => ({
    status: 403,
    title: `${name}: this share link does not work`,
    lines: [
      `The link is not valid: ${escape(owner)} may have rotated or revoked it. Ask for a new one.`
    ]
  }),
  crossOrigin: (name: string): IPage => ({
    status: 403,
    title: `${name}: request from another site refused`,
    lines: [
      'This request did not come from a page of the app itself (another site or another Flare ' +
        'app sent it), so your login does not count for it and it was not passed on.',
      'Open the app at its own address and do it from there.'
    ]
  }),
  loginFailed: (why: string): IPage => ({
    status: 400,
    title: 'Login did not complete',
    lines: [escape(why), 'Open the app address again to start over.']
  })
};
