/**
 * R7: a chat service that fails (HTTP 500), refuses connections (nothing listening) or never
 * answers must not change the analysis. The engine runs the same analyses through the alert path
 * the controller wires (AlertOutbox → AlertRouter → the real Slack, MS Teams and generic
 * notifiers) against a stand-in on loopback that speaks each service's webhook API:
 * - every tick shows the same phase, weights, iterations and failed checks as with a healthy
 *   service, and no tick waits for a chat delivery (an alert still in delivery when its tick
 *   ended is the proof; the same measurement without the outbox shows the ticks waiting);
 * - each alert is retried (3 attempts) and counted where a user sees it, on /metrics:
 *   `vireo_alerts_total{result="failed"}` and `vireo_alert_retries_total`.
 * Prints: "R7 chat outage: …".
 */
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { AlertProvider } from '../../src/api/schema/alert-provider.js';
import type { Canary } from '../../src/api/schema/canary.js';
import { AlertOutbox } from '../../src/engine/alert-outbox.js';
import { AlertRouter } from '../../src/engine/alerts.js';
import type { AlertSender } from '../../src/engine/engine.js';
import { ControllerMetrics } from '../../src/engine/telemetry.js';
import { ChatNotifierFactory } from '../../src/notifiers/factory.js';
import { newTestCanary, World } from '../support/engine-world.js';
import type { Answer } from '../support/recording-server.js';
import {
  startSwitchableServer,
  type ServerState,
  type SwitchableServer,
} from '../support/switchable-server.js';

type ChatType = 'slack' | 'msteams' | 'generic';
type Outcome = 'promotion' | 'rollback';

const CHAT_TYPES: readonly ChatType[] = ['slack', 'msteams', 'generic'];
const STATES: readonly ServerState[] = ['up', 'failing', 'down', 'hanging'];
const OUTCOMES: readonly Outcome[] = ['promotion', 'rollback'];
const ATTEMPTS = 3;
/** Only the hanging service runs into it (it never answers); a healthy one has ten times that. */
const HANGING_TIMEOUT_MS = 1_000;
const ANSWERING_TIMEOUT_MS = 10_000;
const MAX_TICKS = 30;

/** What each service answers when it took the message (their documented success answers). */
const HEALTHY_ANSWER: Readonly<Record<ChatType, Answer>> = {
  slack: { status: 200, body: 'ok' },
  msteams: { status: 200, body: '1' },
  generic: { status: 204 },
};
const WEBHOOK_PATH: Readonly<Record<ChatType, string>> = {
  slack: '/services/T000/B000/XXXX',
  msteams: '/webhookb2/tenant/IncomingWebhook/abc',
  generic: '/alerts',
};

interface Run {
  readonly chat: ChatType;
  readonly state: ServerState;
  readonly outcome: Outcome;
  readonly outbox: boolean;
  /** Per tick: phase, weights, iterations, failed checks. */
  readonly trace: string[];
  readonly finalPhase: string;
  readonly alertsSent: number;
  readonly alertTicks: number;
  /** Ticks that sent an alert and ended only once it had been delivered (or given up on). */
  readonly waitedTicks: number;
  readonly requestsSeen: number;
  readonly textsSeen: string[];
  readonly texts: string[];
  readonly counted: { sent: number; failed: number; retries: number; dropped: number };
}

function newCanary(): Canary {
  return newTestCanary({
    threshold: 2,
    metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
    alerts: [{ name: 'chat', severity: 'info', providerRef: { name: 'chat', namespace: 'test' } }],
  });
}

function provider(chat: ChatType, server: SwitchableServer): AlertProvider {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'AlertProvider',
    metadata: { name: 'chat', namespace: 'test' },
    spec: { type: chat, address: `${server.url}${WEBHOOK_PATH[chat]}`, channel: 'deploys' },
  };
}

