import { describe, expect, it } from 'vitest';
import type { AlertProvider } from '../api/schema/alert-provider.js';
import type { Canary, CanaryAlert } from '../api/schema/canary.js';
import {
  ALERT_SEVERITY,
  ALERT_TEXT,
  AlertRouter,
  alertFields,
  shouldSend,
  type AlertDeliveryResult,
  type AlertRouterDeps,
} from './alerts.js';
import type { AlertMessage, AlertSeverity, CanarySource, Notifier, NotifierFactory } from './ports.js';

function canaryWith(analysis: Record<string, unknown>, overrides: Partial<Canary['spec']> = {}): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 5, ...analysis },
      ...overrides,
    },
  };
}

function provider(namespace: string, name: string, spec: AlertProvider['spec']): AlertProvider {
  return { apiVersion: 'flagger.app/v1beta1', kind: 'AlertProvider', metadata: { name, namespace }, spec };
}

describe('shouldSend', () => {
  const cases: [CanaryAlert['severity'] | undefined, AlertSeverity, boolean][] = [
    ['info', 'info', true],
    ['info', 'warn', true],
    ['info', 'error', true],
    ['warn', 'info', false],
    ['warn', 'warn', true],
    ['warn', 'error', true],
    ['error', 'info', false],
    ['error', 'warn', false],
    ['error', 'error', true],
    // The docs' default, which Flagger does not implement: empty or missing means info.
    ['', 'info', true],
    ['', 'warn', true],
    ['', 'error', true],
    [undefined, 'info', true],
    [undefined, 'warn', true],
    [undefined, 'error', true],
  ];
  it.each(cases)('alert %j receives a %s message: %s', (alertSeverity, messageSeverity, expected) => {
    expect(shouldSend(alertSeverity, messageSeverity)).toBe(expected);
  });
});

describe('ALERT_TEXT', () => {
  it.each([
    [ALERT_TEXT.initialized('Deployment'), 'New Deployment detected, initialization completed.', 'info'],
    [ALERT_TEXT.newRevision, 'New revision detected, progressing canary analysis.', 'info'],
    [ALERT_TEXT.promotionFinished, 'Canary analysis completed successfully, promotion finished.', 'info'],
    [ALERT_TEXT.analysisSkipped, 'Canary analysis was skipped, promotion finished.', 'info'],
    [ALERT_TEXT.waitingForApproval, 'Canary is waiting for approval.', 'warn'],
    [
      ALERT_TEXT.trafficIncreaseWaitingForApproval,
      'Canary traffic increase is waiting for approval.',
      'warn',
    ],
    [ALERT_TEXT.promotionWaitingForApproval, 'Canary promotion is waiting for approval.', 'warn'],
    [ALERT_TEXT.rollbackWebhookInvoked, 'Rolling back manual webhook invoked', 'warn'],
    [ALERT_TEXT.failedChecksThreshold(5), 'Failed checks threshold reached 5', 'error'],
    [
      ALERT_TEXT.promotionFailed('deployment podinfo-primary not ready'),
      'Promotion failed, primary not ready: deployment podinfo-primary not ready',
      'error',
    ],
    [
      ALERT_TEXT.progressDeadlineExceeded('waiting for rollout to finish'),
      'Progress deadline exceeded waiting for rollout to finish',
      'error',
    ],
  ])('%s', (text, expected) => {
    expect(text).toBe(expected);
  });

  it('gives every message a severity', () => {
    expect(Object.keys(ALERT_SEVERITY).sort()).toEqual(Object.keys(ALERT_TEXT).sort());
    expect(ALERT_SEVERITY.progressDeadlineExceeded).toBe('error');
    expect(ALERT_SEVERITY.rollbackWebhookInvoked).toBe('warn');
  });
});

