/**
 * Where the pods that run user code (jobs, grading units) may be scheduled: a node selector and
 * tolerations from the configuration, e.g. the local platform's real node, which is tainted so that
 * nothing else lands on it.
 */
export interface IToleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export const tolerationsSchema = {
  type: 'array',
  default: [],
  items: {
    type: 'object',
    additionalProperties: false,
    properties: {
      key: { type: 'string', minLength: 1 },
      operator: { enum: ['Exists', 'Equal'] },
      value: { type: 'string' },
      effect: { enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] }
    }
  }
};

/** The pod spec fields for a placement; nothing when nothing is configured. */
export function placement(nodeSelector: Record<string, string>, tolerations: IToleration[]) {
  return {
    ...(Object.keys(nodeSelector).length ? { nodeSelector: { ...nodeSelector } } : {}),
    ...(tolerations.length ? { tolerations: tolerations.map(t => ({ ...t })) } : {})
  };
}
