/**
 * Reading an HTTP answer whose size we do not control (a metrics backend, a chat service, a
 * webhook, an acceptance-test target) without letting it fill the memory: reading stops at the
 * cap and the stream is destroyed, which closes that connection instead of waiting for, or
 * leaking, the rest.
 */

/** A response body as undici and node:http hand it out. */
export type BodyStream = AsyncIterable<Uint8Array | string> & { destroy?(error?: Error): unknown };

export interface CappedBody {
  /** What arrived, at most the cap. */
  readonly bytes: Buffer;
  /** The body was longer than the cap; only its first `maxBytes` bytes are in `bytes`. */
  readonly truncated: boolean;
  /** The stream failed before its end; `bytes` holds what arrived before. */
  readonly error?: Error;
}

/** Reads `body` up to `maxBytes` bytes. Never rejects: a failing stream is reported in `error`. */
export async function readCappedBody(body: BodyStream, maxBytes: number): Promise<CappedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const bytes =
        typeof chunk === 'string'
          ? Buffer.from(chunk)
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (size + bytes.length > maxBytes) {
        chunks.push(bytes.subarray(0, maxBytes - size));
        // Leaving the loop early ends the iteration, which destroys the stream; the explicit call
        // covers streams whose iterator does not.
        body.destroy?.();
        return { bytes: Buffer.concat(chunks), truncated: true };
      }
      chunks.push(bytes);
      size += bytes.length;
    }
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return { bytes: Buffer.concat(chunks), truncated: false, error: failure };
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

/** The bytes as UTF-8 text; a byte-order mark is kept and a sequence cut by the cap becomes U+FFFD. */
export function bodyText(body: CappedBody): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(body.bytes);
}
