/**
 * The apex, primary and canary Services of a canary (docs/flagger-compatibility.md#31-services), and the apex's selector
 * restored on deletion (docs/flagger-compatibility.md#210-revert-on-deletion step 5). The builders are pure; `KubernetesServices` reads through
 * the injected reader (a watch cache in the controller) and writes only what differs.
 */
import type { Canary } from '../../api/schema/canary.js';
import { VireoError } from '../../shared/errors.js';
import type { KubeClient } from './client.js';
import { isAlreadyExists } from './errors.js';
import { canaryOwnerReference, selectorLabelOf, type KubernetesPlatformOptions } from './options.js';
import type { ObjectReader } from './reader.js';
import { RESOURCES } from './resources.js';
import {
  apexNameOf,
  FLUX_HANDS_OFF,
  isFluxKey,
  isOwnedByCanary,
  KUBECTL_LAST_APPLIED,
  objectPatchOf,
  namespaceOf,
  withoutKeys,
} from './routers/objects.js';
import type { PodTemplate, Service, ServicePort, Workload } from './routers/types.js';

type CanaryServiceSpec = NonNullable<Canary['spec']['service']>;

export interface ServicesDeps {
  readonly client: KubeClient;
  readonly reader: ObjectReader;
  readonly options: KubernetesPlatformOptions;
}

export class ServiceSpecError extends VireoError {
  constructor(message: string) {
    super('E_SERVICE_SPEC', message);
  }
}

export class TargetNotFoundError extends VireoError {
  constructor(message: string) {
    super('E_TARGET_NOT_FOUND', message);
  }
}

export type ServiceRole = 'apex' | 'primary' | 'canary';

/** One generated Service as Vireo wants it; `newService` and `serviceUpdate` turn it into writes. */
export interface DesiredService {
  readonly role: ServiceRole;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly ports: ServicePort[];
  readonly headless: boolean;
  readonly trafficDistribution: string | undefined;
}

/** Sidecars whose ports belong to the mesh, not to the application. */
const SIDECAR_CONTAINERS = new Set(['istio-proxy', 'envoy']);

/** The Service port plus, with portDiscovery, every other port of the target's containers. */
export function servicePorts(service: CanaryServiceSpec, template: PodTemplate | undefined): ServicePort[] {
  const main: ServicePort = {
    name: service.portName || 'http',
    protocol: 'TCP',
    port: service.port,
    targetPort: service.targetPort ?? service.port,
    ...(service.appProtocol ? { appProtocol: service.appProtocol } : {}),
  };
  return service.portDiscovery === true ? [main, ...discoverPorts(template, main)] : [main];
}

/**
 * Container ports other than the Service's own, named after the container port or
 * `tcp-<container>-<index>`. Ports the API would reject as duplicates (same number and protocol,
 * or same name) are left out rather than failing the whole Service.
 */
export function discoverPorts(template: PodTemplate | undefined, main: ServicePort): ServicePort[] {
  const names = new Set([main.name]);
  const numbers = new Set([`${main.port}/TCP`]);
  const discovered: ServicePort[] = [];
  for (const container of template?.spec?.containers ?? []) {
    if (SIDECAR_CONTAINERS.has(container.name)) continue;
    (container.ports ?? []).forEach((port, index) => {
      const isServicePort =
        port.containerPort === main.port ||
        port.containerPort === main.targetPort ||
        (port.name !== undefined && port.name === main.targetPort);
      const protocol = port.protocol ?? 'TCP';
      if (isServicePort || numbers.has(`${port.containerPort}/${protocol}`)) return;
      const generated = `tcp-${container.name}-${index}`;
      const name = port.name && !names.has(port.name) ? port.name : generated;
      if (names.has(name)) return;
      names.add(name);
      numbers.add(`${port.containerPort}/${protocol}`);
      discovered.push({ name, protocol, port: port.containerPort, targetPort: port.containerPort });
    });
  }
  return discovered;
}

