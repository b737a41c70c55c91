import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderErrorsDoc } from './error-catalog-doc.js';
import { ERROR_CATALOG, isCatalogued } from './error-catalog.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE = join(ROOT, 'src');
const CATALOG_FILE = join(SOURCE, 'shared', 'error-catalog.ts');
const CODE = /['"`](E_[A-Z0-9_]+)['"`]/g;

/** Every non-test TypeScript file under src/, but the catalog itself. */
function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && path !== CATALOG_FILE
      ? [path]
      : [];
  });
}

/** code → the files that use it, as written in the source (`'E_…'`). */
function codesInSource(): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  for (const file of sourceFiles(SOURCE)) {
    for (const match of readFileSync(file, 'utf8').matchAll(CODE)) {
      const code = match[1] as string;
      uses.set(code, [...(uses.get(code) ?? []), relative(ROOT, file)]);
    }
  }
  return uses;
}

describe('the error catalog', () => {
  const used = codesInSource();

  it('finds the codes in the source (the scan itself works)', () => {
    expect(used.get('E_USAGE')).toContain('src/shared/errors.ts');
    expect(used.size).toBeGreaterThan(50);
  });

  it('has an entry for every code the source uses', () => {
    const missing = [...used]
      .filter(([code]) => !isCatalogued(code))
      .map(([code, files]) => `${code} (${files.join(', ')})`);
    expect(missing, 'add these codes to src/shared/error-catalog.ts, then run npm run docs:errors').toEqual(
      [],
    );
  });

  it('has no entry for a code the source no longer uses', () => {
    const unused = Object.keys(ERROR_CATALOG).filter((code) => !used.has(code));
    expect(
      unused,
      'remove these entries from src/shared/error-catalog.ts, then run npm run docs:errors',
    ).toEqual([]);
  });

  it('says for every code what it means and what to do, in sentences', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^E_[A-Z0-9_]+$/);
      expect(entry.meaning, code).toMatch(/^[A-Z`].{15,}\.$/s);
      expect(entry.action, code).toMatch(/^[A-Z`].{5,}\.$/s);
    }
  });

  it('is what docs/errors.md says (run npm run docs:errors after changing the catalog)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorsDoc());
  });

  it('documents each code once, under its area', () => {
    const doc = renderErrorsDoc();
    for (const code of Object.keys(ERROR_CATALOG)) {
      expect(
        doc.split('\n').filter((line) => line === `### ${code}`),
        code,
      ).toHaveLength(1);
    }
    expect(doc).toContain('## Loadtester\n\n### E_LOADTESTER_BAD_REQUEST');
  });
});
