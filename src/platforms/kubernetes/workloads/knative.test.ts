import { describe, expect, it } from 'vitest';
import { renderBuiltinQuery } from '../../../metrics/builtin-queries.js';
import { RESOURCES } from '../resources.js';
import { knativeRouteOf } from './knative.js';
import { MapReader, testCanary } from './test-fixtures.test-helper.js';

const knativeCanary = () =>
  testCanary({
    provider: 'knative',
    targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
  });

describe('the {{ route }} of a Knative target', () => {
  it('is its latest created revision, which the built-in knative queries then select', async () => {
    const reader = new MapReader().put(RESOURCES.knativeServices, {
      metadata: { name: 'hello', namespace: 'test' },
      status: { latestCreatedRevisionName: 'hello-00002' },
    });
    const canary = knativeCanary();
    const route = await knativeRouteOf(reader)(canary);
    expect(route).toBe('hello-00002');
    const query = renderBuiltinQuery('knative', 'request-success-rate', canary, '1m', route);
    expect(query).toContain('envoy_cluster_name=~"test/hello-00002"');
    // Without it, the target name: which matches no revision's series.
    expect(renderBuiltinQuery('knative', 'request-success-rate', canary, '1m')).toContain(
      'envoy_cluster_name=~"test/hello"',
    );
  });

  it('is left to the spec for other targets and before Knative created a revision', async () => {
    const reader = new MapReader().put(RESOURCES.knativeServices, {
      metadata: { name: 'hello', namespace: 'test' },
      status: {},
    });
    expect(await knativeRouteOf(reader)(knativeCanary())).toBeUndefined();
    expect(await knativeRouteOf(reader)(testCanary())).toBeUndefined();
  });
});
