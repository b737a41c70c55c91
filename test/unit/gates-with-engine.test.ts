/**
 * Issue 8's acceptance: the engine, through the real webhook client, drives a canary through a
 * real `vireo loadtester`'s confirm-rollout, confirm-promotion and rollback gates, operated with
 * `vireo gate` as a person would, with bearer-token authentication on.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../src/cli/main.js';
import { buildLoadtester } from '../../src/loadtester/server.js';
import { createLogger } from '../../src/shared/logger.js';
import { HttpWebhookClient } from '../../src/webhooks/http-webhook-client.js';
import { World, initializedWorld, newTestCanary } from '../support/engine-world.js';

const TOKEN = 'gate-token-for-tests';
let loadtester: FastifyInstance;
let url: string;
const webhooks = new HttpWebhookClient();

beforeAll(async () => {
  loadtester = await buildLoadtester({
    settings: { token: TOKEN, stateFile: join(mkdtempSync(join(tmpdir(), 'vireo-gates-')), 'gates.json') },
    logger: createLogger({ level: 'silent' }),
  });
  url = await loadtester.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await loadtester.close();
  await webhooks.close();
});

async function gate(
  action: string,
  canary = 'podinfo.test',
  token = TOKEN,
): Promise<{ code: number; output: string }> {
  const out: string[] = [];
  const io: CliIo = {
    stdout: (text) => out.push(text),
    stderr: (text) => out.push(text),
    readStdin: () => Promise.resolve(''),
  };
  const code = await runCli(
    ['node', 'vireo', 'gate', action, canary, '--loadtester', url, '--token', token],
    io,
  );
  return { code, output: out.join('') };
}

/** The engine of the in-memory world, but calling webhooks over HTTP with the real client. */
async function tick(world: World): Promise<void> {
  await world.engine({ webhooks }).advance(world.key);
}

function gatedCanary() {
  const hook = (name: string, type: string, path: string) => ({
    name,
    type,
    url: `${url}${path}`,
    secretRef: { name: 'loadtester-token' },
  });
  return newTestCanary({
    stepWeight: 50,
    maxWeight: 50,
    webhooks: [
      hook('rollout-gate', 'confirm-rollout', '/gate/check'),
      hook('promotion-gate', 'confirm-promotion', '/gate/check'),
      hook('abort', 'rollback', '/rollback/check'),
    ],
  });
}

async function worldWithToken(): Promise<World> {
  const world = await initializedWorld(gatedCanary());
  world.secrets.set('test/loadtester-token', { Authorization: `Bearer ${TOKEN}` });
  return world;
}

describe("the engine behind a real loadtester's gates", () => {
  it('waits at confirm-rollout and confirm-promotion until a person opens the gate, then promotes', async () => {
    const world = await worldWithToken();
    await tick(world);
    expect(world.phase).toBe('Waiting');
    expect(await gate('status')).toEqual({
      code: 0,
      output: 'gate of podinfo.test: closed\nrollback of podinfo.test: not requested\n',
    });

    expect((await gate('open')).output).toContain('gate of podinfo.test opened');
    await tick(world);
    expect(world.phase).toBe('Progressing');
    expect((await gate('close')).code).toBe(0);
    await tick(world);
    await tick(world);
    expect(world.routes.canaryWeight).toBe(50);
    await tick(world);
    expect(world.phase).toBe('WaitingPromotion');
    const [waiting] = (await world.decisions.recent(world.key, 1)).slice(-1);
    expect(waiting?.webhook).toMatchObject({ name: 'promotion-gate', status: 403 });

    expect((await gate('approve')).code).toBe(0);
    await tick(world);
    expect(world.phase).toBe('Promoting');
    expect(world.promotions).toEqual(['rev-2']);
  });

  it('rolls back when a person asks for it with vireo gate rollback', async () => {
    const world = await worldWithToken();
    world.canary.metadata.name = 'frontend';
    expect((await gate('open', 'frontend.test')).code).toBe(0);
    await tick(world);
    await tick(world);
    expect(world.phase).toBe('Progressing');
    expect((await gate('rollback', 'frontend.test')).output).toContain('rollback requested');
    await tick(world);
    expect(world.phase).toBe('Failed');
    expect(world.routes.canaryWeight).toBe(0);
    expect(world.messages()).toContain('Rolling back frontend.test manual webhook invoked');
  });

  it('holds the canary when its hooks lack the token, and refuses vireo gate without it', async () => {
    const world = await initializedWorld(gatedCanary());
    world.canary.metadata.name = 'backend';
    world.secrets.set('test/loadtester-token', { Authorization: 'Bearer wrong' });
    expect((await gate('open', 'backend.test')).code).toBe(0);
    await tick(world);
    expect(world.phase).toBe('Waiting');
    const [decision] = (await world.decisions.recent(world.key, 1)).slice(-1);
    expect(decision?.webhook).toMatchObject({ name: 'rollout-gate', status: 401 });
    expect(JSON.stringify(await world.decisions.recent(world.key))).not.toContain('Bearer wrong');
    expect(await gate('open', 'backend.test', 'not-the-token')).toEqual({
      code: 1,
      output:
        'vireo gate open backend.test: the loadtester wants a token: pass --token or set VIREO_LOADTESTER_TOKEN\n',
    });
  });
});
