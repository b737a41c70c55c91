/**
 * Comparisons that decide whether a write is needed. Objects read back from the API server carry
 * defaults and server-set fields we never send, so "nothing to change" means the live object
 * already contains everything we would send, not that the two are identical.
 */

/** JSON with object keys sorted at every depth and undefined members dropped. */
export function stableDump(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : sortKeys(item)));
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) sorted[key] = sortKeys(member);
    }
    return sorted;
  }
  return value;
}

export const deepEqual = (a: unknown, b: unknown): boolean => stableDump(a) === stableDump(b);

/**
 * True when every member of `desired` is present in `live` with the same value: objects may have
 * extra members in `live` (defaults), arrays must have the same length and match element-wise.
 */
export function containsDesired(live: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      live.length === desired.length &&
      desired.every((item, index) => containsDesired(live[index], item))
    );
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired).every(([key, value]) =>
      containsDesired((live as Record<string, unknown>)[key], value),
    );
  }
  return live === desired;
}

export const clone = <T>(value: T): T => structuredClone(value);
