/**
 * `vireo validate` against what users actually write: every complete example of Flagger's
 * documentation, the documentation's fragments, and the seed write-up's manifests.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SchemaValidator } from '../../src/api/validation.js';
import { compileSchemaValidator } from '../../src/api/validator-compiler.js';
import { readInputs } from '../../src/validate/inputs.js';
import { validateInputs, type ValidationReport } from '../../src/validate/validate.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const noStdin = () => Promise.reject(new Error('no stdin in this test'));
let validator: SchemaValidator;

beforeAll(() => {
  validator = compileSchemaValidator();
});

async function validatePaths(...paths: string[]): Promise<ValidationReport> {
  return validateInputs(await readInputs(paths, noStdin), { validator });
}

function errorsOf(report: ValidationReport) {
  return report.files.flatMap((file) => file.objects.flatMap((object) => object.errors));
}

const KNOWN_DOCS_MISTAKES: Record<string, string> = {
  'metrics-7.yaml': 'apiVersion',
};

describe("every complete example in Flagger's documentation", () => {
  const directory = join(fixtures, 'flagger', 'docs');
  const files = readdirSync(directory).filter((file) => file.endsWith('.yaml'));

  it('covers all three kinds', async () => {
    const report = await validatePaths(directory);
    const kinds = new Set(report.files.flatMap((file) => file.objects.map((object) => object.kind)));
    expect([...kinds].sort()).toEqual(['AlertProvider', 'Canary', 'MetricTemplate']);
    expect(report.summary.objects).toBeGreaterThan(90);
  });

  it.each(files)('%s validates', async (file) => {
    const report = await validatePaths(join(directory, file));
    expect(report.summary.unreadable).toBe(0);
    const mistake = KNOWN_DOCS_MISTAKES[file];
    if (mistake === undefined) {
      expect(errorsOf(report)).toEqual([]);
    } else {
      expect(errorsOf(report).map((finding) => finding.path)).toEqual([mistake]);
    }
  });
});

describe('fragments of the documentation that miss required fields', () => {
  const directory = join(fixtures, 'flagger', 'docs-incomplete');
  const files = readdirSync(directory).filter((file) => file.endsWith('.yaml'));

  it.each(files)('%s is rejected with each missing field named', async (file) => {
    const text = readFileSync(join(directory, file), 'utf8');
    const missing = /^# Missing: ([^(\n]*)/m.exec(text)?.[1] ?? '';
    const fields = missing
      .split(/,| and /)
      .map((field) => field.trim().replace(/ are comment-only.*$/, ''))
      .filter((field) => /^[a-z][A-Za-z.]*$/.test(field));
    expect(fields.length).toBeGreaterThan(0);
    const report = await validatePaths(join(directory, file));
    const paths = errorsOf(report).map((finding) => finding.path);
    for (const field of fields) expect(paths).toContain(field);
  });
});

describe('seed 004 (NGINX, Prometheus, MS Teams)', () => {
  it('reports exactly the misplaced metric intervals, at their lines, with the fix', async () => {
    const report = await validatePaths(join(fixtures, 'seeds', '004'));
    expect(report.summary).toMatchObject({ files: 3, objects: 2, skipped: 1, warnings: 0 });
    expect(errorsOf(report)).toEqual([
      {
        path: 'spec.analysis.metrics[0].thresholdRange.interval',
        line: 45,
        column: 9,
        message: expect.stringContaining('did you mean spec.analysis.metrics[0].interval?'),
      },
      {
        path: 'spec.analysis.metrics[1].thresholdRange.interval',
        line: 51,
        column: 9,
        message: expect.stringContaining('did you mean spec.analysis.metrics[1].interval?'),
      },
    ]);
    const canaryText = readFileSync(join(fixtures, 'seeds', '004', 'podinfo-canary.yaml'), 'utf8').split(
      '\n',
    );
    expect(canaryText[44]?.trim()).toBe('interval: 1m');
    expect(canaryText[50]?.trim()).toBe('interval: 1m');
  });
});
