import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client.js';
import { DEFAULT_PLATFORM_OPTIONS } from './options.js';
import type { ObjectReader } from './reader.js';
import { newTestCanary, newTestDeployment, TEST_CANARY_UID } from './routers/fixtures.test-helper.js';
import type { Service } from './routers/types.js';
import {
  desiredServices,
  discoverPorts,
  KubernetesServices,
  lastAppliedSelector,
  newService,
  servicePorts,
  serviceUpdate,
  type DesiredService,
} from './services.js';

const options = DEFAULT_PLATFORM_OPTIONS;

const byRole = (services: DesiredService[], role: string): DesiredService =>
  services.find((service) => service.role === role)!;

/** What the API server returns for a Service we created: our object plus its defaults. */
function asServed(service: Service): Service {
  return {
    ...service,
    metadata: { ...service.metadata, uid: 'svc-uid', resourceVersion: '7' },
    spec: {
      ...service.spec,
      clusterIP: service.spec?.clusterIP ?? '10.96.0.12',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
    },
  };
}

describe('desiredServices (docs/flagger-compatibility.md#31-services)', () => {
  it('given a Deployment selected by app=podinfo, when building, then apex and primary select the primary pods and the canary the target pods', () => {
    const services = desiredServices(newTestCanary(), newTestDeployment(), options);
    expect(services.map((service) => [service.role, service.name, service.selector])).toEqual([
      ['canary', 'podinfo-canary', { app: 'podinfo' }],
      ['primary', 'podinfo-primary', { app: 'podinfo-primary' }],
      ['apex', 'podinfo', { app: 'podinfo-primary' }],
    ]);
  });

  it('given spec.service.name and per-Service metadata, when building, then each Service is labelled with its own name and carries its metadata minus Flux keys', () => {
    const canary = newTestCanary({
      service: {
        name: 'web',
        port: 80,
        apex: {
          labels: { team: 'a', app: 'overridden', 'kustomize.toolkit.fluxcd.io/name': 'x' },
          annotations: { note: 'apex', 'kustomize.toolkit.fluxcd.io/checksum': 'y' },
        },
        primary: { labels: { tier: 'primary' } },
        canary: { annotations: { note: 'canary' } },
      },
    });
    const services = desiredServices(canary, newTestDeployment(), options);
    expect(byRole(services, 'apex')).toMatchObject({
      name: 'web',
      labels: { team: 'a', app: 'web' },
      annotations: { note: 'apex' },
    });
    expect(byRole(services, 'apex').labels).not.toHaveProperty('kustomize.toolkit.fluxcd.io/name');
    expect(byRole(services, 'apex').annotations).not.toHaveProperty('kustomize.toolkit.fluxcd.io/checksum');
    expect(byRole(services, 'primary')).toMatchObject({
      name: 'web-primary',
      labels: { tier: 'primary', app: 'web-primary' },
      annotations: {},
    });
    expect(byRole(services, 'canary')).toMatchObject({
      name: 'web-canary',
      labels: { app: 'web-canary' },
      annotations: { note: 'canary' },
    });
  });

  it('given a target without any selector label, when building, then the error names the labels to add', () => {
    const target = newTestDeployment();
    target.spec!.selector = { matchLabels: { role: 'web' } };
    expect(() => desiredServices(newTestCanary(), target, options)).toThrow(
      expect.objectContaining({ code: 'E_TARGET_SELECTOR', message: expect.stringMatching(/"app"/) }),
    );
  });

  it('given a canary without spec.service, when building, then the error asks for spec.service.port', () => {
    const canary = newTestCanary();
    delete canary.spec.service;
    expect(() => desiredServices(canary, newTestDeployment(), options)).toThrow(
      expect.objectContaining({
        code: 'E_SERVICE_SPEC',
        message: expect.stringMatching(/spec\.service\.port/),
      }),
    );
  });
});

describe('servicePorts and portDiscovery', () => {
  it('given only a port, when building, then the port is http/TCP with targetPort = port', () => {
    expect(servicePorts({ port: 8080 }, undefined)).toEqual([
      { name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080 },
    ]);
  });

  it('given portName, targetPort and appProtocol, when building, then the port carries them', () => {
    expect(
      servicePorts({ port: 80, portName: 'grpc', targetPort: 'grpc', appProtocol: 'grpc' }, undefined),
    ).toEqual([{ name: 'grpc', protocol: 'TCP', port: 80, targetPort: 'grpc', appProtocol: 'grpc' }]);
  });

  it('given portDiscovery, when building, then every other container port is added except the sidecars', () => {
    const template = newTestDeployment().spec!.template;
    expect(servicePorts({ port: 80, targetPort: 9898, portDiscovery: true }, template)).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 9898 },
      { name: 'http-metrics', protocol: 'TCP', port: 9797, targetPort: 9797 },
      { name: 'tcp-podinfod-2', protocol: 'TCP', port: 9999, targetPort: 9999 },
    ]);
  });

  it('given a targetPort by name, when discovering, then the container port of that name is the service port', () => {
    const template = newTestDeployment().spec!.template;
    const main = { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' };
    expect(discoverPorts(template, main).map((port) => port.port)).toEqual([9797, 9999]);
  });

  it('given ports the API would reject as duplicates, when discovering, then each number and name appears once', () => {
    const template = {
      spec: {
        containers: [
          { name: 'a', ports: [{ name: 'metrics', containerPort: 9100 }] },
          {
            name: 'b',
            ports: [
              { name: 'metrics', containerPort: 9200 },
              { containerPort: 9100 },
              { containerPort: 9100, protocol: 'UDP' },
            ],
          },
        ],
      },
    };
    const main = { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 };
    expect(discoverPorts(template, main)).toEqual([
      { name: 'metrics', protocol: 'TCP', port: 9100, targetPort: 9100 },
      { name: 'tcp-b-0', protocol: 'TCP', port: 9200, targetPort: 9200 },
      { name: 'tcp-b-2', protocol: 'UDP', port: 9100, targetPort: 9100 },
    ]);
  });
});

