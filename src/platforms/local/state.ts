/**
 * Local mode's persistent state: what Kubernetes would keep in etcd. One JSON file in the state
 * directory, rewritten atomically (write a temporary file, fsync, rename) after every change, so
 * a Vireo killed at any moment restarts from the last complete state: canary statuses, the
 * routes in force, the spec the primary runs and whether the canary side is scaled to zero.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CanaryStatus } from '../../api/schema/canary.js';
import type { Routes } from '../../engine/progression.js';
import type { AffinityCookies, CanaryKey, StatusStore } from '../../engine/ports.js';
import { writeFileAtomically } from '../../shared/atomic-file.js';
import { VireoError } from '../../shared/errors.js';
import type { WorkloadSpec } from './workload-spec.js';

export interface CanaryState {
  status: CanaryStatus;
  routes: Routes;
  cookies?: AffinityCookies;
  /** The spec `<target>-primary` runs; absent before initialization. */
  primarySpec?: WorkloadSpec;
  /**
   * The spec of the revision under analysis, which the target's processes run (`status.lastAppliedSpec`
   * is its hash) and which promotion copies; absent before the first revision (docs/local/workloads.md).
   */
  canarySpec?: WorkloadSpec;
  /** Engine-clock epoch ms when the target's processes moved to `canarySpec`: its traffic counts from then. */
  canarySince?: number;
  targetScaledToZero: boolean;
  /** The id of the last operator request the daemon answered (src/platforms/local/operator-requests.ts). */
  requestDone?: string;
}

interface StateFile {
  version: 1;
  canaries: Record<string, CanaryState>;
}

export class LocalStateError extends VireoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LOCAL_STATE', message, options);
  }
}

export const keyText = (key: CanaryKey): string => `${key.namespace}/${key.name}`;

const INITIAL_ROUTES: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };

export class LocalStateStore implements StatusStore {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly state: StateFile,
  ) {}

  /** Opens (or creates) `<directory>/state.json`. */
  static async open(directory: string): Promise<LocalStateStore> {
    const file = join(directory, 'state.json');
    await mkdir(directory, { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      if ((cause as { code?: string }).code !== 'ENOENT') {
        throw new LocalStateError(`cannot read ${file}: ${String(cause)}`, { cause });
      }
    }
    if (text === undefined) return new LocalStateStore(file, { version: 1, canaries: {} });
    try {
      const parsed = JSON.parse(text) as StateFile;
      if (parsed.version !== 1 || typeof parsed.canaries !== 'object') throw new Error('unknown layout');
      return new LocalStateStore(file, parsed);
    } catch (cause) {
      throw new LocalStateError(
        `${file} is not a Vireo local state file (${String(cause)}): move it away to start afresh`,
        { cause },
      );
    }
  }

  get path(): string {
    return this.file;
  }

  keys(): CanaryKey[] {
    return Object.keys(this.state.canaries).map((text) => {
      const [namespace = 'default', name = ''] = text.split('/');
      return { namespace, name };
    });
  }

  /** The canary's state, created (all traffic on the primary) on first use. */
  get(key: CanaryKey): CanaryState {
    const text = keyText(key);
    let entry = this.state.canaries[text];
    if (entry === undefined) {
      entry = { status: {}, routes: { ...INITIAL_ROUTES }, targetScaledToZero: false };
      this.state.canaries[text] = entry;
    }
    return entry;
  }

  peek(key: CanaryKey): CanaryState | undefined {
    return this.state.canaries[keyText(key)];
  }

  /** Changes a canary's state and persists it before resolving. */
  async change(key: CanaryKey, apply: (state: CanaryState) => void): Promise<CanaryState> {
    const entry = this.get(key);
    apply(entry);
    await this.persist();
    return entry;
  }

  async remove(key: CanaryKey): Promise<void> {
    delete this.state.canaries[keyText(key)];
    await this.persist();
  }

  async update(key: CanaryKey, change: (status: CanaryStatus) => CanaryStatus): Promise<CanaryStatus> {
    const entry = await this.change(key, (state) => {
      state.status = change(structuredClone(state.status));
    });
    return entry.status;
  }

  /** Writes are serialized: each waits for the previous rename, so the file never goes back in time. */
  private persist(): Promise<void> {
    const snapshot = JSON.stringify(this.state, null, 2);
    const next = this.writing.then(() => writeFileAtomically(this.file, snapshot, { mode: 0o600 }));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
