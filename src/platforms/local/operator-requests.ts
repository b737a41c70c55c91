/**
 * Local mode's intake of operators' requests (docs/cli-operations.md, docs/local/README.md):
 * `vireo promote|abort|pause|resume|retry --local` write `<state-dir>/requests/<namespace>_<name>.json`
 * (the request annotation's value and, for pause and resume, `suspend`), never the user's applied
 * manifest. The daemon's catalog lays the file over the applied canary as the API server would
 * serve a patched Canary (the annotation, `spec.suspend`), and the daemon answers in state.json
 * (`requestDone`), shown as the `vireo.dev/request-done` annotation. One writer per file: the CLI
 * writes requests, the daemon writes state.json.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Canary } from '../../api/schema/canary.js';
import { REQUEST_ANNOTATION, REQUEST_DONE_ANNOTATION } from '../../engine/operator-requests.js';
import type { CanaryKey } from '../../engine/ports.js';
import { writeFileAtomically } from '../../shared/atomic-file.js';

export interface LocalRequestFile {
  /** The `vireo.dev/request` annotation's value. */
  readonly request?: string;
  /** `spec.suspend` as pause and resume set it; absent: the applied manifest's. */
  readonly suspend?: boolean;
}

export function requestFileOf(stateDirectory: string, key: CanaryKey): string {
  // Namespaces and names are DNS labels: no separators to escape.
  return join(stateDirectory, 'requests', `${key.namespace}_${key.name}.json`);
}

/** The canary's request file; a file that is not what the CLI writes is passed on as the request (the engine reports it). */
export async function readRequestFile(stateDirectory: string, key: CanaryKey): Promise<LocalRequestFile> {
  let text: string;
  try {
    text = await readFile(requestFileOf(stateDirectory, key), 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { request: text };
    const { request, suspend } = parsed as Record<string, unknown>;
    return {
      ...(typeof request === 'string' ? { request } : {}),
      ...(typeof suspend === 'boolean' ? { suspend } : {}),
    };
  } catch {
    return { request: text };
  }
}

export async function writeRequestFile(
  stateDirectory: string,
  key: CanaryKey,
  file: LocalRequestFile,
): Promise<void> {
  await mkdir(join(stateDirectory, 'requests'), { recursive: true });
  await writeFileAtomically(requestFileOf(stateDirectory, key), `${JSON.stringify(file, null, 2)}\n`, {
    mode: 0o600,
  });
}

/** The applied canary as a patched Canary would look: the request, the daemon's answer, `spec.suspend`. */
export function withOperatorRequests<T extends Canary>(
  canary: T,
  file: LocalRequestFile,
  requestDone: string | undefined,
): T {
  if (file.request === undefined && file.suspend === undefined && requestDone === undefined) return canary;
  const annotations = {
    ...canary.metadata.annotations,
    ...(file.request === undefined ? {} : { [REQUEST_ANNOTATION]: file.request }),
    ...(requestDone === undefined ? {} : { [REQUEST_DONE_ANNOTATION]: requestDone }),
  };
  return {
    ...canary,
    metadata: { ...canary.metadata, annotations },
    spec: file.suspend === undefined ? canary.spec : { ...canary.spec, suspend: file.suspend },
  };
}
