/**
 * R4: 10,000 fuzzed manifests (Flagger's documentation examples and our own examples, Canaries,
 * MetricTemplates, AlertProviders and local Workloads, mutated: fields deleted, renamed, replaced,
 * inserted, with control characters, odd numbers and wrong types) go through `vireo validate`, and
 * the Canaries an API server would admit go through the controller's sync validation as well
 * (src/platforms/kubernetes/sync.ts). Nothing may throw, every rejection must name a field, and
 * nothing printed may carry a control character. The figures are printed for the record.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { compileSchemaValidator } from '../../src/api/validator-compiler.js';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { CanarySync, type CanaryObject } from '../../src/platforms/kubernetes/sync.js';
import { formatText } from '../../src/validate/format.js';
import { checkCanary } from '../../src/validate/semantics/canary.js';
import { exitCodeOf, validateInputs } from '../../src/validate/validate.js';

const RUNS = 10_000;
const SEED = Number(process.env['VIREO_FUZZ_SEED'] ?? 20_261_206);

const repository = join(import.meta.dirname, '..', '..');
const docs = join(repository, 'test', 'fixtures', 'flagger', 'docs');
const sources = [
  ...readdirSync(docs).map((file) => join(docs, file)),
  join(repository, 'examples', 'podinfo-canary.yaml'),
  join(repository, 'examples', 'demo', 'canary.yaml'),
  join(repository, 'examples', 'local', 'web.yaml'),
];
const objects = sources.flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => document.toJS() as unknown)
    .filter((value) => typeof value === 'object' && value !== null),
);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings that have broken validators and terminals before. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(
    '',
    ' ',
    '\u001b[2J',
    'a\u009b31mb',
    'x\u2028y',
    '\u202eevil',
    'Podinfo_V2',
    '-1',
    '1e309',
    'NaN',
  ),
);
const value: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constantFrom<Json>(null, [], {}, -1, 0, 1.5, 2 ** 53, 65_536, true) },
);

type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'replace'; at: number; value: Json }
  | { op: 'rename'; at: number; name: string }
  | { op: 'insert'; at: number; name: string; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value }),
  fc.record({ op: fc.constant('rename' as const), at: fc.nat(), name: nastyString }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), name: nastyString, value }),
);

function allPaths(node: unknown, prefix: (string | number)[] = [], into: (string | number)[][] = []) {
  into.push(prefix);
  if (Array.isArray(node)) node.forEach((item, index) => allPaths(item, [...prefix, index], into));
  else if (typeof node === 'object' && node !== null) {
    for (const [key, child] of Object.entries(node)) allPaths(child, [...prefix, key], into);
  }
  return into;
}

function mutate(original: unknown, mutations: readonly Mutation[]): unknown {
  const root = structuredClone(original) as any;
  for (const change of mutations) {
    const paths = allPaths(root);
    const path = paths[change.at % paths.length]!;
    const node = path.reduce((current: any, segment) => current?.[segment], root);
    if (change.op === 'insert') {
      if (typeof node === 'object' && node !== null && !Array.isArray(node)) node[change.name] = change.value;
      continue;
    }
    if (path.length === 0) continue;
    const parent = path.slice(0, -1).reduce((current: any, segment) => current?.[segment], root);
    const key = path.at(-1)!;
    if (change.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (change.op === 'replace') {
      parent[key] = change.value;
    } else if (!Array.isArray(parent)) {
      parent[change.name] = parent[key];
      if (change.name !== key) delete parent[key];
    }
  }
  return root;
}

const manifest = fc.tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }));

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('R4: fuzzed manifests through vireo validate and the controller sync', () => {
  it(`${RUNS} manifests: no crash, every rejection names a field, nothing unprintable is printed`, async () => {
    const validator = compileSchemaValidator();
    const patches: unknown[] = [];
    const sync = new CanarySync({
      // The API server's side of the finalizer patch; sync validates before it writes anything.
      client: {
        mergePatch: (...args: unknown[]) => Promise.resolve(patches.push(args)),
      } as unknown as KubeClient,
      status: { update: (_key, change) => Promise.resolve(change({})) },
      events: { emit: () => Promise.resolve() },
      finalize: () => Promise.resolve(),
      now: () => new Date(0),
      logger: { info: () => {}, warn: () => {} },
      // The router with the most checks (ingressRef, header operators) for canaries without spec.provider.
      meshProvider: 'nginx',
    });
    const crashes: { input: string; error: string }[] = [];
    const unnamed: string[] = [];
    const unprintable: string[] = [];
    let rejected = 0;
    let synced = 0;
    let syncRejected = 0;
    const samples = fc.sample(manifest, { numRuns: RUNS, seed: SEED });
    for (const [pick, mutations] of samples) {
      const object = mutate(objects[pick % objects.length], mutations);
      const text = stringify(object);
      try {
        const report = validateInputs(
          { texts: [{ file: 'fuzzed.yaml', text }], unreadable: [] },
          { validator },
        );
        if (exitCodeOf(report) !== 0) {
          rejected += 1;
          const file = report.files[0]!;
          const named =
            file.unreadable !== undefined
              ? file.unreadable.line !== undefined
              : file.objects.some((entry) => entry.errors.length > 0) &&
                file.objects.every((entry) => entry.errors.every((finding) => finding.path !== ''));
          if (!named) unnamed.push(text);
        }
        if (CONTROL.test(formatText(report))) unprintable.push(text);
        const admitted =
          (object as { kind?: unknown }).kind === 'Canary' &&
          validator.validate('Canary', object).length === 0;
        if (admitted) {
          synced += 1;
          const canary = object as CanaryObject;
          const outcome = await sync.sync(canary);
          if (!outcome.schedule && outcome.reason.startsWith('invalid')) {
            syncRejected += 1;
            const findings = checkCanary(canary);
            if (findings.some((finding) => finding.severity === 'error' && finding.path.length === 0)) {
              unnamed.push(text);
            }
          }
        }
      } catch (error) {
        crashes.push({
          input: text,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
      }
    }
    console.log(
      `R4 fuzz (seed ${SEED}): ${RUNS} manifests, ${crashes.length} crashes, ${rejected} rejected, ` +
        `${rejected - unnamed.length} of them naming a field; controller sync: ${synced} admitted canaries, ` +
        `${syncRejected} refused, ${crashes.length} crashes; ${unprintable.length} outputs with control characters`,
    );
    expect(crashes.slice(0, 1)).toEqual([]);
    expect(unnamed.slice(0, 1)).toEqual([]);
    expect(unprintable.slice(0, 1)).toEqual([]);
    expect(rejected).toBeGreaterThan(RUNS / 4);
    expect(synced).toBeGreaterThan(0);
  }, 180_000);
});
