/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (a simulated kubelet), all built from source by
 * tools/build-control-plane.sh into .cache/kube/bin. See docs/testing-cluster.md.
 *
 *   const cluster = await startTestCluster({ log: console.log });
 *   const kc = new KubeConfig(); kc.loadFromFile(cluster.kubeconfigPath);
 *   ...
 *   await cluster.stop();
 *
 * Everything listens on random free ports on 127.0.0.1 and lives in a fresh temp directory
 * (`cluster.dir`, with one `<component>.log` per process), so several clusters can run at once.
 *
 * Pods: the scheduler binds them to the fake kwok Nodes, and kwok then marks them Running and
 * Ready without running any container. To make a Pod run but NEVER become Ready (readiness probe
 * failing forever), e.g. to drive a Deployment into ProgressDeadlineExceeded for rollback tests,
 * annotate its pod template:
 *
 *   spec.template.metadata.annotations: { 'vireo.test/never-ready': 'true' }   // NEVER_READY_ANNOTATION
 *
 * (the kwok Stages that implement this are in kwok-stages.ts).
 *
 * Cleanup: stop() stops the processes (kwok first, etcd last) and removes the directory. If the
 * owner forgets, exits, or is killed, an exit hook and a detached reaper do it instead.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AdminApiClient } from './cluster-api.js';
import { TestClusterError } from './cluster-errors.js';
import { createClusterPki, writeKubeconfig, type CertificatePaths, type ClusterPki } from './cluster-pki.js';
import { describeExit, ProcessGroupRegistry, tailOfFile, type ManagedProcess } from './cluster-process.js';
import {
  KWOK_NODE_ANNOTATION,
  KWOK_NODE_ANNOTATION_VALUE,
  kwokStagesYaml,
  NEVER_READY_ANNOTATION,
} from './kwok-stages.js';

export { TestClusterError, type TestClusterErrorCode } from './cluster-errors.js';
export { NEVER_READY_ANNOTATION } from './kwok-stages.js';

export interface StartTestClusterOptions {
  /** Receives progress lines ("apiserver ready after 3.1 s"); silent by default. */
  readonly log?: (line: string) => void;
  /** Number of fake kwok Nodes (default 2). */
  readonly nodeCount?: number;
  /** Where the binaries are (default $VIREO_KUBE_BIN_DIR or <repo>/.cache/kube/bin). */
  readonly binDir?: string;
  /** How long start may take before failing (default 120 s). */
  readonly startTimeoutMs?: number;
  /** Keep the directory (logs, etcd data) after stop(); also VIREO_KEEP_CLUSTER_DIR=1. */
  readonly keepDir?: boolean;
}

