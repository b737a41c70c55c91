import { createServer, type Server, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { bodyText, readCappedBody } from './body.js';

let server: Server | undefined;

/** A loopback server answering every request with `answer`; resolves to its base URL. */
async function serve(answer: (response: ServerResponse) => void): Promise<string> {
  server = createServer((_request, response) => answer(response));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('readCappedBody', () => {
  it('reads a body under the cap whole', async () => {
    const url = await serve((response) => response.end('{"status":"success"}'));
    const body = await readCappedBody((await request(url)).body, 1024);
    expect(body).toEqual({ bytes: Buffer.from('{"status":"success"}'), truncated: false });
    expect(bodyText(body)).toBe('{"status":"success"}');
  });

  it('reads a body of exactly the cap whole, not truncated', async () => {
    const url = await serve((response) => response.end('x'.repeat(1024)));
    const body = await readCappedBody((await request(url)).body, 1024);
    expect(body.truncated).toBe(false);
    expect(body.bytes.length).toBe(1024);
  });

  it('stops at the cap of an endless body and closes the connection instead of waiting for the rest', async () => {
    let closed: Promise<void> | undefined;
    const url = await serve((response) => {
      closed = new Promise((resolve) => response.on('close', resolve));
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = (): void => {
        while (!response.destroyed && response.write(chunk));
        if (!response.destroyed) response.once('drain', pump);
      };
      pump();
    });
    const body = await readCappedBody((await request(url)).body, 100_000);
    expect(body.truncated).toBe(true);
    expect(body.bytes).toEqual(Buffer.alloc(100_000, 'a'));
    await closed; // the test times out if the connection stays open
  });

  it('keeps what arrived when the connection breaks mid-body, and says why', async () => {
    const url = await serve((response) => {
      response.writeHead(200, { 'content-length': '1000' });
      response.write('partial answer', () => response.destroy());
    });
    const body = await readCappedBody((await request(url)).body, 1024);
    expect(bodyText(body)).toBe('partial answer');
    expect(body.truncated).toBe(false);
    expect(body.error).toBeInstanceOf(Error);
  });

  it('turns a character cut by the cap into U+FFFD rather than failing', async () => {
    const url = await serve((response) => response.end('ééé'));
    const body = await readCappedBody((await request(url)).body, 3);
    expect(body.truncated).toBe(true);
    expect(bodyText(body)).toBe('é\uFFFD');
  });
});
