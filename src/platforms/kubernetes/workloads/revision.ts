/**
 * The spec hash of docs/flagger-compatibility.md#26-change-detection: FNV-32a over a key-sorted dump, so the same spec always gives
 * the same hash whatever order the API server or a GitOps tool wrote the keys in.
 */
import { clone, stableDump } from './compare.js';
import { SCALE_TO_ZERO_NODE_SELECTOR } from './metadata.js';
import type { PodTemplateSpec } from './types.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** No vowels, no 0/1/3: hashes never spell words or look like other hashes' digits. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function fnv32a(text: string): number {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

export function encodeHash(value: number): string {
  let rest = value >>> 0;
  let encoded = '';
  do {
    encoded = (ALPHABET[rest % ALPHABET.length] as string) + encoded;
    rest = Math.floor(rest / ALPHABET.length);
  } while (rest > 0);
  return encoded;
}

export const specHash = (value: unknown): string => encodeHash(fnv32a(stableDump(value)));

export const podTemplateHash = (template: PodTemplateSpec): string => specHash(template);

/**
 * Scaling a DaemonSet to zero edits its nodeSelector; that must not look like a new revision,
 * and the selector the API server drops once empty must hash as the empty one.
 */
export function daemonSetTemplateHash(template: PodTemplateSpec): string {
  const copy = clone(template);
  const nodeSelector = { ...copy.spec.nodeSelector };
  delete nodeSelector[SCALE_TO_ZERO_NODE_SELECTOR];
  copy.spec.nodeSelector = nodeSelector;
  return specHash(copy);
}

export const serviceSpecHash = (spec: unknown): string => specHash(spec ?? {});
