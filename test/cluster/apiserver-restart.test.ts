/**
 * R2: kube-apiserver restarted 10 times (etcd kept, so nothing is lost but every watch and request
 * in flight breaks) while `vireo controller` analyses canaries of each strategy. New revisions are
 * released just before an outage and right after the API server is back, while the controller's
 * watches are still down or backing off.
 *
 * What must hold: every revision released is analysed (none missed because its change arrived
 * while a watch was down), and every analysis ends in the phase its checks call for. The
 * controller's own watch counters (vireo_watch_events_total) show that the watches really broke
 * and recovered. The outage points come from a seeded generator; VIREO_R2_SEED replays them.
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
} from '../support/resilience.js';
import { auditRollouts, startRolloutRecorder, type RolloutRecorder } from '../support/rollout-recorder.js';
import { seedFrom, seededRandom } from '../support/seeded-random.js';

const RESTARTS = 10;
const SEED = seedFrom('VIREO_R2_SEED');

const SCENARIOS: readonly Scenario[] = [
  { namespace: 'r2-canary-pass', strategy: 'canary', expect: 'Succeeded' },
  { namespace: 'r2-canary-fail', strategy: 'canary', expect: 'Failed' },
  { namespace: 'r2-ab-pass', strategy: 'A/B', expect: 'Succeeded' },
  { namespace: 'r2-bluegreen-pass', strategy: 'blue/green', expect: 'Succeeded' },
];

let cluster: TestCluster;
let client: KubeClient;
let exporter: MeshExporter;
let prometheus: TestPrometheus;
let recorder: RolloutRecorder;
let controller: ControllerProcess;

beforeAll(async () => {
  [cluster, exporter] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startMeshExporter(Date.now, seriesFor(SCENARIOS)),
  ]);
  prometheus = await startPrometheus({ targets: [exporter.target] });
  client = await adminClient(cluster);
  await installCrds(client);
  recorder = await startRolloutRecorder(client, (namespace) => namespace.startsWith('r2-'));
  for (const scenario of SCENARIOS) await createScenario(client, scenario);
  await prometheus.waitForScrapes(2);
  controller = await startControllerProcess(
    cluster.kubeconfigPath,
    ['--metrics-server', prometheus.url],
    {},
    'info',
  );
  await waitForInitialized(client, SCENARIOS);
}, 300_000);

afterAll(async () => {
  await cluster?.startApiserver().catch(() => undefined);
  await controller?.stop('SIGTERM');
  await recorder?.stop();
  await client?.close();
  await Promise.allSettled([prometheus?.stop(), exporter?.close()]);
  await cluster?.stop();
}, 120_000);

/** Sums `vireo_watch_events_total` samples by event kind (connect, relist, gone, error...). */
async function watchCounters(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const totals: Record<string, number> = {};
  for (const match of text.matchAll(
    /^vireo_watch_events_total\{[^}]*event="([a-z_]+)"[^}]*\} (\d+(?:\.\d+)?)$/gm,
  ))
    totals[match[1]!] = (totals[match[1]!] ?? 0) + Number(match[2]);
  return totals;
}

interface Revision {
  readonly scenario: Scenario;
  readonly image: string;
  readonly previousImage: string;
  readonly released: 'before an outage' | 'right after a restart';
  verdict?: Verdict;
  missed?: string;
  done: Promise<void>;
}

