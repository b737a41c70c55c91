#!/usr/bin/env node
/**
 * Rewrites citations of Flagger's behaviour reference ("reference §2.3", "(§2.10 step 5)") into
 * links to our own docs/flagger-compatibility.md, which a maintainer of this repository has: its
 * headings start with the same section numbers (`### 2.3 Progression per strategy`), and the
 * anchors are the ones GitHub generates from those headings.
 *
 *   node scripts/repoint-reference-comments.mjs           rewrite the files in place
 *   node scripts/repoint-reference-comments.mjs --check   list what would change; exit 1 if anything would
 *
 * Idempotent: a rewritten citation no longer contains "§", so a second run changes nothing. Run it
 * again after merging branches that added citations. It fails, naming the file and line, when a
 * citation names a section that docs/flagger-compatibility.md has no heading for.
 *
 * Citations of other documents are left alone: RFC sections ("RFC 9110 §7.6.1") and the
 * engineering notes ("engineering notes §2.1").
 */
import { readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DOC = 'docs/flagger-compatibility.md';

/** Where citations are looked for, relative to the repository root. */
const SEARCHED = ['src', 'test', 'bench', 'tools', 'scripts', 'kustomize', 'docs', 'examples', 'README.md'];
/** Not rewritten: ADRs are dated records; these two files hold citations as examples. */
const SKIPPED = new Set([
  'docs/adr',
  'tools/kube',
  'tools/kwok',
  'tools/etcd',
  'test/fixtures',
  'scripts/repoint-reference-comments.mjs',
  'test/unit/repoint-reference-comments.test.ts',
]);
const EXTENSIONS = /\.(ts|mts|js|mjs|md|ya?ml|sh)$/;

/**
 * The anchor GitHub gives a heading: lower case, punctuation dropped (letters, marks, digits,
 * connector punctuation, spaces and hyphens stay), spaces turned into hyphens.
 */
export function githubSlug(text) {
  return text
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a Markdown document, with GitHub's `-1`, `-2` suffixes for repeated headings. */
export function anchorsOf(markdown) {
  const seen = new Map();
  const anchors = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = githubSlug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.push(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Section number ("2", "2.3", "2.3c") → { anchor, title } for every numbered heading. */
export function sectionsOf(markdown) {
  const sections = new Map();
  const anchors = anchorsOf(markdown);
  let index = 0;
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const anchor = anchors[index++];
    const numbered = /^(\d+(?:\.\d+)?[a-e]?)\s+(.*)$/.exec(heading[1]);
    if (numbered !== null && !sections.has(numbered[1]))
      sections.set(numbered[1], { anchor, title: heading[1] });
  }
  return sections;
}

// One cited section: §2, §2.10, §2.3c. The letter must not start a word ("§2 describes").
const SECTION = String.raw`§(\d+(?:\.\d+)?(?:[a-e](?![A-Za-z]))?)`;
const JOINER = String.raw`(?:,\s*|\s+and\s+|\s*[–-]\s*|\s+to\s+)`;
const LIST = `${SECTION}(?:${JOINER}${SECTION})*`;
/** "reference §1.4 and §2.1", "Flagger §0": the word goes, the sections become links. */
const NAMED = new RegExp(String.raw`\b(?:reference|Flagger)\s+(${LIST})`, 'gi');
/** A bare "§2.10", unless it cites an RFC or the engineering notes (possibly across a comment line break). */
const BARE = new RegExp(String.raw`(?<!(?:RFC\s+\d+|engineering\s+notes)[\s*/#]*)(${LIST})`, 'gi');

/** How a citation reads in a file: a repository path in code, a relative link in Markdown. */
function linker(file, sections) {
  const markdown = file.endsWith('.md');
  const fromDir = dirname(file);
  const docPath = relative(fromDir, DOC).split(sep).join('/');
  return (number, where) => {
    const section = lookup(sections, number);
    if (section === undefined) {
      throw new Error(
        `${where}: cites §${number}, but ${DOC} has no heading numbered ${number}: add one or correct the citation`,
      );
    }
    return markdown ? `[${section.title}](${docPath}#${section.anchor})` : `${DOC}#${section.anchor}`;
  };
}

/** "2.3c" falls back to "2.3", then "2", when the document has no finer heading. */
function lookup(sections, number) {
  for (let candidate = number; candidate !== '';) {
    const found = sections.get(candidate);
    if (found !== undefined) return found;
    if (/[a-e]$/.test(candidate)) candidate = candidate.slice(0, -1);
    else if (candidate.includes('.')) candidate = candidate.slice(0, candidate.lastIndexOf('.'));
    else candidate = '';
  }
  return undefined;
}

function rewriteList(list, link, where) {
  return list
    .replace(new RegExp(String.raw`(§[\d.]+[a-e]?)${JOINER}(?=§)`, 'g'), (whole, first) =>
      // A range "§1–§5" reads "… to …" once both ends are links.
      /[–-]/.test(whole.slice(first.length)) ? `${first} to ` : whole,
    )
    .replace(new RegExp(SECTION, 'g'), (_whole, number) => link(number, where));
}

/** The text with every Flagger reference citation turned into a link to docs/flagger-compatibility.md. */
export function repointText(text, file, sections) {
  const link = linker(file, sections);
  // replace() passes (match, ...groups, offset, whole text): the list is the first group.
  const rewriteIn =
    (source) =>
    (_match, list, ...rest) =>
      rewriteList(list, link, `${file}:${source.slice(0, rest.at(-2)).split('\n').length}`);
  const named = text.replace(NAMED, rewriteIn(text));
  return named.replace(BARE, rewriteIn(named));
}

/** Citations left in a text: "reference §…" in any case, or a bare § that is not an RFC's or the notes'. */
export function remainingCitations(text) {
  const found = new Map();
  for (const pattern of [NAMED, BARE, /\breference\s+§/gi]) {
    for (const match of text.matchAll(new RegExp(pattern.source, pattern.flags))) {
      // One entry per cited "§", however many patterns see it.
      const at = match.index + match[0].indexOf('§');
      if (!found.has(at)) found.set(at, { line: text.slice(0, at).split('\n').length, text: match[0] });
    }
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, citation]) => citation);
}

/** Anchors of docs/flagger-compatibility.md that a text links to. */
export function citedAnchors(text) {
  return [...text.matchAll(/flagger-compatibility\.md#([\p{L}\p{N}_-]+)/gu)].map((match) => ({
    line: text.slice(0, match.index).split('\n').length,
    anchor: match[1],
  }));
}

