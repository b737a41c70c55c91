/**
 * The seed story with the `traefik` router and real traffic (docs/routers/traefik.md,
 * docs/testing-traffic.md): clients send requests through the real Traefik, whose Kubernetes CRD
 * provider serves the user's IngressRoute and the TraefikService Vireo writes, to demo-service
 * processes on the Pod IPs of the real EndpointSlices. The analysis uses only the built-in
 * checks (`request-success-rate`, `request-duration`), so their traefik queries
 * (src/metrics/builtin-queries.ts) run unchanged against the series Traefik really exports.
 *
 * V1 initializes and serves; V2 answering 30% HTTP 500 is rolled back on the success rate
 * measured from Traefik's own metrics, with the rollback alert on the Slack stand-in; V3 is
 * promoted, and at each step the share of answers from the canary follows the TraefikService's
 * weight within sampling error. Run with `npm run test:traffic`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
import { TRAEFIK_SERVICES, type TraefikService } from '../../src/platforms/kubernetes/routers/traefik.js';
import { BUILTIN_QUERIES } from '../../src/metrics/builtin-queries.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { adminClient, ensureNamespace, eventually, installCrds } from '../support/kube.js';
import { demoServiceDeployment } from '../support/pod-runner.js';
import {
  ON_CALL_ERRORS,
  slackAlertProvider,
  startSlackInbox,
  type SlackInbox,
} from '../support/slack-inbox.js';
import {
  sendOne,
  startTrafficClients,
  tally,
  type Answer,
  type TrafficClients,
} from '../support/traffic-client.js';
import { startTrafficCluster, type TrafficCluster } from '../support/traffic-cluster.js';

const NAMESPACE = 'traefik';
const HOST = 'podinfo.traefik.test';
const INGRESS_ROUTES: ResourceType = {
  group: 'traefik.io',
  version: 'v1alpha1',
  plural: 'ingressroutes',
  kind: 'IngressRoute',
  namespaced: true,
};

type Canary = KubeObject & { status?: { phase?: string; canaryWeight?: number } };
interface Check {
  check: string;
  verdict: string;
  value?: number;
  message?: string;
}

let traffic: TrafficCluster;
let client: KubeClient;
let controller: ControllerProcess;
let clients: TrafficClients | undefined;
let slack: SlackInbox;
const log = (line: string): void => console.log(`[traffic:traefik] ${line}`);

const demoDeployment = (version: string, env: Record<string, string> = {}): KubeObject =>
  demoServiceDeployment('podinfo', NAMESPACE, version, env);

beforeAll(async () => {
  traffic = await startTrafficCluster({ log, traefikCRD: true });
  client = await adminClient(traffic.cluster);
  await installCrds(client);
  await ensureNamespace(client, NAMESPACE);
  slack = await startSlackInbox();
  controller = await startControllerProcess(
    traffic.kubeconfigPath,
    ['--metrics-server', traffic.prometheus.url],
    {},
    'info',
  );
}, 300_000);

afterAll(async () => {
  if (traffic !== undefined) {
    const services = await traffic.prometheus.query(
      'sum by (service, code) (traefik_service_requests_total)',
    );
    log(`Traefik's request counts: ${JSON.stringify(services.result)}`);
  }
  await clients?.stop();
  if (clients !== undefined)
    log(`all answers: ${clients.answers.length} ${JSON.stringify(tally(clients.answers))}`);
  if (controller !== undefined) await controller.stop('SIGTERM');
  await slack?.close();
  await client?.close();
  await traffic?.stop();
}, 120_000);

const readCanary = (): Promise<Canary | undefined> =>
  client.get<Canary>(RESOURCES.canaries, NAMESPACE, 'podinfo');

async function waitForPhase(phases: readonly string[], timeoutMs = 240_000): Promise<Canary> {
  try {
    return (await eventually(
      readCanary,
      (canary) => phases.includes(canary?.status?.phase ?? ''),
      timeoutMs,
      `canary in ${phases.join('|')}`,
    ))!;
  } catch (error) {
    console.error(controller.tail(60));
    throw error;
  }
}

async function release(version: string, env: Record<string, string> = {}): Promise<void> {
  await client.apply(RESOURCES.deployments, demoDeployment(version, env));
}

/** The canary's weight in TraefikService podinfo: its entry's weight, 0 without an entry. */
const canaryWeightOf = (service: TraefikService | undefined): number =>
  service?.spec?.weighted?.services?.find((entry) => entry.name === 'podinfo-canary')?.weight ?? 0;

