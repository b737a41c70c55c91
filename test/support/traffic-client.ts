/**
 * The test's clients: a few HTTP/1.1 connections sending GET / through Traefik with the
 * Ingress's Host header (fetch cannot set Host), recording for each answer when it was sent, its
 * status and the version that answered (the demo service's `x-version` header).
 */
import { Agent, request } from 'node:http';

export interface Answer {
  /** Date.now() when the request was sent. */
  readonly sentAt: number;
  readonly status: number;
  /** x-version, or '' when the answer has none (e.g. Traefik's own 404 or 502). */
  readonly version: string;
}

export interface TrafficClients {
  readonly answers: readonly Answer[];
  stop(): Promise<void>;
}

export function sendOne(url: string, host: string, agent?: Agent): Promise<Answer> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', headers: { host }, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => {
        const version = res.headers['x-version'];
        resolve({ sentAt, status: res.statusCode ?? 0, version: typeof version === 'string' ? version : '' });
      });
      res.on('error', () => resolve({ sentAt, status: 0, version: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve({ sentAt, status: 0, version: '' }));
    req.end();
  });
}

/**
 * `connections` loops each sending one request at a time, pausing `pauseMs` between requests so
 * the clients leave CPU for the components under test. Status 0 means a transport error.
 */
export function startTrafficClients(options: {
  readonly url: string;
  readonly host: string;
  readonly connections?: number;
  readonly pauseMs?: number;
}): TrafficClients {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections ?? 3 });
  const answers: Answer[] = [];
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      answers.push(await sendOne(options.url, options.host, agent));
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 20));
    }
  };
  const loops = Array.from({ length: options.connections ?? 3 }, () => loop());
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** Counts answers by "<status> <version>". */
export function tally(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const key = `${answer.status} ${answer.version || '-'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
