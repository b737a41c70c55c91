/** Build step (`npm run build`): writes dist/build-info.json with the commit `vireo --version` reports. */
import { join } from 'node:path';
import { BuildInfoError, commitForBuild, writeBuildInfo } from './build-info.js';

try {
  // This file compiles to dist/shared/; the repository is two levels up.
  writeBuildInfo(commitForBuild(process.env, join(import.meta.dirname, '..', '..')));
} catch (error) {
  if (!(error instanceof BuildInfoError)) throw error;
  process.stderr.write(`write-build-info: ${error.message} [${error.code}]\n`);
  process.exitCode = 1;
}
