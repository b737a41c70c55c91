import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger, type LogWriter } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').trim().split('\n'));
      done();
    },
  });
  return { destination, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it("writes one JSON object per line keyed as Flagger's zap logs: level, ts (ISO 8601), msg, canary", () => {
    const { destination, lines } = capture();
    const logger = createLogger({ destination });
    logger
      .child({ canary: 'podinfo.test' })
      .info({ phase: 'Progressing' }, 'Advance podinfo.test canary weight 20');
    expect(lines()).toEqual([
      {
        level: 'info',
        ts: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        canary: 'podinfo.test',
        phase: 'Progressing',
        msg: 'Advance podinfo.test canary weight 20',
      },
    ]);
  });

  it("writes an error under zap's key, error, with its message", () => {
    const { destination, lines } = capture();
    createLogger({ destination }).error(
      { canary: 'podinfo.test', err: new Error('connection refused') },
      'tick failed',
    );
    const [line] = lines();
    expect(line).toMatchObject({
      level: 'error',
      msg: 'tick failed',
      error: { message: 'connection refused' },
    });
    expect(line).not.toHaveProperty('time');
    expect(line).not.toHaveProperty('err');
  });

  it('never writes credentials', () => {
    const { destination, lines } = capture();
    createLogger({ destination }).warn(
      {
        webhook: { headers: { Authorization: 'Bearer s3cr3t' } },
        provider: { address: 'https://hooks.slack.com/T/B/X' },
      },
      'failed',
    );
    const text = JSON.stringify(lines());
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('hooks.slack.com');
    expect(text).toContain('[redacted]');
  });
});

describe('silentLogger', () => {
  it('is a full logger, children included, that writes nothing', () => {
    const logger = silentLogger();
    expect(logger.isLevelEnabled('error')).toBe(false);
    const child = logger.child({ workload: 'web' });
    expect(child.isLevelEnabled('fatal')).toBe(false);
  });
});

describe('LogWriter', () => {
  it('is satisfied by the loggers createLogger builds', () => {
    const { destination, lines } = capture();
    const writer: LogWriter = createLogger({ destination, level: 'debug' });
    writer.debug({ canary: 'podinfo.test' }, 'tick');
    writer.error({ canary: 'podinfo.test' }, 'failed');
    expect(lines().map((line) => [line['level'], line['msg']])).toEqual([
      ['debug', 'tick'],
      ['error', 'failed'],
    ]);
  });
});
