/**
 * `match` regexes must be RE2 syntax: Istio/Envoy and local mode's built-in router (which runs
 * them in linear time, docs/local/router.md "Routing") accept nothing else. A warning rather than
 * an error because nginx (PCRE) takes more; the message says what rejects it.
 */
import { RE2JS } from 're2js';
import { warning, type Finding } from '../finding.js';
import type { FieldPath } from '../path.js';
import { asFields, asList, asText, type Fields } from './read.js';

export function checkMatchRegexes(
  analysis: Fields,
  at: (...rest: (string | number)[]) => FieldPath,
): Finding[] {
  const findings: Finding[] = [];
  for (const [index, entry] of asList(analysis['match']).entries()) {
    for (const part of ['headers', 'queryParams'] as const) {
      for (const [name, condition] of Object.entries(asFields(asFields(entry)?.[part]) ?? {})) {
        const regex = asText(asFields(condition)?.['regex']);
        if (regex === undefined) continue;
        const reason = re2SyntaxError(regex);
        if (reason !== undefined) {
          findings.push(
            warning(
              at('match', index, part, name, 'regex'),
              `not RE2 syntax (${reason}): Istio, Envoy and vireo local's router reject it; use RE2 syntax (no lookaround, no backreferences)`,
            ),
          );
        }
      }
    }
  }
  return findings;
}

function re2SyntaxError(regex: string): string | undefined {
  try {
    RE2JS.compile(regex);
    return undefined;
  } catch (cause) {
    return cause instanceof Error ? cause.message : String(cause);
  }
}