describe('newService', () => {
  it('given a desired Service, when creating, then it is a ClusterIP Service owned by the Canary', () => {
    const canary = newTestCanary();
    const apex = byRole(desiredServices(canary, newTestDeployment(), options), 'apex');
    const service = newService(apex, canary);
    expect(service.metadata).toMatchObject({
      name: 'podinfo',
      namespace: 'test',
      labels: { app: 'podinfo' },
      ownerReferences: [
        {
          apiVersion: 'flagger.app/v1beta1',
          kind: 'Canary',
          name: 'podinfo',
          uid: TEST_CANARY_UID,
          controller: true,
        },
      ],
    });
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      selector: { app: 'podinfo-primary' },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 9898 }],
    });
  });

  it('given headless and trafficDistribution, when creating, then clusterIP is None and the distribution is set', () => {
    const canary = newTestCanary({
      service: { port: 80, headless: true, trafficDistribution: 'PreferClose' },
    });
    const primary = byRole(desiredServices(canary, newTestDeployment(), options), 'primary');
    expect(newService(primary, canary).spec).toMatchObject({
      clusterIP: 'None',
      trafficDistribution: 'PreferClose',
    });
  });
});

describe('serviceUpdate', () => {
  const canary = newTestCanary({
    service: {
      port: 80,
      targetPort: 9898,
      canary: { labels: { team: 'a' } },
      unmanagedMetadata: { labels: ['external'], annotations: ['cloud.example/lb'] },
    },
  });
  const desired = desiredServices(canary, newTestDeployment(), options);

  it('given a Service as Vireo created it, when nothing changed, then there is nothing to write', () => {
    for (const service of desired) {
      expect(serviceUpdate(asServed(newService(service, canary)), service, canary)).toBeUndefined();
    }
  });

  it('given an owned Service with drifted metadata, when updating, then metadata is replaced but unmanaged keys are kept', () => {
    const current = asServed(newService(byRole(desired, 'canary'), canary));
    current.metadata.labels = { app: 'podinfo-canary', stray: 'x', external: 'kept' };
    current.metadata.annotations = {
      'cloud.example/lb': 'kept',
      'old-note': 'x',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
    };
    expect(serviceUpdate(current, byRole(desired, 'canary'), canary)).toEqual({
      metadata: {
        labels: { team: 'a', stray: null },
        // Flux's hands-off annotations are ours on every generated Service, as Flagger's.
        annotations: { 'old-note': null, 'helm.toolkit.fluxcd.io/driftDetection': 'disabled' },
      },
    });
  });

  it('given a user-created apex, when updating, then it gets the primary selector and our port but keeps its metadata', () => {
    const current: Service = {
      metadata: {
        name: 'podinfo',
        namespace: 'test',
        labels: { owner: 'user' },
        annotations: { note: 'mine' },
      },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.40',
        selector: { app: 'podinfo' },
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 9898, nodePort: 30080 }],
        trafficDistribution: 'PreferClose',
      },
    };
    expect(serviceUpdate(current, byRole(desired, 'apex'), canary)).toEqual({
      spec: { selector: { app: 'podinfo-primary' } },
    });
  });

  it('given a changed port, when updating, then the ports are replaced whole and the allocated nodePort is kept', () => {
    const current = asServed(newService(byRole(desired, 'apex'), canary));
    current.spec!.ports = [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 9898, nodePort: 30080 }];
    expect(serviceUpdate(current, byRole(desired, 'apex'), canary)).toEqual({
      spec: { ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 9898, nodePort: 30080 }] },
    });
  });

  it('given an owned Service with a distribution the spec no longer sets, when updating, then it is removed', () => {
    const current = asServed(newService(byRole(desired, 'primary'), canary));
    current.spec!.trafficDistribution = 'PreferClose';
    expect(serviceUpdate(current, byRole(desired, 'primary'), canary)).toEqual({
      spec: { trafficDistribution: null },
    });
  });
});

describe('lastAppliedSelector', () => {
  const withRecord = (record: string): Service => ({
    metadata: {
      name: 'podinfo',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': record },
    },
  });

  it('given a kubectl record, when reading, then its selector comes back', () => {
    expect(lastAppliedSelector(withRecord('{"spec":{"selector":{"app":"podinfo"}}}'))).toEqual({
      app: 'podinfo',
    });
  });

  it('given no record, a broken one or one without a selector, when reading, then there is none', () => {
    expect(lastAppliedSelector({ metadata: { name: 'podinfo' } })).toBeUndefined();
    expect(lastAppliedSelector(withRecord('{"spec":'))).toBeUndefined();
    expect(lastAppliedSelector(withRecord('{"spec":{"ports":[]}}'))).toBeUndefined();
  });
});

describe('KubernetesServices', () => {
  it('given a Service target, when reconciling or finalizing, then nothing is read or written', async () => {
    const untouchable = new Proxy(
      {},
      {
        get: () => () => {
          throw new Error('unexpected call');
        },
      },
    );
    const services = new KubernetesServices({
      client: untouchable as KubeClient,
      reader: untouchable as ObjectReader,
      options,
    });
    const canary = newTestCanary({ targetRef: { apiVersion: 'v1', kind: 'Service', name: 'podinfo' } });
    await services.reconcile(canary);
    await services.finalizeApex(canary);
  });
});
