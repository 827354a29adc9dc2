interface IStoppable {
  stop(): Promise<void>;
}

/**
 * Start services side by side (a hub, a database, a cluster each take seconds); if one fails, stop
 * those that did start and fail with its error, so a broken set-up leaves no process behind.
 */
export async function startAll<A extends IStoppable, B extends IStoppable>(
  a: Promise<A>,
  b: Promise<B>
): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  await Promise.all([ra, rb].map(r => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}
