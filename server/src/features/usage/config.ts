/**
 * The `usage` section of the companion's configuration: the rate card and the meter. It lives
 * beside the feature; platform/config.ts folds it into the one validated schema. A rate card that
 * is given must be complete: a missing or negative price stops the companion at start, naming the
 * key, rather than billing something at zero.
 */
import type { RateCard } from '@hotstepper/schema';

export interface IUsageConfig {
  rateCard: RateCard;
  meter: {
    enabled: boolean;
    /** How often the meter writes what ran since its last pass. */
    intervalSeconds: number;
    /** The Lease the meter holds while it runs (the chart names it <fullname>-usage-meter). */
    leaseName: string;
  };
  /** How long live figures from Prometheus are reused for everyone polling the status bar. */
  liveCacheSeconds: number;
}

export const DEFAULT_RATE_CARD: RateCard = {
  currency: 'CZK',
  charge: 'requests',
  cpuCoreHour: 0.6,
  memoryGibHour: 0.08,
  gpuHour: {
    default: 40,
    'NVIDIA-H100-80GB-HBM3': 95,
    'NVIDIA-A100-SXM4-80GB': 60,
    'NVIDIA-A40': 30,
    'NVIDIA-L4': 15
  },
  migHour: { default: 10, '1g.10gb': 8, '2g.20gb': 16, '3g.40gb': 30 }
};

const price = { type: 'number', minimum: 0 };
const prices = {
  type: 'object',
  required: ['default'],
  properties: { default: price },
  additionalProperties: price
};

export const usageConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    rateCard: {
      type: 'object',
      // No per-price defaults: a card that is given is the operator's whole card.
      default: DEFAULT_RATE_CARD,
      additionalProperties: false,
      required: ['cpuCoreHour', 'memoryGibHour', 'gpuHour', 'migHour'],
      properties: {
        currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'CZK' },
        charge: { enum: ['requests', 'usage', 'max'], default: 'requests' },
        cpuCoreHour: price,
        memoryGibHour: price,
        gpuHour: prices,
        migHour: prices
      }
    },
    meter: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: true },
        intervalSeconds: { type: 'number', minimum: 1, maximum: 3600, default: 60 },
        leaseName: {
          type: 'string',
          pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
          default: 'hotstepper-usage-meter'
        }
      }
    },
    liveCacheSeconds: { type: 'number', minimum: 0, maximum: 300, default: 10 }
  }
};

export const usageEnvKeys: Record<string, [path: string, kind: 'string' | 'integer']> = {
  HOTSTEPPER_USAGE_METER_INTERVAL: ['usage.meter.intervalSeconds', 'integer'],
  HOTSTEPPER_USAGE_LEASE_NAME: ['usage.meter.leaseName', 'string']
};
