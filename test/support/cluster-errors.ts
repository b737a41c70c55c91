import { VireoError } from '../../src/shared/errors.js';

/**
 * Stable codes of the errors the test cluster helper throws:
 * - E_CLUSTER_BINARIES_MISSING: .cache/kube/bin lacks a binary; run `bash tools/build-control-plane.sh`.
 * - E_CLUSTER_OPENSSL: generating certificates failed (is `openssl` installed?).
 * - E_CLUSTER_PROCESS_EXITED: a control-plane process died while starting (its log tail is in the message).
 * - E_CLUSTER_START_TIMEOUT: a readiness condition did not hold in time (the relevant log tail is in the message).
 * - E_CLUSTER_API: a request the helper itself made to the apiserver failed.
 * - E_CLUSTER_STOPPED: the cluster was used after stop().
 */
export type TestClusterErrorCode =
  | 'E_CLUSTER_BINARIES_MISSING'
  | 'E_CLUSTER_OPENSSL'
  | 'E_CLUSTER_PROCESS_EXITED'
  | 'E_CLUSTER_START_TIMEOUT'
  | 'E_CLUSTER_API'
  | 'E_CLUSTER_STOPPED';

export class TestClusterError extends VireoError {
  declare readonly code: TestClusterErrorCode;

  constructor(code: TestClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
