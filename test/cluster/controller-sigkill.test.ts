/**
 * R1: `vireo controller` killed with SIGKILL at 50 random points while canaries of every strategy
 * it supports run on the real test cluster: nginx canary (weights), nginx A/B (header match) and
 * kubernetes blue/green, each once with checks that pass and once with checks that fail (the
 * built-in request-success-rate on a real Prometheus, 95 % against min 90 or min 99).
 *
 * What must hold, whatever the kill points:
 * - every analysis ends in the phase its checks call for, the primary running the new image after
 *   a success and the old one after a failure;
 * - never a double promotion: per revision (status.lastAppliedSpec) the primary's pod template is
 *   copied at most once (exactly once when it succeeds, never when it fails), and the canary
 *   enters Succeeded at most once; no analysis of a revision starts twice and no canary is
 *   initialized twice;
 * - never traffic on a scaled-down workload: in no state etcd went through does the canary
 *   Ingress or the apex Service send traffic to a Deployment with 0 replicas.
 * The last two are checked on every recorded change, replayed in etcd order
 * (test/support/rollout-recorder.ts), not on samples.
 *
 * The kill points come from a seeded generator; the seed is printed, and VIREO_R1_SEED=<seed>
 * replays the same delays (the cluster's own timing still varies from run to run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { adminClient, installCrds } from '../support/kube.js';
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

const KILLS = 50;
const SEED = seedFrom('VIREO_R1_SEED');
/** Longest a controller lives between two kills; the shortest is 0 (killed as it starts ticking). */
const MAX_LIFE_MS = 1_500;

const SCENARIOS: readonly Scenario[] = [
  { namespace: 'r1-canary-pass', strategy: 'canary', expect: 'Succeeded' },
  { namespace: 'r1-canary-fail', strategy: 'canary', expect: 'Failed' },
  { namespace: 'r1-ab-pass', strategy: 'A/B', expect: 'Succeeded' },
  { namespace: 'r1-ab-fail', strategy: 'A/B', expect: 'Failed' },
  { namespace: 'r1-bluegreen-pass', strategy: 'blue/green', expect: 'Succeeded' },
  { namespace: 'r1-bluegreen-fail', strategy: 'blue/green', expect: 'Failed' },
];

let cluster: TestCluster;
let client: KubeClient;
let exporter: MeshExporter;
let prometheus: TestPrometheus;
let recorder: RolloutRecorder;
let controller: ControllerProcess;
let controllerArgs: string[];

beforeAll(async () => {
  [cluster, exporter] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startMeshExporter(Date.now, seriesFor(SCENARIOS)),
  ]);
  prometheus = await startPrometheus({ targets: [exporter.target] });
  client = await adminClient(cluster);
  await installCrds(client);
  recorder = await startRolloutRecorder(client, (namespace) => namespace.startsWith('r1-'));
  for (const scenario of SCENARIOS) await createScenario(client, scenario);
  await prometheus.waitForScrapes(2);
  controllerArgs = ['--metrics-server', prometheus.url];
  controller = await startControllerProcess(cluster.kubeconfigPath, controllerArgs, {}, 'info');
  await waitForInitialized(client, SCENARIOS);
}, 300_000);

afterAll(async () => {
  await controller?.stop('SIGTERM');
  await recorder?.stop();
  await client?.close();
  await Promise.allSettled([prometheus?.stop(), exporter?.close()]);
  await cluster?.stop();
}, 60_000);

interface Analysis extends Verdict {
  readonly scenario: Scenario;
  readonly wave: number;
  readonly image: string;
  /** The image the primary ran before this revision. */
  readonly previousImage: string;
}

describe('R1: the controller killed with SIGKILL at random points', () => {
  it(`ends every analysis in the right phase, never promotes twice and never routes to a scaled-down workload (${KILLS} kills)`, async () => {
    const random = seededRandom(SEED);
    console.log(`R1 seed ${SEED} (replay with VIREO_R1_SEED=${SEED})`);
    const analyses: Analysis[] = [];
    const promotedImage = new Map(SCENARIOS.map((scenario) => [scenario.namespace, FIRST_IMAGE]));
    let pending = 0;
    let kills = 0;
    let killsMidAnalysis = 0;
    let stopKilling = false;
    const startedAt = Date.now();

    const killer = (async () => {
      while (kills < KILLS && !stopKilling) {
        await sleep(random.between(0, MAX_LIFE_MS));
        if (stopKilling) return;
        if (pending > 0) killsMidAnalysis += 1;
        expect(await controller.stop('SIGKILL')).toBeNull();
        kills += 1;
        controller = await startControllerProcess(cluster.kubeconfigPath, controllerArgs, {}, 'info');
      }
    })();

    try {
      for (let wave = 1; wave === 1 || kills < KILLS; wave += 1) {
        const image = `ghcr.io/stefanprodan/podinfo:6.1.${wave}`;
        const started = await Promise.all(
          SCENARIOS.map(async (scenario) => ({
            scenario,
            previousImage: promotedImage.get(scenario.namespace)!,
            before: await release(client, scenario.namespace, image),
          })),
        );
        pending = started.length;
        await Promise.all(
          started.map(async ({ scenario, previousImage, before }) => {
            const verdict = await verdictAfter(client, scenario.namespace, before, 240_000).catch(
              (error: unknown) => {
                console.error(controller.tail(80));
                throw error;
              },
            );
            pending -= 1;
            analyses.push({ ...verdict, scenario, wave, image, previousImage });
            if (verdict.phase === 'Succeeded')
              promotedImage.set(scenario.namespace, verdict.primaryImage ?? '');
          }),
        );
      }
    } finally {
      stopKilling = true;
      await killer;
    }

    // The recorder has every change up to the final states just read.
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

    const rightPhase = analyses.filter(
      (analysis) =>
        isRightVerdict(analysis.scenario, analysis, analysis.image, analysis.previousImage) &&
        (audit.promotions.get(analysis.scenario.namespace)?.get(analysis.revision ?? '') ?? 0) ===
          (analysis.scenario.expect === 'Succeeded' ? 1 : 0),
    );
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(0);
    console.log(
      `R1 controller SIGKILL: ${kills} kills (${killsMidAnalysis} mid-analysis) across ${analyses.length} analyses ` +
        `(${SCENARIOS.length} canaries: nginx canary, nginx A/B, kubernetes blue/green, each passing and failing; ` +
        `${analyses.length / SCENARIOS.length} revisions each) in ${seconds} s, seed ${SEED}: ` +
        `${rightPhase.length}/${analyses.length} right phase, ${audit.doublePromotions.length + announcedTwice.length} double promotions, ` +
        `${audit.repeatedActions.length} repeated analyses or initializations, ` +
        `${audit.unsafeRoutings.length} unsafe routings in ${audit.states} recorded states ` +
        `(${recorder.gaps} recorder gaps)`,
    );

    expect(kills).toBe(KILLS);
    expect(recorder.gaps).toBe(0);
    expect(analyses.filter((analysis) => !rightPhase.includes(analysis))).toEqual([]);
    expect(audit.doublePromotions).toEqual([]);
    expect(announcedTwice).toEqual([]);
    expect(audit.repeatedActions).toEqual([]);
    expect(audit.unsafeRoutings).toEqual([]);
    // The weighted canary went up in steps and came back to 0 every time.
    expect(audit.weights.get('r1-canary-pass')?.filter((weight) => weight > 0)).toContain(60);
    expect(audit.weights.get('r1-canary-pass')?.at(-1)).toBe(0);
  }, 900_000);
});
