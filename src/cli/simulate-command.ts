import { parseGoDuration } from '../api/duration.js';
import type { Canary } from '../api/schema/canary.js';
import { resolveRouter } from '../routers/traits.js';
import { UsageError } from '../shared/errors.js';
import { printableLines } from '../shared/printable.js';
import { formatTimelineJson, formatTimelineText } from '../simulate/format.js';
import { simulateCanary } from '../simulate/timeline.js';
import { loadSchemaValidator } from '../api/load-validator.js';
import { formatText } from '../validate/format.js';
import { readInputs } from '../validate/inputs.js';
import { exitCodeOf, validateInputs } from '../validate/validate.js';
import { parseAllDocuments } from 'yaml';
import type { CliIo } from './main.js';

interface SimulateOptions {
  json?: boolean;
  failFrom?: string;
  name?: string;
  meshProvider: string;
}

/** Validates first: a timeline of an invalid canary would be a confident answer to the wrong question. */
export async function runSimulate(file: string, options: SimulateOptions, io: CliIo): Promise<number> {
  resolveRouter(options.meshProvider, { flag: '--mesh-provider', command: 'vireo simulate' });
  const inputs = await readInputs([file], io.readStdin);
  const report = validateInputs(inputs, {
    meshProvider: options.meshProvider,
    validator: await loadSchemaValidator(),
  });
  const status = exitCodeOf(report);
  if (status !== 0 || report.summary.warnings > 0) io.stderr(formatText(report));
  if (status !== 0) {
    io.stderr('vireo simulate: fix the problems above first\n');
    return status;
  }
  const canaries = inputs.texts
    .flatMap((input) => parseAllDocuments(input.text))
    .map((document) => document.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((object): object is Canary => object?.kind === 'Canary');
  const selected =
    options.name === undefined
      ? canaries
      : canaries.filter((canary) => canary.metadata.name === options.name);
  if (selected.length !== 1) {
    const names = canaries.map((canary) => canary.metadata.name).join(', ') || 'none';
    throw new UsageError(
      selected.length === 0
        ? `${file} holds no Canary${options.name === undefined ? '' : ` named ${options.name}`} (Canaries found: ${names})`
        : `${file} holds several Canaries (${names}): choose one with --name`,
    );
  }
  const failFromMs = options.failFrom === undefined ? undefined : parseGoDuration(options.failFrom);
  if (options.failFrom !== undefined && (failFromMs === undefined || failFromMs < 0)) {
    throw new UsageError(
      `--fail-from ${JSON.stringify(options.failFrom)} is not a duration: write it like 0s, 2m or 1m30s`,
    );
  }
  const timeline = await simulateCanary(selected[0]!, {
    meshProvider: options.meshProvider,
    failFromSeconds: failFromMs === undefined ? undefined : failFromMs / 1000,
  });
  // Webhook and metric names are the user's: shown as text, never as terminal escapes.
  io.stdout(
    options.json === true ? formatTimelineJson(timeline) : printableLines(formatTimelineText(timeline)),
  );
  return 0;
}
