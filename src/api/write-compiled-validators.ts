/** Build step: writes dist/api/compiled-validators.js next to this file's compiled output. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compiledValidatorsModule } from './validator-compiler.js';

writeFileSync(join(import.meta.dirname, 'compiled-validators.js'), compiledValidatorsModule());
