/**
 * Everything the engine writes into a Canary's status must survive Flagger's CRD, which users may
 * keep installed: its status schema declares every property and preserves no unknown field, so
 * the API server would prune anything else on each write (docs/adr/0019-one-engine-assembly-and-the-judge-seam.md).
 * This runs whole analyses (a promotion, a rollback, a restart for a newer revision, a deletion)
 * and checks every status the engine wrote against the copy of Flagger's CRD in test/fixtures.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { CanaryStatus } from '../../src/api/schema/canary.js';
import { World, initializedWorld, newTestCanary } from '../support/engine-world.js';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

function flaggerCanaryStatusSchema(): Schema {
  const file = join(import.meta.dirname, '..', 'fixtures', 'flagger', 'crd.yaml');
  for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = document.toJS() as {
      spec?: { names?: { kind?: string }; versions?: { schema: { openAPIV3Schema: Schema } }[] };
    } | null;
    if (crd?.spec?.names?.kind !== 'Canary') continue;
    const status = crd.spec.versions?.[0]?.schema.openAPIV3Schema.properties?.['status'];
    if (status !== undefined) return status;
  }
  throw new Error("no Canary status schema in Flagger's CRD fixture");
}

/** The JSON paths in `value` that the structural schema does not declare (what the API server prunes). */
function pruned(value: unknown, schema: Schema, path: string): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return [];
  if (Array.isArray(value)) {
    return value.flatMap((item, index) =>
      schema.items ? pruned(item, schema.items, `${path}[${index}]`) : [],
    );
  }
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const declared = schema.properties?.[key];
    if (declared !== undefined) return pruned(child, declared, `${path}.${key}`);
    if (typeof schema.additionalProperties === 'object')
      return pruned(child, schema.additionalProperties, `${path}.${key}`);
    return schema.additionalProperties === true ? [] : [`${path}.${key}`];
  });
}

/** A world whose status store remembers every status the engine wrote. */
function recording(world: World): CanaryStatus[] {
  const written: CanaryStatus[] = [];
  const update = world.store.update.bind(world.store);
  Object.assign(world.store, {
    update: async (key: Parameters<typeof update>[0], change: Parameters<typeof update>[1]) => {
      const status = await update(key, change);
      written.push(structuredClone(status));
      return status;
    },
  });
  return written;
}

describe("the engine's status writes against Flagger's CRD", () => {
  const schema = flaggerCanaryStatusSchema();

  it('the fixture really prunes: an undeclared status field would be dropped', () => {
    expect(
      pruned({ phase: 'Progressing', analysisStartedAt: '2026-12-06T10:00:00Z' }, schema, 'status'),
    ).toEqual(['status.analysisStartedAt']);
  });

  it('nothing the engine writes through a promotion, a restart, a rollback and a deletion is pruned', async () => {
    const world = await initializedWorld(
      newTestCanary({
        threshold: 1,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        sessionAffinity: { cookieName: 'canary', primaryCookieName: 'primary' },
      }),
    );
    const written = recording(world);
    for (let tick = 0; tick < 3; tick += 1) await world.tick();
    world.release('rev-3'); // a newer revision restarts the analysis
    for (let tick = 0; tick < 12 && world.phase !== 'Succeeded'; tick += 1) await world.tick();
    expect(world.phase).toBe('Succeeded');
    world.release('rev-4');
    await world.tick();
    await world.tick();
    world.successRate = 50;
    for (let tick = 0; tick < 4 && world.phase !== 'Failed'; tick += 1) await world.tick();
    expect(world.phase).toBe('Failed');
    await world.engine().finalizeDeletion(world.key);

    const conditionTypes = new Set(written.flatMap((status) => (status.conditions ?? []).map((c) => c.type)));
    expect([...conditionTypes].sort()).toEqual(['Analysing', 'Promoted']);
    expect(written.length).toBeGreaterThan(10);
    expect(written.flatMap((status) => pruned(status, schema, 'status'))).toEqual([]);
  });
});
