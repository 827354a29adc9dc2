/**
 * Users' server pods as a platform piece: `app.serverPods` (null without Kubernetes). Like the
 * cluster index it starts in the background once the app is ready, so a slow API server delays
 * only what needs a pod's address (Flare answers "app offline" meanwhile), and stops with the app.
 */
import fp from 'fastify-plugin';
import { isKubernetesConfigured, loadKubeConfig } from './client.js';
import { createServerPods, type IServerPods } from './server-pods.js';
import { createTransport } from './transport.js';

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    serverPods: IServerPods | null;
  }
}

export const serverPodsPlugin = fp(
  async app => {
    const config = app.config.kubernetes;
    if (!isKubernetesConfigured(config)) {
      app.decorate('serverPods', null);
      return;
    }
    const transport = createTransport(loadKubeConfig(config));
    const pods = createServerPods(transport, {
      staleSeconds: config.staleSeconds,
      relistSeconds: config.relistSeconds,
      log: app.log.child({ component: 'server-pods' })
    });
    app.decorate('serverPods', pods);
    app.addHook('onReady', async () => pods.start());
    app.addHook('onClose', async () => {
      await pods.stop();
      transport.close();
    });
  },
  { name: 'server-pods', dependencies: ['config'] }
);
