import { describe, expect, it } from 'vitest';
import { daemonSetTemplateHash, encodeHash, fnv32a, podTemplateHash, serviceSpecHash } from './revision.js';
import type { PodTemplateSpec } from './types.js';

const template = (image: string, extra: Record<string, unknown> = {}): PodTemplateSpec => ({
  metadata: { labels: { app: 'podinfo' }, annotations: { a: '1', b: '2' } },
  spec: { containers: [{ name: 'app', image }], ...extra },
});

describe('fnv32a', () => {
  it('given the FNV-1a test vectors, when hashed, then matches them', () => {
    expect(fnv32a('')).toBe(0x811c9dc5);
    expect(fnv32a('a')).toBe(0xe40c292c);
    expect(fnv32a('foobar')).toBe(0xbf9cf968);
  });

  it('given any hash, when encoded, then only lowercase consonants and digits appear', () => {
    for (const value of [0, 1, 26, 27, 0xffffffff, 123456789])
      expect(encodeHash(value)).toMatch(/^[a-z2-9]+$/);
    expect(encodeHash(0xffffffff)).not.toBe(encodeHash(0xfffffffe));
  });
});

describe('podTemplateHash', () => {
  it('given the same template with keys in another order, when hashed, then the hash is the same', () => {
    const reordered: PodTemplateSpec = {
      spec: { containers: [{ image: 'podinfo:1', name: 'app' }] },
      metadata: { annotations: { b: '2', a: '1' }, labels: { app: 'podinfo' } },
    };
    expect(podTemplateHash(reordered)).toBe(podTemplateHash(template('podinfo:1')));
  });

  it('given a new image or a new annotation, when hashed, then the hash changes', () => {
    const base = podTemplateHash(template('podinfo:1'));
    expect(podTemplateHash(template('podinfo:2'))).not.toBe(base);
    const annotated = template('podinfo:1');
    annotated.metadata!.annotations!['kubectl.kubernetes.io/restartedAt'] = 'now';
    expect(podTemplateHash(annotated)).not.toBe(base);
  });

  it('given a template, when hashed twice, then the hash is stable and alphanumeric', () => {
    expect(podTemplateHash(template('podinfo:1'))).toBe(podTemplateHash(template('podinfo:1')));
    expect(podTemplateHash(template('podinfo:1'))).toMatch(/^[a-z0-9]+$/);
  });
});

describe('daemonSetTemplateHash', () => {
  it('given the scale-to-zero nodeSelector, when hashed, then it is ignored', () => {
    const scaled = template('agent:1', { nodeSelector: { 'flagger.app/scale-to-zero': 'true' } });
    expect(daemonSetTemplateHash(scaled)).toBe(daemonSetTemplateHash(template('agent:1')));
  });

  it('given a nil or an empty nodeSelector, when hashed, then both hash the same', () => {
    expect(daemonSetTemplateHash(template('agent:1', { nodeSelector: {} }))).toBe(
      daemonSetTemplateHash(template('agent:1')),
    );
  });

  it('given another nodeSelector key, when hashed, then the hash changes', () => {
    expect(daemonSetTemplateHash(template('agent:1', { nodeSelector: { disk: 'ssd' } }))).not.toBe(
      daemonSetTemplateHash(template('agent:1')),
    );
  });

  it('does not modify the template it hashes', () => {
    const scaled = template('agent:1', { nodeSelector: { 'flagger.app/scale-to-zero': 'true' } });
    daemonSetTemplateHash(scaled);
    expect(scaled.spec.nodeSelector).toEqual({ 'flagger.app/scale-to-zero': 'true' });
  });
});

describe('serviceSpecHash', () => {
  it('given a Service spec, when a port changes, then the hash changes', () => {
    const spec = { ports: [{ port: 80 }], selector: { app: 'x' } };
    expect(serviceSpecHash(spec)).toBe(serviceSpecHash({ selector: { app: 'x' }, ports: [{ port: 80 }] }));
    expect(serviceSpecHash({ ...spec, ports: [{ port: 81 }] })).not.toBe(serviceSpecHash(spec));
  });
});
