import { describe, expect, it } from 'vitest';
import { METRIC_PROVIDER_TYPES } from '../api/schema/metric-template.js';
import { UnknownMetricProviderError } from './errors.js';
import { createMetricsProvider, METRIC_PROVIDER_IMPLEMENTATIONS } from './factory.js';

describe('createMetricsProvider', () => {
  it('has an implementation for every type the MetricTemplate schema accepts', () => {
    expect([...METRIC_PROVIDER_IMPLEMENTATIONS].sort()).toEqual([...METRIC_PROVIDER_TYPES].sort());
  });

  it('rejects an unknown type by name, listing the known ones, instead of falling back to Prometheus', async () => {
    const create = (): Promise<unknown> =>
      createMetricsProvider('promethues', {
        source: 'MetricTemplate test/latency',
        address: 'http://x',
        interval: '1m',
      });
    await expect(create()).rejects.toThrow(UnknownMetricProviderError);
    await expect(create()).rejects.toThrow(
      `MetricTemplate test/latency: unknown metric provider type "promethues"; known types: ${METRIC_PROVIDER_IMPLEMENTATIONS.join(', ')}`,
    );
  });

  it('does not mistake inherited object keys for providers', async () => {
    await expect(createMetricsProvider('constructor', { source: 's', interval: '1m' })).rejects.toThrow(
      UnknownMetricProviderError,
    );
  });
});
