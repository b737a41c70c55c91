/**
 * `vireo simulate` prints exactly what it printed when the golden outputs were recorded, for every
 * Canary of every example and test manifest (test/support/simulate-golden.ts). A difference is
 * either a bug (fix it) or an intended change: re-record with
 * `npx tsx test/support/record-simulate-golden.ts` and name the change in the commit message.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goldenCases, goldenDirectory, runGoldenCase } from '../support/simulate-golden.js';

const cases = goldenCases();

function recorded(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    return statSync(path).isDirectory()
      ? recorded(path)
      : [relative(goldenDirectory, path).split(sep).join('/')];
  });
}

describe('vireo simulate golden outputs', () => {
  it('covers every Canary of the examples and test manifests, and nothing else', () => {
    expect(cases.length).toBeGreaterThan(300);
    expect(recorded(goldenDirectory).sort()).toEqual(cases.map((golden) => golden.output).sort());
  });

  it.each(cases.map((golden) => [golden.output, golden] as const))('%s', async (output, golden) => {
    const path = join(goldenDirectory, output);
    expect(existsSync(path), `no golden output ${output}: record it`).toBe(true);
    expect(await runGoldenCase(golden)).toBe(readFileSync(path, 'utf8'));
  });
});
