/** `npm run docs:errors`: writes docs/errors.md from the error catalog (committed; a test fails when it is stale). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorsDoc } from './error-catalog-doc.js';

const file = join(import.meta.dirname, '..', '..', 'docs', 'errors.md');
writeFileSync(file, renderErrorsDoc());
process.stdout.write('wrote docs/errors.md\n');
