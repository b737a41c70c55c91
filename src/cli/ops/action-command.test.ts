/**
 * `vireo promote|abort|pause|resume|retry` against local mode's state directory (the daemon's part
 * is test/local/operator-actions.e2e.test.ts): what is written where, what is refused and why, and
 * how `--wait` follows the daemon's answer.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeIo } from '../../../test/support/fake-io.js';
import type { Decision } from '../../engine/decisions.js';
import { FileDecisionLog } from '../../engine/file-decision-log.js';
import { REQUEST_ANNOTATION, REQUEST_DONE_ANNOTATION } from '../../engine/operator-requests.js';
import { requestFileOf } from '../../platforms/local/operator-requests.js';
import { runCli } from '../main.js';
import { runAction, type ActionFlags } from './action-command.js';
import { runStatus, type OpsDeps } from './commands.js';
import { LocalBackend } from './local-backend.js';

const MANIFEST = `apiVersion: local.vireo.dev/v1alpha1
kind: Workload
metadata: { name: podinfo }
spec: { command: node server.js, port: 9898 }
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: { name: podinfo }
spec:
  targetRef: { apiVersion: local.vireo.dev/v1alpha1, kind: Workload, name: podinfo }
  service: { port: 8080 }
  analysis: { interval: 1m, threshold: 5, stepWeight: 10, maxWeight: 50 }
`;
const KEY = { namespace: 'default', name: 'podinfo' };

async function stateDirectory(phase = 'Progressing'): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-actions-'));
  await writeFile(
    join(directory, 'applied.json'),
    JSON.stringify({ version: 1, files: [{ file: '/work/app.yaml', text: MANIFEST }] }),
  );
  await writeState(directory, { phase, canaryWeight: 20 });
  return directory;
}

/** What the daemon writes: the status and the id of the last request it answered. */
async function writeState(directory: string, status: object, requestDone?: string): Promise<void> {
  await writeFile(
    join(directory, 'state.json'),
    JSON.stringify({
      version: 1,
      canaries: {
        'default/podinfo': {
          status,
          routes: { primaryWeight: 80, canaryWeight: 20, mirrored: false },
          targetScaledToZero: false,
          ...(requestDone === undefined ? {} : { requestDone }),
        },
      },
    }),
  );
}

function deps(directory: string, confirm?: (question: string) => Promise<boolean>) {
  const output = fakeIo();
  const opsDeps: OpsDeps = {
    io: output.io,
    openBackend: () => Promise.resolve(new LocalBackend(directory, 20)),
    now: () => new Date(),
    stop: new AbortController().signal,
    pollMs: 20,
    ...(confirm === undefined ? {} : { confirm }),
  };
  return { ...output, deps: opsDeps };
}

const yes = (flags: ActionFlags = {}): ActionFlags => ({
  reason: 'checked the dashboards',
  yes: true,
  ...flags,
});

