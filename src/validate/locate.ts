/**
 * Finds where a field sits in the YAML source, so that every finding can say `file:line:col`.
 * A path that does not exist (a missing required field) resolves to its deepest existing parent.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { FieldPath } from './path.js';

export interface SourcePosition {
  line: number;
  column: number;
}

interface Located {
  /** The value node at the path, or at the deepest existing ancestor. */
  node: Node | null;
  /** The key node of the last map entry on the way (points at `key:`). */
  keyNode: Node | null;
  /** How many segments of the path exist. */
  depth: number;
}

function walk(document: Document, path: FieldPath): Located {
  let node = document.contents;
  let keyNode: Node | null = null;
  let depth = 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      keyNode = pair.key as Node;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      node = item;
      keyNode = null;
    } else {
      break;
    }
    depth += 1;
  }
  return { node, keyNode, depth };
}

function positionOf(node: Node | null, lineCounter: LineCounter, fallbackOffset: number): SourcePosition {
  const offset = node?.range?.[0] ?? fallbackOffset;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/**
 * Where to point for a finding on `path`. `atKey` points at the field name itself (unknown
 * fields, misplaced fields) rather than at its value.
 */
export function locate(
  document: Document,
  lineCounter: LineCounter,
  path: FieldPath,
  options: { atKey?: boolean } = {},
): SourcePosition {
  const fallbackOffset = document.range?.[0] ?? 0;
  const found = walk(document, path);
  const complete = found.depth === path.length;
  if (options.atKey === true && complete && found.keyNode !== null) {
    return positionOf(found.keyNode, lineCounter, fallbackOffset);
  }
  if (!complete) {
    // Missing field: point at the parent's key ("spec:"), which is where it should be added.
    const parent = walk(document, path.slice(0, found.depth));
    return positionOf(parent.keyNode ?? parent.node, lineCounter, fallbackOffset);
  }
  // A scalar value sits on its key's line; a map or list value starts on the next line, so
  // point at the key for those.
  if (found.keyNode !== null && (isMap(found.node) || isSeq(found.node) || found.node === null)) {
    return positionOf(found.keyNode, lineCounter, fallbackOffset);
  }
  return positionOf(found.node, lineCounter, fallbackOffset);
}
