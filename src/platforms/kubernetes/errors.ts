/**
 * API errors normalised at one boundary (the client): the Status object's code and reason become
 * an Error subclass with a stable code. Messages name the object and never carry response
 * headers or bodies beyond the API's own one-line message.
 */
import { VireoError } from '../../shared/errors.js';

export type KubeErrorCode =
  | 'E_KUBE_NOT_FOUND'
  | 'E_KUBE_CONFLICT'
  | 'E_KUBE_ALREADY_EXISTS'
  | 'E_KUBE_GONE'
  | 'E_KUBE_INVALID'
  | 'E_KUBE_FORBIDDEN'
  | 'E_KUBE_UNAUTHORIZED'
  | 'E_KUBE_TOO_MANY_REQUESTS'
  | 'E_KUBE_SERVER'
  | 'E_KUBE_TRANSPORT';

export class KubeApiError extends VireoError {
  constructor(
    code: KubeErrorCode,
    message: string,
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The code of an HTTP status, with the Status reason to tell AlreadyExists from Conflict. */
export function kubeErrorCode(status: number, reason: string | undefined): KubeErrorCode {
  if (status === 404) return 'E_KUBE_NOT_FOUND';
  if (status === 409) return reason === 'AlreadyExists' ? 'E_KUBE_ALREADY_EXISTS' : 'E_KUBE_CONFLICT';
  if (status === 410) return 'E_KUBE_GONE';
  if (status === 422 || status === 400) return 'E_KUBE_INVALID';
  if (status === 403) return 'E_KUBE_FORBIDDEN';
  if (status === 401) return 'E_KUBE_UNAUTHORIZED';
  if (status === 429) return 'E_KUBE_TOO_MANY_REQUESTS';
  return status === 0 ? 'E_KUBE_TRANSPORT' : 'E_KUBE_SERVER';
}

export const isNotFound = (error: unknown): boolean =>
  error instanceof KubeApiError && error.code === 'E_KUBE_NOT_FOUND';
export const isConflict = (error: unknown): boolean =>
  error instanceof KubeApiError && error.code === 'E_KUBE_CONFLICT';
export const isAlreadyExists = (error: unknown): boolean =>
  error instanceof KubeApiError && error.code === 'E_KUBE_ALREADY_EXISTS';
export const isGone = (error: unknown): boolean =>
  error instanceof KubeApiError && error.code === 'E_KUBE_GONE';