describe('alertFields', () => {
  const common: [string, string][] = [
    ['Target', 'Deployment/podinfo.test'],
    ['Failed checks threshold', '5'],
    ['Progress deadline', '600s'],
  ];

  it.each<[string, Record<string, unknown>, string | undefined]>([
    ['canary with stepWeight and maxWeight', { stepWeight: 10, maxWeight: 50 }, 'Weight step: 10 max: 50'],
    ['canary with stepWeight and no maxWeight', { stepWeight: 20 }, 'Weight step: 20 max: 100'],
    ['canary with stepWeights', { stepWeights: [1, 10, 50] }, 'Weight steps: 1,10,50 max: 50'],
    ['A/B testing', { iterations: 10, match: [{ headers: { x: { exact: 'y' } } }] }, 'A/B Testing'],
    ['blue/green', { iterations: 10 }, 'Blue/Green'],
    ['canary without a step', {}, undefined],
  ])('%s', (_name, analysis, routing) => {
    const expected = routing === undefined ? common : [...common, ['Traffic routing', routing]];
    // A weighted router: the default provider (kubernetes) would make every canary blue/green.
    expect(alertFields(canaryWith(analysis), { meshProvider: 'istio' })).toEqual(expected);
  });

  it('starts with the cluster name when one is set', () => {
    const fields = alertFields(canaryWith({ stepWeight: 10 }), { clusterName: 'prod-eu' });
    expect(fields[0]).toEqual(['Cluster', 'prod-eu']);
    expect(fields.map(([title]) => title)).toEqual([
      'Cluster',
      'Target',
      'Failed checks threshold',
      'Progress deadline',
      'Traffic routing',
    ]);
  });

  it('applies the threshold and deadline defaults and honours progressDeadlineSeconds', () => {
    const fields = alertFields(
      canaryWith({ threshold: 0, stepWeight: 10 }, { progressDeadlineSeconds: 120 }),
    );
    expect(fields).toContainEqual(['Failed checks threshold', '1']);
    expect(fields).toContainEqual(['Progress deadline', '120s']);
  });

  it('describes a kubernetes-provider canary as blue/green, as it runs', () => {
    const fields = alertFields(canaryWith({ stepWeight: 10 }, { provider: 'kubernetes' }));
    expect(fields).toContainEqual(['Traffic routing', 'Blue/Green']);
  });

  it('reads the deprecated canaryAnalysis when analysis is absent', () => {
    const canary = canaryWith({});
    const spec = { ...canary.spec, analysis: undefined, canaryAnalysis: { threshold: 3, iterations: 4 } };
    const fields = alertFields({ ...canary, spec } as unknown as Canary);
    expect(fields).toContainEqual(['Failed checks threshold', '3']);
    expect(fields).toContainEqual(['Traffic routing', 'Blue/Green']);
  });

  it('keeps only the cluster without metadata', () => {
    expect(alertFields(canaryWith({ stepWeight: 10 }), { clusterName: 'c1', metadata: false })).toEqual([
      ['Cluster', 'c1'],
    ]);
    expect(alertFields(canaryWith({ stepWeight: 10 }), { metadata: false })).toEqual([]);
  });
});

// In-memory fakes that record what the router asked of them.

class FakeSource implements CanarySource {
  readonly providers = new Map<string, AlertProvider>();
  readonly secrets = new Map<string, Record<string, string>>();
  readonly secretReads: string[] = [];

  addProvider(p: AlertProvider): this {
    this.providers.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    return this;
  }
  addSecret(namespace: string, name: string, data: Record<string, string>): this {
    this.secrets.set(`${namespace}/${name}`, data);
    return this;
  }
  getCanary(): Promise<Canary | undefined> {
    return Promise.resolve(undefined);
  }
  getMetricTemplate(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  getAlertProvider(namespace: string, name: string): Promise<AlertProvider | undefined> {
    return Promise.resolve(this.providers.get(`${namespace}/${name}`));
  }
  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    this.secretReads.push(`${namespace}/${name}`);
    return Promise.resolve(this.secrets.get(`${namespace}/${name}`));
  }
}

interface Delivery {
  readonly provider: string;
  readonly secret: Record<string, string> | undefined;
  readonly message: AlertMessage;
}

