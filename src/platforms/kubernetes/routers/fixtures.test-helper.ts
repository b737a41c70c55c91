/** Test builders (not shipped) for the Services and router unit tests. */
import type { Canary } from '../../../api/schema/canary.js';
import type { Ingress, Workload } from './types.js';

type Spec = Canary['spec'];

export const TEST_CANARY_UID = 'c0ffee00-0000-4000-8000-000000000001';

/** A Canary as read from the API server (it has a uid), for Deployment podinfo in namespace test. */
export function newTestCanary(spec: Partial<Spec> = {}, status?: Canary['status']): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    // Read from the API server: it has the uid that owner references need.
    metadata: { name: 'podinfo', namespace: 'test', uid: TEST_CANARY_UID } as Canary['metadata'],
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 80, targetPort: 9898 },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
    ...(status === undefined ? {} : { status }),
  };
}

export function newTestDeployment(): Workload {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: {
          containers: [
            {
              name: 'podinfod',
              ports: [
                { name: 'http', containerPort: 9898 },
                { name: 'http-metrics', containerPort: 9797 },
                { containerPort: 9999, protocol: 'TCP' },
              ],
            },
            { name: 'istio-proxy', ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] },
            { name: 'envoy', ports: [{ containerPort: 15000 }] },
          ],
        },
      },
    },
  };
}

export function newTestIngress(): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'podinfo',
      namespace: 'test',
      annotations: {
        'kubernetes.io/ingress.class': 'nginx',
        'nginx.ingress.kubernetes.io/canary-weight': '40',
        'nginx.ingress.kubernetes.io/rewrite-target': '/',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
      },
    },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'app.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'podinfo', port: { number: 80 } } },
              },
              {
                path: '/static',
                pathType: 'Prefix',
                backend: { service: { name: 'assets', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}
