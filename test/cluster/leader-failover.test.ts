/**
 * R6: two `vireo controller` replicas with leader election on the real test cluster, as a
 * Deployment with replicas: 2 runs them; the leader is killed with SIGKILL in the middle of
 * analyses, again and again, and a fresh standby is started each time (as the Deployment would).
 *
 * What must hold:
 * - the standby takes over within the lease duration: not before the dead leader's last renewal
 *   has expired (two leaders could act at once), and no later than a lease duration plus its own
 *   retry periods after it (short timings here: lease 6 s, renew deadline 4 s, retry 1 s);
 * - a standby does nothing: no tick, no request but for the Lease, until it leads;
 * - no action is done twice across a handover: no revision promoted or succeeded twice, no
 *   analysis started twice, no weight step taken twice (the canary Ingress's weights only go up
 *   within a revision), and every analysis ends in the phase its checks call for.
 * Kill points come from a seeded generator; VIREO_R6_SEED replays them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { parseMicroTime, type Lease } from '../../src/platforms/kubernetes/leader-election.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { adminClient, ensureNamespace, eventually, installCrds } from '../support/kube.js';
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import {
  createScenario,
  FIRST_IMAGE,
  isRightVerdict,
  promotionsAnnouncedTwice,
  release,
  type Scenario,
  seriesFor,
  sleep,
  type Verdict,
  verdictAfter,
  waitForInitialized,
  waitForRecorderCatchUp,
} from '../support/resilience.js';
import { auditRollouts, startRolloutRecorder, type RolloutRecorder } from '../support/rollout-recorder.js';
import { seedFrom, seededRandom } from '../support/seeded-random.js';

const FAILOVERS = 4;
const SEED = seedFrom('VIREO_R6_SEED');
const LEASE_NAMESPACE = 'r6-system';
const LEASE_MS = 6_000;
const RETRY_MS = 1_000;
/** client-go's jitter: an attempt waits up to 2.2 retry periods. */
const MAX_ATTEMPT_GAP_MS = 2.2 * RETRY_MS;

const SCENARIOS: readonly Scenario[] = [
  { namespace: 'r6-canary-pass', strategy: 'canary', expect: 'Succeeded' },
  { namespace: 'r6-canary-fail', strategy: 'canary', expect: 'Failed' },
  { namespace: 'r6-ab-pass', strategy: 'A/B', expect: 'Succeeded' },
  { namespace: 'r6-bluegreen-pass', strategy: 'blue/green', expect: 'Succeeded' },
];

let cluster: TestCluster;
let client: KubeClient;
let exporter: MeshExporter;
let prometheus: TestPrometheus;
let recorder: RolloutRecorder;
const replicas: ControllerProcess[] = [];
let controllerArgs: string[];

const startReplica = async (): Promise<ControllerProcess> => {
  const replica = await startControllerProcess(cluster.kubeconfigPath, controllerArgs, {}, 'info');
  replicas.push(replica);
  return replica;
};

interface Health {
  leader: boolean;
  pid: number;
}
async function health(replica: ControllerProcess): Promise<Health | undefined> {
  try {
    return (await (
      await fetch(`http://127.0.0.1:${replica.port}/healthz`, { headers: { accept: 'application/json' } })
    ).json()) as Health;
  } catch {
    return undefined;
  }
}

const readLease = (): Promise<Lease | undefined> =>
  client.get<Lease>(RESOURCES.leases, LEASE_NAMESPACE, 'vireo-leader-election');

/** Requests a replica sent, by resource, from its vireo_kube_requests_total and its ticks. */
async function activity(replica: ControllerProcess): Promise<{ ticks: number; nonLeaseRequests: number }> {
  const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
  let nonLeaseRequests = 0;
  for (const match of text.matchAll(/^vireo_kube_requests_total\{([^}]*)\} (\d+)$/gm))
    if (!match[1]!.includes('resource="leases"')) nonLeaseRequests += Number(match[2]);
  const ticks = Number(/^vireo_canary_ticks_total (\d+)$/m.exec(text)?.[1] ?? '0');
  return { ticks, nonLeaseRequests };
}

