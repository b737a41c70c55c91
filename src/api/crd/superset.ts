/**
 * Compares two CRD schemas: does ours accept every object that Flagger's accepts? Used by the
 * compatibility test against the copy of Flagger's CRD in test/fixtures/flagger/crd.yaml.
 *
 * The check is structural and conservative: at every node that Flagger's schema describes, ours
 * must be of the same type (or wider: number for integer, int-or-string), allow at least the same
 * enum values and properties, require no more fields, and add no constraint Flagger lacks.
 */

type Schema = Record<string, unknown>;

const CONSTRAINT_KEYWORDS = [
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  'x-kubernetes-validations',
  'multipleOf',
] as const;

function asSchema(value: unknown): Schema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Schema) : undefined;
}

function typeAccepts(ours: Schema, theirs: Schema): boolean {
  if (ours['x-kubernetes-preserve-unknown-fields'] === true && ours['type'] === undefined) return true;
  if (ours['x-kubernetes-int-or-string'] === true) {
    return (
      theirs['x-kubernetes-int-or-string'] === true ||
      theirs['type'] === 'integer' ||
      theirs['type'] === 'string'
    );
  }
  if (ours['type'] === theirs['type']) return true;
  return ours['type'] === 'number' && theirs['type'] === 'integer';
}

/** Returns one line per incompatibility, each naming the JSON path; empty when ours is a superset. */
export function findNarrowings(ours: Schema, theirs: Schema, path = ''): string[] {
  const problems: string[] = [];
  const at = path === '' ? '(root)' : path;
  if (!typeAccepts(ours, theirs)) {
    problems.push(`${at}: type ${String(ours['type'])} does not accept Flagger's ${String(theirs['type'])}`);
    return problems;
  }
  const theirEnum = theirs['enum'] as unknown[] | undefined;
  const ourEnum = ours['enum'] as unknown[] | undefined;
  if (ourEnum !== undefined) {
    if (theirEnum === undefined) problems.push(`${at}: enum added where Flagger has none`);
    else
      for (const value of theirEnum)
        if (!ourEnum.includes(value)) problems.push(`${at}: enum lacks ${JSON.stringify(value)}`);
  }
  const theirRequired = new Set((theirs['required'] as string[] | undefined) ?? []);
  for (const field of (ours['required'] as string[] | undefined) ?? []) {
    if (!theirRequired.has(field)) problems.push(`${at}: requires ${field}, Flagger does not`);
  }
  for (const keyword of CONSTRAINT_KEYWORDS) {
    if (ours[keyword] === undefined) continue;
    // anyOf over the same branches as Flagger's oneOf accepts strictly more.
    if (keyword === 'anyOf' && JSON.stringify(ours['anyOf']) === JSON.stringify(theirs['oneOf'])) continue;
    if (JSON.stringify(ours[keyword]) !== JSON.stringify(theirs[keyword])) {
      problems.push(
        `${at}: ${keyword} ${JSON.stringify(ours[keyword])} differs from Flagger's ${JSON.stringify(theirs[keyword])}`,
      );
    }
  }
  const theirProperties = asSchema(theirs['properties']) ?? {};
  const ourProperties = asSchema(ours['properties']) ?? {};
  const oursPreserves = ours['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [name, theirChild] of Object.entries(theirProperties)) {
    const ourChild = asSchema(ourProperties[name]);
    const childPath = `${path}.${name}`;
    if (ourChild === undefined) {
      if (!oursPreserves) problems.push(`${childPath}: missing (the API server would prune it)`);
      continue;
    }
    problems.push(...findNarrowings(ourChild, asSchema(theirChild) ?? {}, childPath));
  }
  const theirItems = asSchema(theirs['items']);
  const ourItems = asSchema(ours['items']);
  if (theirItems !== undefined) {
    if (ourItems === undefined) problems.push(`${at}: items schema missing`);
    else problems.push(...findNarrowings(ourItems, theirItems, `${path}[]`));
  }
  const theirValues = asSchema(theirs['additionalProperties']);
  const ourValues = asSchema(ours['additionalProperties']);
  if (theirValues !== undefined) {
    if (ourValues === undefined) problems.push(`${at}: map values schema missing`);
    else problems.push(...findNarrowings(ourValues, theirValues, `${path}{}`));
  }
  return problems;
}
