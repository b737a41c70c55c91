import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSecretReader } from './file-secret-reader.js';

function writeTemp(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vireo-secret-')), 'secret.yaml');
  writeFileSync(file, text);
  return file;
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('FileSecretReader', () => {
  it('decodes data (base64) and stringData (plain, winning), as Kubernetes does', async () => {
    const file = writeTemp(
      `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {token: ${base64('from-data')}, user: ${base64('ann')}}\nstringData: {token: from-stringData}\n`,
    );
    const reader = await FileSecretReader.load(file);
    expect(await reader.read('default', 'creds')).toEqual({ token: 'from-stringData', user: 'ann' });
  });

  it('answers by name and namespace in a file of several Secrets, and lists them when the name is absent', async () => {
    const file = writeTemp(
      [
        'apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: one}\nstringData: {k: a-one}',
        'apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: two}\nstringData: {k: a-two}',
        'apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData: {k: b}',
      ].join('\n---\n'),
    );
    const reader = await FileSecretReader.load(file);
    expect(await reader.read('two', 'a')).toEqual({ k: 'a-two' });
    expect(await reader.read('elsewhere', 'b')).toEqual({ k: 'b' });
    await expect(reader.read('one', 'c')).rejects.toThrow(
      `--secret-file ${file} has no Secret "c" (it holds: a, a, b)`,
    );
  });

  it('uses the only Secret of a file under another name, with a warning', async () => {
    const file = writeTemp('apiVersion: v1\nkind: Secret\nmetadata: {name: real}\nstringData: {k: v}\n');
    const warnings: string[] = [];
    const reader = await FileSecretReader.load(file, (line) => warnings.push(line));
    expect(await reader.read('default', 'wanted')).toEqual({ k: 'v' });
    expect(warnings).toEqual([
      `warning: ${file} holds the Secret "real", the manifest refers to "wanted"; using it`,
    ]);
  });

  it('reports missing files, bad YAML and files without Secrets as unreadable input', async () => {
    await expect(FileSecretReader.load('/nonexistent/s.yaml')).rejects.toMatchObject({
      code: 'E_UNREADABLE_INPUT',
    });
    await expect(FileSecretReader.load(writeTemp('a: [unclosed'))).rejects.toThrow(/cannot parse/);
    await expect(FileSecretReader.load(writeTemp('kind: ConfigMap\n'))).rejects.toThrow(/holds no Secret/);
  });

  it('never prints a value of the Secret when its YAML is broken', async () => {
    for (const value of [
      '"pa55\\qword-value"',
      'pa55word-value: x',
      "'pa55' word-value",
      '[pa55word-value',
    ]) {
      const file = writeTemp(
        `apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: ${value}\n`,
      );
      const error = await FileSecretReader.load(file).then(
        () => undefined,
        (cause: unknown) => cause as Error,
      );
      expect(error?.message).toMatch(
        /cannot parse: line \d+, column \d+: .*\(at key stringData\.password\)$/,
      );
      expect(error?.message).not.toMatch(/pa55|word-value/);
    }
  });
});