class FakeNotifiers implements NotifierFactory {
  readonly deliveries: Delivery[] = [];
  /** Providers (`ns/name`) whose notifier rejects, with the error text. */
  readonly failing = new Map<string, string>();

  forProvider(p: AlertProvider, secret: Record<string, string> | undefined): Notifier {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    return {
      send: (message) => {
        const failure = this.failing.get(key);
        if (failure !== undefined) return Promise.reject(new Error(failure));
        this.deliveries.push({ provider: key, secret, message });
        return Promise.resolve();
      },
    };
  }
}

class RecordingNotifier implements Notifier {
  readonly messages: AlertMessage[] = [];
  send(message: AlertMessage): Promise<void> {
    this.messages.push(message);
    return Promise.resolve();
  }
}

function setup(deps: Partial<AlertRouterDeps> = {}) {
  const source = new FakeSource();
  const notifiers = new FakeNotifiers();
  const logs: Record<string, unknown>[] = [];
  const counted: [string, AlertDeliveryResult][] = [];
  const router = new AlertRouter({
    source,
    notifiers,
    log: (entry) => logs.push(entry as Record<string, unknown>),
    deliveries: { countAlertDelivery: (type, result) => counted.push([type, result]) },
    ...deps,
  });
  return { source, notifiers, logs, counted, router };
}

const slack = (namespace: string, name: string, extra: Partial<AlertProvider['spec']> = {}) =>
  provider(namespace, name, { type: 'slack', address: `https://hooks.slack.test/${name}`, ...extra });

const alert = (name: string, severity: CanaryAlert['severity'], providerRef: CanaryAlert['providerRef']) => ({
  name,
  severity,
  providerRef,
});

