import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeManifestBytes, readManifestStream } from './text-input.js';

describe('readManifestStream (standard input)', () => {
  it('stops reading past the limit and says so', async () => {
    let pulled = 0;
    const endless = new Readable({
      read() {
        pulled += 1;
        this.push(Buffer.alloc(1024, 0x23));
      },
    });
    await expect(readManifestStream(endless, 10 * 1024)).rejects.toMatchObject({
      code: 'E_UNREADABLE_INPUT',
      message: 'is larger than 0.0 MiB: manifests over 0.0 MiB are refused; split the file',
    });
    expect(pulled).toBeLessThan(100);
  });

  it('decodes UTF-8 with or without a byte order mark', async () => {
    const text = 'kind: Canary # \u00e9\n';
    expect(await readManifestStream(Readable.from([Buffer.from(`\ufeff${text}`)]))).toBe(text);
    expect(decodeManifestBytes(Buffer.from(text))).toBe(text);
  });

  it('refuses UTF-32', () => {
    expect(() => decodeManifestBytes(Buffer.from([0xff, 0xfe, 0, 0, 0x6b, 0, 0, 0]))).toThrow(/is UTF-32/);
  });
});
