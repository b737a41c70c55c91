/**
 * Loads the schema validator for programs: the validators `npm run build` compiled to plain
 * JavaScript when they exist, else ajv's compiler (running from sources). A module of its own so
 * that validation.ts, which the compiler imports, never imports the compiler back.
 */
import { SchemaValidator, VALIDATED_KINDS, type Validators } from './validation.js';

/** A variable, so that TypeScript does not try to resolve a file that exists only in dist/. */
const COMPILED_MODULE = './compiled-validators.js';

/** Compiled from sources once per process: it takes about 0.1 s, and tests run the CLI hundreds of times. */
let compiledFromSources: SchemaValidator | undefined;

/** The validators compiled at build time when they exist, else compiled now (about 0.1 s). */
export async function loadSchemaValidator(): Promise<SchemaValidator> {
  try {
    const compiled = (await import(COMPILED_MODULE)) as Partial<Validators>;
    if (VALIDATED_KINDS.every((kind) => typeof compiled[kind] === 'function')) {
      return new SchemaValidator(compiled as Validators);
    }
  } catch {
    // Running from sources (tsx, tests): nothing was precompiled.
  }
  const { compileSchemaValidator } = await import('./validator-compiler.js');
  compiledFromSources ??= compileSchemaValidator();
  return compiledFromSources;
}
