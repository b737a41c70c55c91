/**
 * The traffic harness's rules that need no cluster: which Pods the pod runner serves and how
 * (the `vireo.test/demo-service:<version>` convention), and when a process counts as inside the
 * private network namespace. The suite in test/traffic/ proves them with real processes.
 */
import type { NetworkInterfaceInfo } from 'node:os';

import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { checkPrivateNetworkNamespace } from '../support/netns.js';
import { podProcessSpec } from '../support/pod-runner.js';

function pod(
  overrides: {
    image?: string;
    phase?: string;
    ip?: string;
    deleting?: boolean;
    ports?: number[];
    annotations?: Record<string, string>;
  } = {},
): V1Pod {
  return {
    metadata: {
      uid: 'uid-1',
      namespace: 'shop',
      name: 'web-abc',
      ...(overrides.annotations === undefined ? {} : { annotations: overrides.annotations }),
      ...(overrides.deleting === true ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      containers: [
        { name: 'sidecar', image: 'example.com/proxy:1' },
        {
          name: 'web',
          image: overrides.image ?? 'vireo.test/demo-service:2.0.0',
          ports: (overrides.ports ?? [9898]).map((containerPort) => ({ containerPort })),
          env: [
            { name: 'ERROR_RATE', value: '0.3' },
            { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          ],
        },
      ],
    },
    status: { phase: overrides.phase ?? 'Running', podIP: overrides.ip ?? '10.244.0.7' },
  };
}

describe('the pod runner convention', () => {
  it('serves a Running Pod of a vireo.test/demo-service image on its IP and first port, with the version and literal env', () => {
    expect(podProcessSpec(pod())).toEqual({
      uid: 'uid-1',
      pod: 'shop/web-abc',
      ip: '10.244.0.7',
      port: 9898,
      version: '2.0.0',
      env: { VERSION: '2.0.0', ERROR_RATE: '0.3' },
      readyWhenServing: false,
    });
  });

  it('waits for the process to answer before the Pod may become Ready, when the Pod asks for it', () => {
    const waiting = { 'vireo.test/ready-when-serving': 'true' };
    expect(podProcessSpec(pod({ annotations: waiting }))?.readyWhenServing).toBe(true);
    expect(
      podProcessSpec(pod({ annotations: { ...waiting, 'vireo.test/serving': 'true' } }))?.readyWhenServing,
    ).toBe(false);
  });

  it('uses port 8080 when the container declares none', () => {
    expect(podProcessSpec(pod({ ports: [] }))?.port).toBe(8080);
  });

  it('serves nothing for other images, Pods not Running, without an IP, or being deleted', () => {
    expect(podProcessSpec(pod({ image: 'ghcr.io/stefanprodan/podinfo:6.0.0' }))).toBeUndefined();
    expect(podProcessSpec(pod({ image: 'vireo.test/demo-service' }))).toBeUndefined();
    expect(podProcessSpec(pod({ image: 'evil.example/vireo.test/demo-service:1' }))).toBeUndefined();
    expect(podProcessSpec(pod({ phase: 'Pending' }))).toBeUndefined();
    expect(podProcessSpec(pod({ ip: '' }))).toBeUndefined();
    expect(podProcessSpec(pod({ deleting: true }))).toBeUndefined();
  });
});

const loopback = (address: string): NetworkInterfaceInfo => ({
  address,
  netmask: '255.0.0.0',
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal: true,
  cidr: `${address}/8`,
});

describe('the private network namespace check', () => {
  const inside = { lo: [loopback('127.0.0.1'), loopback('10.244.0.1')] };

  it('accepts only lo carrying the pod network, with the marker set', () => {
    expect(checkPrivateNetworkNamespace(inside, { VIREO_TRAFFIC_NETNS: '1' }).ok).toBe(true);
  });

  it('refuses a machine network, a loopback without the pod network, or a missing marker, and says why', () => {
    const onHost = checkPrivateNetworkNamespace(
      { ...inside, eth0: [loopback('192.168.1.2')] },
      { VIREO_TRAFFIC_NETNS: '1' },
    );
    expect(onHost).toEqual({ ok: false, reason: 'network devices other than lo are present (eth0)' });
    expect(
      checkPrivateNetworkNamespace({ lo: [loopback('127.0.0.1')] }, { VIREO_TRAFFIC_NETNS: '1' }).reason,
    ).toContain('10.244.0.1/16');
    expect(checkPrivateNetworkNamespace(inside, {}).reason).toContain('VIREO_TRAFFIC_NETNS=1');
  });
});