export interface TestCluster {
  /** Admin kubeconfig (client certificate in group system:masters), certificates embedded. */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Temp directory holding certificates, kubeconfigs, etcd data and one log per process. */
  readonly dir: string;
  /** Names of the fake Nodes that kwok manages. */
  readonly nodeNames: readonly string[];
  /**
   * A bearer token for ServiceAccount `namespace/serviceAccount` from the TokenRequest API (the
   * ServiceAccount must exist), valid for `expirationSeconds` (default 3600, minimum 600).
   */
  tokenFor(namespace: string, serviceAccount: string, expirationSeconds?: number): Promise<string>;
  /**
   * Stops kube-apiserver alone, as an upgrade or a crash would: etcd and the other components keep
   * running, and every watch and request on it breaks. SIGTERM lets it shut down gracefully;
   * SIGKILL drops every connection at once. A no-op when it is already stopped.
   */
  stopApiserver(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /**
   * Starts kube-apiserver again on the same port, with the same etcd and certificates (so every
   * kubeconfig keeps working); resolves once /readyz answers. A no-op when it is running.
   */
  startApiserver(timeoutMs?: number): Promise<void>;
  /** Stops every process and removes `dir`. Safe to call more than once. */
  stop(): Promise<void>;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const POD_CIDR = '10.244.0.1/24';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 200;

const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
type Binary = (typeof BINARIES)[number];

function resolveBinaries(binDir: string): Record<Binary, string> {
  const missing = BINARIES.filter((binary) => !existsSync(join(binDir, binary)));
  if (missing.length > 0) {
    throw new TestClusterError(
      'E_CLUSTER_BINARIES_MISSING',
      `missing ${missing.join(', ')} in ${binDir}. Build them with: bash tools/build-control-plane.sh`,
    );
  }
  return Object.fromEntries(BINARIES.map((binary) => [binary, join(binDir, binary)])) as Record<
    Binary,
    string
  >;
}

/** A port that was free a moment ago; the tiny race with other processes is acceptable in tests. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

interface WaitContext {
  readonly deadline: number;
  readonly processes: readonly ManagedProcess[];
}

/**
 * Polls `check` until it holds. Fails fast, with that process's log tail, if any process has
 * exited meanwhile; on timeout the message carries the log tail of `suspect`.
 */
async function waitUntil(
  description: string,
  check: () => Promise<boolean>,
  context: WaitContext,
  suspect: ManagedProcess,
): Promise<void> {
  for (;;) {
    const dead = context.processes.find((process) => process.exit !== undefined);
    if (dead?.exit !== undefined) {
      throw new TestClusterError(
        'E_CLUSTER_PROCESS_EXITED',
        `${dead.name} exited (${describeExit(dead.exit)}) while waiting for ${description}. ` +
          `Last lines of ${dead.logPath}:\n${tailOfFile(dead.logPath)}`,
      );
    }
    if (await check()) return;
    if (Date.now() > context.deadline) {
      throw new TestClusterError(
        'E_CLUSTER_START_TIMEOUT',
        `timed out waiting for ${description}. Last lines of ${suspect.logPath}:\n${tailOfFile(suspect.logPath)}`,
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function etcdArgs(dir: string, clientPort: number, peerPort: number): string[] {
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=vireo-test',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=vireo-test=${peerUrl}`,
    // Test data is thrown away: durability only costs time.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

function apiserverArgs(pki: ClusterPki, dir: string, port: number, etcdClientPort: number): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--advertise-address=127.0.0.1',
    // The endpoint reconciler refuses a loopback advertise address; nothing in the cluster
    // needs the `kubernetes` Service's endpoints, as no real Pod runs.
    '--endpoint-reconciler-type=none',
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.apiserverServing.certPath}`,
    `--tls-private-key-file=${pki.apiserverServing.keyPath}`,
    `--client-ca-file=${pki.caCertPath}`,
    '--authorization-mode=Node,RBAC',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.serviceAccountPublicKeyPath}`,
    `--service-account-signing-key-file=${pki.serviceAccountPrivateKeyPath}`,
    '--allow-privileged=true',
    '--profiling=false',
  ];
}

function controllerManagerArgs(pki: ClusterPki, dir: string, kubeconfigPath: string): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    '--controllers=*',
    // Each controller acts as its own ServiceAccount, as in a real cluster, so RBAC mistakes
    // in controllers surface here too.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccountPrivateKeyPath}`,
    `--root-ca-file=${pki.caCertPath}`,
    `--cluster-signing-cert-file=${pki.caCertPath}`,
    `--cluster-signing-key-file=${pki.caKeyPath}`,
    '--cluster-name=vireo-test',
    '--leader-elect=false',
    '--secure-port=0',
    // The defaults (20 qps, 5 deployment workers) roll 500 Deployments out in ten minutes; the
    // controller benchmark needs the test cluster not to be the bottleneck.
    '--kube-api-qps=200',
    '--kube-api-burst=400',
    '--concurrent-deployment-syncs=20',
    '--concurrent-replicaset-syncs=20',
    // Otherwise it creates /usr/libexec/kubernetes/kubelet-plugins/volume/exec on the host.
    `--flex-volume-plugin-dir=${join(dir, 'flexvolume')}`,
  ];
}

function schedulerArgs(kubeconfigPath: string): string[] {
  return [`--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0'];
}

function kwokArgs(kubeconfigPath: string, configPath: string, serverPort: number): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--config=${configPath}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=${KWOK_NODE_ANNOTATION_VALUE}`,
    `--cidr=${POD_CIDR}`,
    '--node-ip=10.244.255.1',
    // kwok renews each Node's Lease, so the node lifecycle controller keeps them Ready.
    '--node-lease-duration-seconds=40',
    `--server-address=127.0.0.1:${serverPort}`,
  ];
}

function fakeNode(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: KWOK_NODE_ANNOTATION_VALUE },
      labels: {
        type: 'kwok',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
      },
    },
    spec: {},
  };
}

