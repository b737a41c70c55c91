/**
 * Comments explain behaviour by linking to docs/flagger-compatibility.md, never to a reference a
 * maintainer does not have. Checks the rewriting script on examples, the document's numbered
 * headings and anchor table, and every file the script searches: no citation of "reference §" is
 * left and every link to docs/flagger-compatibility.md names an anchor that exists.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  anchorsOf,
  citedAnchors,
  DOC,
  githubSlug,
  remainingCitations,
  repointText,
  ROOT,
  searchedFiles,
  sectionsOf,
} from '../../scripts/repoint-reference-comments.mjs';

const doc = readFileSync(join(ROOT, DOC), 'utf8');
const sections = sectionsOf(doc);

/** Every section number of the behaviour Vireo reproduces, each of which the document must have. */
const SECTION_NUMBERS = [
  '0',
  '1',
  ...['1', '2', '3', '4', '5', '6'].map((minor) => `1.${minor}`),
  '2',
  ...['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].map((minor) => `2.${minor}`),
  ...['a', 'b', 'c', 'd', 'e'].map((letter) => `2.3${letter}`),
  '3',
  '3.1',
  '3.2',
  '4',
  '4.1',
  '4.2',
  '5',
  '6',
  '7',
  '8',
  '9',
  '10',
  '11',
  '12',
];

describe('githubSlug', () => {
  it('makes the anchors GitHub makes: lower case, punctuation dropped, spaces to hyphens', () => {
    expect(githubSlug('2.3 Progression per strategy')).toBe('23-progression-per-strategy');
    expect(githubSlug('2.3b A/B testing')).toBe('23b-ab-testing');
    expect(githubSlug("11 Flagger's most-reported problems")).toBe('11-flaggers-most-reported-problems');
    expect(githubSlug('The `kubernetes` router')).toBe('the-kubernetes-router');
  });

  it('numbers repeated headings as GitHub does and ignores headings inside code blocks', () => {
    expect(anchorsOf('## Notes\n```\n## not a heading\n```\n## Notes\n### Notes\n')).toEqual([
      'notes',
      'notes-1',
      'notes-2',
    ]);
  });
});

describe('repointText', () => {
  const fixture = sectionsOf(
    [
      '## 0 Process model',
      '### 1.4 Canary status',
      '### 2.1 One tick',
      '### 2.3 Progression per strategy',
      '#### 2.3c Blue-green',
      '### 2.10 Revert on deletion',
      '## 5 Webhooks',
    ].join('\n'),
  );

  it('turns "reference §x.y" into a link to the anchor, keeping the words around it', () => {
    expect(
      repointText('/** Status write rules (reference §1.4 and §2.1 step 15). */', 'src/a.ts', fixture),
    ).toBe(
      '/** Status write rules (docs/flagger-compatibility.md#14-canary-status and docs/flagger-compatibility.md#21-one-tick step 15). */',
    );
    expect(repointText('// Reference §2.10: restore', 'test/b.test.ts', fixture)).toBe(
      '// docs/flagger-compatibility.md#210-revert-on-deletion: restore',
    );
  });

  it('uses the finest heading there is: §2.3c has its own, §2.3e falls back to §2.3, §5.2 to §5', () => {
    expect(repointText('(reference §2.3c, §2.3e, §5.2)', 'src/a.ts', fixture)).toBe(
      '(docs/flagger-compatibility.md#23c-blue-green, docs/flagger-compatibility.md#23-progression-per-strategy, docs/flagger-compatibility.md#5-webhooks)',
    );
  });

  it('reads a range as "to", and rewrites bare sections but not those of RFCs or the engineering notes', () => {
    expect(repointText('(reference §0–§5)', 'src/a.ts', fixture)).toBe(
      '(docs/flagger-compatibility.md#0-process-model to docs/flagger-compatibility.md#5-webhooks)',
    );
    expect(
      repointText('removes it (§2.10). RFC 9110 §7.6.1 and engineering notes\n * §2.3 stay', 'x.ts', fixture),
    ).toBe(
      'removes it (docs/flagger-compatibility.md#210-revert-on-deletion). RFC 9110 §7.6.1 and engineering notes\n * §2.3 stay',
    );
  });

  it('writes a relative Markdown link in docs, titled with the heading', () => {
    expect(repointText('as reference §2.1 says', 'docs/routers/README.md', fixture)).toBe(
      'as [2.1 One tick](../flagger-compatibility.md#21-one-tick) says',
    );
    expect(repointText('as reference §5 says', 'docs/engine.md', fixture)).toBe(
      'as [5 Webhooks](flagger-compatibility.md#5-webhooks) says',
    );
  });

  it('changes nothing the second time', () => {
    const once = repointText('a (reference §2.1, §2.3c) b (§2.10 step 5)', 'src/a.ts', fixture);
    expect(repointText(once, 'src/a.ts', fixture)).toBe(once);
    expect(remainingCitations(once)).toEqual([]);
  });

  it('refuses a section the document has no heading for, naming the file and line', () => {
    expect(() => repointText('x\n// reference §7.1', 'src/late.ts', fixture)).toThrow(
      /src\/late\.ts:2: cites §7\.1, but docs\/flagger-compatibility\.md has no heading numbered 7\.1/,
    );
  });
});

describe('docs/flagger-compatibility.md', () => {
  it('has a numbered heading for every section of the behaviour it covers', () => {
    const missing = SECTION_NUMBERS.filter((number) => !sections.has(number));
    expect(missing).toEqual([]);
  });

  it('lists each section with the anchor GitHub generates for its heading', () => {
    const rows = [...doc.matchAll(/^\| (\d+(?:\.\d+)?[a-e]?) \| \[`#([^`]+)`\]\(#([^)]+)\) \|$/gm)];
    const listed = new Map(rows.map((row) => [row[1], { shown: row[2], target: row[3] }]));
    for (const number of SECTION_NUMBERS) {
      const anchor = sections.get(number)?.anchor;
      expect(listed.get(number), `row for section ${number}`).toEqual({ shown: anchor, target: anchor });
    }
  });
});

describe('source comments', () => {
  const files = searchedFiles();
  const anchors = new Set(anchorsOf(doc));

  it('are searched in src/ and test/ (and docs, bench, kustomize)', () => {
    expect(files.filter((file) => file.startsWith('src/')).length).toBeGreaterThan(100);
    expect(files.filter((file) => file.startsWith('test/')).length).toBeGreaterThan(20);
  });

  it('cite no "reference §": run `node scripts/repoint-reference-comments.mjs` to point them at our docs', () => {
    const left = files.flatMap((file) =>
      remainingCitations(readFileSync(join(ROOT, file), 'utf8')).map(
        (citation) => `${file}:${citation.line}: ${citation.text}`,
      ),
    );
    expect(left).toEqual([]);
  });

  it('link only to anchors that docs/flagger-compatibility.md has', () => {
    const broken = files.flatMap((file) =>
      citedAnchors(readFileSync(join(ROOT, file), 'utf8'))
        .filter((cited) => !anchors.has(cited.anchor))
        .map((cited) => `${file}:${cited.line}: #${cited.anchor}`),
    );
    expect(broken).toEqual([]);
  });
});
