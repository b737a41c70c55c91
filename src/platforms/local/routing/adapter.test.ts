import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { newTestCanary } from '../../../../test/support/engine-world.js';
import { keyOf } from '../../../engine/ports.js';
import { LocalStateStore } from '../state.js';
import { LocalRouterAdapter } from './adapter.js';
import { TrafficRecorder } from './builtin/recorder.js';
import { createRouteBackend } from './factory.js';
import { InvalidRouteError } from './route-check.js';

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function newAdapter() {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-route-adapter-'));
  directories.push(directory);
  const state = await LocalStateStore.open(directory);
  const backend = createRouteBackend('builtin', {
    logger: pino({ enabled: false }),
    recorder: new TrafficRecorder({ registry: new Registry() }),
    nginxDirectory: join(directory, 'nginx'),
  });
  const adapter = new LocalRouterAdapter({
    state,
    endpoints: (set) => [`http://127.0.0.1:${set.endsWith('-primary') ? 41001 : 41002}`],
    backendFor: () => backend,
    intervalSeconds: () => 60,
  });
  return { adapter, state, backend };
}

describe('LocalRouterAdapter', () => {
  it('turns A/B routes into the match entries and the session cookies into a rule', async () => {
    const { adapter, state } = await newAdapter();
    const canary = newTestCanary({
      iterations: 5,
      match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
      sessionAffinity: { cookieName: 'flagger-cookie', maxAge: 0 },
    });
    await state.change(keyOf(canary), (entry) => {
      entry.routes = { primaryWeight: 0, canaryWeight: 100, mirrored: false };
      entry.cookies = { canary: 'flagger-cookie=ABCdefGHIj' };
    });
    expect(adapter.routeOf(canary)).toMatchObject({
      namespace: 'test',
      service: 'podinfo',
      canaryWeight: 0,
      match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
      sessionAffinity: { cookieName: 'flagger-cookie', canaryValue: 'ABCdefGHIj', maxAgeSeconds: 86_400 },
    });
  });

  it('refuses a split no local router may serve before persisting it, naming the field', async () => {
    const { adapter, state } = await newAdapter();
    const canary = newTestCanary({ sessionAffinity: { cookieName: 'a$b' } });
    const before = { ...state.get(keyOf(canary)).routes };
    const refused = await adapter
      .setRoutes(canary, { primaryWeight: 80, canaryWeight: 20, mirrored: false }, { canary: 'a$b=XYZ' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InvalidRouteError);
    expect((refused as InvalidRouteError).field).toBe('route.sessionAffinity.cookieName');
    // The state still says what is served.
    expect(state.get(keyOf(canary)).routes).toEqual(before);
    expect(await adapter.getRoutes(canary)).toEqual(before);
  });
});
