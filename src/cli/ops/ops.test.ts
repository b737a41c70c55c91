import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../engine/decisions.js';
import { FileDecisionLog } from '../../engine/file-decision-log.js';
import { boundDecisions, decisionsConfigMapName } from '../../platforms/kubernetes/decision-store.js';
import { fakeIo } from '../../../test/support/fake-io.js';
import { runCli } from '../main.js';
import { runExplain, runGet, runStatus, type OpsDeps } from './commands.js';
import { describeCheck, parseSince } from './explain.js';
import { LocalBackend } from './local-backend.js';
import { canaryRows, formatTable } from './printer.js';
import { parseLabelSelector } from './selector.js';

const NOW = new Date('2026-12-06T12:05:00Z');

function decision(overrides: Partial<Decision> = {}): Decision {
  return {
    time: '2026-12-06T12:01:10Z',
    canary: 'podinfo.default',
    action: 'halt',
    phase: 'Progressing',
    message: 'Halt podinfo.default advancement success rate 95.20% < 99%',
    canaryWeight: 20,
    primaryWeight: 80,
    iteration: 2,
    failedChecks: 2,
    threshold: 5,
    checks: [
      {
        check: 'request-success-rate',
        verdict: 'fail',
        value: 95.2,
        unit: '%',
        threshold: { min: 99 },
        message: 'Halt podinfo.default advancement success rate 95.20% < 99%',
        evidence: { requests: 412 },
      },
    ],
    next: 'rollback after 3 more failed checks',
    ...overrides,
  };
}

const MANIFEST = `apiVersion: local.vireo.dev/v1alpha1
kind: Workload
metadata: { name: podinfo }
spec: { command: node server.js, port: 9898 }
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: { name: podinfo, labels: { team: web } }
spec:
  targetRef: { apiVersion: local.vireo.dev/v1alpha1, kind: Workload, name: podinfo }
  service: { port: 8080 }
  analysis:
    interval: 1m
    threshold: 5
    stepWeights: [5, 10]
    metrics: [{ name: request-success-rate, thresholdRange: { min: 99 }, interval: 1m }]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: { name: other, namespace: team-b }
spec:
  targetRef: { apiVersion: local.vireo.dev/v1alpha1, kind: Workload, name: other }
  service: { port: 8081 }
  analysis: { interval: 30s, threshold: 2, stepWeight: 10, maxWeight: 50 }
---
apiVersion: local.vireo.dev/v1alpha1
kind: Workload
metadata: { name: other, namespace: team-b }
spec: { command: node other.js, port: 9899 }
`;

/** A state directory as local mode leaves it: applied manifests, statuses, decisions. */
async function stateDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-ops-'));
  await writeFile(
    join(directory, 'applied.json'),
    JSON.stringify({ version: 1, files: [{ file: '/work/app.yaml', text: MANIFEST }] }),
  );
  await writeFile(
    join(directory, 'state.json'),
    JSON.stringify({
      version: 1,
      canaries: {
        'default/podinfo': {
          status: {
            phase: 'Progressing',
            canaryWeight: 20,
            failedChecks: 2,
            iterations: 2,
            lastTransitionTime: '2026-12-06T12:00:00Z',
          },
          routes: { primaryWeight: 80, canaryWeight: 20, mirrored: false },
          targetScaledToZero: false,
        },
      },
    }),
  );
  await mkdir(join(directory, 'decisions'));
  const log = new FileDecisionLog(join(directory, 'decisions'));
  await log.record(
    { namespace: 'default', name: 'podinfo' },
    decision({
      time: '2026-12-06T11:50:00Z',
      action: 'start',
      checks: [],
      message: 'New revision detected! Scaling up podinfo.default',
      failedChecks: 0,
    }),
  );
  await log.record({ namespace: 'default', name: 'podinfo' }, decision());
  return directory;
}

function deps(directory: string) {
  const output = fakeIo();
  const controller = new AbortController();
  const opsDeps: OpsDeps = {
    io: output.io,
    openBackend: () => Promise.resolve(new LocalBackend(directory, 20)),
    now: () => NOW,
    stop: controller.signal,
  };
  return { ...output, deps: opsDeps, controller };
}

