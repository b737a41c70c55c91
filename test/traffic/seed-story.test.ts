/**
 * The seed story on Kubernetes with real requests (docs/testing-traffic.md): clients inside the
 * private network namespace send requests through the real Traefik (its ingress-NGINX emulation
 * serving the canary Ingress of Vireo's `nginx` router) to demo-service processes listening on
 * the Pod IPs that the real kube-controller-manager put into EndpointSlices, while the real
 * `vireo controller` drives the Canary on Prometheus' measurements of Traefik's metrics.
 *
 * V1 initializes and serves; V2 answering 30% HTTP 500 is rolled back on the measured success
 * rate, the on-call Slack channel (a stand-in on loopback) gets the rollback alert, and the
 * clients are back on V1; V3 is promoted, and at each step the share of answers from
 * the canary follows the canary-weight within sampling error. Run with `npm run test:traffic`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
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
  startTrafficClients,
  sendOne,
  tally,
  type Answer,
  type TrafficClients,
} from '../support/traffic-client.js';
import { startTrafficCluster, type TrafficCluster } from '../support/traffic-cluster.js';

const NAMESPACE = 'traffic';
const HOST = 'podinfo.traffic.test';
const NGINX = 'nginx.ingress.kubernetes.io';
const ENDPOINT_SLICES: ResourceType = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
  namespaced: true,
};

type Canary = KubeObject & { status?: { phase?: string; canaryWeight?: number } };
type EndpointSlice = KubeObject & { endpoints?: { addresses: string[] }[] };

let traffic: TrafficCluster;
let client: KubeClient;
let controller: ControllerProcess;
let clients: TrafficClients | undefined;
let slack: SlackInbox;
const log = (line: string): void => console.log(`[traffic] ${line}`);

const demoDeployment = (version: string, env: Record<string, string> = {}): KubeObject =>
  demoServiceDeployment('podinfo', NAMESPACE, version, env);

/**
 * The same as the canary's Pods counted it, a second opinion: the demo service's own request
 * counter, scraped by Prometheus from each canary Pod (`<target>-<hash>-<suffix>`; the primary's
 * Pods are `<target>-primary-...` and do not match).
 */
function successRateTemplate(prometheusUrl: string): KubeObject {
  const canaryPods = 'namespace="{{ namespace }}", pod=~"{{ target }}-[a-z0-9]+-[a-z0-9]+", path="/"';
  return {
    metadata: { name: 'pod-success-rate', namespace: NAMESPACE },
    spec: {
      provider: { type: 'prometheus', address: prometheusUrl },
      query:
        `sum(rate(http_requests_total{${canaryPods}, status!~"5.."}[{{ interval }}])) / ` +
        `sum(rate(http_requests_total{${canaryPods}}[{{ interval }}])) * 100`,
    },
  };
}

/**
 * The canary's success rate as Traefik counted it, the analysis's first check: its ingress-NGINX
 * emulation names the canary's service
 * `<namespace>-<ingress>-<service>-<port>-canary@kubernetesingressnginx`.
 */
function traefikSuccessRateTemplate(prometheusUrl: string): KubeObject {
  const canaryService =
    'service=~"{{ namespace }}-{{ ingress }}-{{ service }}-[0-9]+-canary@kubernetesingressnginx"';
  return {
    metadata: { name: 'traefik-success-rate', namespace: NAMESPACE },
    spec: {
      provider: { type: 'prometheus', address: prometheusUrl },
      query:
        `sum(rate(traefik_service_requests_total{${canaryService}, code!~"5.."}[{{ interval }}])) / ` +
        `sum(rate(traefik_service_requests_total{${canaryService}}[{{ interval }}])) * 100`,
    },
  };
}

