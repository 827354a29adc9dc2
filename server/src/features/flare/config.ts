/**
 * The `flare` section of the companion's configuration. It lives here, beside the feature, and
 * platform/config.ts folds it into the one validated schema.
 */

export interface IFlareConfig {
  /** gateway: the companion serves app hosts itself; kubernetes: a Service + Ingress per route. */
  mode: 'gateway' | 'kubernetes';
  /** Route hosts are <name>.<domain>; the bare domain is the login host. */
  domain: string;
  /** How a host is written as a URL: `{host}` is replaced, e.g. https://{host}/. */
  publicUrl: string;
  /** JupyterHub as browsers reach it: OAuth login (never used to reach a user's server). */
  hubUrl: string;
  reservedNames: string[];
  maxRoutesPerUser: number;
  /** Signs visitor cookies and login tickets; several replicas need the same one. */
  cookieSecret?: string;
  gateway: {
    host: string;
    port: number;
    /**
     * Where an app is reached. pod: the owner's server pod (from the cluster, never from what the
     * owner reports); loopback: appHost, for a hub whose servers are local processes, and only a
     * port that a process of the owner's server holds (the kernel's word, listener-owner.ts).
     */
    target: 'pod' | 'loopback';
    appHost: string;
    connectTimeoutSeconds: number;
  };
  kubernetes: {
    ingressClassName: string;
    tlsSecretName: string;
    annotations: Record<string, string>;
    /** The companion's auth endpoint as the ingress controller reaches it. */
    authUrl: string;
    /** The DNS name of the Service in front of the companion's gateway listener. */
    gatewayService: string;
  };
}

const label = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

export const flareConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    mode: { enum: ['gateway', 'kubernetes'], default: 'gateway' },
    domain: {
      type: 'string',
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      maxLength: 190,
      default: 'flare.localhost'
    },
    publicUrl: {
      type: 'string',
      pattern: '^https?://\\{host\\}(:\\d+)?/$',
      default: 'https://{host}/'
    },
    hubUrl: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:8000' },
    reservedNames: {
      type: 'array',
      items: { type: 'string', pattern: label },
      default: ['www', 'api', 'admin', 'auth', 'hub', 'login', 'mail', 'flare', 'status', 'static']
    },
    maxRoutesPerUser: { type: 'integer', minimum: 0, maximum: 1000, default: 5 },
    cookieSecret: { type: 'string', minLength: 32 },
    gateway: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 9180 },
        target: { enum: ['pod', 'loopback'], default: 'pod' },
        appHost: { type: 'string', minLength: 1, default: '127.0.0.1' },
        connectTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 3 }
      }
    },
    kubernetes: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        ingressClassName: { type: 'string', minLength: 1, default: 'nginx' },
        tlsSecretName: { type: 'string', pattern: label, default: 'flare-wildcard-tls' },
        annotations: {
          type: 'object',
          additionalProperties: { type: 'string' },
          default: {}
        },
        authUrl: {
          type: 'string',
          pattern: '^https?://',
          default: 'http://hotstepper.hotstepper.svc:8000/flare/auth'
        },
        gatewayService: {
          type: 'string',
          pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
          default: 'hotstepper-flare.hotstepper.svc.cluster.local'
        }
      }
    }
  }
};

/** Environment variables of the flare section (platform/config.ts merges them). */
export const flareEnvKeys: Record<string, [path: string, kind: 'string' | 'integer']> = {
  HOTSTEPPER_FLARE_MODE: ['flare.mode', 'string'],
  HOTSTEPPER_FLARE_DOMAIN: ['flare.domain', 'string'],
  HOTSTEPPER_FLARE_PUBLIC_URL: ['flare.publicUrl', 'string'],
  HOTSTEPPER_FLARE_HUB_URL: ['flare.hubUrl', 'string'],
  HOTSTEPPER_FLARE_COOKIE_SECRET: ['flare.cookieSecret', 'string'],
  HOTSTEPPER_FLARE_HOST: ['flare.gateway.host', 'string'],
  HOTSTEPPER_FLARE_PORT: ['flare.gateway.port', 'integer'],
  HOTSTEPPER_FLARE_GATEWAY_TARGET: ['flare.gateway.target', 'string']
};
