/**
 * Mode kubernetes: a route is a Service selecting the owner's notebook pod and an Ingress for its
 * host in the owner's namespace, TLS from the one wildcard certificate. The Service is the parent:
 * the Ingress and the Service that sends /_flare/ to the companion are its children
 * (ownerReferences), so deleting it removes the route's objects together. Non-public routes get
 * ingress-nginx's external-auth annotations pointing at the companion's GET /flare/auth.
 */
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import type { ITenancy } from '../../platform/kubernetes/tenancy.js';
import type { IObjectRef } from '../../platform/kubernetes/tenant.js';
import type { FlareAccess } from '@hotstepper/schema';
import type { IFlareConfig } from './config.js';
import type { FlareRouteRow } from './migrations.js';
import { urlOf } from './service.js';

/** KubeSpawner's labels on a user's notebook pod. */
export const POD_SELECTOR = {
  component: 'singleuser-server',
  user: 'hub.jupyter.org/username'
} as const;
const ROUTE_LABEL = 'hotstepper.io/flare-route';
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const objectNames = (name: string) => ({
  service: `flare-${name}`,
  gateway: `flare-${name}-gateway`,
  ingress: `flare-${name}`
});

export function createFlareObjects(tenancy: ITenancy, config: IFlareConfig) {
  const refs = (name: string): IObjectRef[] => {
    const n = objectNames(name);
    return [
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: n.ingress },
      { apiVersion: 'v1', kind: 'Service', name: n.gateway },
      { apiVersion: 'v1', kind: 'Service', name: n.service }
    ];
  };

  async function removeAll(row: FlareRouteRow) {
    const tenant = await tenancy.tenant(row.owner);
    for (const ref of refs(row.name)) {
      try {
        await tenant.delete(ref);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    }
  }

  return {
    async apply(row: FlareRouteRow): Promise<void> {
      // A change replaces the objects: few fields, and no stale annotation survives a mode change.
      await removeAll(row);
      const tenant = await tenancy.tenant(row.owner);
      const names = objectNames(row.name);
      const labels = { [ROUTE_LABEL]: row.name };
      const user = LABEL_VALUE.test(row.owner) && row.owner.length <= 63 ? row.owner : undefined;
      const parent = await tenant.create<V1Service>({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: names.service, labels },
        spec: {
          selector: {
            component: POD_SELECTOR.component,
            // A user name that is no label value selects nothing rather than someone else's pod.
            [POD_SELECTOR.user]: user ?? 'invalid--name'
          },
          ports: [{ name: 'http', port: 80, targetPort: row.port, protocol: 'TCP' }]
        }
      });
      const owned = {
        labels,
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            name: names.service,
            uid: parent.metadata?.uid ?? '',
            blockOwnerDeletion: true
          }
        ]
      };
      await tenant.create<V1Service>({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: names.gateway, ...owned },
        spec: {
          type: 'ExternalName',
          externalName: config.kubernetes.gatewayService,
          ports: [{ name: 'http', port: config.gateway.port, protocol: 'TCP' }]
        }
      });
      const host = `${row.name}.${config.domain}`;
      const access = JSON.parse(row.access) as FlareAccess;
      await tenant.create<V1Ingress>({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: {
          name: names.ingress,
          ...owned,
          annotations: {
            ...config.kubernetes.annotations,
            ...(access.mode === 'public'
              ? {}
              : {
                  'nginx.ingress.kubernetes.io/auth-url': `${config.kubernetes.authUrl}?route=${row.name}`,
                  'nginx.ingress.kubernetes.io/auth-signin': `${urlOf(config, config.domain)}_flare/login?next=$scheme://$host$escaped_request_uri`
                })
          }
        },
        spec: {
          ingressClassName: config.kubernetes.ingressClassName,
          tls: [{ hosts: [host], secretName: config.kubernetes.tlsSecretName }],
          rules: [
            {
              host,
              http: {
                paths: [
                  {
                    // Logins and share links land here: the companion sets this host's cookie.
                    path: '/_flare/',
                    pathType: 'Prefix',
                    backend: {
                      service: { name: names.gateway, port: { number: config.gateway.port } }
                    }
                  },
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: names.service, port: { number: 80 } } }
                  }
                ]
              }
            }
          ]
        }
      });
    },

    remove: removeAll
  };
}
