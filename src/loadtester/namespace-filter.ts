/**
 * `--namespace-regexp`, evaluated so that no pattern can stall the server. Go (and so Flagger)
 * matches in linear time; JavaScript's engine backtracks, and a pattern such as `^(a+)+$` takes
 * longer than the age of the universe on a 40-character namespace while every request waits. Each
 * match runs with a time limit (an over-long match counts as "no match": 403, the safe answer, and is
 * logged); results that finished in time are kept per namespace.
 */
import { Script, createContext, type Context } from 'node:vm';
import type { Logger } from '../shared/logger.js';

// Generous, so that a busy machine never turns a plain pattern into a refusal; a pattern that
// needs this long is broken (see the warning below).
export const MATCH_TIME_LIMIT_MS = 250;
const CACHE_SIZE = 1_024;

export type NamespaceFilter = (namespace: string) => boolean;

export function createNamespaceFilter(pattern: RegExp | undefined, logger: Logger): NamespaceFilter {
  if (pattern === undefined) return () => true;
  const context: Context = createContext({
    pattern: new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')),
    namespace: '',
  });
  const script = new Script('pattern.test(namespace)');
  const cache = new Map<string, boolean>();
  // Compile the script now, so that the first request is not measured with the compilation.
  context['namespace'] = '';
  script.runInContext(context);
  return (namespace) => {
    const known = cache.get(namespace);
    if (known !== undefined) return known;
    let allowed: boolean;
    try {
      context['namespace'] = namespace;
      allowed = script.runInContext(context, { timeout: MATCH_TIME_LIMIT_MS }) === true;
    } catch {
      logger.warn(
        { namespaceRegexp: pattern.source, limitMs: MATCH_TIME_LIMIT_MS },
        '--namespace-regexp took too long on a namespace and counts as not matching: simplify the pattern (avoid nested repetition such as (a+)+)',
      );
      return false;
    }
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(namespace, allowed);
    return allowed;
  };
}
