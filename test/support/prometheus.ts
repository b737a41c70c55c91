/**
 * A real Prometheus (Debian's `prometheus` package) on loopback for tests: a fresh TSDB in a
 * temporary directory, scraping the given targets every `scrapeIntervalSeconds`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { findFreePort } from '../../src/shared/free-port.js';

export interface TestPrometheus {
  readonly url: string;
  /** Instant query; returns the raw `data` of the answer. */
  query(promql: string): Promise<{ resultType: string; result: unknown }>;
  /** Resolves once every target has been scraped at least `count` times. */
  waitForScrapes(count: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs the process (an outage: connections to the port are refused); the TSDB stays. */
  kill(): Promise<void>;
  /** Starts a killed Prometheus again on the same port and TSDB, once it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port of each /metrics endpoint. */
  readonly targets: readonly string[];
  readonly scrapeIntervalSeconds?: number;
  readonly binary?: string;
  /** More scrape_configs entries, as Prometheus' YAML takes them (e.g. kubernetes_sd_configs). */
  readonly extraScrapeConfigs?: readonly object[];
}

export const freePort = (): Promise<number> => findFreePort();

export async function startPrometheus(options: PrometheusOptions): Promise<TestPrometheus> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-prometheus-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [
      {
        job_name: 'test',
        // The series carry their own `namespace`, `service`…; keep them as exported.
        honor_labels: true,
        static_configs: [{ targets: [...options.targets] }],
      },
      ...(options.extraScrapeConfigs ?? []),
    ],
  };
  await writeFile(join(directory, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  let child: ChildProcess;
  let exited: Promise<void>;
  let spawnFailure: Promise<never>;
  const launch = (): void => {
    child = spawn(
      options.binary ?? 'prometheus',
      [
        `--config.file=${join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const current = child;
    exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    spawnFailure = new Promise<never>((_, reject) =>
      current.once('error', (error) =>
        reject(
          new Error(
            `cannot start prometheus (${error.message}): install it with "apt-get install prometheus" or run bash scripts/test-all.sh`,
          ),
        ),
      ),
    );
    // Only the race below reads it; a failure after start-up must not be an unhandled rejection.
    spawnFailure.catch(() => undefined);
  };
  launch();

  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(directory, { recursive: true, force: true });
  };

  const query = async (promql: string): Promise<{ resultType: string; result: unknown }> => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; data: { resultType: string; result: unknown } };
    if (body.status !== 'success') throw new Error(`prometheus query failed: ${JSON.stringify(body)}`);
    return body.data;
  };

  try {
    await Promise.race([spawnFailure!, waitForReady(url, child!, output)]);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    query,
    stop,
    kill,
    async restart(): Promise<void> {
      await kill();
      launch();
      await Promise.race([spawnFailure, waitForReady(url, child, output)]);
    },
    async waitForScrapes(count: number, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const data = await query('min(count_over_time(up[5m]))');
        const result = data.result as { value: [number, string] }[];
        if (Number(result[0]?.value[1] ?? 0) >= count) return;
        if (Date.now() > deadline)
          throw new Error(`prometheus scraped fewer than ${count} times in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  };
}

async function waitForReady(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}): ${output.join('')}`);
    try {
      const response = await fetch(`${url}/-/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s: ${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
