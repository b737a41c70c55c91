import { describe, expect, it } from 'vitest';
import {
  primaryPodSpec,
  primaryPodTemplate,
  withFlaggerId,
  withoutFlaggerId,
  type PrimaryRewrite,
} from './pod-spec.js';
import type { PodSpec, PodTemplateSpec } from './types.js';

const rewrite: PrimaryRewrite = {
  configMaps: new Set(['app-config']),
  secrets: new Set(['app-secret']),
  selector: { label: 'app', value: 'podinfo' },
};

const spec = (): PodSpec => ({
  volumes: [
    { name: 'c', configMap: { name: 'app-config' } },
    { name: 's', secret: { secretName: 'app-secret' } },
    { name: 'untracked', configMap: { name: 'other' } },
    {
      name: 'p',
      projected: { sources: [{ configMap: { name: 'app-config' } }, { secret: { name: 'app-secret' } }] },
    },
  ],
  initContainers: [{ name: 'init', envFrom: [{ configMapRef: { name: 'app-config' } }] }],
  containers: [
    {
      name: 'app',
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'a' } } },
        { name: 'B', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'b' } } },
      ],
      envFrom: [{ secretRef: { name: 'app-secret' } }, { configMapRef: { name: 'other' } }],
    },
  ],
  topologySpreadConstraints: [
    { maxSkew: 1, labelSelector: { matchLabels: { app: 'podinfo' } } },
    { maxSkew: 1, labelSelector: { matchLabels: { app: 'somebody-else' } } },
  ],
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['podinfo', 'x'] }] } },
      ],
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { labelSelector: { matchLabels: { app: 'podinfo', tier: 'podinfo' } } },
        },
      ],
    },
  },
});

describe('primaryPodSpec', () => {
  it('given tracked configs, when rewritten, then volumes, projected sources, env and envFrom (init too) point at -primary', () => {
    const result = primaryPodSpec(spec(), rewrite);
    expect(result.volumes?.map((volume) => volume.configMap?.name ?? volume.secret?.secretName)).toEqual([
      'app-config-primary',
      'app-secret-primary',
      'other',
      undefined,
    ]);
    expect(result.volumes?.[3]?.projected?.sources).toEqual([
      { configMap: { name: 'app-config-primary' } },
      { secret: { name: 'app-secret-primary' } },
    ]);
    expect(result.initContainers?.[0]?.envFrom?.[0]?.configMapRef?.name).toBe('app-config-primary');
    const app = result.containers[0]!;
    expect(app.env?.[0]?.valueFrom?.configMapKeyRef?.name).toBe('app-config-primary');
    expect(app.env?.[1]?.valueFrom?.secretKeyRef?.name).toBe('app-secret-primary');
    expect(app.envFrom?.map((source) => source.secretRef?.name ?? source.configMapRef?.name)).toEqual([
      'app-secret-primary',
      'other',
    ]);
  });

  it('given spread constraints and anti-affinity selecting the target pods, when rewritten, then they select the primary pods only', () => {
    const result = primaryPodSpec(spec(), rewrite);
    expect(result.topologySpreadConstraints?.map((c) => c.labelSelector?.matchLabels?.['app'])).toEqual([
      'podinfo-primary',
      'somebody-else',
    ]);
    const anti = result.affinity?.podAntiAffinity;
    expect(
      anti?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.labelSelector?.matchExpressions?.[0]?.values,
    ).toEqual(['podinfo-primary', 'x']);
    expect(
      anti?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.labelSelector?.matchLabels,
    ).toEqual({ app: 'podinfo-primary', tier: 'podinfo' });
  });

  it('leaves its input untouched', () => {
    const input = spec();
    primaryPodSpec(input, rewrite);
    expect(input).toEqual(spec());
  });
});

describe('primaryPodTemplate', () => {
  const template: PodTemplateSpec = {
    metadata: { labels: { app: 'podinfo', version: 'v1' }, annotations: { 'prometheus.io/scrape': 'true' } },
    spec: { containers: [{ name: 'app', image: 'podinfo:1' }] },
  };

  it('given a target template, when copied, then the selector label gets -primary and other metadata stays', () => {
    const result = primaryPodTemplate(template, rewrite);
    expect(result.metadata).toEqual({
      labels: { app: 'podinfo-primary', version: 'v1' },
      annotations: { 'prometheus.io/scrape': 'true' },
    });
  });

  it('given a flagger-id, when it is added and removed again, then the template compares equal to the one without', () => {
    const withId = withFlaggerId(primaryPodTemplate(template, rewrite), 'uuid-1');
    expect(withId.metadata?.annotations?.['flagger-id']).toBe('uuid-1');
    expect(withoutFlaggerId(withId)).toEqual(primaryPodTemplate(template, rewrite));
    const bare: PodTemplateSpec = { metadata: { labels: { app: 'x' } }, spec: { containers: [] } };
    expect(withoutFlaggerId(withFlaggerId(bare, 'id'))).toEqual(bare);
  });
});
