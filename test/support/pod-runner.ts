/**
 * Pods that really serve, beside kwok (see docs/testing-traffic.md).
 *
 * kwok marks Pods Running and hands them an IP without running anything. The pod runner watches
 * the Pods and, for each Running one whose container image follows the convention
 *
 *   vireo.test/demo-service:<version>
 *
 * starts Vireo's demo service (src/platforms/local/demo-service.ts) bound to the Pod's IP and the
 * container's first port (8080 when it declares none), with VERSION=<version> and the container's
 * literal `env` values (ERROR_RATE, LATENCY, LATENCY_JITTER, MESSAGE, SEED, ...; see
 * docs/local/demo-service.md). Once the Pod is being deleted or is gone, the process keeps serving
 * for DRAIN_MS (10 s, what a preStop sleep gives a real Pod: the time for the EndpointSlice change to
 * reach the data plane, so a router does not send requests to an address that no longer answers),
 * then is stopped (SIGTERM, then SIGKILL). A test or a person writes an ordinary Deployment; the real
 * kube-controller-manager builds the EndpointSlices from the Pods' IPs.
 *
 * The Pod IPs are local addresses only inside the private network namespace (netns.ts); outside it
 * the processes fail to listen and the runner says so in the Pod's log.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';

import { ProcessGroupRegistry, tailOfFile, type ManagedProcess } from './cluster-process.js';
import { READY_WHEN_SERVING_ANNOTATION, SERVING_ANNOTATION } from './kwok-stages.js';
import { TrafficHarnessError } from './netns.js';
import type { KubeObject } from '../../src/platforms/kubernetes/client.js';

export const DEMO_SERVICE_IMAGE = 'vireo.test/demo-service';

/**
 * An ordinary Deployment of the demo service at `version` (2 replicas, labelled `app: <name>`),
 * whose error rate and latency come from `env`: what the traffic suites release.
 */
export function demoServiceDeployment(
  name: string,
  namespace: string,
  version: string,
  env: Readonly<Record<string, string>> = {},
): KubeObject {
  return {
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas: 2,
      progressDeadlineSeconds: 120,
      selector: { matchLabels: { app: name } },
      template: {
        // Ready only once the process answers, as a readiness probe would make it (kwok-stages.ts).
        metadata: { labels: { app: name }, annotations: { [READY_WHEN_SERVING_ANNOTATION]: 'true' } },
        spec: {
          containers: [
            {
              name: 'demo',
              image: `${DEMO_SERVICE_IMAGE}:${version}`,
              ports: [{ name: 'http', containerPort: DEFAULT_CONTAINER_PORT }],
              env: Object.entries(env).map(([key, value]) => ({ name: key, value })),
            },
          ],
        },
      },
    },
  };
}
const IMAGE_PATTERN = /^vireo\.test\/demo-service:([A-Za-z0-9._-]+)$/;
const DEFAULT_CONTAINER_PORT = 8080;
const POLL_INTERVAL_MS = 300;
const STOP_GRACE_MS = 5_000;
/** How long a deleted Pod's process keeps serving: the usual preStop sleep (docs/testing-traffic.md). */
const DRAIN_MS = 10_000;
const repository = join(import.meta.dirname, '..', '..');

/** What the runner would start for a Pod, or undefined when it starts nothing for it. */
export interface PodProcessSpec {
  readonly uid: string;
  /** namespace/name */
  readonly pod: string;
  readonly ip: string;
  readonly port: number;
  readonly version: string;
  readonly env: Readonly<Record<string, string>>;
  /** The Pod waits for SERVING_ANNOTATION to become Ready (kwok-stages.ts). */
  readonly readyWhenServing: boolean;
}

/**
 * The convention, as a pure function: a Running Pod with an IP, not being deleted, whose first
 * container with a `vireo.test/demo-service:<version>` image is served.
 */