describe('actions in local mode: what the CLI writes', () => {
  it('pause writes spec.suspend and the audited request beside the manifest, which stays as applied', async () => {
    const directory = await stateDirectory();
    const applied = await readFile(join(directory, 'applied.json'), 'utf8');
    const run = deps(directory);
    expect(await runAction('pause', 'podinfo', yes(), run.deps)).toBe(0);
    expect(run.stdout()).toMatch(
      /pause requested for canary podinfo in namespace default by .+ \(id [0-9a-f-]+\): wrote spec.suspend: true and annotation vireo.dev\/request/,
    );
    expect(await readFile(join(directory, 'applied.json'), 'utf8')).toBe(applied);
    const canary = await new LocalBackend(directory).get('default', 'podinfo');
    expect(canary.spec.suspend).toBe(true);
    const request = JSON.parse(canary.metadata.annotations?.[REQUEST_ANNOTATION] ?? '{}') as Record<
      string,
      string
    >;
    expect(request).toMatchObject({ action: 'pause', reason: 'checked the dashboards' });
    expect(request['by']).not.toBe('');
    expect(Date.parse(request['at'] ?? '')).not.toBeNaN();
  });

  it('--reason is required and a blank one refused, before anything is written', async () => {
    const directory = await stateDirectory();
    await expect(runAction('abort', 'podinfo', { yes: true }, deps(directory).deps)).rejects.toThrow(
      /--reason is required/,
    );
    await expect(
      runAction('abort', 'podinfo', { yes: true, reason: '  ' }, deps(directory).deps),
    ).rejects.toThrow(/--reason is required/);
    await expect(readFile(requestFileOf(directory, KEY))).rejects.toThrow(/ENOENT/);
  });

  it('asks for confirmation; no answer writes nothing; no terminal and no --yes is refused with what to do', async () => {
    const directory = await stateDirectory();
    const questions: string[] = [];
    const declined = deps(directory, (question) => {
      questions.push(question);
      return Promise.resolve(false);
    });
    expect(await runAction('abort', 'podinfo', { reason: 'bad latency' }, declined.deps)).toBe(1);
    expect(questions[0]).toMatch(
      /^abort: roll it back now: canary podinfo in namespace default \(Progressing, canary weight 20%\)/,
    );
    await expect(readFile(requestFileOf(directory, KEY))).rejects.toThrow(/ENOENT/);

    const output = fakeIo();
    const code = await runCli(
      ['node', 'vireo', 'abort', 'podinfo', '--state-dir', directory, '--reason', 'bad latency'],
      output.io,
    );
    expect(code).toBe(1);
    expect(output.stderr()).toContain('no terminal to ask for confirmation on: pass --yes');
    expect(output.stderr()).toContain('[E_CONFIRMATION_REQUIRED]');
    await expect(readFile(requestFileOf(directory, KEY))).rejects.toThrow(/ENOENT/);

    const accepted = deps(directory, () => Promise.resolve(true));
    expect(await runAction('abort', 'podinfo', { reason: 'bad latency' }, accepted.deps)).toBe(0);
    expect(await readFile(requestFileOf(directory, KEY), 'utf8')).toContain('bad latency');
  });

  it('refuses to replace a request the daemon has not answered; once answered, the next one is written', async () => {
    const directory = await stateDirectory();
    const backend = new LocalBackend(directory);
    const first = await backend.act('default', 'podinfo', {
      action: 'promote',
      reason: 'ship it',
      by: 'alice',
    });
    await expect(backend.act('default', 'podinfo', { action: 'abort', reason: 'no' })).rejects.toMatchObject({
      code: 'E_REQUEST_PENDING',
      message: expect.stringContaining(`a promote request by alice (id ${first.id}`),
    });
    await writeState(directory, { phase: 'Succeeded' }, first.id);
    expect((await backend.get('default', 'podinfo')).metadata.annotations?.[REQUEST_DONE_ANNOTATION]).toBe(
      first.id,
    );
    const second = await backend.act('default', 'podinfo', { action: 'pause', reason: 'freeze' });
    expect(second.id).not.toBe(first.id);
  });

  it('promote, abort and retry on a paused canary are refused: resume first', async () => {
    const directory = await stateDirectory();
    const backend = new LocalBackend(directory);
    const pause = await backend.act('default', 'podinfo', { action: 'pause', reason: 'freeze' });
    await writeState(directory, { phase: 'Progressing' }, pause.id);
    await expect(
      backend.act('default', 'podinfo', { action: 'promote', reason: 'go' }),
    ).rejects.toMatchObject({
      code: 'E_CANARY_PAUSED',
      message: expect.stringContaining('vireo resume it first'),
    });
    const resume = await backend.act('default', 'podinfo', { action: 'resume', reason: 'thaw' });
    expect(resume.wrote).toBe('spec.suspend: false and annotation vireo.dev/request');
    expect((await backend.get('default', 'podinfo')).spec.suspend).toBe(false);
  });

  it('vireo status shows a request the daemon has not answered yet, and stops once it has', async () => {
    const directory = await stateDirectory();
    const receipt = await new LocalBackend(directory).act('default', 'podinfo', {
      action: 'abort',
      reason: 'latency',
      by: 'alice',
    });
    const before = deps(directory);
    expect(await runStatus('podinfo', {}, before.deps)).toBe(0);
    expect(before.stdout()).toMatch(
      /^Request: +abort by alice at \d\d:\d\d:\d\d UTC \(latency\), not answered by the controller yet$/m,
    );
    await writeState(directory, { phase: 'Failed' }, receipt.id);
    const after = deps(directory);
    expect(await runStatus('podinfo', {}, after.deps)).toBe(0);
    expect(after.stdout()).not.toMatch(/^Request:/m);
  });

  it('an unknown canary is named, with its namespace', async () => {
    const directory = await stateDirectory();
    await expect(runAction('abort', 'nope', yes(), deps(directory).deps)).rejects.toMatchObject({
      code: 'E_CANARY_NOT_FOUND',
    });
  });
});

