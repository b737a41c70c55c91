import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startRecordingServer,
  type Answer,
  type RecordingServer,
} from '../../test/support/recording-server.js';
import { runCli } from './main.js';
import { fakeIo } from '../../test/support/fake-io.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function server(answer: Answer): Promise<RecordingServer> {
  const started = await startRecordingServer(() => answer);
  closers.push(started.close);
  return started;
}

function writeTemp(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vireo-alert-')), name);
  writeFileSync(file, text);
  return file;
}

const providerYaml = (spec: string) => `apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata:
  name: on-call
  namespace: flagger
spec:
${spec}`;

const alertTest = (...args: string[]) => ['node', 'vireo', 'alert', 'test', ...args];

describe('vireo alert test', () => {
  it('sends one test message and prints the status and body; exit 0 on 2xx', async () => {
    const hook = await server({ status: 200, body: 'ok' });
    const file = writeTemp(
      'slack.yaml',
      providerYaml(`  type: slack\n  channel: alerts\n  address: ${hook.url}/services/T/B/X\n`),
    );
    const { io, stdout, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file), io)).toBe(0);
    expect(stderr()).toBe('');
    expect(stdout()).toBe('AlertProvider flagger/on-call (slack): HTTP 200\nok\n');
    expect(hook.requests).toHaveLength(1);
    const body = JSON.parse(hook.requests[0]!.body);
    expect(body).toMatchObject({
      channel: 'alerts',
      username: 'flagger',
      attachments: [
        {
          color: 'good',
          author_name: 'podinfo.test',
          text: 'Test alert from Vireo: this AlertProvider works.',
        },
      ],
    });
    expect(body.attachments[0].fields[0]).toEqual({
      title: 'Target',
      value: 'Deployment/podinfo.test',
      short: false,
    });
  });

  it('passes --severity and --message through', async () => {
    const hook = await server({ status: 200 });
    const file = writeTemp(
      'teams.yaml',
      providerYaml(`  type: msteams\n  address: ${hook.url}/webhookb2/x\n`),
    );
    const { io } = fakeIo();
    expect(await runCli(alertTest('-f', file, '--severity', 'error', '--message', 'hello'), io)).toBe(0);
    expect(JSON.parse(hook.requests[0]!.body)).toMatchObject({
      themeColor: 'FF0000',
      sections: [{ activityTitle: 'hello' }],
    });
  });

  it('exits 1 on a non-2xx answer, printing it, after a single attempt', async () => {
    const hook = await server({ status: 404, body: 'no_team' });
    const file = writeTemp('slack.yaml', providerYaml(`  type: slack\n  address: ${hook.url}/x\n`));
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file), io)).toBe(1);
    expect(stderr()).toBe('AlertProvider flagger/on-call (slack): HTTP 404\nno_team\n');
    expect(hook.requests).toHaveLength(1);
  });

  it('exits 1 when nothing answers', async () => {
    const hook = await server({ status: 200 });
    await hook.close();
    const file = writeTemp('slack.yaml', providerYaml(`  type: slack\n  address: ${hook.url}/x\n`));
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file), io)).toBe(1);
    expect(stderr()).toMatch(/^vireo alert test: AlertProvider flagger\/on-call \(slack\): no answer: /);
  });

  it('refuses an invalid file, printing the findings', async () => {
    const file = writeTemp('bad.yaml', providerYaml('  type: slack\n  adress: http://127.0.0.1:1/x\n'));
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file), io)).toBe(1);
    expect(stderr()).toContain(`${file} is not a valid AlertProvider`);
    expect(stderr()).toContain('AlertProvider/on-call spec');
    expect(stderr()).toContain('adress');
  });

  it('exits 2 for a missing file', async () => {
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', '/nonexistent/provider.yaml'), io)).toBe(2);
    expect(stderr()).toContain('/nonexistent/provider.yaml: cannot read: no such file or directory');
  });

  it('names the Secret when secretRef is set and --secret-file is missing', async () => {
    const file = writeTemp('p.yaml', providerYaml('  type: slack\n  secretRef:\n    name: slack-url\n'));
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file), io)).toBe(1);
    expect(stderr()).toContain(
      'the Secret "slack-url": pass that Secret\'s manifest with --secret-file FILE',
    );
    expect(stderr()).toContain('[E_SECRET_REQUIRED]');
  });

  it('names a --secret-file that does not exist', async () => {
    const file = writeTemp('p.yaml', providerYaml('  type: slack\n  secretRef:\n    name: slack-url\n'));
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file, '--secret-file', '/nonexistent/secret.yaml'), io)).toBe(2);
    expect(stderr()).toContain(
      '--secret-file /nonexistent/secret.yaml: cannot read: no such file or directory',
    );
  });

  it('names the missing key when the Secret has no address', async () => {
    const file = writeTemp('p.yaml', providerYaml('  type: slack\n  secretRef:\n    name: slack-url\n'));
    const secret = writeTemp(
      's.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: slack-url}\nstringData: {token: t}\n',
    );
    const { io, stderr } = fakeIo();
    expect(await runCli(alertTest('-f', file, '--secret-file', secret), io)).toBe(1);
    expect(stderr()).toContain(`the Secret "slack-url" (--secret-file ${secret}) has no "address" key`);
  });

  it("uses the Secret's address (base64 data) and token over spec.address", async () => {
    const specHook = await server({ status: 200 });
    const secretHook = await server({ status: 200, body: 'ok' });
    const file = writeTemp(
      'p.yaml',
      providerYaml(`  type: slack\n  address: ${specHook.url}/spec\n  secretRef:\n    name: slack-url\n`),
    );
    const secret = writeTemp(
      's.json',
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'slack-url' },
        data: { address: Buffer.from(`${secretHook.url}/secret`).toString('base64') },
        stringData: { token: 'xoxb-1' },
      }),
    );
    const { io, stdout } = fakeIo();
    expect(await runCli(alertTest('-f', file, '--secret-file', secret), io)).toBe(0);
    expect(stdout()).toContain('HTTP 200');
    expect(specHook.requests).toHaveLength(0);
    expect(secretHook.requests[0]!.path).toBe('/secret');
    expect(secretHook.requests[0]!.headers.authorization).toBe('Bearer xoxb-1');
  });

  it('rejects an unknown --severity as a usage error', async () => {
    const { io } = fakeIo();
    expect(await runCli(alertTest('-f', 'x.yaml', '--severity', 'fatal'), io)).toBe(2);
  });
});
