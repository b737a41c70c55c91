/**
 * `--namespace-regexp`, evaluated so that no pattern can stall the server. Go (and so Flagger)
 * matches in linear time; JavaScript's engine backtracks, and a pattern such as `^(a+)+$` takes
 * longer than the age of the universe on a 40-character namespace while every request waits. Each
 * match runs with a time limit (an over-long match counts as "no match": 403, the safe answer) and
 * results are kept per namespace, so a slow pattern costs at most one limit per namespace.
 */
import { Script, createContext, type Context } from 'node:vm';
import type { Logger } from '../shared/logger.js';

export const MATCH_TIME_LIMIT_MS = 50;
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
  return (namespace) => {
    const known = cache.get(namespace);
    if (known !== undefined) return known;
    let allowed: boolean;
    try {
      context['namespace'] = namespace;
      allowed = script.runInContext(context, { timeout: MATCH_TIME_LIMIT_MS }) === true;
    } catch {
      allowed = false;
      logger.warn(
        { namespaceRegexp: pattern.source, limitMs: MATCH_TIME_LIMIT_MS },
        '--namespace-regexp took too long on a namespace and counts as not matching: simplify the pattern (avoid nested repetition such as (a+)+)',
      );
    }
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(namespace, allowed);
    return allowed;
  };
}
