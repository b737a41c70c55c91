import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLocalManifests } from './manifest.js';

const example = readFileSync(
  join(import.meta.dirname, '..', '..', '..', 'examples', 'local', 'web.yaml'),
  'utf8',
);

async function problemsOf(text: string): Promise<string> {
  return parseLocalManifests('web.yaml', text).then(
    () => 'accepted',
    (cause: unknown) => (cause as Error).message,
  );
}

describe('parseLocalManifests', () => {
  it('accepts the example', async () => {
    expect((await parseLocalManifests('web.yaml', example)).workloads).toHaveLength(1);
  });

  it('reports Workload mistakes as vireo validate does: position, field, suggestion, and no cascade', async () => {
    const problems = await problemsOf(
      example.replace('  replicas: 2', '  replica: 2').replace('  command: node', '  comand: node'),
    );
    expect(problems.split('\n')).toEqual([
      'web.yaml:8:1: Workload/web spec.command: missing required field "command"',
      'web.yaml:9:3: Workload/web spec.comand: unknown field "comand" (local mode refuses it); did you mean spec.command?',
      'web.yaml:13:3: Workload/web spec.replica: unknown field "replica" (local mode refuses it); did you mean spec.replicas?',
      'invalid: 1 file, 2 objects checked, 0 other skipped; 3 errors, 0 warnings',
    ]);
  });

  it('refuses kind: Workloads instead of ignoring it', async () => {
    const problems = await problemsOf(
      example.replace('kind: Workload\nmetadata', 'kind: Workloads\nmetadata'),
    );
    expect(problems).toContain(
      'web.yaml:4:7: Workloads/web kind: "Workloads" is not a local.vireo.dev kind; did you mean "Workload"?',
    );
    expect(problems).not.toContain('no Workload');
  });
});
