/**
 * The engine built from the real alert router and controller metrics (not fakes): a canary that
 * fails its checks is rolled back, its alert reaches the provider's notifier, and the metrics show
 * what Flagger's Grafana dashboard reads.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AlertProvider } from '../api/schema/alert-provider.js';
import { World, initializedWorld, newTestCanary } from '../../test/support/engine-world.js';
import { AlertRouter } from './alerts.js';
import { CanaryEngine, type AlertSender, type EngineMetrics } from './engine.js';
import type { AlertMessage, NotifierFactory } from './ports.js';
import { ControllerMetrics } from './telemetry.js';

describe('engine wired to AlertRouter and ControllerMetrics', () => {
  it("rolls back, alerts through the canary's provider and exports Flagger's metrics", async () => {
    const canary = newTestCanary({
      threshold: 1,
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      alerts: [{ name: 'on-call', severity: 'error', providerRef: { name: 'chat' } }],
    });
    const world: World = await initializedWorld(canary);
    const provider: AlertProvider = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'AlertProvider',
      metadata: { name: 'chat', namespace: 'test' },
      spec: { type: 'slack', address: 'https://hooks.slack.example/T/B/X' },
    };
    const delivered: AlertMessage[] = [];
    const notifiers: NotifierFactory = {
      forProvider: () => ({ send: (message) => Promise.resolve(void delivered.push(message)) }),
    };
    const registry = new Registry();
    const metrics: EngineMetrics = new ControllerMetrics({ registry });
    const alerts: AlertSender = new AlertRouter({
      source: { ...world.source, getAlertProvider: () => Promise.resolve(provider) },
      notifiers,
    });
    const engine = new CanaryEngine({
      source: world.source,
      workloads: world.workloads,
      router: world.router,
      status: world.store,
      events: world.events_,
      webhooks: world.webhooks,
      alerts,
      checks: { builtin: world.builtin, templates: world.metricTemplates },
      decisions: world.decisions,
      metrics,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      clock: world.clock,
    });
    await engine.advance(world.key);
    await engine.advance(world.key);
    await engine.advance(world.key);
    world.successRate = 80;
    await engine.advance(world.key);
    await engine.advance(world.key);
    expect(world.phase).toBe('Failed');
    expect(delivered.map((message) => [message.severity, message.text])).toEqual([
      ['error', 'Failed checks threshold reached 1'],
    ]);
    const exposition = await registry.metrics();
    expect(exposition).toContain('flagger_canary_status{name="podinfo",namespace="test"} 2');
    expect(exposition).toContain('flagger_canary_weight{workload="podinfo-primary",namespace="test"} 100');
    expect(exposition).toContain('flagger_canary_weight{workload="podinfo",namespace="test"} 0');
    expect(exposition).toMatch(
      /flagger_canary_failures_total\{name="podinfo",namespace="test",deployment_strategy="canary",analysis_status="completed"\} 1/,
    );
    expect(exposition).toContain(
      'flagger_canary_metric_analysis{name="podinfo",namespace="test",metric="request-success-rate"} 80',
    );
    // The bound the value was judged against, for Vireo's dashboard.
    expect(exposition).toContain(
      'vireo_canary_metric_threshold{name="podinfo",namespace="test",metric="request-success-rate",bound="min"} 99',
    );
    expect(exposition).not.toContain('bound="max"');
  });
});
