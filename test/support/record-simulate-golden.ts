/**
 * Records the golden outputs of `vireo simulate` (test/support/simulate-golden.ts):
 *
 *   npx tsx test/support/record-simulate-golden.ts
 *
 * Rewrites test/fixtures/simulate-golden/ from scratch. Run it only for an intended change of what
 * simulate prints, and name each difference (`git diff`) in the commit message.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { goldenCases, goldenDirectory, runGoldenCase } from './simulate-golden.js';

rmSync(goldenDirectory, { recursive: true, force: true });
const cases = goldenCases();
for (const golden of cases) {
  const path = join(goldenDirectory, golden.output);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await runGoldenCase(golden));
}
process.stdout.write(`recorded ${cases.length} outputs in ${goldenDirectory}\n`);