export function podProcessSpec(pod: V1Pod): PodProcessSpec | undefined {
  const uid = pod.metadata?.uid;
  const ip = pod.status?.podIP;
  if (uid === undefined || ip === undefined || ip === '') return undefined;
  if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp !== undefined) return undefined;
  for (const container of pod.spec?.containers ?? []) {
    const match = IMAGE_PATTERN.exec(container.image ?? '');
    if (match === null) continue;
    const env: Record<string, string> = { VERSION: match[1]! };
    // Only literal values: a kubelet would resolve valueFrom, the runner has no Secrets to read.
    for (const variable of container.env ?? []) {
      if (variable.value !== undefined) env[variable.name] = variable.value;
    }
    return {
      uid,
      pod: `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`,
      ip,
      port: container.ports?.[0]?.containerPort ?? DEFAULT_CONTAINER_PORT,
      version: env['VERSION']!,
      env,
      readyWhenServing:
        pod.metadata?.annotations?.[READY_WHEN_SERVING_ANNOTATION] === 'true' &&
        pod.metadata.annotations[SERVING_ANNOTATION] !== 'true',
    };
  }
  return undefined;
}

export interface ServedPod extends PodProcessSpec {
  /** `http://<ip>:<port>` */
  readonly url: string;
  readonly logPath: string;
}

