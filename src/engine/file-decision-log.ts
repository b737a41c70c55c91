/**
 * Decisions kept in files, one JSON file per canary, so that another process (the CLI, the
 * dashboard, local mode after a restart) can read why a canary did what it did. Writes go to a
 * temporary file renamed over the old one, so a reader never sees half a file.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../shared/atomic-file.js';
import type { Decision, DecisionLog } from './decisions.js';
import type { CanaryKey } from './ports.js';

export class FileDecisionLog implements DecisionLog {
  /** Serialises writes per canary: concurrent ticks of one canary must not lose records. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly directory: string,
    private readonly capacity = 50,
  ) {}

  private fileOf(key: CanaryKey): string {
    // Namespaces and names are DNS labels: no separators to escape.
    return join(this.directory, `${key.namespace}_${key.name}.json`);
  }

  private async read(key: CanaryKey): Promise<Decision[]> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.fileOf(key), 'utf8'));
      return Array.isArray(parsed) ? (parsed as Decision[]) : [];
    } catch (cause) {
      if ((cause as { code?: string }).code === 'ENOENT') return [];
      // A damaged file loses the history, never the canary.
      return [];
    }
  }

  record(key: CanaryKey, decision: Decision): Promise<void> {
    const id = `${key.namespace}/${key.name}`;
    const previous = this.pending.get(id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const kept = [...(await this.read(key)), decision].slice(-this.capacity);
      await mkdir(this.directory, { recursive: true });
      await writeFileAtomically(this.fileOf(key), `${JSON.stringify(kept, null, 2)}\n`);
    });
    this.pending.set(
      id,
      next.catch(() => undefined),
    );
    return next;
  }

  async recent(key: CanaryKey, limit = this.capacity): Promise<readonly Decision[]> {
    await this.pending.get(`${key.namespace}/${key.name}`);
    return (await this.read(key)).slice(-limit);
  }
}
