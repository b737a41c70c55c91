import { describe, expect, it } from 'vitest';
import { serviceCopy } from './service-target.js';
import { testCanary } from './test-fixtures.test-helper.js';
import type { Service } from './types.js';

describe('serviceCopy', () => {
  it('given a NodePort Service, when copied, then addresses and last-applied are dropped and the Canary owns the copy', () => {
    const target: Service = {
      metadata: {
        name: 'backend',
        namespace: 'test',
        labels: { app: 'backend' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' },
      },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10'],
        selector: { app: 'backend' },
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
      },
    };
    const copy = serviceCopy(target, 'backend-canary', testCanary());
    expect(copy).toEqual({
      metadata: {
        name: 'backend-canary',
        namespace: 'test',
        labels: { app: 'backend' },
        annotations: { keep: 'me' },
        ownerReferences: [expect.objectContaining({ kind: 'Canary', uid: 'canary-uid' })],
      },
      spec: { type: 'NodePort', selector: { app: 'backend' }, ports: [{ name: 'http', port: 80 }] },
    });
    expect(target.spec?.clusterIP).toBe('10.96.0.10');
  });
});
