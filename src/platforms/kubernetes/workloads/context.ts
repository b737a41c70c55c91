/** What every kind's implementation is given by KubernetesWorkloads. */
import type { Backoff } from '../../../shared/backoff.js';
import type { LogWriter } from '../../../shared/logger.js';
import type { KubeClient } from '../client.js';
import type { KubernetesPlatformOptions } from '../options.js';
import type { ObjectReader } from '../reader.js';

export type WorkloadLogger = Pick<LogWriter, 'warn'>;

/** revertOnDeletion's wait for the restored target: `steps` checks, `initialMs` apart, ×`factor`. */
export interface RestoreBackoff extends Backoff {
  readonly steps: number;
}

export const RESTORE_BACKOFF: RestoreBackoff = { initialMs: 3_000, factor: 2, steps: 4 };

export interface WorkloadContext {
  readonly client: KubeClient;
  readonly reader: ObjectReader;
  readonly options: KubernetesPlatformOptions;
  readonly logger: WorkloadLogger | undefined;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly restoreBackoff: RestoreBackoff;
}