describe('AlertRouter', () => {
  it('sends to the alerts whose severity lets the message through', async () => {
    const { source, notifiers, router } = setup();
    source.addProvider(slack('test', 'on-call')).addProvider(slack('test', 'dev'));
    const canary = canaryWith({
      stepWeight: 10,
      alerts: [
        alert('on-call', 'error', { name: 'on-call' }),
        alert('dev', 'info', { name: 'dev' }),
        alert('default', '', { name: 'dev' }),
      ],
    });

    await router.send(canary, 'warn', ALERT_TEXT.waitingForApproval);

    expect(notifiers.deliveries.map((d) => d.provider)).toEqual(['test/dev', 'test/dev']);
    expect(notifiers.deliveries[0]?.message).toEqual({
      canary: { namespace: 'test', name: 'podinfo' },
      target: 'Deployment/podinfo.test',
      severity: 'warn',
      text: 'Canary is waiting for approval.',
      fields: alertFields(canary),
    });
  });

  it('looks the provider up in providerRef.namespace, and reads its Secret there', async () => {
    const { source, notifiers, router } = setup();
    source
      .addProvider(slack('monitoring', 'shared', { address: undefined, secretRef: { name: 'slack-url' } }))
      .addSecret('monitoring', 'slack-url', { address: 'https://hooks.slack.test/secret', token: 't0k3n' });
    const canary = canaryWith({
      stepWeight: 10,
      alerts: [alert('shared', 'info', { name: 'shared', namespace: 'monitoring' })],
    });

    await router.send(canary, 'info', ALERT_TEXT.newRevision);

    expect(source.secretReads).toEqual(['monitoring/slack-url']);
    expect(notifiers.deliveries).toHaveLength(1);
    expect(notifiers.deliveries[0]).toMatchObject({
      provider: 'monitoring/shared',
      secret: { address: 'https://hooks.slack.test/secret', token: 't0k3n' },
    });
  });

  it('logs a missing provider by <ns>/<name> and still serves the other alerts', async () => {
    const { source, notifiers, logs, counted, router } = setup();
    source.addProvider(slack('test', 'dev'));
    const canary = canaryWith({
      stepWeight: 10,
      alerts: [
        alert('gone', 'info', { name: 'deleted', namespace: 'ops' }),
        alert('dev', 'info', { name: 'dev' }),
      ],
    });

    await expect(router.send(canary, 'error', ALERT_TEXT.failedChecksThreshold(5))).resolves.toBeUndefined();

    expect(notifiers.deliveries.map((d) => d.provider)).toEqual(['test/dev']);
    expect(logs).toEqual([
      {
        level: 'warn',
        msg: 'alert provider not found',
        canary: 'podinfo.test',
        alert: 'gone',
        provider: 'ops/deleted',
      },
    ]);
    expect(counted).toEqual(
      expect.arrayContaining([
        ['unknown', 'skipped'],
        ['slack', 'sent'],
      ]),
    );
  });

  it.each([
    ['the Secret is missing', undefined, 'alert provider secret not found'],
    [
      'the Secret has no address key',
      { token: 'xoxb-secret-token' },
      'alert provider secret has no "address" key',
    ],
  ])('skips a provider when %s, without logging its values', async (_case, data, msg) => {
    const { source, notifiers, logs, router } = setup();
    source.addProvider(slack('test', 'teams', { secretRef: { name: 'teams-url' } }));
    if (data !== undefined) source.addSecret('test', 'teams-url', data);
    const canary = canaryWith({ stepWeight: 10, alerts: [alert('teams', 'info', { name: 'teams' })] });

    await router.send(canary, 'info', ALERT_TEXT.newRevision);

    expect(notifiers.deliveries).toEqual([]);
    expect(logs).toEqual([
      expect.objectContaining({ level: 'warn', msg, provider: 'test/teams', secret: 'test/teams-url' }),
    ]);
    expect(JSON.stringify(logs)).not.toContain('xoxb-secret-token');
  });

  it('uses the global notifier, whatever the severity, when the canary has no alerts', async () => {
    const global = new RecordingNotifier();
    const { notifiers, router } = setup({ globalNotifier: global, clusterName: 'prod' });

    await router.send(canaryWith({ stepWeight: 10 }), 'info', ALERT_TEXT.promotionFinished);
    await router.send(
      canaryWith({ stepWeight: 10, alerts: [] }),
      'error',
      ALERT_TEXT.failedChecksThreshold(2),
    );

    expect(global.messages.map((m) => [m.severity, m.text])).toEqual([
      ['info', 'Canary analysis completed successfully, promotion finished.'],
      ['error', 'Failed checks threshold reached 2'],
    ]);
    expect(global.messages[0]?.fields[0]).toEqual(['Cluster', 'prod']);
    expect(notifiers.deliveries).toEqual([]);
  });

  it('does nothing without alerts and without a global notifier', async () => {
    const { logs, router } = setup();
    await expect(router.send(canaryWith({ stepWeight: 10 }), 'error', 'x')).resolves.toBeUndefined();
    expect(logs).toEqual([]);
  });

  it('does not use the global notifier when the canary has alerts, even filtered out', async () => {
    const global = new RecordingNotifier();
    const { source, notifiers, router } = setup({ globalNotifier: global });
    source.addProvider(slack('test', 'dev'));
    const canary = canaryWith({ stepWeight: 10, alerts: [alert('dev', 'error', { name: 'dev' })] });

    await router.send(canary, 'info', ALERT_TEXT.newRevision);

    expect(global.messages).toEqual([]);
    expect(notifiers.deliveries).toEqual([]);
  });

  it('lets one rejecting notifier fail alone, and hides its URL in the log', async () => {
    const { source, notifiers, logs, counted, router } = setup();
    source.addProvider(slack('test', 'broken')).addProvider(slack('test', 'dev'));
    notifiers.failing.set('test/broken', 'POST https://hooks.slack.test/broken failed: 500');
    const canary = canaryWith({
      stepWeight: 10,
      alerts: [alert('broken', 'info', { name: 'broken' }), alert('dev', 'info', { name: 'dev' })],
    });

    await expect(
      router.send(canary, 'error', ALERT_TEXT.promotionFailed('timeout')),
    ).resolves.toBeUndefined();

    expect(notifiers.deliveries.map((d) => d.provider)).toEqual(['test/dev']);
    expect(logs).toEqual([
      {
        level: 'error',
        msg: 'alert delivery failed',
        canary: 'podinfo.test',
        alert: 'broken',
        provider: 'test/broken',
        providerType: 'slack',
        error: 'POST [redacted] failed: 500',
      },
    ]);
    expect(counted).toEqual(
      expect.arrayContaining([
        ['slack', 'failed'],
        ['slack', 'sent'],
      ]),
    );
  });

  it('counts a notifier that reports an undelivered message as failed, not sent', async () => {
    const { source } = setup();
    source.addProvider(slack('test', 'down'));
    const counted: [string, string][] = [];
    const router = new AlertRouter({
      source,
      notifiers: { forProvider: () => ({ send: () => Promise.resolve(false) }) },
      deliveries: { countAlertDelivery: (type, result) => counted.push([type, result]) },
    });
    await router.send(
      canaryWith({ stepWeight: 10, alerts: [alert('down', 'info', { name: 'down' })] }),
      'error',
      'x',
    );
    expect(counted).toEqual([['slack', 'failed']]);
  });

  it('sends concurrently: a slow notifier does not delay the others', async () => {
    const { source } = setup();
    source.addProvider(slack('test', 'slow')).addProvider(slack('test', 'fast'));
    const order: string[] = [];
    let releaseSlow: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
    const notifiers: NotifierFactory = {
      forProvider: (p) => ({
        send: async () => {
          if (p.metadata.name === 'slow') await slow;
          order.push(p.metadata.name);
          if (p.metadata.name === 'fast') releaseSlow();
        },
      }),
    };
    const concurrent = new AlertRouter({ source, notifiers });
    const canary = canaryWith({
      stepWeight: 10,
      alerts: [alert('slow', 'info', { name: 'slow' }), alert('fast', 'info', { name: 'fast' })],
    });

    await concurrent.send(canary, 'info', ALERT_TEXT.newRevision);

    // Sent one after the other, the slow notifier would wait forever for the fast one.
    expect(order).toEqual(['fast', 'slow']);
  });

  it('survives a throwing source, factory and log sink', async () => {
    const source = new FakeSource().addProvider(slack('test', 'dev'));
    source.getAlertProvider = () => Promise.reject(new Error('cache not synced'));
    const router = new AlertRouter({
      source,
      notifiers: {
        forProvider: () => {
          throw new Error('unsupported');
        },
      },
      log: () => {
        throw new Error('log sink down');
      },
    });
    const canary = canaryWith({ stepWeight: 10, alerts: [alert('dev', 'info', { name: 'dev' })] });
    await expect(router.send(canary, 'info', ALERT_TEXT.newRevision)).resolves.toBeUndefined();
  });

  it('logs and skips a provider the factory cannot build', async () => {
    const { source, logs } = setup();
    source.addProvider(slack('test', 'dev'));
    const router = new AlertRouter({
      source,
      notifiers: {
        forProvider: () => {
          throw new Error('invalid URL https://hooks.slack.test/dev');
        },
      },
      log: (entry) => logs.push(entry as Record<string, unknown>),
    });
    const canary = canaryWith({ stepWeight: 10, alerts: [alert('dev', 'info', { name: 'dev' })] });

    await router.send(canary, 'info', ALERT_TEXT.newRevision);

    expect(logs).toEqual([
      expect.objectContaining({ msg: 'alert provider rejected', error: 'invalid URL [redacted]' }),
    ]);
  });

  it('can leave the canary settings out of a message, as Flagger does for most', async () => {
    const global = new RecordingNotifier();
    const { router } = setup({ globalNotifier: global, clusterName: 'prod' });
    await router.send(canaryWith({ stepWeight: 10 }), 'warn', ALERT_TEXT.rollbackWebhookInvoked, {
      metadata: false,
    });
    expect(global.messages[0]?.fields).toEqual([['Cluster', 'prod']]);
  });
});
