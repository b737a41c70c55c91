/**
 * Issue 15: the manifests of seed write-ups 001–003 (test/fixtures/seeds/README.md), corrected
 * where they are wrong, validate and run with the default provider (istio). Every correction the
 * README lists is checked against `vireo validate` on the uncorrected text, so none is invented.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import { runCli } from '../../src/cli/main.js';
import { virtualServiceSpec } from '../../src/platforms/kubernetes/routers/istio-spec.js';
import type { Timeline } from '../../src/simulate/timeline.js';
import { simulateCanary } from '../../src/simulate/timeline.js';
import { fakeIo } from '../support/fake-io.js';

const seeds = join(import.meta.dirname, '..', 'fixtures', 'seeds');
const fixture = (seed: string, file: string) => join(seeds, seed, file);
const readme = readFileSync(join(seeds, 'README.md'), 'utf8');
const TIMEOUT = 60_000;

/** `vireo validate FILE` as a user runs it (no --mesh-provider): exit status and problem lines without the file name. */
async function validate(file: string): Promise<{ status: number; problems: string[]; summary: string }> {
  const { io, stdout } = fakeIo();
  const status = await runCli(['node', 'vireo', 'validate', file], io);
  const lines = stdout().trimEnd().split('\n');
  const prefix = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(:\\d+:\\d+)?: `);
  return {
    status,
    problems: lines.slice(0, -1).map((line) => line.replace(prefix, '')),
    summary: lines.at(-1) ?? '',
  };
}

async function simulate(file: string): Promise<{ status: number; timeline: Timeline; text: string }> {
  const json = fakeIo();
  const status = await runCli(['node', 'vireo', 'simulate', '--json', file], json.io);
  const text = fakeIo();
  expect(await runCli(['node', 'vireo', 'simulate', file], text.io)).toBe(0);
  return { status, timeline: JSON.parse(json.stdout()) as Timeline, text: text.stdout() };
}

function canaryIn(file: string): Canary {
  const objects = parseAllDocuments(readFileSync(file, 'utf8')).map(
    (document) => document.toJS() as { kind?: string },
  );
  return objects.find((object) => object.kind === 'Canary') as Canary;
}

const scratch = mkdtempSync(join(tmpdir(), 'vireo-seeds-'));
/** The corrected file with one correction undone, written to a scratch file. */
function undo(seed: string, corrected: string, original: string): string {
  const text = readFileSync(fixture(seed, 'corrected.yaml'), 'utf8');
  expect(text).toContain(corrected);
  const file = join(scratch, `${seed}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text.replace(corrected, original));
  return file;
}

describe('seed manifests 001–003, corrected, validate with the default provider', () => {
  it.each(['001', '002', '003'])(
    'seed %s: vireo validate accepts corrected.yaml with no error and no warning',
    async (seed) => {
      const result = await validate(fixture(seed, 'corrected.yaml'));
      expect(result.problems).toEqual([]);
      expect(result.status).toBe(0);
      expect(result.summary).toMatch(
        /^valid: 1 file, \d+ objects? checked, \d+ other skipped; 0 errors, 0 warnings$/,
      );
    },
    TIMEOUT,
  );
});