describe('R2: the API server restarted under the controller', () => {
  it(`analyses every revision, including those released around an outage, through ${RESTARTS} API server restarts`, async () => {
    const random = seededRandom(SEED);
    console.log(`R2 seed ${SEED} (replay with VIREO_R2_SEED=${SEED})`);
    const startedAt = Date.now();
    const revisions: Revision[] = [];
    const inFlight = new Map<string, Revision>();
    const promotedImage = new Map(SCENARIOS.map((scenario) => [scenario.namespace, FIRST_IMAGE]));
    let released = 0;
    let outageMs = 0;

    /** A new revision for every canary that is not analysing one; its verdict is awaited in the background. */
    const releaseIdle = async (
      when: Revision['released'],
      scenarios: readonly Scenario[] = SCENARIOS,
    ): Promise<void> => {
      for (const scenario of scenarios) {
        if (inFlight.has(scenario.namespace)) continue;
        released += 1;
        const image = `ghcr.io/stefanprodan/podinfo:6.2.${released}`;
        const previousImage = promotedImage.get(scenario.namespace)!;
        const before = await release(client, scenario.namespace, image);
        const revision: Revision = {
          scenario,
          image,
          previousImage,
          released: when,
          done: Promise.resolve(),
        };
        revision.done = verdictAfter(client, scenario.namespace, before, 180_000).then(
          (verdict) => {
            revision.verdict = verdict;
            if (verdict.phase === 'Succeeded')
              promotedImage.set(scenario.namespace, verdict.primaryImage ?? '');
            inFlight.delete(scenario.namespace);
          },
          (error: unknown) => {
            revision.missed = error instanceof Error ? error.message : String(error);
            inFlight.delete(scenario.namespace);
          },
        );
        revisions.push(revision);
        inFlight.set(scenario.namespace, revision);
      }
    };

    const outage = async (): Promise<void> => {
      const signal = random.pick(['SIGTERM', 'SIGKILL'] as const);
      const downAt = Date.now();
      await cluster.stopApiserver(signal);
      await sleep(random.between(0, 2_000));
      await cluster.startApiserver();
      outageMs += Date.now() - downAt;
    };
    for (let restart = 1; restart <= RESTARTS; restart += 1) {
      if (restart % 2 === 1) {
        // Every canary idle: half of them get a revision just before the outage (the controller
        // may or may not see it before its watches break), the others right after the restart,
        // while the controller's watches are still broken or backing off.
        await Promise.all(revisions.map((revision) => revision.done));
        const order = [...SCENARIOS].sort(() => random.next() - 0.5);
        const half = Math.floor(order.length / 2);
        await releaseIdle('before an outage', order.slice(0, half));
        await sleep(random.between(0, 1_000));
        await outage();
        await releaseIdle('right after a restart', order.slice(half));
      } else {
        // Those analyses are running: the API server goes away in the middle of them.
        await sleep(random.between(500, 3_000));
        await outage();
      }
    }
    await Promise.all(revisions.map((revision) => revision.done));

    const counters = await watchCounters(controller.port);
    const analysed = revisions.filter((revision) => revision.verdict !== undefined);
    const right = analysed.filter((revision) =>
      isRightVerdict(revision.scenario, revision.verdict!, revision.image, revision.previousImage),
    );
    const afterRestart = revisions.filter((revision) => revision.released === 'right after a restart');
    const audit = auditRollouts(recorder.events());
    // Promotions announced more often than revisions promoted: a promotion step ran twice
    // (a lost answer can only make the controller announce less, never more).
    const announcedTwice = await promotionsAnnouncedTwice(
      client,
      SCENARIOS,
      (scenario) =>
        analysed.filter(
          (revision) => revision.scenario === scenario && revision.verdict?.phase === 'Succeeded',
        ).length,
    );
    console.log(
      `R2 API server restarts: ${RESTARTS} restarts (${(outageMs / 1000).toFixed(0)} s without an API server), ` +
        `${revisions.length} revisions released (${afterRestart.length} right after a restart, the others just before an outage) across ` +
        `${SCENARIOS.length} canaries in ${((Date.now() - startedAt) / 1000).toFixed(0)} s, seed ${SEED}: ` +
        `${analysed.length}/${revisions.length} analysed, ${revisions.length - analysed.length} missed, ` +
        `${right.length}/${analysed.length} right phase; controller watches: ${counters['error'] ?? 0} errors, ` +
        `${counters['gone'] ?? 0} 410s, ${counters['relist'] ?? 0} re-lists; ` +
        `${audit.unsafeRoutings.length} unsafe routings, ${audit.doublePromotions.length + announcedTwice.length} double promotions ` +
        `in ${audit.states} recorded states (${recorder.gaps} recorder re-lists after a restart)`,
    );

    expect(
      revisions.filter((revision) => revision.missed !== undefined).map((revision) => revision.missed),
    ).toEqual([]);
    for (const wrong of analysed.filter((revision) => !right.includes(revision))) {
      // What the controller decided and warned about for that canary, to tell why.
      const lines = controller.logs
        .filter((line) => {
          const canary = line['canary'];
          return typeof canary === 'string' && canary.endsWith(`.${wrong.scenario.namespace}`);
        })
        .filter(
          (line) =>
            (line['level'] !== undefined && Number(line['level']) >= 40) || line['decision'] !== undefined,
        )
        .slice(-15)
        .map((line) => `${String(line['ts'])} ${String(line['msg'])}`);
      console.error(
        `R2: ${wrong.scenario.namespace} ${wrong.image} ended ${wrong.verdict?.phase}:\n${lines.join('\n')}`,
      );
    }
    expect(
      analysed
        .filter((revision) => !right.includes(revision))
        .map((revision) => ({
          namespace: revision.scenario.namespace,
          expected: revision.scenario.expect,
          image: revision.image,
          previousImage: revision.previousImage,
          ...revision.verdict,
        })),
    ).toEqual([]);
    expect(afterRestart.length).toBe((RESTARTS / 2) * (SCENARIOS.length - Math.floor(SCENARIOS.length / 2)));
    // The watches did break and recover: errors or 410s, then re-lists.
    expect((counters['error'] ?? 0) + (counters['gone'] ?? 0)).toBeGreaterThan(0);
    expect(audit.doublePromotions).toEqual([]);
    expect(announcedTwice).toEqual([]);
    expect(audit.unsafeRoutings).toEqual([]);
  }, 900_000);
});