interface Segment {
  readonly phase: string;
  readonly weight: number;
  readonly from: number;
  to: number;
}

/** Samples the Canary's phase and the TraefikService's canary weight until `until` holds. */
async function recordWeights(until: (phase: string) => boolean, timeoutMs = 300_000): Promise<Segment[]> {
  const segments: Segment[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    const [canary, service] = await Promise.all([
      readCanary(),
      client.get<TraefikService>(TRAEFIK_SERVICES, NAMESPACE, 'podinfo'),
    ]);
    const phase = canary?.status?.phase ?? '';
    const weight = canaryWeightOf(service);
    const last = segments.at(-1);
    if (last !== undefined && last.phase === phase && last.weight === weight) last.to = now;
    else segments.push({ phase, weight, from: now, to: now });
    if (until(phase)) return segments;
    if (now > deadline)
      throw new Error(`timed out; segments ${JSON.stringify(segments)}\n${controller.tail(40)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// Traefik applies a TraefikService change within a moment of the API server's answer; requests
// sent in the first seconds of a step may still take the previous weights.
const SETTLE_MS = 2_000;

function answersIn(from: number, to: number): Answer[] {
  return (clients?.answers ?? []).filter((answer) => answer.sentAt >= from && answer.sentAt <= to);
}

/** The checks the controller decided on, from its decision log lines. */
function checksLogged(): Check[] {
  return controller.logs.flatMap(
    (line) => (line['decision'] as { checks?: Check[] } | undefined)?.checks ?? [],
  );
}

/** A built-in traefik query with the template variables of this canary filled in. */
function builtinQuery(which: 'successRate' | 'durationMs', interval: string): string {
  return BUILTIN_QUERIES.traefik[which]
    .replaceAll('{{ namespace }}', NAMESPACE)
    .replaceAll('{{ target }}', 'podinfo')
    .replaceAll('{{ interval }}', interval);
}

describe('the seed story with real traffic through Traefik (traefik provider: IngressRoute → TraefikService)', () => {
  it('V1: the controller creates TraefikService podinfo at 100% primary, and the clients get V1 through the IngressRoute', async () => {
    await release('1.0.0');
    await client.create(INGRESS_ROUTES, {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'IngressRoute',
      metadata: { name: 'podinfo', namespace: NAMESPACE },
      spec: {
        entryPoints: ['web'],
        routes: [
          {
            match: `Host(\`${HOST}\`)`,
            kind: 'Rule',
            services: [{ name: 'podinfo', kind: 'TraefikService' }],
          },
        ],
      },
    });
    await client.create(RESOURCES.alertProviders, slackAlertProvider(NAMESPACE, slack));
    await client.apply(RESOURCES.canaries, {
      metadata: { name: 'podinfo', namespace: NAMESPACE },
      spec: {
        provider: 'traefik',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        progressDeadlineSeconds: 120,
        service: { port: 80, targetPort: 8080 },
        analysis: {
          interval: '10s',
          threshold: 2,
          stepWeight: 20,
          maxWeight: 60,
          // Only the built-in checks: their traefik queries run against Traefik's real series.
          metrics: [
            { name: 'request-success-rate', interval: '30s', thresholdRange: { min: 95 } },
            { name: 'request-duration', interval: '30s', thresholdRange: { max: 500 } },
          ],
          alerts: [ON_CALL_ERRORS],
        },
      },
    });
    await waitForPhase(['Initialized']);
    const service = await client.get<TraefikService>(TRAEFIK_SERVICES, NAMESPACE, 'podinfo');
    expect(service?.spec?.weighted?.services).toEqual([
      { name: 'podinfo-primary', namespace: NAMESPACE, port: 80, weight: 100 },
    ]);

    await traffic.pods.waitFor(
      'two V1 primary pods answering',
      (pods) => pods.filter((pod) => pod.pod.startsWith(`${NAMESPACE}/podinfo-primary-`)).length === 2,
      120_000,
    );
    // Traefik picks the IngressRoute and the TraefikService up on its own schedule.
    await eventually(
      () => sendOne(traffic.traefik.url, HOST),
      (answer) => answer.status === 200 && answer.version === '1.0.0',
      60_000,
      'a V1 answer through Traefik',
    );
    clients = startTrafficClients({ url: traffic.traefik.url, host: HOST });
    const start = Date.now();
    await eventually(
      () => Promise.resolve(answersIn(start, Date.now()).length),
      (count) => count >= 100,
      60_000,
      '100 answers',
    );
    const v1 = answersIn(start, Date.now());
    log(`V1: ${v1.length} requests ${JSON.stringify(tally(v1))}`);
    expect(tally(v1)).toEqual({ [`200 1.0.0`]: v1.length });
  });

  it("V2 answering 30% HTTP 500 is rolled back on the built-in success rate of Traefik's metrics, the on-call channel is told, and the clients are back on V1", async () => {
    await release('2.0.0', { ERROR_RATE: '0.3' });
    const recording = recordWeights((phase) => phase === 'Failed');
    // While V2 takes traffic, Traefik's series for the canary exist: check the built-in
    // queries find them (the label names and the service name Traefik really uses).
    const seen = await eventually(
      () => traffic.prometheus.query(builtinQuery('successRate', '30s')),
      (data) => Array.isArray(data.result) && data.result.length > 0,
      240_000,
      "the built-in traefik success-rate query answering from Traefik's series",
    );
    log(`built-in success rate while V2 runs: ${JSON.stringify(seen.result)}`);
    const series = await traffic.prometheus.query(
      `count by (service, code) (traefik_service_request_duration_seconds_bucket{service=~"${NAMESPACE}-podinfo-canary-.*"})`,
    );
    log(`Traefik's canary series: ${JSON.stringify(series.result)}`);
    const duration = await traffic.prometheus.query(builtinQuery('durationMs', '30s'));
    log(`built-in p99 duration while V2 runs (ms): ${JSON.stringify(duration.result)}`);
    expect(Array.isArray(duration.result) && duration.result.length > 0).toBe(true);

    const segments = await recording;
    log(
      `V2 steps: ${JSON.stringify(segments.map(({ phase, weight, from, to }) => ({ phase, weight, seconds: (to - from) / 1000 })))}`,
    );
    const during = answersIn(segments[0]!.from, segments.at(-1)!.to);
    const fromV2 = during.filter((answer) => answer.version === '2.0.0');
    const v2Errors = fromV2.filter((answer) => answer.status === 500).length;
    log(`V2 analysis: ${during.length} requests ${JSON.stringify(tally(during))}`);
    expect(fromV2.length).toBeGreaterThanOrEqual(30);
    const errorShare = v2Errors / fromV2.length;
    expect(Math.abs(errorShare - 0.3)).toBeLessThanOrEqual(4 * Math.sqrt((0.3 * 0.7) / fromV2.length) + 0.02);
    expect(segments.some((segment) => segment.phase === 'Progressing' && segment.weight > 0)).toBe(true);

    // Rolled back on a measured success rate, not on a query that found nothing.
    const successChecks = checksLogged().filter((check) => check.check === 'request-success-rate');
    log(`request-success-rate checks: ${JSON.stringify(successChecks.map((check) => check.message ?? ''))}`);
    expect(
      successChecks.some(
        (check) =>
          check.verdict === 'fail' &&
          typeof check.value === 'number' &&
          check.value < 95 &&
          !/failed|no values/i.test(check.message ?? ''),
      ),
    ).toBe(true);
    // After the rollback the TraefikService lists the primary alone.
    const service = await client.get<TraefikService>(TRAEFIK_SERVICES, NAMESPACE, 'podinfo');
    expect(service?.spec?.weighted?.services?.map((entry) => [entry.name, entry.weight])).toEqual([
      ['podinfo-primary', 100],
    ]);
    const failedAt = Date.now();
    await eventually(
      () => Promise.resolve(answersIn(failedAt + SETTLE_MS, Date.now()).length),
      (count) => count >= 100,
      60_000,
      '100 answers after the rollback',
    );
    const after = answersIn(failedAt + SETTLE_MS, Date.now());
    log(`after the rollback: ${after.length} requests ${JSON.stringify(tally(after))}`);
    expect(tally(after)).toEqual({ [`200 1.0.0`]: after.length });

    const alerts = await eventually(
      () => Promise.resolve(slack.messages()),
      (messages) => messages.length > 0,
      60_000,
      'the rollback alert on Slack',
    );
    log(`Slack received: ${JSON.stringify(alerts)}`);
    expect(alerts).toEqual([
      expect.objectContaining({
        subject: `podinfo.${NAMESPACE}`,
        text: 'Failed checks threshold reached 2',
        color: 'danger',
        channel: 'deploys',
      }),
    ]);
  });

  it('a healthy V3 is promoted, and at each step the share of answers from the canary follows the TraefikService weight', async () => {
    // V2's last answers stay in the 30 s rate window of the next analysis: wait until they are out.
    await eventually(
      () => traffic.prometheus.query('sum(rate(http_requests_total{version="2.0.0", path="/"}[30s])) > 0'),
      (data) => Array.isArray(data.result) && data.result.length === 0,
      120_000,
      "V2's answers out of Prometheus' 30 s window",
    );
    await release('3.0.0');
    await waitForPhase(['Progressing']);
    const segments = await recordWeights((phase) => phase === 'Succeeded' || phase === 'Failed');
    expect(segments.at(-1)?.phase, controller.tail(40)).toBe('Succeeded');
    const steps = segments.filter(
      (segment) => segment.phase === 'Progressing' && segment.to - segment.from > SETTLE_MS + 2_000,
    );
    const measured = steps.map((segment) => {
      const answers = answersIn(segment.from + SETTLE_MS, segment.to);
      const onCanary = answers.filter((answer) => answer.version === '3.0.0').length;
      return {
        weight: segment.weight,
        requests: answers.length,
        onCanary,
        share: answers.length === 0 ? 0 : onCanary / answers.length,
        counts: tally(answers),
      };
    });
    for (const step of measured)
      log(
        `V3 at TraefikService canary weight ${step.weight}%: ${step.requests} requests, ${step.onCanary} on the canary (${(step.share * 100).toFixed(1)}%) ${JSON.stringify(step.counts)}`,
      );
    expect(
      new Set(measured.filter((step) => step.weight > 0).map((step) => step.weight)).size,
    ).toBeGreaterThanOrEqual(3);
    for (const step of measured) {
      expect(step.requests).toBeGreaterThanOrEqual(30);
      const expected = step.weight / 100;
      // Four standard deviations of a binomial sample, plus two points for answers in flight.
      const tolerance = 4 * Math.sqrt((expected * (1 - expected)) / step.requests) + 0.02;
      expect(Math.abs(step.share - expected), `share at weight ${step.weight}%`).toBeLessThanOrEqual(
        tolerance,
      );
    }

    const doneAt = Date.now();
    await eventually(
      () => Promise.resolve(answersIn(doneAt + SETTLE_MS, Date.now()).length),
      (count) => count >= 100,
      60_000,
      '100 answers after the promotion',
    );
    const after = answersIn(doneAt + SETTLE_MS, Date.now());
    log(`after the promotion: ${after.length} requests ${JSON.stringify(tally(after))}`);
    const promotion = segments.filter((segment) => segment.phase !== 'Progressing');
    const duringPromotion = answersIn(promotion[0]?.from ?? doneAt, doneAt + SETTLE_MS);
    log(
      `while the primary's Pods were replaced: ${duringPromotion.length} requests ${JSON.stringify(tally(duringPromotion))}`,
    );
    // No client sees an error while the primary's Pods are replaced: new Pods take traffic only once
    // they answer, old ones drain (pod-runner.ts), and Vireo moves traffic before scaling down.
    expect(duringPromotion.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(tally(after)).toEqual({ [`200 3.0.0`]: after.length });
    expect(slack.messages().map((message) => message.text)).toEqual(['Failed checks threshold reached 2']);

    // Both built-in checks measured V3 and passed (a failing check stops the others, so V2's
    // analysis never reached the duration check).
    const passed = checksLogged().filter(
      (check) => check.verdict === 'pass' && typeof check.value === 'number',
    );
    log(`passing checks: ${JSON.stringify(passed.map((check) => check.message ?? ''))}`);
    expect(passed.some((check) => check.check === 'request-success-rate' && check.value! >= 95)).toBe(true);
    expect(passed.some((check) => check.check === 'request-duration' && check.value! <= 500)).toBe(true);
  });
});
