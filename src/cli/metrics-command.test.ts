import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordingServers, type Answer } from '../../test/support/recording-server.js';
import { runCli } from './main.js';
import { fakeIo } from '../../test/support/fake-io.js';

const server = recordingServers();

function writeTemp(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vireo-metrics-')), name);
  writeFileSync(file, text);
  return file;
}

const vector = (value: string): Answer => ({
  status: 200,
  contentType: 'application/json',
  body: JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: value === '' ? [] : [{ metric: {}, value: [1, value] }] },
  }),
});

const templateYaml = (address: string, query: string, extra = '') => `apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: error-rate
  namespace: monitoring
spec:
  provider:
    type: prometheus
    address: ${address}
${extra}  query: |
${query
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
`;

const QUERY = `sum(rate(http_requests_total{namespace="{{ namespace }}", pod=~"{{ target }}-.*", route="{{ variables.route }}", status=~"5.."}[{{ interval }}]))`;
const metricsQuery = (...args: string[]) => ['node', 'vireo', 'metrics', 'query', ...args];

function queryOf(path: string | undefined, base: string): string | null {
  return new URL(path ?? '', base).searchParams.get('query');
}

describe('vireo metrics query -f', () => {
  it('renders the template, shows the query, runs it and prints the value', async () => {
    const prometheus = await server(() => vector('0.25'));
    const file = writeTemp('t.yaml', templateYaml(prometheus.url, QUERY));
    const { io, stdout, stderr } = fakeIo();
    const code = await runCli(
      metricsQuery(
        '-f',
        file,
        '--namespace',
        'test',
        '--target',
        'podinfo',
        '--interval',
        '2m',
        '--var',
        'route=/api',
      ),
      io,
    );
    expect(stderr()).toBe('');
    expect(code).toBe(0);
    const rendered =
      'sum(rate(http_requests_total{namespace="test", pod=~"podinfo-.*", route="/api", status=~"5.."}[2m]))';
    expect(stdout()).toMatch(
      new RegExp(
        `^MetricTemplate monitoring/error-rate \\(prometheus at http://127\\.0\\.0\\.1:\\d+\\)\\nquery: ${rendered.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\nvalue: 0\\.25 \\(in \\d+ ms\\)\\n$`,
      ),
    );
    expect(queryOf(prometheus.requests[0]?.path, prometheus.url)).toBe(rendered);
  });

  it('defaults the namespace to the template’s and the interval to 1m', async () => {
    const prometheus = await server(() => vector('1'));
    const file = writeTemp(
      't.yaml',
      templateYaml(prometheus.url, 'up{namespace="{{ namespace }}"}[{{ interval }}]'),
    );
    const { io } = fakeIo();
    await runCli(metricsQuery('-f', file), io);
    expect(queryOf(prometheus.requests[0]?.path, prometheus.url)).toBe('up{namespace="monitoring"}[1m]');
  });

  it('names the flag a template function needs and the missing variable', async () => {
    const file = writeTemp('t.yaml', templateYaml('http://127.0.0.1:1', QUERY));
    const first = fakeIo();
    expect(await runCli(metricsQuery('-f', file), first.io)).toBe(2);
    expect(first.stderr()).toContain('the query uses {{ target }}: pass --target');
    const second = fakeIo();
    expect(await runCli(metricsQuery('-f', file, '--target', 'podinfo'), second.io)).toBe(2);
    expect(second.stderr()).toContain('template variable "route" is not set: pass --var KEY=VALUE');
  });

  it('prints the error and a hint when nothing comes back; exit 1', async () => {
    const prometheus = await server(() => vector(''));
    const file = writeTemp('t.yaml', templateYaml(prometheus.url, 'sum(up{job="nothing"})'));
    const { io, stdout, stderr } = fakeIo();
    expect(await runCli(metricsQuery('-f', file), io)).toBe(1);
    expect(stdout()).toContain('query: sum(up{job="nothing"})\n');
    expect(stderr()).toMatch(
      /^error: prometheus: no values found .* \[E_NO_VALUES\]\nhint: the query matched no data/,
    );
  });

  it.each([
    ['null', 'null', 'with JSON null instead of an object'],
    ['a bare number', '42', 'with JSON number instead of an object'],
    [
      'JSON nested 100,000 levels deep',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      'with JSON nested more than 64 levels deep',
    ],
    [
      'an object nested deep inside',
      `{"status":"error","error":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
      'with JSON nested more than 64 levels deep',
    ],
  ])('reports an answer of %s as an error, exit 1, not a crash', async (_case, body, expected) => {
    const prometheus = await server(() => ({ status: 200, contentType: 'application/json', body }));
    const file = writeTemp('t.yaml', templateYaml(prometheus.url, 'up'));
    const { io, stderr } = fakeIo();
    expect(await runCli(metricsQuery('-f', file), io)).toBe(1);
    expect(stderr()).toContain(expected);
    expect(stderr()).toContain('[E_METRIC_QUERY]');
    expect(stderr()).not.toContain('unexpected error');
  });

  it.each(['', ' ', '0x10', 'abc'])(
    'refuses the sample value %j instead of reading it as a number',
    async (value) => {
      const prometheus = await server(() => ({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: {}, value: [1, value] }] },
        }),
      }));
      const file = writeTemp('t.yaml', templateYaml(prometheus.url, 'up'));
      const { io, stdout, stderr } = fakeIo();
      expect(await runCli(metricsQuery('-f', file), io)).toBe(1);
      expect(stdout()).not.toContain('value:');
      expect(stderr()).toContain(
        `error: prometheus: the sample value ${JSON.stringify(value)} is not a number`,
      );
    },
  );

  it('warns when the query returns several series, and says which one a check reads', async () => {
    const series = (pod: string, value: string) => ({ metric: { pod }, value: [1, value] });
    const prometheus = await server(() => ({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [series('a', '1'), series('b', '2'), series('c', '7')] },
      }),
    }));
    const file = writeTemp('t.yaml', templateYaml(prometheus.url, 'up'));
    const text = fakeIo();
    expect(await runCli(metricsQuery('-f', file), text.io)).toBe(0);
    expect(text.stdout()).toMatch(/value: 7 \(in \d+ ms\)/);
    expect(text.stderr()).toBe(
      'warning: prometheus: the query returned 3 series; using the last one, as Flagger does: aggregate them (sum, max, avg) so the check reads the value you mean\n',
    );
    const json = fakeIo();
    await runCli(metricsQuery('-f', file, '-o', 'json'), json.io);
    expect(JSON.parse(json.stdout())).toMatchObject({
      value: 7,
      warnings: [expect.stringContaining('3 series')],
    });
  });

  it('hints at the credentials on 401', async () => {
    const prometheus = await server(() => ({ status: 401, body: 'Unauthorized' }));
    const file = writeTemp('t.yaml', templateYaml(prometheus.url, 'up'));
    const { io, stderr } = fakeIo();
    expect(await runCli(metricsQuery('-f', file), io)).toBe(1);
    expect(stderr()).toContain('hint: the backend refused the credentials');
  });

  it('reads the provider Secret from --secret-file', async () => {
    const prometheus = await server(() => vector('3'));
    const file = writeTemp(
      't.yaml',
      templateYaml(prometheus.url, 'up', '    secretRef:\n      name: prom-auth\n'),
    );
    const secret = writeTemp(
      's.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: prom-auth, namespace: monitoring}\nstringData: {username: ann, password: pw}\n',
    );
    const { io } = fakeIo();
    expect(await runCli(metricsQuery('-f', file, '--secret-file', secret), io)).toBe(0);
    expect(prometheus.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('ann:pw').toString('base64')}`,
    );
  });

  it('says how to provide a Secret the template names', async () => {
    const file = writeTemp(
      't.yaml',
      templateYaml('http://127.0.0.1:1', 'up', '    secretRef:\n      name: prom-auth\n'),
    );
    const { io, stderr } = fakeIo();
    const previous = process.env['KUBECONFIG'];
    delete process.env['KUBECONFIG'];
    try {
      expect(await runCli(metricsQuery('-f', file), io)).toBe(1);
    } finally {
      if (previous !== undefined) process.env['KUBECONFIG'] = previous;
    }
    expect(stderr()).toContain(
      'MetricTemplate monitoring/error-rate reads credentials from the Secret "prom-auth": pass that Secret\'s manifest with --secret-file FILE, or a cluster with --kubeconfig FILE',
    );
  });

  it('prints one JSON object with -o json', async () => {
    const prometheus = await server(() => vector('7'));
    const file = writeTemp('t.yaml', templateYaml(prometheus.url, 'up'));
    const { io, stdout } = fakeIo();
    expect(await runCli(metricsQuery('-f', file, '-o', 'json'), io)).toBe(0);
    const report = JSON.parse(stdout()) as Record<string, unknown>;
    expect(report).toMatchObject({ subject: 'MetricTemplate monitoring/error-rate', query: 'up', value: 7 });
  });

  it('refuses an invalid template with its findings', async () => {
    const file = writeTemp(
      't.yaml',
      templateYaml('http://x', 'up').replace('type: prometheus', 'type: prometheous'),
    );
    const { io, stderr } = fakeIo();
    expect(await runCli(metricsQuery('-f', file), io)).toBe(2);
    expect(stderr()).toContain('is not a valid MetricTemplate');
    expect(stderr()).toContain('prometheus');
  });

  it('needs -f or --builtin, and --target with --builtin', async () => {
    const none = fakeIo();
    expect(await runCli(metricsQuery(), none.io)).toBe(2);
    expect(none.stderr()).toContain('pass either -f FILE (a MetricTemplate) or --builtin CHECK');
    const noTarget = fakeIo();
    expect(await runCli(metricsQuery('--builtin', 'request-duration'), noTarget.io)).toBe(2);
    expect(noTarget.stderr()).toContain('--builtin needs --target NAME');
  });
});

describe('vireo metrics query --builtin', () => {
  it('shows and runs the router’s built-in query', async () => {
    const prometheus = await server(() => vector('99.5'));
    const { io, stdout } = fakeIo();
    const code = await runCli(
      metricsQuery(
        '--builtin',
        'request-success-rate',
        '--mesh-provider',
        'nginx',
        '--metrics-server',
        prometheus.url,
        '--namespace',
        'test',
        '--target',
        'podinfo',
      ),
      io,
    );
    expect(code).toBe(0);
    expect(stdout()).toContain('built-in request-success-rate for nginx');
    expect(stdout()).toContain('ingress="podinfo", canary!=""');
    expect(stdout()).toMatch(/value: 99\.5 /);
  });
});
