/**
 * kwok Stage definitions for the test cluster (see cluster.ts).
 *
 * kwok has no built-in behaviour: without stages it refuses to start. These stages make the
 * fake Nodes Ready and walk Pods bound to them through a plausible kubelet lifecycle, with one
 * escape hatch that rollback tests need:
 *
 *   a Pod annotated `vireo.test/never-ready: "true"` goes to phase Running with its containers
 *   running but Ready=False forever (as if its readiness probe never passed). A Deployment whose
 *   pod template carries that annotation never becomes available, so with
 *   `progressDeadlineSeconds` set it gets Progressing=False, reason ProgressDeadlineExceeded.
 *
 * Selectors are gojq expressions evaluated by kwok against the object; a missing field counts
 * as "not in" any value list, which is what lets ordinary Pods (no annotation) match the ready
 * stage. Templates are Go templates whose output is patched into `.status`.
 */

/** Annotation that keeps a Pod Running but never Ready. */
export const NEVER_READY_ANNOTATION = 'vireo.test/never-ready';

/**
 * A Pod annotated `vireo.test/ready-when-serving: "true"` starts Running but not Ready, and becomes
 * Ready once it also carries `vireo.test/serving: "true"`, which the pod runner writes when the
 * Pod's process answers (test/support/pod-runner.ts): a readiness probe, so that a router is
 * never sent to an address before something listens there (docs/testing-traffic.md).
 */
export const READY_WHEN_SERVING_ANNOTATION = 'vireo.test/ready-when-serving';
export const SERVING_ANNOTATION = 'vireo.test/serving';

/** Annotation that kwok's --manage-nodes-with-annotation-selector uses to pick our fake Nodes. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const KWOK_NODE_ANNOTATION_VALUE = 'fake';

const NOT_BEING_DELETED = `
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist`;

const nodeInitialize = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: vireo-node-initialize
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select(.type == "Ready") | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - type: {{ .type | Quote }}
        status: {{ .status | Quote }}
        reason: {{ .reason | Quote }}
        message: {{ .message | Quote }}
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
      {{ end }}
      addresses:
      - type: InternalIP
        address: {{ NodeIP | Quote }}
      - type: Hostname
        address: {{ NodeName | Quote }}
      capacity:
        cpu: "32"
        memory: 128Gi
        pods: "110"
      allocatable:
        cpu: "32"
        memory: 128Gi
        pods: "110"
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
        kernelVersion: {{ printf "kwok-%s" Version | Quote }}
        osImage: kwok
        machineID: ""
        bootID: ""
        systemUUID: ""
      phase: Running
`;

// kwok renews the node Lease itself (--node-lease-duration-seconds), which is what the node
// lifecycle controller watches; this stage only keeps the Ready condition's heartbeat fresh.
const nodeHeartbeat = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: vireo-node-heartbeat
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select(.type == "Ready") | .status'
      operator: In
      values: ['True']
  delay:
    durationMilliseconds: 20000
    jitterDurationMilliseconds: 25000
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $since := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - type: {{ .type | Quote }}
        status: {{ .status | Quote }}
        reason: {{ .reason | Quote }}
        message: {{ .message | Quote }}
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $since | Quote }}
      {{ end }}
`;

// Shared by both "start the pod" stages: the IPs a kubelet would report.
const podAddresses = `
      {{ with NodeIPWith .spec.nodeName }}
      hostIP: {{ . | Quote }}
      hostIPs:
      - ip: {{ . | Quote }}
      {{ end }}
      {{ with PodIPWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "") (or .metadata.name "") (or .metadata.namespace "") }}
      podIP: {{ . | Quote }}
      podIPs:
      - ip: {{ . | Quote }}
      {{ end }}`;

function annotationIs(annotation: string, operator: 'In' | 'NotIn'): string {
  return `
    - key: '.metadata.annotations["${annotation}"]'
      operator: ${operator}
      values: ['true']`;
}

/** The readiness part of a Pod's status (its conditions and containers), Ready or not. */
function readinessStatus(ready: boolean): string {
  const readyStatus = ready ? 'True' : 'False';
  const notReadyReason = ready ? '' : '\n        reason: ContainersNotReady';
  return `      conditions:
      - type: Initialized
        status: "True"
        lastTransitionTime: {{ $now | Quote }}
      - type: ContainersReady
        status: "${readyStatus}"${notReadyReason}
        lastTransitionTime: {{ $now | Quote }}
      - type: Ready
        status: "${readyStatus}"${notReadyReason}
        lastTransitionTime: {{ $now | Quote }}
      {{ range .spec.readinessGates }}
      - type: {{ .conditionType | Quote }}
        status: "${readyStatus}"
        lastTransitionTime: {{ $now | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: ${ready}
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}`;
}

function startPodStage(name: string, annotations: string, ready: boolean): string {
  return `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:${NOT_BEING_DELETED}
    - key: '.status.phase'
      operator: In
      values: ['Pending']${annotations}
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      startTime: {{ $now | Quote }}
${readinessStatus(ready)}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}${podAddresses}
`;
}

// A Pod waiting for its process becomes Ready once the pod runner says the process answers. Only
// the readiness fields are patched: the Pod keeps its IP and start time.
const podServing = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: vireo-pod-serving
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:${NOT_BEING_DELETED}
    - key: '.status.phase'
      operator: In
      values: ['Running']${annotationIs(SERVING_ANNOTATION, 'In')}
    - key: '.status.conditions.[] | select(.type == "Ready") | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
${readinessStatus(true)}
`;

// Job pods finish on their own so Jobs (e.g. webhook-like helpers) complete.
const podComplete = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: vireo-pod-complete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:${NOT_BEING_DELETED}
    - key: '.status.phase'
      operator: In
      values: ['Running']
    - key: '.metadata.ownerReferences.[].kind'
      operator: In
      values: ['Job']
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Succeeded
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
`;

// There is no real kubelet to confirm termination, so a Pod marked for deletion is removed
// outright (kwok drops finalizers it owns and deletes with grace period 0).
const podDelete = `
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: vireo-pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
`;

/** The full kwok config file (a multi-document YAML stream). */
export function kwokStagesYaml(): string {
  return [
    nodeInitialize,
    nodeHeartbeat,
    startPodStage(
      'vireo-pod-ready',
      annotationIs(NEVER_READY_ANNOTATION, 'NotIn') + annotationIs(READY_WHEN_SERVING_ANNOTATION, 'NotIn'),
      true,
    ),
    startPodStage('vireo-pod-never-ready', annotationIs(NEVER_READY_ANNOTATION, 'In'), false),
    startPodStage(
      'vireo-pod-waiting-for-its-process',
      annotationIs(NEVER_READY_ANNOTATION, 'NotIn') + annotationIs(READY_WHEN_SERVING_ANNOTATION, 'In'),
      false,
    ),
    podServing,
    podComplete,
    podDelete,
  ]
    .map((doc) => doc.trim())
    .join('\n---\n')
    .concat('\n');
}
