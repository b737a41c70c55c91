import { describe, expect, it } from 'vitest';
import {
  InvalidWorkloadSpecError,
  validateWorkloadSpec,
  workloadSpecHash,
  type WorkloadSpec,
} from './workload-spec.js';

const spec: WorkloadSpec = {
  name: 'web',
  command: 'node',
  args: ['server.js'],
  env: { VERSION: '1', MODE: 'fast' },
  cwd: '/srv/web',
  replicas: 2,
};

describe('workloadSpecHash', () => {
  it('is stable and independent of the order of env entries', () => {
    expect(workloadSpecHash(spec)).toMatch(/^[0-9a-f]{16}$/);
    expect(workloadSpecHash({ ...spec, env: { MODE: 'fast', VERSION: '1' } })).toBe(workloadSpecHash(spec));
  });

  it.each<[string, Partial<WorkloadSpec>]>([
    ['command', { command: 'deno' }],
    ['args', { args: ['server.js', '--debug'] }],
    ['args order', { args: ['--x', 'server.js'] }],
    ['env value', { env: { VERSION: '2', MODE: 'fast' } }],
    ['env entry added', { env: { VERSION: '1', MODE: 'fast', EXTRA: '' } }],
    ['cwd', { cwd: '/srv/other' }],
    ['cwd removed', { cwd: undefined }],
  ])('changes with %s (a new revision)', (_what, change) => {
    expect(workloadSpecHash({ ...spec, ...change })).not.toBe(workloadSpecHash(spec));
  });

  it('ignores replicas, port and readiness (scaling or probing is not a new revision)', () => {
    expect(
      workloadSpecHash({
        ...spec,
        replicas: 5,
        port: 8080,
        readiness: { httpPath: '/healthz', periodMs: 10 },
      }),
    ).toBe(workloadSpecHash(spec));
  });

  it('does not confuse an argument boundary with a different split', () => {
    expect(workloadSpecHash({ ...spec, args: ['a b'] })).not.toBe(
      workloadSpecHash({ ...spec, args: ['a', 'b'] }),
    );
  });
});

describe('validateWorkloadSpec', () => {
  it('accepts a complete spec and a minimal one', () => {
    expect(() =>
      validateWorkloadSpec('web-primary', { ...spec, port: 8080, readiness: { httpPath: '/' } }),
    ).not.toThrow();
    expect(() => validateWorkloadSpec('w', { name: 'w', command: 'x', replicas: 0 })).not.toThrow();
  });

  it.each<[string, Partial<WorkloadSpec>, string]>([
    ['args', { args: ['ok', 'bad\0'] }, 'args[1] must be a string, got "bad\\u0000"'],
    ['env name', { env: { 'A=B': 'x' } }, `env name must be non-empty without '=', got "A=B"`],
    ['cwd', { cwd: '' }, 'cwd must be a directory path, got ""'],
    [
      'readiness.periodMs',
      { readiness: { httpPath: '/', periodMs: 0 } },
      'readiness.periodMs must be a positive number of milliseconds, got 0',
    ],
    [
      'readiness.timeoutMs',
      { readiness: { httpPath: '/', timeoutMs: -1 } },
      'readiness.timeoutMs must be a positive number of milliseconds, got -1',
    ],
    ['port', { port: 1.5 }, 'port must be a port number from 0 to 65535 (0 picks free ports), got 1.5'],
  ])('rejects a bad %s, naming it', (_field, change, message) => {
    expect(() => validateWorkloadSpec('web', { ...spec, ...change })).toThrow(InvalidWorkloadSpecError);
    expect(() => validateWorkloadSpec('web', { ...spec, ...change })).toThrow(`workload "web": ${message}`);
  });

  it.each(['', '-web', 'web-', 'a/b', '..', 'a b', 'x'.repeat(254)])('rejects the set name %j', (set) => {
    expect(() => validateWorkloadSpec(set, spec)).toThrow(/^workload set name .* is not valid/);
  });
});