beforeAll(async () => {
  // traefikCRD: Traefik's CRDs served, for a controller that watches every router's kinds from its start.
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
  if (controller !== undefined) {
    const checks = controller.logs.filter((line) => JSON.stringify(line).includes('success-rate'));
    log(
      `controller lines about success-rate:\n${checks
        .slice(-12)
        .map((line) => JSON.stringify(line))
        .join('\n')}`,
    );
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

interface Segment {
  readonly phase: string;
  readonly weight: number;
  readonly from: number;
  to: number;
}

/** Samples the Canary's phase and the canary Ingress's weight until `until` holds. */
async function recordWeights(until: (phase: string) => boolean, timeoutMs = 300_000): Promise<Segment[]> {
  const segments: Segment[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    const [canary, ingress] = await Promise.all([
      readCanary(),
      client.get<KubeObject>(RESOURCES.ingresses, NAMESPACE, 'podinfo-canary'),
    ]);
    const phase = canary?.status?.phase ?? '';
    const weight = Number(ingress?.metadata.annotations?.[`${NGINX}/canary-weight`] ?? '0');
    const last = segments.at(-1);
    if (last !== undefined && last.phase === phase && last.weight === weight) last.to = now;
    else segments.push({ phase, weight, from: now, to: now });
    if (until(phase)) return segments;
    if (now > deadline)
      throw new Error(`timed out; segments ${JSON.stringify(segments)}\n${controller.tail(40)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// Traefik applies an Ingress change within a moment of the API server's answer; requests sent in
// the first seconds of a step may still take the previous weights.
const SETTLE_MS = 2_000;

function answersIn(from: number, to: number): Answer[] {
  return (clients?.answers ?? []).filter((answer) => answer.sentAt >= from && answer.sentAt <= to);
}

describe('the seed story with real traffic through Traefik (nginx provider)', () => {
  it('V1: the controller initializes the canary; the pods serve on the IPs the EndpointSlices list, and the clients get V1', async () => {
    await release('1.0.0');
    await client.create(RESOURCES.ingresses, {
      metadata: { name: 'podinfo', namespace: NAMESPACE },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: HOST,
            http: {
              paths: [
                {
                  pathType: 'Prefix',
                  path: '/',
                  backend: { service: { name: 'podinfo', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    await client.create(RESOURCES.metricTemplates, successRateTemplate(traffic.prometheus.url));
    await client.create(RESOURCES.metricTemplates, traefikSuccessRateTemplate(traffic.prometheus.url));
    await client.create(RESOURCES.alertProviders, slackAlertProvider(NAMESPACE, slack));
    await client.apply(RESOURCES.canaries, {
      metadata: { name: 'podinfo', namespace: NAMESPACE },
      spec: {
        provider: 'nginx',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' },
        progressDeadlineSeconds: 120,
        service: { port: 80, targetPort: 8080 },
        analysis: {
          interval: '10s',
          threshold: 2,
          stepWeight: 20,
          maxWeight: 60,
          metrics: [
            {
              name: 'traefik-success-rate',
              templateRef: { name: 'traefik-success-rate' },
              interval: '30s',
              thresholdRange: { min: 95 },
            },
            {
              name: 'success-rate',
              templateRef: { name: 'pod-success-rate' },
              interval: '30s',
              thresholdRange: { min: 95 },
            },
          ],
          alerts: [ON_CALL_ERRORS],
        },
      },
    });
    await waitForPhase(['Initialized']);

    const primaries = await traffic.pods.waitFor(
      'two V1 primary pods answering',
      (pods) => pods.filter((pod) => pod.pod.startsWith(`${NAMESPACE}/podinfo-primary-`)).length === 2,
      120_000,
    );
    const primaryIps = primaries
      .filter((pod) => pod.pod.startsWith(`${NAMESPACE}/podinfo-primary-`))
      .map((pod) => pod.ip)
      .sort();
    const slices = await eventually(
      () =>
        client.list<EndpointSlice>(ENDPOINT_SLICES, NAMESPACE, {
          labelSelector: 'kubernetes.io/service-name=podinfo',
        }),
      (list) =>
        list.items
          .flatMap((slice) => slice.endpoints ?? [])
          .flatMap((endpoint) => endpoint.addresses)
          .sort()
          .join() === primaryIps.join(),
      60_000,
      `EndpointSlices of Service podinfo listing ${primaryIps.join(', ')}`,
    );
    expect(slices.items.length).toBeGreaterThan(0);
    expect(primaryIps.every((ip) => ip.startsWith('10.244.'))).toBe(true);

    // Traefik picks the Ingress up on its own schedule: wait for the first V1 answer.
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

  it('V2 answering 30% HTTP 500 is rolled back on the success rate Prometheus measured, the on-call channel gets the rollback alert, and the clients are back on V1', async () => {
    await release('2.0.0', { ERROR_RATE: '0.3' });
    const segments = await recordWeights((phase) => phase === 'Failed');
    log(
      `V2 steps: ${JSON.stringify(segments.map(({ phase, weight, from, to }) => ({ phase, weight, seconds: (to - from) / 1000 })))}`,
    );
    const during = answersIn(segments[0]!.from, segments.at(-1)!.to);
    const fromV2 = during.filter((answer) => answer.version === '2.0.0');
    const v2Errors = fromV2.filter((answer) => answer.status === 500).length;
    log(`V2 analysis: ${during.length} requests ${JSON.stringify(tally(during))}`);
    // The clients really met the broken version, and it really failed about 30% of them.
    expect(fromV2.length).toBeGreaterThanOrEqual(30);
    const errorShare = v2Errors / fromV2.length;
    expect(Math.abs(errorShare - 0.3)).toBeLessThanOrEqual(4 * Math.sqrt((0.3 * 0.7) / fromV2.length) + 0.02);
    expect(segments.some((segment) => segment.phase === 'Progressing' && segment.weight > 0)).toBe(true);

    // Rolled back on a measurement, not on a failed query.
    const verdicts = controller.logs
      .map(
        (line) =>
          (
            line['decision'] as
              { checks?: { check: string; verdict: string; value?: number; message?: string }[] } | undefined
          )?.checks ?? [],
      )
      .flat()
      .filter((check) => check.check.endsWith('success-rate'));
    log(
      `success-rate checks: ${JSON.stringify(verdicts.map((check) => `${check.check}: ${check.message ?? ''}`))}`,
    );
    expect(
      verdicts.some((check) => check.verdict === 'fail' && !/failed|no values/i.test(check.message ?? '')),
    ).toBe(true);

    // Traefik's counter for the canary service, compared with what the clients got from V2.
    const traefikCounts = await traffic.prometheus.query(
      'sum by (code) (traefik_service_requests_total{service=~".*-canary@kubernetesingressnginx"})',
    );
    log(`Traefik's counts for the canary service by code: ${JSON.stringify(traefikCounts.result)}`);

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

    // The on-call channel got the rollback, naming the canary and why (threshold 2 failed checks).
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
    expect(alerts[0]?.fields['Target']).toBe(`Deployment/podinfo.${NAMESPACE}`);
  });

  it('a healthy V3 is promoted, and at each step the share of answers from the canary follows its weight', async () => {
    // V2's Pods are gone, but their last answers stay in the 30 s rate window of the next
    // analysis: wait until Prometheus no longer sees them answer.
    await eventually(
      () => traffic.prometheus.query('sum(rate(http_requests_total{version="2.0.0", path="/"}[30s])) > 0'),
      (data) => Array.isArray(data.result) && data.result.length === 0,
      120_000,
      "V2's answers out of Prometheus' 30 s window",
    );
    await release('3.0.0');
    // The Canary still says Failed (V2) until the controller notices the new revision.
    await waitForPhase(['Progressing']);
    const segments = await recordWeights((phase) => phase === 'Succeeded' || phase === 'Failed');
    expect(segments.at(-1)?.phase).toBe('Succeeded');
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
        `V3 at canary-weight ${step.weight}%: ${step.requests} requests, ${step.onCanary} on the canary (${(step.share * 100).toFixed(1)}%) ${JSON.stringify(step.counts)}`,
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
    expect(tally(after)).toEqual({ [`200 3.0.0`]: after.length });
    // A promotion is no error: the on-call channel still holds only V2's rollback.
    expect(slack.messages().map((message) => message.text)).toEqual(['Failed checks threshold reached 2']);
  });
});