describe('actions: --wait', () => {
  /** Plays the daemon's part once the request appears: answer, decision, outcome. */
  async function answerWhenAsked(
    directory: string,
    outcome: { phase: string; honoured: boolean },
  ): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const text = await readFile(requestFileOf(directory, KEY), 'utf8').catch(() => undefined);
      if (text !== undefined) {
        const request = JSON.parse((JSON.parse(text) as { request: string }).request) as Decision['request'] &
          object;
        const decision: Decision = {
          time: new Date().toISOString(),
          canary: 'podinfo.default',
          action: 'request',
          phase: outcome.phase as Decision['phase'],
          message: outcome.honoured
            ? 'Promoting podinfo.default without further checks'
            : 'Not honouring: phase Succeeded',
          canaryWeight: 0,
          primaryWeight: 100,
          iteration: 0,
          failedChecks: 0,
          threshold: 5,
          request: { ...request, honoured: outcome.honoured },
          next: '',
        };
        await new FileDecisionLog(join(directory, 'decisions')).record(KEY, decision);
        await writeState(directory, { phase: outcome.phase }, request.id);
        return;
      }
      if (Date.now() > deadline) throw new Error('no request written');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('shows progress until the outcome and exits 0 when the promotion succeeded', async () => {
    const directory = await stateDirectory();
    const run = deps(directory);
    const [code] = await Promise.all([
      runAction('promote', 'podinfo', yes({ wait: true }), run.deps),
      answerWhenAsked(directory, { phase: 'Succeeded', honoured: true }),
    ]);
    expect(code).toBe(0);
    expect(run.stdout()).toMatch(/\d\d:\d\d:\d\d Progressing: canary weight 20%/);
    expect(run.stdout()).toContain('answered: Promoting podinfo.default without further checks');
    expect(run.stdout()).toMatch(/promote: Succeeded\n$/);
  });

  it('exits 1 naming why when the request was not honoured', async () => {
    const directory = await stateDirectory();
    const run = deps(directory);
    const [code] = await Promise.all([
      runAction('promote', 'podinfo', yes({ wait: true }), run.deps),
      answerWhenAsked(directory, { phase: 'Succeeded', honoured: false }),
    ]);
    expect(code).toBe(1);
    expect(run.stderr()).toContain('promote: not honoured: Not honouring: phase Succeeded');
  });

  it('gives up after --timeout when nobody answers, saying the request stays written', async () => {
    const directory = await stateDirectory();
    await expect(
      runAction('abort', 'podinfo', yes({ wait: true, timeout: '1s' }), deps(directory).deps),
    ).rejects.toMatchObject({
      code: 'E_WAIT_TIMEOUT',
      message: expect.stringContaining('the controller has not answered yet: is it running?'),
    });
    await expect(
      runAction('abort', 'podinfo', yes({ timeout: 'soon' }), deps(directory).deps),
    ).rejects.toThrow(/--timeout: "soon" is not a duration/);
  });
});
