import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../resources.js';
import {
  configChecksum,
  configRefsOf,
  isTrackable,
  readTrackedConfigs,
  trackedChecksums,
} from './config-tracking.js';
import { MapReader } from './test-fixtures.test-helper.js';
import type { PodSpec } from './types.js';

const podSpec: PodSpec = {
  volumes: [
    { name: 'config', configMap: { name: 'app-config' } },
    { name: 'tls', secret: { secretName: 'app-tls' } },
    {
      name: 'all',
      projected: {
        sources: [{ configMap: { name: 'projected-cm' } }, { secret: { name: 'projected-secret' } }],
      },
    },
  ],
  initContainers: [
    {
      name: 'init',
      envFrom: [{ configMapRef: { name: 'init-env' } }, { secretRef: { name: 'init-secret' } }],
    },
  ],
  containers: [
    {
      name: 'app',
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'a' } } },
        { name: 'B', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'b', optional: true } } },
        { name: 'C', value: 'plain' },
        { name: 'D', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
    },
  ],
};

const configMap = (name: string, data: Record<string, string>, annotations?: Record<string, string>) => ({
  metadata: { name, namespace: 'test', ...(annotations === undefined ? {} : { annotations }) },
  data,
});
const secret = (name: string, type = 'Opaque') => ({
  metadata: { name, namespace: 'test' },
  type,
  data: { key: 'dmFsdWU=' },
});

describe('configRefsOf', () => {
  it('given volumes, projected sources, env and envFrom of containers and initContainers, when scanned, then finds every ConfigMap and Secret', () => {
    const refs = configRefsOf(podSpec).map((ref) => `${ref.kind}/${ref.name}${ref.optional ? '?' : ''}`);
    expect(refs.sort()).toEqual(
      [
        'configmap/app-config',
        'configmap/projected-cm',
        'configmap/init-env',
        'configmap/env-cm',
        'secret/app-tls',
        'secret/projected-secret',
        'secret/init-secret',
        'secret/env-secret?',
      ].sort(),
    );
  });

  it('given one optional and one required use of the same ConfigMap, when scanned, then it is required', () => {
    const refs = configRefsOf({
      volumes: [{ name: 'v', configMap: { name: 'shared', optional: true } }],
      containers: [{ name: 'app', envFrom: [{ configMapRef: { name: 'shared' } }] }],
    });
    expect(refs).toEqual([{ kind: 'configmap', name: 'shared', optional: false }]);
  });
});

describe('configChecksum', () => {
  it('given data, when checksummed, then it is 16 hex chars, stable across key order, and changes with the data', () => {
    const checksum = configChecksum(configMap('a', { x: '1', y: '2' }));
    expect(checksum).toMatch(/^[0-9a-f]{16}$/);
    expect(configChecksum(configMap('a', { y: '2', x: '1' }))).toBe(checksum);
    expect(configChecksum(configMap('a', { x: '1', y: '3' }))).not.toBe(checksum);
  });
});

describe('isTrackable', () => {
  it('given Secrets of each type, when checked, then only Opaque, basic-auth, ssh-auth and tls are tracked', () => {
    for (const type of [
      'Opaque',
      'kubernetes.io/basic-auth',
      'kubernetes.io/ssh-auth',
      'kubernetes.io/tls',
    ]) {
      expect(isTrackable('secret', secret('s', type))).toBe(true);
    }
    expect(isTrackable('secret', secret('s', 'kubernetes.io/dockerconfigjson'))).toBe(false);
    expect(isTrackable('secret', secret('s', 'kubernetes.io/service-account-token'))).toBe(false);
  });

  it('given the config-tracking annotation starting with "disable", when checked, then it is not tracked', () => {
    expect(isTrackable('configmap', configMap('c', {}, { 'flagger.app/config-tracking': 'disabled' }))).toBe(
      false,
    );
    expect(isTrackable('configmap', configMap('c', {}, { 'flagger.app/config-tracking': 'disable' }))).toBe(
      false,
    );
    expect(isTrackable('configmap', configMap('c', {}, { 'flagger.app/config-tracking': 'enabled' }))).toBe(
      true,
    );
  });
});

describe('readTrackedConfigs', () => {
  const spec: PodSpec = {
    volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
    containers: [
      {
        name: 'app',
        envFrom: [{ secretRef: { name: 'app-secret' } }, { secretRef: { name: 'maybe', optional: true } }],
        env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'pull', key: 'k' } } }],
      },
    ],
  };

  it('given existing configs and a missing optional one, when read, then tracks the existing trackable ones', async () => {
    const reader = new MapReader()
      .put(RESOURCES.configMaps, configMap('app-config', { a: '1' }))
      .put(RESOURCES.secrets, secret('app-secret'))
      .put(RESOURCES.secrets, secret('pull', 'kubernetes.io/dockerconfigjson'));
    const configs = await readTrackedConfigs(reader, 'test', spec, 'Deployment test/podinfo');
    expect(Object.keys(trackedChecksums(configs))).toEqual(['configmap/app-config', 'secret/app-secret']);
  });

  it('given a missing required ConfigMap, when read, then the error names it and the target', async () => {
    const reader = new MapReader().put(RESOURCES.secrets, secret('app-secret'));
    await expect(readTrackedConfigs(reader, 'test', spec, 'Deployment test/podinfo')).rejects.toMatchObject({
      code: 'E_CONFIG_NOT_FOUND',
      message: expect.stringMatching(/ConfigMap test\/app-config referenced by Deployment test\/podinfo/),
    });
  });

  it('given a failing read of an optional Secret, when read, then the failure propagates instead of shrinking the set (#989)', async () => {
    const reader = new MapReader()
      .put(RESOURCES.configMaps, configMap('app-config', { a: '1' }))
      .put(RESOURCES.secrets, secret('app-secret'))
      .put(RESOURCES.secrets, secret('pull', 'kubernetes.io/dockerconfigjson'));
    reader.failing.add('secrets/test/maybe');
    await expect(readTrackedConfigs(reader, 'test', spec, 'Deployment test/podinfo')).rejects.toThrow(
      /connection reset/,
    );
  });
});
