import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logger.js';
import { GateStateError, TooManyGatesError } from './errors.js';
import { gateKey, GateStore, MAX_OPEN_GATES, rollbackKey } from './gates.js';

function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines };
}

function stateFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'vireo-gates-')), 'nested', 'gates.json');
}

describe('GateStore', () => {
  it('starts with every gate closed when there is no file yet', async () => {
    const store = await GateStore.load(stateFile(), capturingLogger().logger);
    expect(store.isOpen(gateKey('podinfo', 'test'))).toBe(false);
    expect(store.isOpen(rollbackKey('podinfo', 'test'))).toBe(false);
  });

  it('keeps confirm gates and rollback gates apart, and survives a reload', async () => {
    const file = stateFile();
    const { logger } = capturingLogger();
    const store = await GateStore.load(file, logger);
    await store.setOpen(gateKey('podinfo', 'test'), true);
    await store.setOpen(rollbackKey('backend', 'prod'), true);
    await store.setOpen(rollbackKey('backend', 'prod'), false);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, open: ['podinfo.test'] });

    const reloaded = await GateStore.load(file, logger);
    expect(reloaded.isOpen('podinfo.test')).toBe(true);
    expect(reloaded.isOpen('rollback.podinfo.test')).toBe(false);
    expect(reloaded.isOpen('rollback.backend.prod')).toBe(false);
  });

  it('loses no change when many arrive at once, and leaves no temporary file behind', async () => {
    const file = stateFile();
    const store = await GateStore.load(file, capturingLogger().logger);
    const keys = Array.from({ length: 20 }, (_, index) => gateKey(`app${index}`, 'test'));
    await Promise.all(keys.map((key) => store.setOpen(key, true)));
    expect((JSON.parse(readFileSync(file, 'utf8')) as { open: string[] }).open).toEqual([...keys].sort());
    expect(readdirSync(join(file, '..'))).toEqual(['gates.json']);
  });

  it.each([
    ['not JSON', '{"version":1,"open":["podinfo.test"'],
    ['the wrong shape', '{"version":1,"open":"podinfo.test"}'],
    ['null', 'null'],
  ])(
    'starts closed and warns when the file holds %s, then replaces it at the next change',
    async (_, text) => {
      const file = stateFile();
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      const { logger, lines } = capturingLogger();
      const store = await GateStore.load(file, logger);
      expect(store.isOpen('podinfo.test')).toBe(false);
      const warning = lines.map((line) => JSON.parse(line)).find((entry) => entry.level === 'warn');
      expect(warning.msg).toContain('starting with every gate closed');
      expect(warning.stateFile).toBe(file);
      await store.setOpen('podinfo.test', true);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, open: ['podinfo.test'] });
    },
  );

  it('fails with GateStateError when the file cannot be written, and the gate stays as it was', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-gates-'));
    const file = join(directory, 'state', 'gates.json');
    const store = await GateStore.load(file, capturingLogger().logger);
    await store.setOpen(gateKey('podinfo', 'test'), true);
    // The directory becomes a file: every later save fails.
    rmSync(join(directory, 'state'), { recursive: true });
    writeFileSync(join(directory, 'state'), '');
    await expect(store.setOpen(rollbackKey('podinfo', 'test'), true)).rejects.toThrow(GateStateError);
    await expect(store.setOpen(gateKey('podinfo', 'test'), false)).rejects.toThrow(GateStateError);
    // A rollback that was not saved is not requested, and an approval that was not withdrawn holds.
    expect(store.isOpen(rollbackKey('podinfo', 'test'))).toBe(false);
    expect(store.isOpen(gateKey('podinfo', 'test'))).toBe(true);
  });

  it(`keeps at most ${MAX_OPEN_GATES} gates open, so the file stays bounded`, async () => {
    const file = stateFile();
    const store = await GateStore.load(file, capturingLogger().logger);
    const keys = Array.from({ length: MAX_OPEN_GATES + 20 }, (_, index) => gateKey(`app${index}`, 'test'));
    const results = await Promise.allSettled(keys.map((key) => store.setOpen(key, true)));
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused).toHaveLength(20);
    expect(refused.every((result) => result.reason instanceof TooManyGatesError)).toBe(true);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { open: string[] }).open).toHaveLength(MAX_OPEN_GATES);
    // Closing one makes room again.
    await store.setOpen(keys[0]!, false);
    await store.setOpen(keys.at(-1)!, true);
    expect(store.isOpen(keys.at(-1)!)).toBe(true);
  });

  it('writes nothing for a change that changes nothing', async () => {
    const file = stateFile();
    const store = await GateStore.load(file, capturingLogger().logger);
    await store.setOpen(gateKey('podinfo', 'test'), false);
    expect(existsSync(file)).toBe(false);
  });
});
