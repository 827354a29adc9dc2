/**
 * Debian's Chromium, never a browser a tool downloads. The flags keep it from reaching for the
 * network this machine does not have (background updates, sync, QUIC).
 */
export const chromiumLaunchOptions = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync'
  ]
};