beforeAll(async () => {
  [cluster, exporter] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startMeshExporter(Date.now, seriesFor(SCENARIOS)),
  ]);
  prometheus = await startPrometheus({ targets: [exporter.target] });
  client = await adminClient(cluster);
  await installCrds(client);
  await ensureNamespace(client, LEASE_NAMESPACE);
  recorder = await startRolloutRecorder(client, (namespace) => namespace.startsWith('r6-'));
  for (const scenario of SCENARIOS) await createScenario(client, scenario);
  await prometheus.waitForScrapes(2);
  controllerArgs = [
    '--metrics-server',
    prometheus.url,
    '--enable-leader-election',
    '--leader-election-namespace',
    LEASE_NAMESPACE,
    '--leader-election-lease-duration',
    `${LEASE_MS / 1000}s`,
    '--leader-election-renew-deadline',
    '4s',
    '--leader-election-retry-period',
    `${RETRY_MS / 1000}s`,
  ];
  await startReplica();
  await eventually(
    () => health(replicas[0]!),
    (state) => state?.leader === true,
    60_000,
    'a leader',
  );
  await startReplica();
  await waitForInitialized(client, SCENARIOS);
}, 300_000);

afterAll(async () => {
  for (const replica of replicas) await replica.stop('SIGTERM');
  await recorder?.stop();
  await client?.close();
  await Promise.allSettled([prometheus?.stop(), exporter?.close()]);
  await cluster?.stop();
}, 60_000);

interface Analysis extends Verdict {
  readonly scenario: Scenario;
  readonly image: string;
  readonly previousImage: string;
}

/** Splits a weight history into revisions (each ends at 0) and finds any step that is not a rise. */
function repeatedSteps(weights: readonly number[]): string[] {
  const problems: string[] = [];
  let previous = 0;
  for (const weight of weights) {
    if (weight !== 0 && weight <= previous) problems.push(`weight ${previous} then ${weight}`);
    previous = weight;
  }
  return problems;
}

