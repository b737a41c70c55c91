import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FLAGGER_KINDS, SchemaValidator, type FlaggerKind, type Validators } from './validation.js';
import { compileSchemaValidator, compiledValidatorsModule } from './validator-compiler.js';

const repository = join(import.meta.dirname, '..', '..');

function fixtureObjects(): { kind: FlaggerKind; object: unknown }[] {
  const objects: { kind: FlaggerKind; object: unknown }[] = [];
  for (const folder of ['docs', 'docs-incomplete', 'docs-unreleased']) {
    const directory = join(repository, 'test', 'fixtures', 'flagger', folder);
    for (const file of readdirSync(directory)) {
      for (const document of parseAllDocuments(readFileSync(join(directory, file), 'utf8'))) {
        const object = document.toJS() as { kind?: string } | null;
        if (object !== null && (FLAGGER_KINDS as readonly string[]).includes(object.kind ?? '')) {
          objects.push({ kind: object.kind as FlaggerKind, object });
        }
      }
    }
  }
  return objects;
}

describe('SchemaValidator', () => {
  it('compiles every schema in ajv strict mode (the schemas themselves are well-formed)', () => {
    expect(() => compileSchemaValidator({ strictSchema: true })).not.toThrow();
  });

  it('gives the same verdicts and errors precompiled (npm run build) as compiled at run time', async () => {
    const directory = join(repository, '.cache', 'test-compiled-validators');
    mkdirSync(directory, { recursive: true });
    const file = join(directory, `validators-${process.pid}.mjs`);
    writeFileSync(file, compiledValidatorsModule());
    const precompiled = (await import(pathToFileURL(file).href)) as Validators;
    const fromBuild = new SchemaValidator(precompiled);
    const atRunTime = compileSchemaValidator();
    const objects = fixtureObjects();
    expect(objects.length).toBeGreaterThan(100);
    let invalid = 0;
    for (const { kind, object } of objects) {
      const expected = atRunTime.validate(kind, object);
      if (expected.length > 0) invalid += 1;
      expect(fromBuild.validate(kind, object)).toEqual(expected);
    }
    expect(invalid).toBeGreaterThan(10);
  });
});
