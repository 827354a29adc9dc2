/** Wait ms, or less if the signal aborts first; never rejects, so loops can check the signal after. */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>(resolve => {
    // Aborted already (e.g. during the work before this sleep): 'abort' will not fire again.
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
