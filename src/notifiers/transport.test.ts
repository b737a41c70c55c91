import { describe, expect, it } from 'vitest';
import { startRecordingProxy, recordingServers } from '../../test/support/recording-server.js';
import { postJson } from './transport.js';

const server = recordingServers();

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: (ms: number) => (waits.push(ms), Promise.resolve()) };
}

describe('postJson', () => {
  it('POSTs JSON and returns the status and body', async () => {
    const hook = await server(() => ({ status: 200, body: 'ok' }));
    const result = await postJson({
      url: `${hook.url}/hook?x=1`,
      body: { a: 1 },
      headers: { 'x-test': 'y' },
    });
    expect(result).toEqual({ ok: true, status: 200, body: 'ok', attempts: 1 });
    expect(hook.requests[0]).toMatchObject({ method: 'POST', path: '/hook?x=1', body: '{"a":1}' });
    expect(hook.requests[0]!.headers['content-type']).toBe('application/json');
    expect(hook.requests[0]!.headers['x-test']).toBe('y');
  });

  it('retries a 500 with exponential backoff and succeeds on the next answer', async () => {
    const hook = await server((_, index) => (index === 0 ? { status: 500 } : { status: 200, body: 'ok' }));
    const { waits, sleep } = recordingSleep();
    const result = await postJson({ url: hook.url, body: {} }, { sleep, backoffMs: 100 });
    expect(result).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(waits).toEqual([100]);
  });

  it('gives up after 3 attempts of 500, waiting 1 s then 2 s by default', async () => {
    const hook = await server(() => ({ status: 503, body: 'busy' }));
    const { waits, sleep } = recordingSleep();
    const result = await postJson({ url: hook.url, body: {} }, { sleep });
    expect(result).toEqual({ ok: false, status: 503, body: 'busy', attempts: 3 });
    expect(hook.requests).toHaveLength(3);
    expect(waits).toEqual([1000, 2000]);
  });

  it('retries 429 but not other 4xx answers', async () => {
    const limited = await server((_, index) => (index === 0 ? { status: 429 } : { status: 200 }));
    expect(await postJson({ url: limited.url, body: {} }, { sleep: () => Promise.resolve() })).toMatchObject({
      ok: true,
      attempts: 2,
    });
    const gone = await server(() => ({ status: 404, body: 'no_service' }));
    expect(await postJson({ url: gone.url, body: {} }, { sleep: () => Promise.resolve() })).toEqual({
      ok: false,
      status: 404,
      body: 'no_service',
      attempts: 1,
    });
  });

  it('times out an attempt that gets no answer, and retries it', async () => {
    const hook = await server(() => ({ status: 200, hang: true }));
    const result = await postJson(
      { url: hook.url, body: {} },
      { timeoutMs: 100, attempts: 2, sleep: () => Promise.resolve() },
    );
    expect(result).toMatchObject({
      ok: false,
      status: 0,
      attempts: 2,
      error: 'timeout: no response within 100 ms',
    });
    // The error text proves each attempt ended at the timeout, not at the server's leisure.
    expect(hook.requests).toHaveLength(2);
  });

  it('reports a refused connection without quoting the URL', async () => {
    const hook = await server();
    await hook.close();
    const url = `${hook.url}/services/T000/B000/SECRETPATH`;
    const result = await postJson({ url, body: {} }, { attempts: 2, sleep: () => Promise.resolve() });
    expect(result).toMatchObject({ ok: false, status: 0, attempts: 2 });
    expect(result.error).toBeDefined();
    expect(result.error).not.toContain('SECRETPATH');
  });

  it('sends nothing to an address that is not an http(s) URL', async () => {
    expect(await postJson({ url: 'ftp://example.test/x', body: {} })).toEqual({
      ok: false,
      status: 0,
      body: '',
      attempts: 0,
      error: 'the address is not an http(s) URL',
    });
  });

  it('goes through the proxy: undici tunnels with CONNECT even to an http target', async () => {
    const hook = await server(() => ({ status: 200, body: 'via proxy' }));
    const proxy = await startRecordingProxy();
    server.onClose(proxy.close);
    const result = await postJson({ url: `${hook.url}/hook`, body: { a: 1 }, proxy: proxy.url });
    expect(result).toMatchObject({ ok: true, status: 200, body: 'via proxy' });
    expect(proxy.seen).toEqual([`CONNECT ${new URL(hook.url).host}`]);
    expect(hook.requests[0]).toMatchObject({ path: '/hook', body: '{"a":1}' });
  });
});
