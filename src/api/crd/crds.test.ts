import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CRD_DEFINITIONS, buildCrd } from './definitions.js';
import { renderCrdFiles } from './render.js';
import { findNarrowings } from './superset.js';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..');

type Crd = {
  metadata: { name: string };
  spec: {
    names: Record<string, unknown>;
    versions: {
      name: string;
      additionalPrinterColumns?: unknown[];
      subresources?: unknown;
      schema: { openAPIV3Schema: Record<string, unknown> };
    }[];
  };
};

function flaggerCrds(): Map<string, Crd> {
  const text = readFileSync(join(repositoryRoot, 'test/fixtures/flagger/crd.yaml'), 'utf8');
  const crds = parseAllDocuments(text)
    .map((document) => document.toJS() as Crd | null)
    .filter((crd): crd is Crd => crd !== null);
  return new Map(crds.map((crd) => [crd.metadata.name, crd]));
}

describe('committed CRDs', () => {
  it.each(renderCrdFiles().map((file) => [file.fileName, file.content]))(
    'crds/%s matches the schema (run `npm run gen:crds` if this fails)',
    (fileName, expected) => {
      const committed = readFileSync(join(repositoryRoot, 'crds', fileName), 'utf8');
      expect(committed).toBe(expected);
    },
  );
});

describe('compatibility with Flagger 1.44 CRDs', () => {
  const theirs = flaggerCrds();

  it.each(CRD_DEFINITIONS.map((definition) => [definition.names.kind, definition] as const))(
    "%s accepts every object that Flagger's CRD accepts",
    (_kind, definition) => {
      const ours = buildCrd(definition) as unknown as Crd;
      const flagger = theirs.get(ours.metadata.name);
      expect(flagger, `Flagger defines ${ours.metadata.name}`).toBeDefined();
      const ourVersion = ours.spec.versions[0]!;
      const theirVersion = flagger!.spec.versions.find((version) => version.name === ourVersion.name)!;
      expect(findNarrowings(ourVersion.schema.openAPIV3Schema, theirVersion.schema.openAPIV3Schema)).toEqual(
        [],
      );
    },
  );

  it.each(CRD_DEFINITIONS.map((definition) => [definition.names.kind, definition] as const))(
    "%s keeps Flagger's names, printer columns and status subresource",
    (_kind, definition) => {
      const ours = buildCrd(definition) as unknown as Crd;
      const flagger = theirs.get(ours.metadata.name)!;
      const theirVersion = flagger.spec.versions[0]!;
      expect(ours.spec.versions[0]!.additionalPrinterColumns).toEqual(theirVersion.additionalPrinterColumns);
      expect(ours.spec.versions[0]!.subresources).toEqual(theirVersion.subresources);
      expect(ours.spec.names).toMatchObject(flagger.spec.names);
    },
  );
});

describe('findNarrowings', () => {
  it('reports a missing property, a lost enum value, an added requirement and a narrower type', () => {
    const flagger = {
      type: 'object',
      properties: {
        kept: { type: 'string', enum: ['a', 'b'] },
        dropped: { type: 'string' },
        count: { type: 'number' },
      },
    };
    const ours = {
      type: 'object',
      required: ['kept'],
      properties: { kept: { type: 'string', enum: ['a'] }, count: { type: 'integer' } },
    };
    expect(findNarrowings(ours, flagger)).toEqual([
      '(root): requires kept, Flagger does not',
      '.kept: enum lacks "b"',
      '.dropped: missing (the API server would prune it)',
      ".count: type integer does not accept Flagger's number",
    ]);
  });
});
