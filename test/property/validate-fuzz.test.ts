/**
 * Property test: thousands of mutated manifests (from Flagger's documentation examples) go
 * through `vireo validate`; nothing throws, every finding has a position inside the file, and
 * a mutation that breaks the YAML is reported as unreadable rather than crashing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { SchemaValidator } from '../../src/api/validation.js';
import { compileSchemaValidator } from '../../src/api/validator-compiler.js';
import { validateInputs, type ValidationReport } from '../../src/validate/validate.js';

const directory = join(import.meta.dirname, '..', 'fixtures', 'flagger', 'docs');
const texts = readdirSync(directory).map((file) => readFileSync(join(directory, file), 'utf8'));
const objects = texts.flatMap((text) =>
  parseAllDocuments(text)
    .map((document) => document.toJS() as unknown)
    .filter((value) => typeof value === 'object' && value !== null),
);

let validator: SchemaValidator;
beforeAll(() => {
  validator = compileSchemaValidator();
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function allPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const paths: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, index) => paths.push(...allPaths(item, [...prefix, index])));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) paths.push(...allPaths(child, [...prefix, key]));
  }
  return paths;
}

function parentAndKey(root: any, path: (string | number)[]): [any, string | number] | undefined {
  if (path.length === 0) return undefined;
  let node = root;
  for (const segment of path.slice(0, -1)) node = node?.[segment];
  return typeof node === 'object' && node !== null ? [node, path.at(-1)!] : undefined;
}

type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'replace'; at: number; value: Json }
  | { op: 'rename'; at: number; name: string }
  | { op: 'insert'; at: number; name: string; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('replace' as const),
    at: fc.nat(),
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  }),
  fc.record({ op: fc.constant('rename' as const), at: fc.nat(), name: fc.string({ maxLength: 12 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    name: fc.string({ maxLength: 12 }),
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  }),
);

function mutate(original: unknown, mutations: readonly Mutation[]): unknown {
  const root = structuredClone(original) as any;
  for (const change of mutations) {
    const paths = allPaths(root);
    const path = paths[change.at % paths.length]!;
    const target = parentAndKey(root, path);
    if (change.op === 'insert') {
      const node = path.reduce((current: any, segment) => current?.[segment], root);
      if (typeof node === 'object' && node !== null && !Array.isArray(node)) node[change.name] = change.value;
      continue;
    }
    if (target === undefined) continue;
    const [parent, key] = target;
    if (change.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (change.op === 'replace') {
      parent[key] = change.value;
    } else if (!Array.isArray(parent)) {
      parent[change.name] = parent[key];
      delete parent[key];
    }
  }
  return root;
}

function assertWellFormed(report: ValidationReport, text: string): void {
  const lines = text.split('\n').length + 1;
  for (const file of report.files) {
    for (const object of file.objects) {
      for (const finding of [...object.errors, ...object.warnings]) {
        expect(finding.line).toBeGreaterThanOrEqual(1);
        expect(finding.line).toBeLessThanOrEqual(lines);
        expect(finding.column).toBeGreaterThanOrEqual(1);
        expect(finding.message.length).toBeGreaterThan(0);
      }
    }
  }
}

describe('validate under mutation', () => {
  it('never throws on mutated objects and locates every finding', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }), (pick, mutations) => {
        const text = stringify(mutate(objects[pick % objects.length], mutations));
        const report = validateInputs(
          { texts: [{ file: 'mutated.yaml', text }], unreadable: [] },
          { validator },
        );
        assertWellFormed(report, text);
      }),
      { numRuns: 2000 },
    );
  }, 120_000);

  it('never throws on damaged YAML text', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 40 }),
        fc.string({ maxLength: 8 }),
        (pick, at, length, insert) => {
          const original = texts[pick % texts.length]!;
          const start = at % (original.length + 1);
          const text = original.slice(0, start) + insert + original.slice(start + length);
          const report = validateInputs(
            { texts: [{ file: 'damaged.yaml', text }], unreadable: [] },
            { validator },
          );
          assertWellFormed(report, text);
        },
      ),
      { numRuns: 2000 },
    );
  }, 120_000);
});