describe('the corrections are real: validate reports exactly what the README lists on the uncorrected text', () => {
  const cases: { name: string; file: () => string; problems: string[]; status: number }[] = [
    {
      name: '001 original.yaml (the MetricTemplate) is valid as written',
      file: () => fixture('001', 'original.yaml'),
      problems: [],
      status: 0,
    },
    {
      name: "001: the target fragment's autoscaling/v2beta2",
      file: () => undo('001', 'apiVersion: autoscaling/v2\n', 'apiVersion: autoscaling/v2beta2\n'),
      problems: [
        'Canary/frontend spec.autoscalerRef.apiVersion: warning: autoscaling/v2beta2 is no longer served (removed in Kubernetes 1.25/1.26); the HPA is read through autoscaling/v2, so write apiVersion: autoscaling/v2',
      ],
      status: 0,
    },
    {
      name: "001: the conformance test's Markdown autolink URL",
      file: () =>
        undo(
          '001',
          'url: http://flagger-loadtester.prod.svc.cluster.local/\n',
          'url: <http://flagger-loadtester.prod.svc.cluster.local/>\n',
        ),
      problems: [
        'Canary/frontend spec.analysis.webhooks[0].url: "<http://flagger-loadtester.prod.svc.cluster.local/>" must be an absolute URL, such as http://flagger-loadtester.test/',
      ],
      status: 1,
    },
    {
      name: "002: the prose's canaryAnalysis",
      file: () => undo('002', '\n  analysis:\n', '\n  canaryAnalysis:\n'),
      problems: [
        'Canary/podinfo spec.analysis: missing required field "analysis": rename the deprecated canaryAnalysis to analysis (Flagger\'s CRD drops canaryAnalysis)',
      ],
      status: 1,
    },
    {
      name: '003 original.yaml: the indentation the write-up lost',
      file: () => fixture('003', 'original.yaml'),
      problems: ['cannot read: a key is repeated in the same map (at key targetRef)'],
      status: 2,
    },
  ];

  it.each(cases)(
    '$name',
    async ({ file, problems, status }) => {
      const result = await validate(file());
      expect(result.problems).toEqual(problems);
      expect(result.status).toBe(status);
      for (const problem of problems) expect(readme).toContain(`\`${problem}\``);
    },
    TIMEOUT,
  );

  it('003: re-indenting is the only change', () => {
    const flat = (text: string) =>
      text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '');
    const original = flat(readFileSync(fixture('003', 'original.yaml'), 'utf8'));
    // corrected.yaml adds a two-line header comment saying what was corrected.
    expect(flat(readFileSync(fixture('003', 'corrected.yaml'), 'utf8')).slice(2)).toEqual(original);
  });

  it('001: the MetricTemplate is kept unchanged in corrected.yaml', () => {
    const original = readFileSync(fixture('001', 'original.yaml'), 'utf8');
    expect(readFileSync(fixture('001', 'corrected.yaml'), 'utf8')).toContain(original);
  });
});

