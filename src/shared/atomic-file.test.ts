import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomically } from './atomic-file.js';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'vireo-atomic-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('writeFileAtomically', () => {
  it('creates the file, then replaces it, leaving no temporary file beside it', async () => {
    const file = join(directory, 'state.json');
    await writeFileAtomically(file, '{"version":1}\n');
    expect(await readFile(file, 'utf8')).toBe('{"version":1}\n');
    await writeFileAtomically(file, Buffer.from('{"version":2}\n'));
    expect(await readFile(file, 'utf8')).toBe('{"version":2}\n');
    expect(await readdir(directory)).toEqual(['state.json']);
  });

  it('gives a private file the mode it asks for', async () => {
    const file = join(directory, 'applied.json');
    await writeFileAtomically(file, 'secret-free but private', { mode: 0o600 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('never lets a reader see a mix of two writes running at once', async () => {
    const file = join(directory, 'decisions.json');
    const versions = Array.from({ length: 20 }, (_, index) => `${String(index).repeat(50_000)}\n`);
    const reads: string[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const text = await readFile(file, 'utf8').catch(() => undefined);
        if (text !== undefined) reads.push(text);
      }
    })();
    await Promise.all(versions.map((text) => writeFileAtomically(file, text)));
    writing = false;
    await reader;
    expect(versions).toContain(await readFile(file, 'utf8'));
    for (const text of reads) expect(versions).toContain(text);
    expect(await readdir(directory)).toEqual(['decisions.json']);
  });

  it('leaves the target and the directory as they were when the rename fails', async () => {
    const target = join(directory, 'taken');
    await mkdir(target);
    await writeFile(join(target, 'inside'), 'kept');
    await expect(writeFileAtomically(target, 'new')).rejects.toMatchObject({ code: expect.any(String) });
    expect(await readFile(join(target, 'inside'), 'utf8')).toBe('kept');
    expect(await readdir(directory)).toEqual(['taken']);
  });

  it('rejects with the file system’s code when the directory does not exist', async () => {
    await expect(writeFileAtomically(join(directory, 'missing', 'file'), 'x')).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