/** docs/flagger-compatibility.md#31-services: the three Services, canary and primary first (the apex needs the primary). */
export function desiredServices(
  canary: Canary,
  target: Workload,
  options: KubernetesPlatformOptions,
): DesiredService[] {
  const service = canary.spec.service;
  if (service === undefined) {
    throw new ServiceSpecError(
      `Canary ${canary.metadata.name}.${namespaceOf(canary)}: spec.service is missing; set spec.service.port to the port the Services should expose`,
    );
  }
  const { kind, name: targetName } = canary.spec.targetRef;
  const { label, value } = selectorLabelOf(
    kind,
    targetName,
    target.spec?.selector?.matchLabels,
    options.selectorLabels,
  );
  const apex = apexNameOf(canary);
  const ports = servicePorts(service, target.spec?.template);
  const build = (
    role: ServiceRole,
    name: string,
    selectorValue: string,
    metadata: CanaryServiceSpec['apex'],
  ): DesiredService => ({
    role,
    name,
    // The selector label goes last: it names the Service and must not be overridden by the spec.
    labels: { ...withoutKeys(metadata?.labels, isFluxKey), [label]: name },
    annotations: { ...withoutKeys(metadata?.annotations, isFluxKey), ...FLUX_HANDS_OFF },
    selector: { [label]: selectorValue },
    ports,
    headless: service.headless === true,
    trafficDistribution: service.trafficDistribution,
  });
  return [
    build('canary', `${apex}-canary`, value, service.canary),
    build('primary', `${apex}-primary`, `${value}-primary`, service.primary),
    build('apex', apex, `${value}-primary`, service.apex),
  ];
}

/** The Service to create: owned by the Canary, so garbage collection removes it with it. */
export function newService(desired: DesiredService, canary: Canary): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: desired.name,
      namespace: namespaceOf(canary),
      labels: desired.labels,
      annotations: desired.annotations,
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: {
      type: 'ClusterIP',
      ...(desired.headless ? { clusterIP: 'None' } : {}),
      selector: desired.selector,
      ports: desired.ports,
      ...(desired.trafficDistribution === undefined
        ? {}
        : { trafficDistribution: desired.trafficDistribution }),
    },
  };
}

/**
 * The merge patch that brings an existing Service in line, or undefined when it already is.
 * Ports and selector are always Vireo's (node ports allocated by the API are kept). Labels and
 * annotations are Vireo's only on Services the Canary owns, minus the keys the user listed in
 * unmanagedMetadata; a Service the user created keeps its own metadata. The type and clusterIP
 * are never touched: the API refuses to change clusterIP, and the user chose the apex's type.
 */
export function serviceUpdate(current: Service, desired: DesiredService, canary: Canary): object | undefined {
  const owned = isOwnedByCanary(current, canary);
  const spec = current.spec ?? {};
  const ports = desired.ports.map((port) => withKeptNodePort(port, spec.ports ?? []));
  const syncDistribution = owned || desired.trafficDistribution !== undefined;
  const now = {
    spec: {
      selector: spec.selector ?? {},
      ports: spec.ports ?? [],
      ...(syncDistribution ? { trafficDistribution: spec.trafficDistribution } : {}),
    },
    ...(owned
      ? {
          metadata: {
            labels: current.metadata.labels ?? {},
            annotations: current.metadata.annotations ?? {},
          },
        }
      : {}),
  };
  const unmanaged = canary.spec.service?.unmanagedMetadata;
  const want = {
    spec: {
      selector: desired.selector,
      ports,
      ...(syncDistribution ? { trafficDistribution: desired.trafficDistribution } : {}),
    },
    ...(owned
      ? {
          metadata: {
            labels: keepingUnmanaged(desired.labels, current.metadata.labels, unmanaged?.labels),
            annotations: keepingUnmanaged(
              desired.annotations,
              current.metadata.annotations,
              unmanaged?.annotations,
            ),
          },
        }
      : {}),
  };
  return objectPatchOf(now, want);
}

function withKeptNodePort(port: ServicePort, existing: readonly ServicePort[]): ServicePort {
  const match =
    existing.find((candidate) => candidate.name !== undefined && candidate.name === port.name) ??
    existing.find((candidate) => candidate.port === port.port);
  return match?.nodePort === undefined ? port : { ...port, nodePort: match.nodePort };
}

/** `desired`, except that unmanaged keys keep whatever the live object has (or lacks). */
function keepingUnmanaged(
  desired: Record<string, string>,
  live: Record<string, string> | undefined,
  unmanagedKeys: readonly string[] | undefined,
): Record<string, string> {
  const unmanaged = new Set(unmanagedKeys ?? []);
  if (unmanaged.size === 0) return desired;
  return {
    ...withoutKeys(desired, (key) => unmanaged.has(key)),
    ...Object.fromEntries(Object.entries(live ?? {}).filter(([key]) => unmanaged.has(key))),
  };
}

