import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runHttpCheck, type HttpCheckSpec } from './http-check.js';
import { parseTargetPattern } from './targets.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A target that answers `head`, then bytes for as long as the connection stays open. */
async function endlessTarget(head: string): Promise<URL> {
  server = createServer((_request, response) => {
    response.write(head);
    const chunk = Buffer.alloc(64 * 1024, '.');
    const pump = (): void => {
      while (!response.destroyed && response.write(chunk));
      if (!response.destroyed) response.once('drain', pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
}

const spec = (url: URL, expectBody: string): HttpCheckSpec => ({
  url,
  method: 'GET',
  headers: {},
  insecure: false,
  expectBody,
  // Far longer than the check needs: it must end because the cap was reached, not the clock.
  timeoutMs: 120_000,
});

describe('runHttpCheck', () => {
  it('compares the first MiB of an endless answer instead of waiting for its end', async () => {
    const url = await endlessTarget('token: 42\n');
    const targets = { patterns: [parseTargetPattern(`127.0.0.1:${url.port}`)] };
    const passed = await runHttpCheck(spec(url, 'token: 42'), { targets });
    expect(passed).toMatchObject({ passed: true, status: 200, timedOut: false });
    expect(passed.body.length).toBe(1024 * 1024);
    const failed = await runHttpCheck(spec(url, 'not there'), { targets });
    expect(failed).toMatchObject({
      passed: false,
      reason: 'the answer (status 200) does not contain "not there"',
    });
  });
});