export interface PodRunner {
  /** The Pods whose process is running now. */
  served(): readonly ServedPod[];
  /** Resolves once `accept` holds for the served Pods whose process answers /readyz. */
  waitFor(
    what: string,
    accept: (answering: readonly ServedPod[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly ServedPod[]>;
  /** Stops every process and removes the runner's directory. */
  stop(): Promise<void>;
}

export interface PodRunnerOptions {
  readonly kubeconfigPath: string;
  readonly log?: (line: string) => void;
  /** The demo service program (default: the built dist/platforms/local/demo-service-main.js). */
  readonly demoServiceMain?: string;
  /**
   * Keeps this file listing the served Pods' `<ip>:<port>` for Prometheus' file_sd_configs
   * (Debian's Prometheus has no Kubernetes service discovery).
   */
  readonly scrapeTargetsFile?: string;
}

interface Running {
  readonly spec: PodProcessSpec;
  readonly process: ManagedProcess;
  /** Whether the Pod carries SERVING_ANNOTATION (or needs none). */
  announced: boolean;
}

export async function startPodRunner(options: PodRunnerOptions): Promise<PodRunner> {
  const log = options.log ?? ((): void => undefined);
  const main = options.demoServiceMain ?? join(repository, 'dist/platforms/local/demo-service-main.js');
  if (!existsSync(main)) {
    throw new TrafficHarnessError('E_TRAFFIC_POD', `${main} is missing: run "npm run build" first`);
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const dir = await mkdtemp(join(tmpdir(), 'vireo-pods-'));
  const registry = new ProcessGroupRegistry(dir);
  registry.startReaper(process.pid);
  const running = new Map<string, Running>();
  /**
   * Processes of deleted Pods still serving until their drain ends, by `<ip>:<port>`: kwok hands a
   * deleted Pod's IP to the next Pod at once, whose process cannot listen while the old one holds
   * the address: it waits for the drain when the new Pod waits for its process to be Ready, and
   * otherwise ends the drain early.
   */
  const draining = new Map<string, { readonly process: ManagedProcess; readonly timer: NodeJS.Timeout }>();
  const endDrain = async (address: string): Promise<void> => {
    const entry = draining.get(address);
    if (entry === undefined) return;
    draining.delete(address);
    clearTimeout(entry.timer);
    await entry.process.stop(STOP_GRACE_MS);
  };
  let stopping = false;
  let lastError = '';

  const start = (spec: PodProcessSpec): void => {
    const name = `${spec.pod.replace('/', '_')}-${spec.uid.slice(0, 8)}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      ...spec.env,
      HOST: spec.ip,
      PORT: String(spec.port),
    };
    const started = registry.start(name, process.execPath, [main], env);
    running.set(spec.uid, { spec, process: started, announced: !spec.readyWhenServing });
    log(`pod ${spec.pod} (${spec.version}) serving on ${spec.ip}:${spec.port}`);
    void started.exited.then((exit) => {
      if (stopping || running.get(spec.uid)?.process !== started) return;
      log(
        `pod ${spec.pod}: demo service exited (code ${exit.code}, signal ${exit.signal}); ` +
          `last lines of ${started.logPath}:\n${tailOfFile(started.logPath)}`,
      );
    });
  };

  const sync = async (): Promise<void> => {
    const list = await core.listPodForAllNamespaces();
    const wanted = new Map<string, PodProcessSpec>();
    for (const pod of list.items) {
      const spec = podProcessSpec(pod);
      if (spec !== undefined) wanted.set(spec.uid, spec);
    }
    for (const [uid, current] of running) {
      if (wanted.has(uid)) continue;
      running.delete(uid);
      log(`pod ${current.spec.pod} gone or terminating: its demo service stops in ${DRAIN_MS} ms`);
      const address = `${current.spec.ip}:${current.spec.port}`;
      await endDrain(address);
      draining.set(address, {
        process: current.process,
        timer: setTimeout(() => void endDrain(address), DRAIN_MS),
      });
    }
    for (const [uid, spec] of wanted) {
      if (running.has(uid)) continue;
      const address = `${spec.ip}:${spec.port}`;
      // A Pod that is Ready only once its process answers gets no traffic of its own yet: whatever
      // reaches its address is meant for the draining Pod, so the new process starts after the drain.
      if (spec.readyWhenServing && draining.has(address)) continue;
      await endDrain(address);
      start(spec);
    }
    await Promise.all([...running.values()].filter((entry) => !entry.announced).map(announceWhenServing));
    await writeScrapeTargets();
  };

  // The readiness probe: once the process answers /readyz, the Pod gets SERVING_ANNOTATION and kwok
  // marks it Ready, so the EndpointSlice lists it only when something listens there.
  const announceWhenServing = async (entry: Running): Promise<void> => {
    if (entry.process.exit !== undefined) return;
    try {
      const response = await fetch(`http://${entry.spec.ip}:${entry.spec.port}/readyz`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (!response.ok) return;
    } catch {
      return;
    }
    const [namespace, name] = entry.spec.pod.split('/') as [string, string];
    try {
      await core.patchNamespacedPod(
        { namespace, name, body: { metadata: { annotations: { [SERVING_ANNOTATION]: 'true' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      // Deleted meanwhile, or the API server busy: the next round tries again.
      log(
        `pod ${entry.spec.pod}: marking it serving failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    entry.announced = true;
    log(`pod ${entry.spec.pod} answers: marked serving`);
  };

  let writtenTargets = '';
  const writeScrapeTargets = async (): Promise<void> => {
    const file = options.scrapeTargetsFile;
    if (file === undefined) return;
    const groups = [...running.values()].map(({ spec }) => {
      const [namespace, pod] = spec.pod.split('/');
      return { targets: [`${spec.ip}:${spec.port}`], labels: { namespace, pod, version: spec.version } };
    });
    const text = JSON.stringify(groups);
    if (text === writtenTargets) return;
    // Prometheus must never read a half-written file.
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
    writtenTargets = text;
  };

  let loop: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    loop = loop.then(async () => {
      if (stopping) return;
      try {
        await sync();
        lastError = '';
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (message !== lastError) log(`pod runner: listing Pods failed: ${message}`);
        lastError = message;
      }
    });
  }, POLL_INTERVAL_MS);

  const answering = async (): Promise<ServedPod[]> => {
    const served = [...running.values()].filter((entry) => entry.process.exit === undefined);
    const checks = await Promise.all(
      served.map(async ({ spec, process: managed }) => {
        const url = `http://${spec.ip}:${spec.port}`;
        try {
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
          return response.ok ? { ...spec, url, logPath: managed.logPath } : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return checks.filter((entry): entry is ServedPod => entry !== undefined);
  };

  return {
    served: () =>
      [...running.values()]
        .filter((entry) => entry.process.exit === undefined)
        .map(({ spec, process: managed }) => ({
          ...spec,
          url: `http://${spec.ip}:${spec.port}`,
          logPath: managed.logPath,
        })),
    waitFor: async (what, accept, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await answering();
        if (accept(now)) return now;
        if (Date.now() > deadline) {
          throw new TrafficHarnessError(
            'E_TRAFFIC_TIMEOUT',
            `pods: ${what} not reached after ${timeoutMs} ms; answering: ${JSON.stringify(now.map((pod) => `${pod.pod} ${pod.version} ${pod.url}`))}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      await loop;
      await Promise.all([
        ...[...running.values()].map((entry) => entry.process.stop(STOP_GRACE_MS)),
        ...[...draining.keys()].map(endDrain),
      ]);
      running.clear();
      draining.clear();
      registry.forget();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
