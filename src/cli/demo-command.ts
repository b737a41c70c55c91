/**
 * `vireo demo`. The live demo (real processes, real traffic through Vireo's router, a real
 * rollback with an alert) comes with local mode. Until then this command is an honest preview:
 * it runs the engine's progression rules on the demo's Canary and says what the live run will show.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Canary } from '../api/schema/canary.js';
import { formatTimelineText } from '../simulate/format.js';
import { simulateCanary, type Timeline } from '../simulate/timeline.js';
import type { CliIo } from './main.js';

const DEMO_CANARY = join(import.meta.dirname, '..', '..', 'examples', 'demo', 'canary.yaml');

function jsonEvents(version: string, timeline: Timeline, canary: string): string[] {
  return timeline.steps.map((step) =>
    JSON.stringify({
      time: step.t,
      type: step.phase === 'Failed' ? 'rollback' : step.phase === 'Succeeded' ? 'promotion' : 'step',
      canary,
      version,
      phase: step.phase,
      canaryWeight: step.canaryWeight,
      primaryWeight: step.primaryWeight,
      message: step.events.join('; '),
      preview: true,
    }),
  );
}

export async function runDemo(options: { json?: boolean }, io: CliIo): Promise<number> {
  const canary = parse(await readFile(DEMO_CANARY, 'utf8')) as Canary;
  const name = `${canary.metadata.name}.${canary.metadata.namespace ?? 'default'}`;
  const faulty = simulateCanary(canary, { failFromSeconds: 0 });
  const healthy = simulateCanary(canary);
  if (options.json === true) {
    io.stdout(`${[...jsonEvents('v2', faulty, name), ...jsonEvents('v3', healthy, name)].join('\n')}\n`);
    return 0;
  }
  io.stdout(
    [
      'Vireo demo: PREVIEW',
      '',
      'The live demo runs V1, releases a faulty V2 (30% HTTP 500s, slow responses) that is rolled back',
      'with an alert, then promotes V3, on real processes and real traffic. It arrives with local mode.',
      "Until then, here is what the engine's own rules do with the demo's Canary",
      `(${DEMO_CANARY.replace(`${process.cwd()}/`, '')}).`,
      '',
      '--- V2: every check fails ---',
      formatTimelineText(faulty),
      '--- V3: every check passes ---',
      formatTimelineText(healthy),
      'Try it on your own manifests: vireo validate FILE, vireo simulate FILE [--fail-from 2m].',
      '',
    ].join('\n'),
  );
  return 0;
}
