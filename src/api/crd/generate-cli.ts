/** `npm run gen:crds`: writes the CRDs into crds/ (committed; a test fails when they are stale). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from './render.js';

const outputDirectory = join(import.meta.dirname, '..', '..', '..', 'crds');
mkdirSync(outputDirectory, { recursive: true });
for (const file of renderCrdFiles()) {
  writeFileSync(join(outputDirectory, file.fileName), file.content);
  process.stdout.write(`wrote crds/${file.fileName}\n`);
}
