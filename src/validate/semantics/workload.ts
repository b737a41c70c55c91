/**
 * Workload checks beyond the schema: what the process supervisor would refuse at apply time
 * (src/platforms/local/workload-spec.ts), reported here with the field and position instead.
 */
import { error, type Finding } from '../finding.js';
import { labelProblem } from './metadata.js';
import { asFields, asList, asNumber, asText, type Fields } from './read.js';

/** Workload names become process-set names and log file names (`<name>` and `<name>-primary`). */
const SET_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,243}[a-zA-Z0-9])?$/;

export function checkWorkload(workload: Fields): Finding[] {
  const findings: Finding[] = [];
  const metadata = asFields(workload['metadata']);
  const name = asText(metadata?.['name']);
  if (name !== undefined && name !== '' && !SET_NAME.test(name)) {
    findings.push(
      error(
        ['metadata', 'name'],
        `${JSON.stringify(name)} is not a valid Workload name: use letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most 245 characters`,
      ),
    );
  }
  const namespace = asText(metadata?.['namespace']);
  const namespaceProblem = namespace === undefined ? undefined : labelProblem(namespace);
  if (namespaceProblem !== undefined) findings.push(error(['metadata', 'namespace'], namespaceProblem));
  const spec = asFields(workload['spec']);
  if (spec === undefined) return findings;
  const command = asText(spec['command']);
  if (command !== undefined && command !== '' && command.trim() === '') {
    findings.push(error(['spec', 'command'], 'must name a program, such as node or ./server'));
  }
  if (command?.includes('\0') === true) {
    findings.push(error(['spec', 'command'], 'must not contain a NUL character'));
  }
  asList(spec['args']).forEach((arg, index) => {
    if (typeof arg === 'string' && arg.includes('\0')) {
      findings.push(error(['spec', 'args', index], 'must not contain a NUL character'));
    }
  });
  for (const [key, value] of Object.entries(asFields(spec['env']) ?? {})) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      findings.push(
        error(['spec', 'env', key], "an environment variable name must be non-empty, without '='", true),
      );
    }
    if (typeof value === 'string' && value.includes('\0')) {
      findings.push(error(['spec', 'env', key], 'must not contain a NUL character'));
    }
  }
  const port = asNumber(spec['port']);
  const replicas = asNumber(spec['replicas']) ?? 1;
  if (
    port !== undefined &&
    Number.isInteger(port) &&
    port >= 1 &&
    port + Math.max(replicas, 1) - 1 > 65_535
  ) {
    findings.push(
      error(
        ['spec', 'port'],
        `leaves no room for ${replicas} replicas: replica i listens on port + i, and ${port + replicas - 1} is above 65535`,
      ),
    );
  }
  return findings;
}
