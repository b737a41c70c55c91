import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkloadSpec } from '../../../api/schema/workload.js';
import { LOCAL_ROUTER_NAMES, LOCAL_ROUTERS } from './backend.js';
import { TrafficRecorder } from './builtin/recorder.js';
import { createRouteBackend, localRouterName, UnknownLocalRouterError } from './factory.js';

const directory = await mkdtemp(join(tmpdir(), 'vireo-route-factory-'));
afterAll(() => rm(directory, { recursive: true, force: true }));
const deps = {
  logger: pino({ enabled: false }),
  recorder: new TrafficRecorder({ registry: new Registry() }),
  nginxDirectory: join(directory, 'nginx'),
};

describe('createRouteBackend', () => {
  it.each(LOCAL_ROUTER_NAMES)('builds the %s backend by its name', (name) => {
    expect(createRouteBackend(name, deps).name).toBe(name);
  });

  it('refuses an unknown name, listing the known ones and the nearest', () => {
    const attempt = () => createRouteBackend('ngnix', deps, 'Workload test/web spec.router');
    expect(attempt).toThrow(UnknownLocalRouterError);
    expect(attempt).toThrow(
      'Workload test/web spec.router: unknown local router "ngnix"; known routers: builtin, nginx. Did you mean "nginx"?',
    );
    try {
      attempt();
    } catch (error) {
      expect((error as UnknownLocalRouterError).code).toBe('E_UNKNOWN_LOCAL_ROUTER');
    }
    expect(() => localRouterName('envoy')).toThrow(
      'router: unknown local router "envoy"; known routers: builtin, nginx',
    );
    // Inherited object keys are not router names.
    expect(() => localRouterName('constructor')).toThrow(UnknownLocalRouterError);
  });
});

describe('the capability table', () => {
  it('has one row per router name, and the names are the ones a Workload may give', () => {
    expect(Object.keys(LOCAL_ROUTERS).sort()).toEqual([...LOCAL_ROUTER_NAMES].sort());
    const router = WorkloadSpec.properties.router as unknown as { anyOf: { const: string }[] };
    expect(router.anyOf.map((literal) => literal.const).sort()).toEqual([...LOCAL_ROUTER_NAMES].sort());
  });
});