describe('R6: two replicas with leader election, the leader killed', () => {
  it(`hands over within the lease duration and does no action twice (${FAILOVERS} leader kills)`, async () => {
    const random = seededRandom(SEED);
    console.log(`R6 seed ${SEED} (replay with VIREO_R6_SEED=${SEED})`);
    const startedAt = Date.now();
    const analyses: Analysis[] = [];
    const promotedImage = new Map(SCENARIOS.map((scenario) => [scenario.namespace, FIRST_IMAGE]));
    const takeoverMs: number[] = [];
    let standbyTicks = 0;
    let standbyRequests = 0;
    let wave = 0;

    const runWave = async (): Promise<void> => {
      wave += 1;
      const image = `ghcr.io/stefanprodan/podinfo:6.3.${wave}`;
      const started = await Promise.all(
        SCENARIOS.map(async (scenario) => ({
          scenario,
          previousImage: promotedImage.get(scenario.namespace)!,
          before: await release(client, scenario.namespace, image),
        })),
      );
      await Promise.all(
        started.map(async ({ scenario, previousImage, before }) => {
          const verdict = await verdictAfter(client, scenario.namespace, before, 180_000);
          analyses.push({ ...verdict, scenario, image, previousImage });
          if (verdict.phase === 'Succeeded')
            promotedImage.set(scenario.namespace, verdict.primaryImage ?? '');
        }),
      );
    };

    const failover = async (): Promise<void> => {
      const states = await Promise.all(
        replicas.map(async (replica) => ({ replica, state: await health(replica) })),
      );
      const leader = states.find(({ state }) => state?.leader === true)?.replica;
      const standby = states.find(({ state }) => state !== undefined && !state.leader)?.replica;
      expect(leader, 'a leading replica').toBeDefined();
      expect(standby, 'a standby replica').toBeDefined();
      // The standby has done nothing so far.
      const idle = await activity(standby!);
      standbyTicks += idle.ticks;
      standbyRequests += idle.nonLeaseRequests;

      const before = (await readLease())!;
      expect(await leader!.stop('SIGKILL')).toBeNull();
      replicas.splice(replicas.indexOf(leader!), 1);
      // The dead leader's last renewal: the Lease as it is now (any renewal landed before the kill).
      const lastRenewal = (await readLease())!;
      const taken = (await eventually(
        () => readLease(),
        (lease) =>
          lease?.spec?.holderIdentity !== undefined &&
          lease.spec.holderIdentity !== before.spec?.holderIdentity,
        60_000,
        'the standby holding the Lease',
      ))!;
      const renewedAt = parseMicroTime(lastRenewal.spec?.renewTime)!;
      const acquiredAt = parseMicroTime(taken.spec?.acquireTime)!;
      takeoverMs.push(acquiredAt - renewedAt);
      await eventually(
        () => health(standby!),
        (state) => state?.leader === true,
        30_000,
        'the standby leading',
      );
      // A new standby, as the Deployment would start one.
      await startReplica();
    };

    // Kills land at random points of the analyses; a new release starts whenever none is running.
    let analysing: Promise<void> | undefined;
    let waveFailure: Error | undefined;
    let killsMidAnalysis = 0;
    for (let kill = 0; kill < FAILOVERS && waveFailure === undefined; kill += 1) {
      if (analysing === undefined) {
        analysing = runWave()
          .catch((error: unknown) => {
            waveFailure = error instanceof Error ? error : new Error(String(error));
          })
          .finally(() => {
            analysing = undefined;
          });
      }
      await sleep(random.between(0, 3_000));
      if (analysing !== undefined) killsMidAnalysis += 1;
      await failover();
    }
    await analysing;
    if (waveFailure !== undefined) throw waveFailure;

    await waitForRecorderCatchUp(client, recorder, SCENARIOS);
    const audit = auditRollouts(recorder.events());
    // Promotions announced more often than revisions promoted: a promotion step ran twice.
    const announcedTwice = await promotionsAnnouncedTwice(
      client,
      SCENARIOS,
      (scenario) =>
        analyses.filter((analysis) => analysis.scenario === scenario && analysis.phase === 'Succeeded')
          .length,
    );
    const stepProblems = [...audit.weights].flatMap(([namespace, weights]) =>
      repeatedSteps(weights).map((problem) => `${namespace}: ${problem}`),
    );
    const right = analyses.filter(
      (analysis) =>
        isRightVerdict(analysis.scenario, analysis, analysis.image, analysis.previousImage) &&
        (audit.promotions.get(analysis.scenario.namespace)?.get(analysis.revision) ?? 0) ===
          (analysis.scenario.expect === 'Succeeded' ? 1 : 0),
    );
    const seconds = (ms: number): string => (ms / 1000).toFixed(1);
    console.log(
      `R6 leader failover: ${takeoverMs.length} leader kills (SIGKILL, ${killsMidAnalysis} mid-analysis) across ${analyses.length} analyses ` +
        `(${SCENARIOS.length} canaries, ${wave} releases) in ${((Date.now() - startedAt) / 1000).toFixed(0)} s, seed ${SEED}: ` +
        `takeover ${seconds(Math.min(...takeoverMs))}–${seconds(Math.max(...takeoverMs))} s after the dead leader's last renewal ` +
        `(lease ${seconds(LEASE_MS)} s, retry ${seconds(RETRY_MS)} s); standbys made ${standbyTicks} ticks and ` +
        `${standbyRequests} non-Lease requests; ${right.length}/${analyses.length} right phase, ` +
        `${audit.doublePromotions.length + announcedTwice.length} double promotions, ${audit.repeatedActions.length} repeated analyses, ` +
        `${stepProblems.length} repeated weight steps, ${audit.unsafeRoutings.length} unsafe routings`,
    );

    for (const ms of takeoverMs) {
      // Never before the lease expired (two leaders), and within it plus the standby's own
      // attempts: one to notice the last renewal, one to take the expired Lease.
      expect(ms).toBeGreaterThanOrEqual(LEASE_MS);
      expect(ms).toBeLessThanOrEqual(LEASE_MS + 2 * MAX_ATTEMPT_GAP_MS + 2_000);
    }
    expect(standbyTicks).toBe(0);
    expect(standbyRequests).toBe(0);
    expect(analyses.filter((analysis) => !right.includes(analysis))).toEqual([]);
    expect(audit.doublePromotions).toEqual([]);
    expect(announcedTwice).toEqual([]);
    expect(audit.repeatedActions).toEqual([]);
    expect(stepProblems).toEqual([]);
    expect(audit.unsafeRoutings).toEqual([]);
  }, 600_000);
});
