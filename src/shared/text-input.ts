/**
 * Reading manifest files and standard input as text, with a size cap and an honest encoding:
 * UTF-8 (a byte order mark is dropped), or UTF-16 with a byte order mark (decoded). Anything else,
 * UTF-16 without a mark, binary files, invalid UTF-8, is refused with a message saying how to
 * convert it, instead of being read as garbage that parses as "0 objects".
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UnreadableInputError } from './errors.js';

/**
 * Far above any manifest (the API server stores objects of at most 1.5 MiB; a large CRD bundle is
 * a few MiB) and far below what exhausts the heap while parsing (a 50 MB file ran out of memory).
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

const mebibytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The message names no file: callers say which input it was ("x.yaml: cannot read: …"). */
export class InputTooLargeError extends UnreadableInputError {
  constructor(size: number | undefined, limit: number) {
    super(
      `is ${size === undefined ? `larger than ${mebibytes(limit)}` : mebibytes(size)}: manifests over ${mebibytes(limit)} are refused; split the file`,
    );
  }
}

/** A manifest's bytes as text, or UnreadableInputError saying which encoding it has instead. */
export function decodeManifestBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    if (bytes[2] === 0 && bytes[3] === 0) throw unsupported('UTF-32');
    return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xfe && bytes[3] === 0xff) throw unsupported('UTF-32');
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    throw new UnreadableInputError(
      `holds NUL bytes (at byte ${nul}): this is UTF-16 without a byte order mark, or not a text file; convert it with iconv -f UTF-16 -t UTF-8`,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UnreadableInputError(
      `is not valid UTF-8 (at byte ${firstInvalidUtf8(bytes)}): save it as UTF-8, or convert it with iconv -f LATIN1 -t UTF-8`,
    );
  }
}

function unsupported(encoding: string): UnreadableInputError {
  return new UnreadableInputError(`is ${encoding}: save it as UTF-8 (iconv -f ${encoding} -t UTF-8)`);
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let low = 0;
  let high = bytes.length;
  // The longest valid prefix, by bisection on prefixes that decode (a cut in the middle of a
  // character is valid with stream: true).
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    try {
      decoder.decode(bytes.subarray(0, middle), { stream: true });
      low = middle;
    } catch {
      high = middle - 1;
    }
  }
  // The prefix may end in the first bytes of a character that never completes: point at them.
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, low));
    return low;
  } catch {
    let start = low - 1;
    while (start > 0 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start -= 1;
    return start;
  }
}

/** A file's text; a regular file over `limit` bytes is refused before it is read. */
export async function readManifestFile(path: string, limit = MAX_MANIFEST_BYTES): Promise<string> {
  const info = await stat(path);
  if (info.isFile() && info.size > limit) throw new InputTooLargeError(info.size, limit);
  // Read as a stream all the same: a file may grow meanwhile, and a FIFO has no size.
  return readManifestStream(createReadStream(path), limit);
}

/** A stream's text (standard input), refused past `limit` bytes without reading further. */
export async function readManifestStream(
  stream: NodeJS.ReadableStream,
  limit = MAX_MANIFEST_BYTES,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > limit) {
      (stream as { destroy?: () => void }).destroy?.();
      throw new InputTooLargeError(undefined, limit);
    }
    chunks.push(bytes);
  }
  return decodeManifestBytes(Buffer.concat(chunks));
}
