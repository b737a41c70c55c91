/**
 * The objects a Flagger user applies, shaped like Flagger's own e2e fixtures (podinfo): a
 * Deployment, its Ingress, ConfigMaps, and Canaries for each strategy.
 */
import type { KubeObject } from '../../src/platforms/kubernetes/client.js';

export function podinfoDeployment(
  namespace: string,
  options: {
    name?: string;
    image?: string;
    replicas?: number;
    configMap?: string;
    annotations?: Record<string, string>;
    progressDeadlineSeconds?: number;
  } = {},
): KubeObject {
  const name = options.name ?? 'podinfo';
  return {
    metadata: { name, namespace, labels: { app: name, 'app.kubernetes.io/name': name } },
    spec: {
      replicas: options.replicas ?? 2,
      progressDeadlineSeconds: options.progressDeadlineSeconds ?? 60,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: options.annotations ?? {} },
        spec: {
          containers: [
            {
              name: 'podinfod',
              image: options.image ?? 'ghcr.io/stefanprodan/podinfo:6.0.0',
              ports: [
                { name: 'http', containerPort: 9898, protocol: 'TCP' },
                { name: 'http-metrics', containerPort: 9797, protocol: 'TCP' },
              ],
              ...(options.configMap === undefined
                ? {}
                : { envFrom: [{ configMapRef: { name: options.configMap } }] }),
            },
          ],
        },
      },
    },
  };
}

export function podinfoIngress(namespace: string, name = 'podinfo'): KubeObject {
  return {
    metadata: {
      name,
      namespace,
      labels: { app: name },
      annotations: { 'kubernetes.io/ingress.class': 'nginx' },
    },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: `${name}.local`,
          http: {
            paths: [{ pathType: 'Prefix', path: '/', backend: { service: { name, port: { number: 80 } } } }],
          },
        },
      ],
    },
  };
}

export interface CanaryFixture {
  readonly namespace: string;
  readonly name?: string;
  readonly provider: 'nginx' | 'kubernetes';
  readonly analysis: Record<string, unknown>;
  readonly revertOnDeletion?: boolean;
  readonly progressDeadlineSeconds?: number;
}

export function canary(fixture: CanaryFixture): KubeObject {
  const name = fixture.name ?? 'podinfo';
  return {
    metadata: { name, namespace: fixture.namespace },
    spec: {
      provider: fixture.provider,
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      ...(fixture.provider === 'nginx'
        ? { ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name } }
        : {}),
      progressDeadlineSeconds: fixture.progressDeadlineSeconds ?? 60,
      ...(fixture.revertOnDeletion === undefined ? {} : { revertOnDeletion: fixture.revertOnDeletion }),
      service: { port: 80, targetPort: 9898 },
      analysis: fixture.analysis,
    },
  };
}
