import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/platforms/kubernetes/client.js';
import { auditRollouts, type RecordedEvent } from '../support/rollout-recorder.js';

const PREFIX = 'nginx.ingress.kubernetes.io';

const object = (name: string, rv: number, rest: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name, namespace: 'ab', resourceVersion: String(rv) },
  ...rest,
});

const deployment = (name: string, rv: number, replicas: number): RecordedEvent => ({
  rv,
  resource: 'deployments',
  type: 'MODIFIED',
  object: object(name, rv, { spec: { replicas } }),
});

const headerIngress = (rv: number, matched: boolean): RecordedEvent => ({
  rv,
  resource: 'ingresses',
  type: 'MODIFIED',
  object: object('podinfo-canary', rv, {
    metadata: {
      name: 'podinfo-canary',
      namespace: 'ab',
      resourceVersion: String(rv),
      annotations: matched
        ? { [`${PREFIX}/canary`]: 'true', [`${PREFIX}/canary-by-header`]: 'x-canary' }
        : { [`${PREFIX}/canary`]: 'false' },
    },
  }),
});

const start: RecordedEvent[] = [
  {
    rv: 1,
    resource: 'services',
    type: 'ADDED',
    object: object('podinfo', 1, { spec: { selector: { app: 'podinfo-primary' } } }),
  },
  deployment('podinfo-primary', 2, 2),
  deployment('podinfo', 3, 2),
  headerIngress(4, true),
];

describe('the rollout audit of the cluster R-suites', () => {
  it('reports a header route to a canary scaled to zero', () => {
    const audit = auditRollouts([...start, deployment('podinfo', 5, 0)]);
    expect(audit.unsafeRoutings).toEqual([
      expect.objectContaining({
        namespace: 'ab',
        rv: 5,
        what: expect.stringContaining('traffic to podinfo while'),
      }),
    ]);
  });

  it('reports nothing once the route was removed before the scale-down', () => {
    const audit = auditRollouts([...start, headerIngress(5, false), deployment('podinfo', 6, 0)]);
    expect(audit.unsafeRoutings).toEqual([]);
  });

  it('makes no claim while a recorder gap hides the Ingress, and checks again once it is known', () => {
    const unknown: RecordedEvent = { ...headerIngress(4.25, true), type: 'UNKNOWN' };
    const hidden = auditRollouts([...start, unknown, deployment('podinfo', 6, 0), headerIngress(8, false)]);
    expect(hidden.unsafeRoutings).toEqual([]);
    const seenAgain = auditRollouts([...start, unknown, headerIngress(5, true), deployment('podinfo', 6, 0)]);
    expect(seenAgain.unsafeRoutings).toHaveLength(1);
  });
});