describe('vireo get against local mode', () => {
  it('prints kubectl get canaries columns for the namespace, with the status from the state file', async () => {
    const { deps: opsDeps, stdout } = deps(await stateDirectory());
    expect(await runGet(undefined, undefined, { namespace: 'default' }, opsDeps)).toBe(0);
    expect(stdout()).toBe(
      'NAME      STATUS        WEIGHT   LASTTRANSITIONTIME\n' +
        'podinfo   Progressing   20       2026-12-06T12:00:00Z\n',
    );
  });

  it('-A adds NAMESPACE and lists every namespace; -o wide adds the other printer columns; -l filters by label', async () => {
    const directory = await stateDirectory();
    const all = deps(directory);
    await runGet('canaries', undefined, { allNamespaces: true }, all.deps);
    expect(all.stdout().split('\n')[0]).toBe(
      'NAMESPACE   NAME      STATUS        WEIGHT   LASTTRANSITIONTIME',
    );
    expect(all.stdout()).toContain('team-b      other   ');
    const wide = deps(directory);
    await runGet('cn', undefined, { namespace: 'team-b', output: 'wide' }, wide.deps);
    expect(wide.stdout().split('\n')[1]).toMatch(/^other {6}\s+30s\s+10\s+50\s*$/);
    const selected = deps(directory);
    await runGet(
      undefined,
      undefined,
      { allNamespaces: true, selector: 'team=web', output: 'name' },
      selected.deps,
    );
    expect(selected.stdout()).toBe('canary.flagger.app/podinfo\n');
  });

  it('says so, as kubectl does, when nothing matches; refuses -n with -A and an unknown output', async () => {
    const directory = await stateDirectory();
    const none = deps(directory);
    await runGet(undefined, undefined, { namespace: 'nowhere' }, none.deps);
    expect(none.stderr()).toBe('No resources found in nowhere namespace.\n');
    await expect(
      runGet(undefined, undefined, { namespace: 'a', allNamespaces: true }, deps(directory).deps),
    ).rejects.toThrow(/-A lists every namespace/);
    await expect(runGet(undefined, undefined, { output: 'table' }, deps(directory).deps)).rejects.toThrow(
      /-o: unknown output format "table"/,
    );
  });

  it('-w prints a row when the state file changes, until stopped', async () => {
    const directory = await stateDirectory();
    const watching = deps(directory);
    const done = runGet(undefined, undefined, { namespace: 'default', watch: true }, watching.deps);
    await expect.poll(() => watching.stdout(), { timeout: 30_000 }).toContain('Progressing');
    const state = JSON.parse(
      await (await import('node:fs/promises')).readFile(join(directory, 'state.json'), 'utf8'),
    ) as { canaries: Record<string, { status: Record<string, unknown> }> };
    state.canaries['default/podinfo']!.status['phase'] = 'Failed';
    await writeFile(join(directory, 'state.json'), JSON.stringify(state));
    await expect.poll(() => watching.stdout(), { timeout: 30_000 }).toMatch(/\npodinfo\s+Failed\s+20/);
    watching.controller.abort();
    expect(await done).toBe(0);
  });
});

