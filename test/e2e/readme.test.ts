/**
 * The README's promises, checked on the built binary: exactly two set-up commands at the top,
 * CI runs the second, the first runs the demo, and the documented outputs are what users get.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repository = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(repository, 'README.md'), 'utf8');

function vireo(...args: string[]) {
  return spawnSync(process.execPath, [join(repository, 'bin', 'vireo.js'), ...args], {
    cwd: repository,
    encoding: 'utf8',
  });
}

function firstCodeBlockCommands(): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '');
}

describe('README', () => {
  it('starts with exactly two set-up commands: the demo, then the whole test suite', () => {
    const commands = firstCodeBlockCommands();
    expect(commands).toHaveLength(2);
    expect(commands[0]).toContain('npm run demo');
    expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('## '));
  });

  it('is what CI runs', () => {
    const testCommand = firstCodeBlockCommands()[1]!;
    expect(readFileSync(join(repository, '.ci', 'run'), 'utf8')).toContain(testCommand.replace(/^bash /, ''));
  });

  it('the demo command runs the demo and exits 0', () => {
    const result = spawnSync('npm', ['run', 'demo', '--silent'], { cwd: repository, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('V2 was rolled back automatically and V3 promoted');
  });

  it('shows exactly the validate output users get, for a file that exists', () => {
    const block = /```console\n\$ vireo validate (\S+)\n([\s\S]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    const [, file, documented] = block!;
    const result = vireo('validate', file!);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(documented);
  });

  it('ships examples that pass their own checks without a warning (examples/mistakes aside)', () => {
    const result = vireo('validate', 'examples/podinfo-canary.yaml', 'examples/demo', 'examples/local');
    expect(result.status, result.stdout).toBe(0);
    expect(result.stdout).toMatch(
      /^valid: 3 files, 4 objects checked, 0 other skipped; 0 errors, 0 warnings\n$/,
    );
  });

  it('shows the simulate output users get for the example', () => {
    const result = vireo('simulate', 'examples/podinfo-canary.yaml');
    expect(result.status).toBe(0);
    const table = /\$ vireo simulate examples\/podinfo-canary.yaml\n([\s\S]*?)\n…/.exec(readme)?.[1];
    expect(table).toBeDefined();
    expect(result.stdout).toContain(table!);
  });

  it('vireo --help lists the commands', () => {
    const result = vireo('--help');
    expect(result.status).toBe(0);
    for (const command of ['validate', 'simulate', 'demo']) expect(result.stdout).toContain(command);
  });
});