/** One sample value of the exposition text, summed over the series that carry `labels`. */
function sampleSum(text: string, family: string, labels: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${family}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

async function runAnalysis(
  chat: ChatType,
  state: ServerState,
  outcome: Outcome,
  outbox = true,
): Promise<Run> {
  const server = await startSwitchableServer({
    answer: () => HEALTHY_ANSWER[chat],
    failure: { status: 500, body: 'internal error' },
  });
  try {
    await server.setState(state);
    const metrics = new ControllerMetrics({ registry: new Registry() });
    const world = new World(newCanary());
    world.alertProviders.set('test/chat', provider(chat, server));
    const router = new AlertRouter({
      source: world.source,
      notifiers: new ChatNotifierFactory({
        transport: {
          attempts: ATTEMPTS,
          backoffMs: 20,
          timeoutMs: state === 'hanging' ? HANGING_TIMEOUT_MS : ANSWERING_TIMEOUT_MS,
        },
        countRetries: (type, retries) => metrics.countAlertRetries(type, retries),
      }),
      deliveries: metrics,
    });
    // Counts every alert the engine sends and every delivery that has finished.
    const texts: string[] = [];
    let settled = 0;
    const counted: AlertSender = {
      send: async (canary, severity, text) => {
        await router.send(canary, severity, text);
        settled += 1;
      },
    };
    const queue = outbox ? new AlertOutbox({ deliver: counted, recorder: metrics }) : undefined;
    const alerts: AlertSender = {
      send: (canary, severity, text) => {
        texts.push(text);
        return (queue ?? counted).send(canary, severity, text);
      },
    };

    const trace: string[] = [];
    let alertTicks = 0;
    let waitedTicks = 0;
    const tick = async (): Promise<void> => {
      const before = texts.length;
      await world.tick({ alerts });
      const status = world.status;
      trace.push(
        `${world.phase} ${world.routes.primaryWeight}/${world.routes.canaryWeight}${world.routes.mirrored ? ' mirrored' : ''} i${status.iterations ?? 0} f${status.failedChecks ?? 0}`,
      );
      if (texts.length > before) {
        alertTicks += 1;
        if (settled === texts.length) waitedTicks += 1;
      }
    };

    await tick();
    world.release('rev-2');
    if (outcome === 'rollback') world.successRate = 50;
    for (let ticks = 1; ticks < MAX_TICKS && !['Succeeded', 'Failed'].includes(world.phase); ticks += 1)
      await tick();
    expect(world.violations).toEqual([]);

    if (queue !== undefined) expect(await queue.drain(120_000)).toBe(true);
    const exposition = await metrics.metrics();
    return {
      chat,
      state,
      outcome,
      outbox,
      trace,
      finalPhase: world.phase,
      alertsSent: texts.length,
      alertTicks,
      waitedTicks,
      requestsSeen: server.requests.length,
      textsSeen: server.requests.map((request) => request.body),
      texts,
      counted: {
        sent: sampleSum(exposition, 'vireo_alerts_total', 'result="sent"'),
        failed: sampleSum(exposition, 'vireo_alerts_total', 'result="failed"'),
        retries: sampleSum(exposition, 'vireo_alert_retries_total', `provider_type="${chat}"`),
        dropped: sampleSum(exposition, 'vireo_alerts_dropped_total', ''),
      },
    };
  } finally {
    await server.close();
  }
}

const runs: Run[] = [];
let control: Run | undefined;

describe('R7: chat services failing, refusing or hanging', () => {
  afterAll(() => {
    if (runs.length === 0) return;
    const analyses = runs.length;
    const sameAsHealthy = runs.filter((run) => {
      const healthy = runs.find(
        (other) => other.chat === run.chat && other.outcome === run.outcome && other.state === 'up',
      );
      return healthy !== undefined && JSON.stringify(healthy.trace) === JSON.stringify(run.trace);
    }).length;
    const outages = runs.filter((run) => run.state !== 'up');
    const alertTicks = runs.reduce((sum, run) => sum + run.alertTicks, 0);
    const waited = runs.reduce((sum, run) => sum + run.waitedTicks, 0);
    const outageAlerts = outages.reduce((sum, run) => sum + run.alertsSent, 0);
    const failed = outages.reduce((sum, run) => sum + run.counted.failed, 0);
    const retries = outages.reduce((sum, run) => sum + run.counted.retries, 0);
    const dropped = runs.reduce((sum, run) => sum + run.counted.dropped, 0);
    console.log(
      `R7 chat outage: ${analyses} analyses (${CHAT_TYPES.join(', ')} × ${STATES.join(', ')} × ${OUTCOMES.join(', ')}), ` +
        `${sameAsHealthy} with every tick's phase and weights identical to the healthy service's, ` +
        `${waited} of ${alertTicks} alert ticks waited for the chat service` +
        (control === undefined
          ? ''
          : ` (awaiting the AlertRouter in the tick instead: ${control.waitedTicks} of ${control.alertTicks})`) +
        `; ${outageAlerts} alerts to failing services, ${failed} counted failed in vireo_alerts_total, ` +
        `${retries} retries counted in vireo_alert_retries_total, ${dropped} dropped`,
    );
  });

  it('runs every analysis as with a healthy service, retries each alert and counts it', async () => {
    const matrix = CHAT_TYPES.flatMap((chat) =>
      STATES.flatMap((state) => OUTCOMES.map((outcome) => ({ chat, state, outcome }))),
    );
    const [results, before] = await Promise.all([
      Promise.all(matrix.map(({ chat, state, outcome }) => runAnalysis(chat, state, outcome))),
      // The measurement must be able to see a tick waiting: the same run with the alert awaited.
      runAnalysis('slack', 'hanging', 'rollback', false),
    ]);
    runs.push(...results);
    control = before;

    expect(control.waitedTicks).toBe(control.alertTicks);
    expect(control.alertTicks).toBeGreaterThan(0);

    for (const run of runs) {
      const label = `${run.chat} ${run.state} ${run.outcome}`;
      const healthy = runs.find(
        (other) => other.chat === run.chat && other.outcome === run.outcome && other.state === 'up',
      )!;
      expect(run.trace, label).toEqual(healthy.trace);
      expect(run.finalPhase, label).toBe(run.outcome === 'promotion' ? 'Succeeded' : 'Failed');
      expect(run.waitedTicks, label).toBe(0);
      expect(run.alertTicks, label).toBeGreaterThan(0);
      expect(run.counted.dropped, label).toBe(0);
      if (run.outcome === 'rollback') expect(run.texts, label).toContain('Failed checks threshold reached 2');
      else expect(run.texts, label).toContain('Canary analysis completed successfully, promotion finished.');

      switch (run.state) {
        case 'up':
          expect(run.counted, label).toEqual({ sent: run.alertsSent, failed: 0, retries: 0, dropped: 0 });
          expect(run.requestsSeen, label).toBe(run.alertsSent);
          // Each message arrived, in the order the engine sent it.
          run.texts.forEach((text, index) => expect(run.textsSeen[index], label).toContain(text));
          break;
        case 'failing':
        case 'hanging':
          expect(run.counted, label).toEqual({
            sent: 0,
            failed: run.alertsSent,
            retries: (ATTEMPTS - 1) * run.alertsSent,
            dropped: 0,
          });
          expect(run.requestsSeen, label).toBe(ATTEMPTS * run.alertsSent);
          break;
        case 'down':
          expect(run.counted, label).toEqual({
            sent: 0,
            failed: run.alertsSent,
            retries: (ATTEMPTS - 1) * run.alertsSent,
            dropped: 0,
          });
          expect(run.requestsSeen, label).toBe(0);
          break;
      }
    }
  });
});