describe('vireo status and explain against local mode', () => {
  it('status shows phase, time in it, weights, failed checks against the threshold, the check against its range with its sample, and the next action', async () => {
    const { deps: opsDeps, stdout } = deps(await stateDirectory());
    expect(await runStatus('podinfo', {}, opsDeps)).toBe(0);
    const text = stdout();
    expect(text).toMatch(/^Phase: +Progressing for 5m \(since 2026-12-06T12:00:00Z\)$/m);
    expect(text).toMatch(/^Weights: +canary 20%, primary 80%/m);
    expect(text).toMatch(/^Failed checks: +2 of 5 /m);
    expect(text).toContain('request-success-rate 95.20% < 99 (min 99) failed [requests 412]');
    expect(text).toMatch(/^Next: +rollback after 3 more failed checks \(next tick around 12:02:10 UTC\)$/m);
  });

  it('status -w redraws when the canary changes, until stopped', async () => {
    const directory = await stateDirectory();
    const watching = deps(directory);
    const done = runStatus('podinfo', { watch: true }, watching.deps);
    await expect.poll(() => watching.stdout(), { timeout: 30_000 }).toMatch(/^Phase: +Progressing/m);
    const file = join(directory, 'state.json');
    const state = JSON.parse(await readFile(file, 'utf8')) as {
      canaries: Record<string, { status: Record<string, unknown> }>;
    };
    state.canaries['default/podinfo']!.status['phase'] = 'Failed';
    await writeFile(file, JSON.stringify(state));
    await expect
      .poll(() => watching.stdout(), { timeout: 30_000 })
      // The redraw clears the screen first, as `watch` does.
      // eslint-disable-next-line no-control-regex
      .toMatch(/\u001b\[H\u001b\[2J[^]*^Phase: +Failed/m);
    watching.controller.abort();
    expect(await done).toBe(0);
  });

  it('explain prints the timeline; --since leaves out older decisions; -o json prints the records', async () => {
    const directory = await stateDirectory();
    const all = deps(directory);
    await runExplain('podinfo', {}, all.deps);
    expect(all.stdout()).toContain('11:50:00 start: New revision detected!');
    expect(all.stdout()).toContain(
      '12:01:10 halt: Halt podinfo.default advancement success rate 95.20% < 99%',
    );
    expect(all.stdout()).toContain(
      '    Progressing, weight 20/80, iteration 2, 2 of 5 failed checks; next: rollback after 3 more failed checks',
    );
    const recent = deps(directory);
    await runExplain('podinfo', { since: '10m', output: 'json' }, recent.deps);
    const records = JSON.parse(recent.stdout()) as Decision[];
    expect(records.map((record) => record.action)).toEqual(['halt']);
  });

  it('a canary that does not exist is an error naming it, the namespace and where it looked', async () => {
    const directory = await stateDirectory();
    await expect(runExplain('nope', { namespace: 'team-b' }, deps(directory).deps)).rejects.toThrow(
      `canary nope not found in namespace team-b (state directory ${directory})`,
    );
  });

  it('through the program: --state-dir selects local mode, and a missing canary exits 1 with E_CANARY_NOT_FOUND', async () => {
    const directory = await stateDirectory();
    const output = fakeIo();
    expect(await runCli(['node', 'vireo', 'get', '--state-dir', directory], output.io)).toBe(0);
    expect(output.stdout()).toContain('podinfo   Progressing');
    const missing = fakeIo();
    expect(await runCli(['node', 'vireo', 'status', 'nope', '--state-dir', directory], missing.io)).toBe(1);
    expect(missing.stderr()).toMatch(/canary nope not found .*\[E_CANARY_NOT_FOUND\]/);
    const both = fakeIo();
    expect(await runCli(['node', 'vireo', 'get', '--local', '--context', 'x'], both.io)).toBe(2);
  });
});

describe('pieces', () => {
  it('tables are padded as kubectl pads them, keeping the padding of empty last cells', () => {
    expect(
      formatTable([
        ['NAME', 'STATUS', 'LAST'],
        ['b', '', ''],
      ]),
    ).toBe(`NAME   STATUS   LAST\nb${' '.repeat(15)}\n`);
    expect(canaryRows([], { wide: true, allNamespaces: false })[0]).toEqual([
      'NAME',
      'STATUS',
      'WEIGHT',
      'SUSPENDED',
      'FAILEDCHECKS',
      'INTERVAL',
      'MIRROR',
      'STEPWEIGHT',
      'STEPWEIGHTS',
      'MAXWEIGHT',
      'LASTTRANSITIONTIME',
    ]);
  });

  it('label selectors: equality, inequality, existence, sets; a malformed one names the term', () => {
    const labels = { app: 'web', tier: 'front' };
    expect(parseLabelSelector('app=web,tier!=db')(labels)).toBe(true);
    expect(parseLabelSelector('app==api')(labels)).toBe(false);
    expect(parseLabelSelector('tier,!legacy')(labels)).toBe(true);
    expect(parseLabelSelector('tier in (front, back)')(labels)).toBe(true);
    expect(parseLabelSelector('tier notin (front)')(labels)).toBe(false);
    expect(() => parseLabelSelector('app=web,=x')).toThrow(/-l: cannot read "=x"/);
  });

  it('checks show the value against the range that failed it', () => {
    expect(
      describeCheck({
        check: 'latency',
        verdict: 'fail',
        value: 612,
        unit: 'ms',
        threshold: { max: 500 },
        message: '',
      }),
    ).toBe('latency 612 ms > 500 (max 500) failed');
    expect(
      describeCheck({
        check: 'rate',
        verdict: 'pass',
        value: 99.5,
        unit: '%',
        threshold: { min: 99 },
        message: '',
      }),
    ).toBe('rate 99.50% (min 99) passed');
  });

  it('--since takes a duration or an RFC 3339 time and refuses anything else', () => {
    expect(parseSince('10m', NOW).toISOString()).toBe('2026-12-06T11:55:00.000Z');
    expect(parseSince('2026-12-06T11:00:00Z', NOW).toISOString()).toBe('2026-12-06T11:00:00.000Z');
    expect(() => parseSince('yesterday', NOW)).toThrow(/--since: "yesterday" is neither/);
  });

  it('the kept history is bounded by count and by size, oldest first out, and long webhook answers are cut', () => {
    const many = Array.from({ length: 80 }, (_, index) => decision({ iteration: index }));
    expect(boundDecisions(many, 50, 1 << 20).map((kept) => kept.iteration)).toEqual(
      Array.from({ length: 50 }, (_, index) => index + 30),
    );
    const bounded = boundDecisions(many, 50, 10_000);
    expect(Buffer.byteLength(JSON.stringify(bounded))).toBeLessThanOrEqual(10_000);
    expect(bounded.at(-1)?.iteration).toBe(79);
    const loud = decision({
      webhook: { name: 'hook', type: 'rollout', status: 500, body: 'x'.repeat(100_000) },
    });
    expect(boundDecisions([loud], 50, 1 << 20)[0]!.webhook!.body.length).toBeLessThan(2100);
  });

  it('ConfigMap names stay within 253 characters and distinct for long canary names', () => {
    expect(decisionsConfigMapName('podinfo')).toBe('vireo-decisions-podinfo');
    const a = decisionsConfigMapName(`${'a'.repeat(250)}x`);
    const b = decisionsConfigMapName(`${'a'.repeat(250)}y`);
    expect(a.length).toBeLessThanOrEqual(253);
    expect(a).not.toBe(b);
  });
});