describe('each corrected Canary runs to Succeeded in vireo simulate (the real engine) with provider istio', () => {
  it(
    '003: a weighted canary release in steps of 10% up to 50%, then promotion',
    async () => {
      const { status, timeline, text } = await simulate(fixture('003', 'corrected.yaml'));
      expect(status).toBe(0);
      expect(timeline.provider).toBe('istio');
      expect(timeline.strategy).toBe('canary');
      expect(timeline.steps.at(-1)?.phase).toBe('Succeeded');
      const progressing = timeline.steps.filter((step) => step.phase === 'Progressing');
      expect(progressing.map((step) => step.canaryWeight)).toEqual([0, 10, 20, 30, 40, 50]);
      expect(text).toContain('Canary reviews.default: canary with provider istio');
      expect(text).toMatch(/Promotion starts at 6m and is complete at 8m/);
    },
    TIMEOUT,
  );

  it(
    '002: the mirrored release: the canary gets copies of the traffic, never users, then is promoted',
    async () => {
      const file = fixture('002', 'corrected.yaml');
      const { status, timeline, text } = await simulate(file);
      expect(status).toBe(0);
      expect(timeline.provider).toBe('istio');
      expect(timeline.steps.at(-1)?.phase).toBe('Succeeded');
      const mirrored = timeline.steps.filter((step) => step.mirrored);
      // One mirrored step per iteration, with every user answered by the primary.
      expect(mirrored.map((step) => step.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(mirrored.every((step) => step.canaryWeight === 0 && step.primaryWeight === 100)).toBe(true);
      // Mirroring stops before the primary is promoted.
      const promoting = timeline.steps.findIndex((step) => step.phase === 'Promoting');
      const lastMirrored = timeline.steps.findLastIndex((step) => step.mirrored);
      expect(lastMirrored).toBeLessThan(promoting);
      expect(timeline.steps[lastMirrored + 1]?.events).toContain(
        'Stop traffic mirroring and route all traffic to canary',
      );
      expect(text).toContain('(canary receives mirrored copies)');
      // What Istio is told during a mirrored step: users to the primary, a copy to the canary.
      const vs = virtualServiceSpec(canaryIn(file), mirrored[0]!, undefined);
      expect(vs.hosts).toEqual(['app.istio.example.com', 'podinfo']);
      expect(vs.gateways).toEqual(['public-gateway.istio-system.svc.cluster.local']);
      expect(vs.http?.[0]?.mirror).toEqual({ host: 'podinfo-canary' });
      expect(vs.http?.[0]?.route?.map((route) => [route.destination.host, route.weight])).toEqual([
        ['podinfo-primary', 100],
        ['podinfo-canary', 0],
      ]);
    },
    TIMEOUT,
  );

  it(
    '001: A/B by header and cookie: matching requests go to the canary for 10 iterations, the gates are called, then promotion',
    async () => {
      const file = fixture('001', 'corrected.yaml');
      const { status, timeline, text } = await simulate(file);
      expect(status).toBe(0);
      expect(timeline.provider).toBe('istio');
      expect(timeline.strategy).toBe('ab-testing');
      expect(timeline.steps.at(-1)?.phase).toBe('Succeeded');
      const analysed = timeline.steps.filter((step) => step.phase === 'Progressing' && step.iteration > 0);
      expect(analysed.map((step) => step.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(analysed.every((step) => step.canaryWeight === 100)).toBe(true);
      expect(text).toContain('A/B testing: weight 100 means every request that matches analysis.match');
      // The match Istio is given during the analysis: header or cookie to the canary, the rest to the primary.
      const vs = virtualServiceSpec(canaryIn(file), analysed[0]!, undefined);
      expect(vs.http?.[0]?.match).toEqual([
        { headers: { 'x-canary': { exact: 'insider' } } },
        { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
      ]);
      expect(vs.http?.[0]?.route?.map((route) => [route.destination.host, route.weight])).toEqual([
        ['frontend-primary', 0],
        ['frontend-canary', 100],
      ]);
      expect(vs.http?.[1]?.match).toBeUndefined();
      expect(vs.http?.[1]?.route).toEqual([{ destination: { host: 'frontend-primary' }, weight: 100 }]);
      // Gates: simulate assumes them open and shows where each is asked.
      const gateCalls = timeline.steps.flatMap((step) =>
        step.webhooks
          .filter((hook) => hook.type.startsWith('confirm-'))
          .map((hook) => ({ phase: step.phase, ...hook })),
      );
      expect(gateCalls).toEqual([
        { phase: 'Progressing', name: 'gate-rollout', type: 'confirm-rollout' },
        { phase: 'Promoting', name: 'gate-promotion', type: 'confirm-promotion' },
      ]);
      expect(text).toContain('Confirm-promotion check gate-promotion passed');
      expect(text).toContain('Note: Assumes every gate is open');
    },
    TIMEOUT,
  );

  it(
    '001: a closed confirm-promotion gate holds the canary in WaitingPromotion until it is opened',
    async () => {
      const canary = canaryIn(fixture('001', 'corrected.yaml'));
      const held = await simulateCanary(canary, { closedGates: { 'gate-promotion': Infinity } });
      expect(held.steps.at(-1)?.phase).toBe('WaitingPromotion');
      expect(Number.isNaN(held.promotedAt)).toBe(true);
      expect(held.steps.some((step) => step.phase === 'Succeeded')).toBe(false);

      const opened = await simulateCanary(canary, { closedGates: { 'gate-promotion': 15 * 60 } });
      const waiting = opened.steps.filter((step) => step.phase === 'WaitingPromotion');
      expect(waiting.length).toBeGreaterThan(0);
      // Matching requests stay on the canary while the gate holds.
      expect(waiting.every((step) => step.canaryWeight === 100)).toBe(true);
      expect(opened.steps.at(-1)?.phase).toBe('Succeeded');
      expect(opened.promotionStartsAt).toBeGreaterThanOrEqual(15 * 60);
    },
    TIMEOUT,
  );
});