/** The selector the user last applied with `kubectl apply`, if the apex carries that record. */
export function lastAppliedSelector(service: Service): Record<string, string> | undefined {
  const recorded = service.metadata.annotations?.[KUBECTL_LAST_APPLIED];
  if (recorded === undefined) return undefined;
  try {
    const selector = (JSON.parse(recorded) as { spec?: { selector?: unknown } }).spec?.selector;
    if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) return undefined;
    const entries = Object.entries(selector as Record<string, unknown>);
    if (entries.length === 0 || entries.some(([, value]) => typeof value !== 'string')) return undefined;
    return Object.fromEntries(entries) as Record<string, string>;
  } catch {
    // A hand-edited or truncated record: fall back to selecting the target's pods.
    return undefined;
  }
}

export class KubernetesServices {
  constructor(private readonly deps: ServicesDeps) {}

  /**
   * Creates the missing Services and patches the ones that drifted; with nothing to change it
   * sends no request but reads. Idempotent. A Service target gets no generated Services (the
   * workload side copies the target Service itself), so this is then a no-op.
   */
  async reconcile(canary: Canary): Promise<void> {
    if (canary.spec.targetRef.kind === 'Service') return;
    const target = await this.readTarget(canary);
    for (const desired of desiredServices(canary, target, this.deps.options)) {
      await this.sync(canary, desired);
    }
  }

  /**
   * revertOnDeletion (docs/flagger-compatibility.md#210-revert-on-deletion step 5): a user-created apex selects the target's pods again,
   * with the selector the user last applied, or `<label>: <value>`. An apex the Canary owns goes
   * away with it (garbage collection), so it is left alone. Idempotent.
   */
  async finalizeApex(canary: Canary): Promise<void> {
    if (canary.spec.targetRef.kind === 'Service') return;
    const namespace = namespaceOf(canary);
    const apex = await this.deps.reader.get<Service>(RESOURCES.services, namespace, apexNameOf(canary));
    if (apex === undefined || isOwnedByCanary(apex, canary)) return;
    let selector = lastAppliedSelector(apex);
    if (selector === undefined) {
      const target = await this.readTarget(canary);
      const { label, value } = selectorLabelOf(
        canary.spec.targetRef.kind,
        canary.spec.targetRef.name,
        target.spec?.selector?.matchLabels,
        this.deps.options.selectorLabels,
      );
      selector = { [label]: value };
    }
    const patch = objectPatchOf({ selector: apex.spec?.selector ?? {} }, { selector });
    if (patch === undefined) return;
    await this.deps.client.mergePatch(RESOURCES.services, namespace, apex.metadata.name, { spec: patch });
  }

  private async sync(canary: Canary, desired: DesiredService): Promise<void> {
    const namespace = namespaceOf(canary);
    const current = await this.deps.reader.get<Service>(RESOURCES.services, namespace, desired.name);
    if (current === undefined) {
      try {
        await this.deps.client.create(RESOURCES.services, newService(desired, canary));
      } catch (error) {
        // The cache has not seen a Service that exists (just created, or created by the user):
        // the next reconcile reads it and brings it in line.
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    const patch = serviceUpdate(current, desired, canary);
    if (patch !== undefined)
      await this.deps.client.mergePatch(RESOURCES.services, namespace, desired.name, patch);
  }

  private async readTarget(canary: Canary): Promise<Workload> {
    const { kind, name } = canary.spec.targetRef;
    const namespace = namespaceOf(canary);
    // Unknown kinds are treated as Deployments, as the workload side does (docs/flagger-compatibility.md#29-target-kinds).
    const resource = kind === 'DaemonSet' ? RESOURCES.daemonSets : RESOURCES.deployments;
    const target = await this.deps.reader.get<Workload>(resource, namespace, name);
    if (target === undefined) {
      throw new TargetNotFoundError(
        `Canary ${canary.metadata.name}.${namespace}: spec.targetRef ${resource.kind} ${name} does not exist in namespace ${namespace}; create it or fix spec.targetRef.name`,
      );
    }
    return target;
  }
}
