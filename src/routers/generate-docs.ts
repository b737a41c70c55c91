/** `npx tsx src/routers/generate-docs.ts`: rewrites the generated table of docs/routers/README.md. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCS_END, DOCS_START, withRouterTable } from './docs.js';

const path = join(import.meta.dirname, '..', '..', 'docs', 'routers', 'README.md');
const updated = withRouterTable(readFileSync(path, 'utf8'));
if (updated === undefined) {
  process.stderr.write(`${path}: add the lines ${DOCS_START} and ${DOCS_END} where the table goes\n`);
  process.exitCode = 1;
} else {
  writeFileSync(path, updated);
}
