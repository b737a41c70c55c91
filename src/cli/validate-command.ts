import { loadSchemaValidator } from '../api/load-validator.js';
import { resolveRouter } from '../routers/traits.js';
import { formatJson, formatText } from '../validate/format.js';
import { readInputs } from '../validate/inputs.js';
import { exitCodeOf, validateInputs } from '../validate/validate.js';
import type { CliIo } from './main.js';

export async function runValidate(
  paths: readonly string[],
  options: { format: 'text' | 'json'; meshProvider?: string | undefined },
  io: CliIo,
): Promise<number> {
  if (options.meshProvider !== undefined) {
    resolveRouter(options.meshProvider, { flag: '--mesh-provider', command: 'vireo validate' });
  }
  const inputs = await readInputs(paths, io.readStdin);
  const report = validateInputs(inputs, {
    meshProvider: options.meshProvider,
    validator: await loadSchemaValidator(),
  });
  io.stdout(options.format === 'json' ? formatJson(report) : formatText(report));
  return exitCodeOf(report);
}
