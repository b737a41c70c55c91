/** Near-miss suggestions: typos, misplaced fields, values off by a letter. */

/** Damerau-Levenshtein distance (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  const rows = left.length + 1;
  const cols = right.length + 1;
  const table: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = left[i - 1] === right[j - 1] ? 0 : 1;
      const row = table[i]!;
      const previous = table[i - 1]!;
      let best = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && left[i - 1] === right[j - 2] && left[i - 2] === right[j - 1]) {
        best = Math.min(best, table[i - 2]![j - 2]! + 1);
      }
      row[j] = best;
    }
  }
  return table[rows - 1]![cols - 1]!;
}

/** The closest candidate within a distance that still reads as a typo, or undefined. */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(input.length / 4));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === '') continue;
    const distance = editDistance(input, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= limit) return best;
  // A prefix or containment is also a near miss: "nginx-ingress" → "nginx", "warning" → "warn".
  const lowered = input.toLowerCase();
  const containing = candidates.filter(
    (candidate) =>
      candidate.length >= 3 &&
      (lowered.startsWith(candidate.toLowerCase()) || candidate.toLowerCase().startsWith(lowered)),
  );
  return containing.length === 1 ? containing[0] : undefined;
}
