/**
 * The autoscalers a Deployment target may name in `autoscalerRef`, by kind: one implementation
 * each (autoscaler.ts for HPAs, keda.ts for KEDA ScaledObjects).
 */
import type { Canary } from '../../../api/schema/canary.js';
import { HPA_AUTOSCALER, type TargetAutoscaler } from './autoscaler.js';
import { UnsupportedAutoscalerError } from './errors.js';
import { KEDA_AUTOSCALER } from './keda.js';
import { namespaceOf } from './metadata.js';

const AUTOSCALERS: Readonly<Record<string, TargetAutoscaler>> = {
  HorizontalPodAutoscaler: HPA_AUTOSCALER,
  ScaledObject: KEDA_AUTOSCALER,
};

/** The canary's autoscaler, undefined without autoscalerRef; an unknown kind is refused. */
export function autoscalerOf(canary: Canary): TargetAutoscaler | undefined {
  const ref = canary.spec.autoscalerRef;
  if (ref === undefined) return undefined;
  const autoscaler = AUTOSCALERS[ref.kind];
  if (autoscaler === undefined) {
    throw new UnsupportedAutoscalerError(
      `Canary ${canary.metadata.name}.${namespaceOf(canary)}: autoscalerRef.kind ${String(ref.kind)} is not an autoscaler Vireo manages; use ${Object.keys(AUTOSCALERS).join(' or ')}, or remove autoscalerRef`,
    );
  }
  return autoscaler;
}
