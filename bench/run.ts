/**
 * `npm run bench`: figures for the offline commands, printed side by side in one run.
 * - schema compilation with and without ajv's strict mode (why the CLI compiles non-strict);
 * - validating every documentation example in-process, per object;
 * - the whole `vireo validate` process on the same directory (what a user waits for);
 * - simulating a canary;
 * - the sequential judge against Flagger's rule (bench/judge.ts, seeded simulations);
 * - the built-in router beside nginx (bench/proxy.ts, in a process of its own).
 * Numbers are medians of repeated runs on this machine; compare rows, not absolute values.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Canary } from '../src/api/schema/canary.js';
import type { SchemaValidator } from '../src/api/validation.js';
import { compileSchemaValidator } from '../src/api/validator-compiler.js';
import { simulateCanary } from '../src/simulate/timeline.js';
import { readInputs } from '../src/validate/inputs.js';
import { validateInputs } from '../src/validate/validate.js';

const root = join(import.meta.dirname, '..');
const docs = join(root, 'test', 'fixtures', 'flagger', 'docs');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measure(runs: number, body: () => void): number {
  const samples: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const start = performance.now();
    body();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** measure() for work that awaits (simulate runs the engine, which is async). */
async function measureAsync(runs: number, body: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const start = performance.now();
    await body();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const rows: [string, string][] = [];
const row = (name: string, value: string) => {
  rows.push([name, value]);
  process.stdout.write(`  ${name.padEnd(58)} ${value}\n`);
};

process.stdout.write('vireo bench (medians)\n');

const strictMs = measure(5, () => compileSchemaValidator({ strictSchema: true }));
const looseMs = measure(5, () => compileSchemaValidator());
row('compile the 3 schemas, ajv strict mode', `${strictMs.toFixed(1)} ms`);
row('compile the 3 schemas, non-strict (when not prebuilt)', `${looseMs.toFixed(1)} ms`);

const files = readdirSync(docs);
const inputs = await readInputs([docs], () => Promise.resolve(''));
const validator = compileSchemaValidator();
const objects = validateInputs(inputs, { validator }).summary.objects;
const inProcessMs = measure(20, () => validateInputs(inputs, { validator }));
row(
  `validate ${files.length} files / ${objects} objects in-process`,
  `${inProcessMs.toFixed(1)} ms (${((inProcessMs / objects) * 1000).toFixed(0)} µs per object)`,
);

const heapBefore = process.memoryUsage().heapUsed;
const reports = Array.from({ length: 10 }, () => validateInputs(inputs, { validator }));
const heapPerRun = (process.memoryUsage().heapUsed - heapBefore) / reports.length;
row('heap retained per validation report', `${(heapPerRun / 1024).toFixed(0)} KiB`);

execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
const { loadSchemaValidator: loadBuilt } = (await import(join(root, 'dist', 'api', 'load-validator.js'))) as {
  loadSchemaValidator: () => Promise<SchemaValidator>;
};
const loadStart = performance.now();
await loadBuilt();
row(
  'load the validators precompiled by npm run build (first load)',
  `${(performance.now() - loadStart).toFixed(1)} ms`,
);
const cliMs = measure(5, () => {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'validate', docs], {
    encoding: 'utf8',
  });
  if (result.status !== 1 && result.status !== 0)
    throw new Error(`vireo validate exited ${String(result.status)}: ${result.stderr}`);
});
const thirtyFiles = files.slice(0, 30).map((file) => join(docs, file));
const thirtyMs = measure(5, () => {
  spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'validate', ...thirtyFiles], {
    encoding: 'utf8',
  });
});
const versionMs = measure(5, () => spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), '--version']));
row(`vireo validate on ${files.length} files, whole process`, `${cliMs.toFixed(0)} ms`);
row('vireo validate on 30 files, whole process', `${thirtyMs.toFixed(0)} ms`);
row('vireo --version, whole process (startup floor)', `${versionMs.toFixed(0)} ms`);

const canary = parse(readFileSync(join(root, 'examples', 'podinfo-canary.yaml'), 'utf8')) as Canary;
const ladder = structuredClone(canary);
delete ladder.spec.analysis.stepWeight;
delete ladder.spec.analysis.maxWeight;
ladder.spec.analysis.stepWeights = Array.from({ length: 100 }, (_, index) => index + 1);
row(
  'simulate examples/podinfo-canary.yaml',
  `${((await measureAsync(200, () => simulateCanary(canary))) * 1000).toFixed(0)} µs`,
);
const { World, newTestCanary } = await import('../test/support/engine-world.js');
const engineWorld = new World(
  newTestCanary({
    stepWeight: 1,
    maxWeight: 100,
    metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
  }),
);
await engineWorld.tick();
engineWorld.release('rev-2');
const engine = engineWorld.engine();
const tickStart = performance.now();
let ticks = 0;
while (engineWorld.phase !== 'Succeeded' && ticks < 1000) {
  await engine.advance(engineWorld.key);
  ticks += 1;
}
row(
  `engine tick with in-memory ports (${ticks} ticks of a 100-step canary)`,
  `${(((performance.now() - tickStart) / ticks) * 1000).toFixed(0)} µs per tick`,
);
row(
  'simulate a 100-step ladder',
  `${((await measureAsync(50, () => simulateCanary(ladder))) * 1000).toFixed(0)} µs`,
);

const { benchJudge } = await import('./judge.js');
benchJudge({ runs: Number(process.env['VIREO_BENCH_JUDGE_RUNS'] ?? 1000) });

// The router bench runs in a process of its own, as the router runs in `vireo local`'s daemon
// beside a small engine: after the judge's simulations above, this process's heap made V8 run a
// major collection every few seconds under the router's load (none in a fresh process), which
// measured this bench's leftovers, not the router (docs/local/router.md "Speed").
const router = spawnSync(process.execPath, [...process.execArgv, join(root, 'bench', 'proxy.ts')], {
  stdio: 'inherit',
});
if (router.status !== 0) process.exitCode = 1;

if (process.env['VIREO_BENCH_CONTROLLER'] !== '0') {
  const { benchController } = await import('./controller.js');
  process.stdout.write(
    '\ncontroller on the test cluster (set VIREO_BENCH_CONTROLLER=0 to skip; several minutes)\n',
  );
  await benchController([100, 500], row);
}
