import { describe, expect, it } from 'vitest';
import { recordingServers, type Answer } from '../../test/support/recording-server.js';
import type { Canary } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import { BackendMetricTemplates } from './templates.js';

const server = recordingServers();
const one: Answer = {
  status: 200,
  contentType: 'application/json',
  body: JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: [{ metric: {}, value: [1, '1'] }] },
  }),
};

function template(address: string, secretName?: string, type = 'prometheus'): MetricTemplate {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'latency', namespace: 'monitoring' },
    spec: {
      provider: { type, address, ...(secretName === undefined ? {} : { secretRef: { name: secretName } }) },
      query: 'up',
    },
  } as MetricTemplate;
}

describe('BackendMetricTemplates', () => {
  it("reads the provider's Secret from the template's namespace", async () => {
    const prometheus = await server(() => one);
    const reads: string[] = [];
    const templates = new BackendMetricTemplates({
      lookup: { get: () => Promise.resolve(undefined) },
      secrets: {
        read: (namespace, name) => {
          reads.push(`${namespace}/${name}`);
          return Promise.resolve({ token: 't0k' });
        },
      },
    });
    const provider = await templates.providerFor(template(prometheus.url, 'prom-auth'), '1m');
    expect(await provider.queryValue('up')).toBe(1);
    expect(reads).toEqual(['monitoring/prom-auth']);
    expect(prometheus.requests[0]?.headers.authorization).toBe('Bearer t0k');
  });

  it('says so when a template names a Secret and there is no Secret source', async () => {
    const templates = new BackendMetricTemplates({ lookup: { get: () => Promise.resolve(undefined) } });
    await expect(templates.providerFor(template('http://x', 'prom-auth'), '1m')).rejects.toThrow(
      'MetricTemplate monitoring/latency names the Secret "prom-auth" but no Secret source is configured',
    );
  });

  it('rejects an unknown provider type by name, listing the known ones', async () => {
    const templates = new BackendMetricTemplates({ lookup: { get: () => Promise.resolve(undefined) } });
    await expect(templates.providerFor(template('http://x', undefined, 'prometeus'), '1m')).rejects.toThrow(
      /MetricTemplate monitoring\/latency: unknown metric provider type "prometeus"; known types: prometheus, /,
    );
  });

  it("sends inline queries to the canary's metricsServer", async () => {
    const prometheus = await server(() => one);
    const templates = new BackendMetricTemplates({
      lookup: { get: () => Promise.resolve(undefined) },
      metricsServer: 'http://127.0.0.1:1',
    });
    const canary = {
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: { metricsServer: prometheus.url },
    };
    const provider = await templates.inlineProvider(canary as Canary);
    expect(await provider.queryValue('up')).toBe(1);
    expect(prometheus.requests).toHaveLength(1);
  });
});