interface NodeList {
  items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
}

async function nodesReady(api: AdminApiClient, names: readonly string[]): Promise<boolean> {
  try {
    const list = await api.json<NodeList>('GET', '/api/v1/nodes');
    const ready = new Set(
      list.items
        .filter((node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((node) => node.metadata.name),
    );
    return names.every((name) => ready.has(name));
  } catch {
    return false;
  }
}

function secondsSince(startedAt: number): string {
  return ((Date.now() - startedAt) / 1000).toFixed(1);
}

/** Stops processes newest first (kwok ... etcd) so nothing logs errors about a vanished apiserver. */
async function stopAll(processes: readonly ManagedProcess[]): Promise<void> {
  for (const process of [...processes].reverse()) await process.stop(STOP_GRACE_MS);
}

/** What the start-up steps share. */
interface Startup {
  readonly dir: string;
  readonly binaries: Record<Binary, string>;
  readonly registry: ProcessGroupRegistry;
  /** Started processes, oldest first; stop() walks it backwards. */
  readonly processes: ManagedProcess[];
  readonly wait: WaitContext;
  readonly log: (line: string) => void;
  readonly startedAt: number;
}

function launch(
  startup: Startup,
  name: string,
  binary: Binary,
  args: string[],
  env?: NodeJS.ProcessEnv,
): ManagedProcess {
  const started = startup.registry.start(name, startup.binaries[binary], args, env);
  startup.processes.push(started);
  return started;
}

async function startEtcd(startup: Startup): Promise<number> {
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const etcd = launch(startup, 'etcd', 'etcd', etcdArgs(startup.dir, clientPort, peerPort));
  await waitUntil('etcd /health', () => etcdHealthy(clientPort), startup.wait, etcd);
  startup.log(`etcd ready after ${secondsSince(startup.startedAt)} s`);
  return clientPort;
}

async function startApiserver(
  startup: Startup,
  pki: ClusterPki,
  etcdClientPort: number,
): Promise<{ server: string; api: AdminApiClient; port: number }> {
  const [port] = (await freePorts(1)) as [number];
  const server = `https://127.0.0.1:${port}`;
  const apiserver = launch(
    startup,
    'kube-apiserver',
    'kube-apiserver',
    apiserverArgs(pki, startup.dir, port, etcdClientPort),
  );
  const api = new AdminApiClient(server, { caCertPath: pki.caCertPath, ...pki.admin });
  try {
    await waitUntil('kube-apiserver /readyz', () => api.succeeds('/readyz'), startup.wait, apiserver);
  } catch (error) {
    api.close();
    throw error;
  }
  startup.log(`kube-apiserver ready after ${secondsSince(startup.startedAt)} s at ${server}`);
  return { server, api, port };
}

/** Starts kube-controller-manager, kube-scheduler and kwok; returns the two readiness depends on. */
async function startComponents(
  startup: Startup,
  pki: ClusterPki,
  server: string,
): Promise<{ controllerManager: ManagedProcess; kwok: ManagedProcess }> {
  const kubeconfigFor = async (name: string, client: CertificatePaths): Promise<string> => {
    const path = join(startup.dir, `${name}.kubeconfig`);
    await writeKubeconfig({ path, server, caCertPath: pki.caCertPath, client, userName: name });
    return path;
  };
  const kwokConfigPath = join(startup.dir, 'kwok.yaml');
  await writeFile(kwokConfigPath, kwokStagesYaml());
  const [kwokPort] = (await freePorts(1)) as [number];

  const controllerManager = launch(
    startup,
    'kube-controller-manager',
    'kube-controller-manager',
    controllerManagerArgs(
      pki,
      startup.dir,
      await kubeconfigFor('kube-controller-manager', pki.controllerManager),
    ),
  );
  launch(
    startup,
    'kube-scheduler',
    'kube-scheduler',
    schedulerArgs(await kubeconfigFor('kube-scheduler', pki.scheduler)),
  );
  // HOME points into the cluster dir so kwok does not also load a developer's ~/.kwok/kwok.yaml.
  const kwok = launch(
    startup,
    'kwok',
    'kwok',
    kwokArgs(await kubeconfigFor('kwok', pki.kwok), kwokConfigPath, kwokPort),
    { ...process.env, HOME: join(startup.dir, 'kwok-home') },
  );
  return { controllerManager, kwok };
}

/** Pods can be created (admission needs ServiceAccount `default`) and scheduled (Ready Nodes). */
async function waitUntilUsable(
  startup: Startup,
  api: AdminApiClient,
  nodeNames: readonly string[],
  components: { controllerManager: ManagedProcess; kwok: ManagedProcess },
): Promise<void> {
  for (const name of nodeNames) await api.json('POST', '/api/v1/nodes', fakeNode(name));
  await waitUntil(
    'ServiceAccount default/default (created by kube-controller-manager)',
    () => api.succeeds('/api/v1/namespaces/default/serviceaccounts/default'),
    startup.wait,
    components.controllerManager,
  );
  startup.log(`ServiceAccount default/default exists after ${secondsSince(startup.startedAt)} s`);
  await waitUntil(
    `Nodes ${nodeNames.join(', ')} Ready (set by kwok)`,
    () => nodesReady(api, nodeNames),
    startup.wait,
    components.kwok,
  );
}

export async function startTestCluster(options: StartTestClusterOptions = {}): Promise<TestCluster> {
  const log = options.log ?? ((): void => undefined);
  const startedAt = Date.now();
  const binDir = options.binDir ?? process.env['VIREO_KUBE_BIN_DIR'] ?? join(REPO_ROOT, '.cache/kube/bin');
  const binaries = resolveBinaries(binDir);
  const keepDir = options.keepDir ?? process.env['VIREO_KEEP_CLUSTER_DIR'] === '1';
  const nodeNames = Array.from({ length: options.nodeCount ?? 2 }, (_, index) => `kwok-node-${index}`);

  const dir = await mkdtemp(join(tmpdir(), 'vireo-cluster-'));
  const registry = new ProcessGroupRegistry(dir);
  registry.startReaper(process.pid);
  const processes: ManagedProcess[] = [];
  const wait: WaitContext = { deadline: startedAt + (options.startTimeoutMs ?? 120_000), processes };
  const startup: Startup = { dir, binaries, registry, processes, wait, log, startedAt };
  let api: AdminApiClient | undefined;
  let stopped: Promise<void> | undefined;

  // Last resort for an owner that exits without stop(); the reaper covers harder deaths.
  const killOnExit = (): void => {
    for (const managed of processes) managed.killNow();
  };
  process.once('exit', killOnExit);
  const stopAndClean = (keep: boolean): Promise<void> => {
    stopped ??= (async () => {
      api?.close();
      await stopAll(processes);
      process.removeListener('exit', killOnExit);
      registry.forget();
      if (keep) log(`cluster stopped; kept ${dir}`);
      else await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    log(`cluster dir ${dir}`);
    const pki = await createClusterPki(join(dir, 'pki'));
    const etcdClientPort = await startEtcd(startup);
    const apiserver = await startApiserver(startup, pki, etcdClientPort);
    api = apiserver.api;
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeKubeconfig({
      path: kubeconfigPath,
      server: apiserver.server,
      caCertPath: pki.caCertPath,
      client: pki.admin,
      userName: 'vireo-test-admin',
    });
    const components = await startComponents(startup, pki, apiserver.server);
    await waitUntilUsable(startup, apiserver.api, nodeNames, components);
    log(`cluster ready after ${secondsSince(startedAt)} s (${nodeNames.length} kwok nodes)`);

    // Processes stopped on purpose (stopApiserver) are not reported as crashes.
    const stoppedOnPurpose = new Set<ManagedProcess>();
    const expectedExit = (managed: ManagedProcess): boolean =>
      stopped !== undefined || stoppedOnPurpose.has(managed);
    watchForCrashes(processes, expectedExit, log);
    const adminApi = apiserver.api;
    const apiserverIndex = processes.findIndex((managed) => managed.name === 'kube-apiserver');
    const apiserverArgsNow = apiserverArgs(pki, dir, apiserver.port, etcdClientPort);
    return {
      kubeconfigPath,
      server: apiserver.server,
      dir,
      nodeNames,
      tokenFor: (namespace, serviceAccount, expirationSeconds = 3600) =>
        stopped === undefined
          ? requestToken(adminApi, namespace, serviceAccount, expirationSeconds)
          : Promise.reject(new TestClusterError('E_CLUSTER_STOPPED', 'tokenFor() called after stop()')),
      stopApiserver: async (signal = 'SIGTERM') => {
        const current = processes[apiserverIndex]!;
        if (current.exit !== undefined) return;
        stoppedOnPurpose.add(current);
        if (signal === 'SIGKILL') {
          current.killNow();
          await current.exited;
        } else {
          await current.stop(STOP_GRACE_MS);
        }
        log(`kube-apiserver stopped (${signal})`);
      },
      startApiserver: async (timeoutMs = 120_000) => {
        if (stopped !== undefined)
          throw new TestClusterError('E_CLUSTER_STOPPED', 'startApiserver() called after stop()');
        if (processes[apiserverIndex]!.exit === undefined) return;
        const restarted = registry.start('kube-apiserver', binaries['kube-apiserver'], apiserverArgsNow);
        // Same slot, so stop() still stops it before etcd.
        processes[apiserverIndex] = restarted;
        watchForCrashes([restarted], expectedExit, log);
        const restartedAt = Date.now();
        await waitUntil(
          'kube-apiserver /readyz after a restart',
          () => adminApi.succeeds('/readyz'),
          { deadline: restartedAt + timeoutMs, processes },
          restarted,
        );
        log(`kube-apiserver ready again after ${secondsSince(restartedAt)} s`);
      },
      stop: () => stopAndClean(keepDir),
    };
  } catch (error) {
    // Keep the directory: the error names a log file in it, and the other logs may help too.
    await stopAndClean(true);
    throw error;
  }
}

async function etcdHealthy(clientPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${clientPort}/health`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await response.json()) as { health?: string };
    return response.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** After start, a dying component would otherwise only show up as confusing test timeouts. */
function watchForCrashes(
  processes: readonly ManagedProcess[],
  isExpected: (managed: ManagedProcess) => boolean,
  log: (line: string) => void,
): void {
  for (const managed of processes) {
    void managed.exited.then((exit) => {
      if (isExpected(managed)) return;
      log(
        `${managed.name} exited unexpectedly (${describeExit(exit)}). Last lines of ${managed.logPath}:\n` +
          tailOfFile(managed.logPath),
      );
    });
  }
}

async function requestToken(
  api: AdminApiClient,
  namespace: string,
  serviceAccount: string,
  expirationSeconds: number,
): Promise<string> {
  const path =
    `/api/v1/namespaces/${encodeURIComponent(namespace)}` +
    `/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`;
  const response = await api.json<{ status?: { token?: string } }>('POST', path, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds },
  });
  const token = response.status?.token;
  if (token === undefined || token === '') {
    throw new TestClusterError(
      'E_CLUSTER_API',
      `TokenRequest for ${namespace}/${serviceAccount} returned no token`,
    );
  }
  return token;
}

// Re-exported so tests can build pod templates without importing kwok-stages.ts directly.
export const neverReadyPodAnnotations: Readonly<Record<string, string>> = {
  [NEVER_READY_ANNOTATION]: 'true',
};