/** The files citations are looked for in, relative to `root`. */
export function searchedFiles(root = ROOT) {
  const files = [];
  const visit = (path) => {
    if (SKIPPED.has(path) || path.split('/').includes('node_modules')) return;
    let stats;
    try {
      stats = statSync(join(root, path));
    } catch {
      return;
    }
    if (stats.isDirectory()) {
      for (const entry of readdirSync(join(root, path)).sort()) visit(`${path}/${entry}`);
    } else if (EXTENSIONS.test(path) && path !== DOC) {
      files.push(path);
    }
  };
  for (const path of SEARCHED) visit(path);
  return files;
}

function main(argv) {
  const check = argv.includes('--check');
  const sections = sectionsOf(readFileSync(join(ROOT, DOC), 'utf8'));
  const changed = [];
  for (const file of searchedFiles()) {
    const before = readFileSync(join(ROOT, file), 'utf8');
    const after = repointText(before, file, sections);
    if (after === before) continue;
    changed.push(file);
    if (!check) writeFileSync(join(ROOT, file), after);
  }
  for (const file of changed) console.log(`${check ? 'would rewrite' : 'rewrote'} ${file}`);
  console.log(`${changed.length} file(s) ${check ? 'cite the reference' : 'rewritten'}`);
  if (check && changed.length > 0) process.exitCode = 1;
}

if (
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === realpathSync(resolve(process.argv[1]))
) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
