/**
 * Every stable error code Vireo reports, what it means and what to do about it. The codes appear
 * in square brackets after a CLI error (`vireo: … [E_USAGE]`), in `--json` output, in the
 * loadtester's `x-vireo-error-code` header and in log lines. docs/errors.md is generated from this
 * table (`npm run docs:errors`); error-catalog.test.ts fails when code in src/ uses a code missing
 * here, when an entry here is used nowhere, or when docs/errors.md is stale.
 */

export type ErrorArea =
  | 'Command line and input'
  | 'Canary analysis'
  | 'Metrics'
  | 'Notifiers and webhooks'
  | 'Kubernetes controller'
  | 'Local mode'
  | 'Loadtester'
  | 'Dashboard';

export interface ErrorCodeEntry {
  readonly area: ErrorArea;
  /** What happened, in the user's terms. */
  readonly meaning: string;
  /** What to do about it; "nothing" is an answer when Vireo retries by itself. */
  readonly action: string;
}

export const ERROR_CATALOG = {
  // Command line and input
  E_USAGE: {
    area: 'Command line and input',
    meaning: 'A command-line mistake: an unknown flag, a missing argument or a value out of range.',
    action:
      'Read the message: it names the flag and the accepted values. `vireo <command> --help` lists them.',
  },
  E_BUILD_INFO: {
    area: 'Command line and input',
    meaning:
      '`npm run build` (or the image build) was given a `VIREO_COMMIT` that is not a git commit (hex) or `unknown`, or a `VIREO_VERSION` other than package.json’s.',
    action:
      'Set `VIREO_COMMIT` to `git rev-parse HEAD` (or leave it unset in a checkout) and leave the version to package.json.',
  },
  E_UNREADABLE_INPUT: {
    area: 'Command line and input',
    meaning:
      'An input could not be read at all: a missing file, a directory without manifests, or YAML that does not parse.',
    action: 'Check the path and the YAML at the line the message names.',
  },
  E_INVALID_SPEC: {
    area: 'Command line and input',
    meaning: 'A manifest parsed but does not describe a runnable canary (a missing or contradictory field).',
    action: 'Fix the field the message names; `vireo validate FILE` checks a manifest without running it.',
  },
  E_SECRET_REQUIRED: {
    area: 'Command line and input',
    meaning:
      'A command needs a Secret (provider credentials, a webhook URL) and was given no way to read it.',
    action: 'Pass the Secret’s manifest with `--secret-file FILE`, or a cluster with `--kubeconfig FILE`.',
  },
  E_CANARY_NOT_FOUND: {
    area: 'Command line and input',
    meaning:
      '`vireo status`, `explain` or `get NAME` named a canary that is not in that namespace (of the cluster, or of local mode with `--local`).',
    action: 'Check the name and namespace (`-n`); `vireo get canaries -A` lists them all.',
  },
  E_ACTION_FORBIDDEN: {
    area: 'Command line and input',
    meaning:
      '`vireo promote`, `abort`, `pause`, `resume` or `retry` (or the dashboard) was refused by RBAC: the caller may not `patch` canaries in that namespace.',
    action:
      'Ask your cluster admin for the `patch` verb on `canaries.flagger.app` in the namespace (docs/cli-operations.md lists the RBAC per command).',
  },
  E_REQUEST_PENDING: {
    area: 'Command line and input',
    meaning:
      'An action was refused because an earlier request on the canary (`vireo.dev/request`) has not been answered by the controller yet; writing would replace it unseen.',
    action:
      'Wait for the answer (`vireo explain NAME`), check that the controller (or `vireo local up`) runs, or remove the request as the message says.',
  },
  E_CANARY_PAUSED: {
    area: 'Command line and input',
    meaning:
      '`vireo promote`, `abort` or `retry` on a paused canary (`spec.suspend: true`): the controller does not act on a paused canary.',
    action: '`vireo resume NAME --reason ...` first, then ask again.',
  },
  E_CONFIRMATION_REQUIRED: {
    area: 'Command line and input',
    meaning: 'An action asks for confirmation, and there is no terminal to ask on (a script, CI).',
    action: 'Pass `--yes` to act without a question.',
  },
  E_WAIT_TIMEOUT: {
    area: 'Command line and input',
    meaning: '`--wait` saw no outcome of the action within `--timeout`; the request stays written.',
    action:
      'Look at `vireo status NAME` and `vireo explain NAME`; if the controller never answered, check that it runs. Raise `--timeout` for long analyses.',
  },
  E_SECRET_NOT_FOUND: {
    area: 'Command line and input',
    meaning: 'The Secret a template or alert provider refers to does not exist where Vireo looked.',
    action: 'Create the Secret in the canary’s namespace, or pass it with `--secret-file FILE`.',
  },
  E_SECRET_ACCESS: {
    area: 'Command line and input',
    meaning: 'The Secret exists but could not be read (RBAC, or a file that cannot be opened).',
    action:
      'Give the controller’s service account `get` on Secrets in that namespace, or pass the Secret with `--secret-file FILE`.',
  },
  E_SECRET_KEY: {
    area: 'Command line and input',
    meaning: 'The Secret lacks the key the provider reads (for alert providers, `address`).',
    action: 'Add the key the message names to the Secret.',
  },
  E_TEMPLATE_VARIABLE: {
    area: 'Command line and input',
    meaning:
      'A MetricTemplate query uses `{{ variables.NAME }}` and the canary (or the command) gives no value for it.',
    action:
      'Add the variable to the metric’s `templateVariables`; with `vireo metrics query`, pass `--var NAME=VALUE`.',
  },

  // Canary analysis
  E_TEMPLATE_FIELD: {
    area: 'Canary analysis',
    meaning: 'A MetricTemplate query uses a `{{ … }}` field Vireo does not know.',
    action:
      'Use the fields Flagger documents (name, namespace, target, service, ingress, route, interval, variables.*); see docs/metrics.',
  },
  E_CHECK_KIND: {
    area: 'Canary analysis',
    meaning:
      'Two check kinds with the same name were registered with the engine (a programming error in an embedding of the engine).',
    action: 'Give each check kind its own name when extending the check registry (docs/engine.md).',
  },
  E_JUDGE_SETTINGS: {
    area: 'Canary analysis',
    meaning:
      'The `vireo.dev/judge` annotation of a Canary is not JSON, or a field of it is unknown or out of range; the judge check fails and says which field.',
    action:
      'Fix the field the message names (docs/judge.md "Settings"); `{}` enables the judge with its defaults.',
  },
  E_SIMULATION: {
    area: 'Canary analysis',
    meaning:
      '`vireo simulate` ran the engine and it stopped with an error: a bug of the engine or of simulate, not of the manifest.',
    action: 'Report it with the manifest; `vireo validate` checks the manifest itself.',
  },
  E_TEMPLATE_NOT_FOUND: {
    area: 'Canary analysis',
    meaning:
      'A metric’s `templateRef` names a MetricTemplate that does not exist. The check fails, which counts towards the failure threshold.',
    action:
      'Create the MetricTemplate in the namespace the reference names (the canary’s by default), or fix the reference.',
  },
  E_NO_VALUES: {
    area: 'Canary analysis',
    meaning: 'The metric query returned no data for the interval, so the check cannot pass.',
    action:
      'Run the query without label filters (`vireo metrics query`) to see which series exist; check the labels and that the canary receives traffic.',
  },
  E_MULTIPLE_VALUES: {
    area: 'Canary analysis',
    meaning: 'The metric query returned several series where a check needs one number.',
    action: 'Aggregate the query, for example with `sum(...)` or `max(...)`.',
  },
  E_STATUS_CONFLICT: {
    area: 'Canary analysis',
    meaning:
      'The canary’s status changed under Vireo between reading and writing it (another writer, or a stale cache).',
    action:
      'Nothing: the step is retried from the newer status. If it repeats, check that only one controller runs per canary.',
  },
  E_REVISION_NOT_ANALYSED: {
    area: 'Canary analysis',
    meaning:
      'Local mode found no workload spec matching the revision that was analysed, so it promotes nothing.',
    action: 'Nothing is promoted; apply the manifest again to start an analysis of the revision you want.',
  },

  // Metrics
  E_METRIC_QUERY: {
    area: 'Metrics',
    meaning:
      'The metrics backend could not be reached, refused the query, or answered with something that is not a result (including answers over 16 MiB).',
    action:
      'Check `spec.provider.address` and the credentials; the message has the backend’s own words. Try the query with `vireo metrics query`.',
  },
  E_METRIC_PROVIDER_CONFIG: {
    area: 'Metrics',
    meaning:
      'A MetricTemplate’s provider settings or Secret lack something the provider needs (an address, a key, a region).',
    action: 'Add the field or Secret key the message names; docs/metrics lists what each provider needs.',
  },
  E_UNKNOWN_METRIC_PROVIDER: {
    area: 'Metrics',
    meaning: 'A MetricTemplate’s `spec.provider.type` names a provider Vireo does not have.',
    action: 'Use one of the provider types the message lists.',
  },

  // Notifiers and webhooks
  E_UNKNOWN_NOTIFIER: {
    area: 'Notifiers and webhooks',
    meaning: 'An AlertProvider’s `spec.type` is not a chat service Vireo can post to.',
    action: 'Use one of the types the message lists.',
  },
  E_NOTIFIER_ADDRESS: {
    area: 'Notifiers and webhooks',
    meaning:
      'An AlertProvider’s address (or the `address` key of its Secret) is missing or not an http(s) URL.',
    action: 'Set `spec.address` or the Secret’s `address` key to the service’s webhook URL.',
  },
  E_GLOBAL_NOTIFIER: {
    area: 'Notifiers and webhooks',
    meaning: 'The controller’s own Slack settings are incomplete (a URL without a channel).',
    action: 'Set `--slack-channel` (or `SLACK_CHANNEL`) along with `--slack-url`.',
  },
  E_WEBHOOK_HEADER: {
    area: 'Notifiers and webhooks',
    meaning:
      'A key of a webhook’s header Secret cannot be sent as an HTTP header (a name or value with forbidden characters).',
    action: 'Rename or fix the Secret key the message names; its value is never printed.',
  },
  E_WEBHOOK_JSON: {
    area: 'Notifiers and webhooks',
    meaning: 'A webhook’s metadata holds a value that cannot be encoded as JSON the way Flagger sends it.',
    action: 'Use strings, numbers, booleans, lists and maps only in the webhook’s `metadata`.',
  },
  E_WEBHOOK_TIMEOUT: {
    area: 'Notifiers and webhooks',
    meaning: 'A webhook did not answer within its `timeout`; the attempt counts as failed.',
    action:
      'Raise the webhook’s `timeout`, or make the hook answer sooner (long work can run in the background behind a gate).',
  },

  // Kubernetes controller
  E_CONTROLLER_START: {
    area: 'Kubernetes controller',
    meaning:
      '`vireo controller` could not start: the kubeconfig, the API server or a required resource was not usable.',
    action:
      'Read the message; check `--kubeconfig`, that the CRDs are installed and that the service account has the RBAC in the chart.',
  },
  E_CONTROLLER_LISTEN: {
    area: 'Kubernetes controller',
    meaning: 'The controller could not listen on its metrics and health port.',
    action: 'Choose another `--port`, or stop what holds it.',
  },
  E_LEADER_ELECTION_CONFIG: {
    area: 'Kubernetes controller',
    meaning:
      'The leader-election durations contradict each other (the renew deadline must be shorter than the lease).',
    action: 'Fix the leader-election flags as the message says.',
  },
  E_LEADER_ELECTION_STATE: {
    area: 'Kubernetes controller',
    meaning: 'The leader elector was used out of order (started twice, or after it stopped): a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_INFORMER_FORBIDDEN: {
    area: 'Kubernetes controller',
    meaning: 'RBAC does not let the controller list or watch a resource it needs.',
    action:
      'Apply the ClusterRole from the chart (or add `list` and `watch` on the resource the message names).',
  },
  E_INFORMER_RESOURCE_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The API server does not serve a resource the controller watches (its CRD is not installed).',
    action: 'Install the CRDs (`kubectl apply -f crds/`), or the router’s own CRDs for the provider you use.',
  },
  E_INFORMER_STOPPED: {
    area: 'Kubernetes controller',
    meaning: 'The controller was stopped before it had read the cluster for the first time.',
    action: 'Nothing: it happens on a shutdown during start-up.',
  },
  E_INFORMER_RESTARTED: {
    area: 'Kubernetes controller',
    meaning: 'A watch of the cluster was started again after it stopped: a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_KUBE_API_CLIENT: {
    area: 'Kubernetes controller',
    meaning:
      'Code in the controller asked client-node for one of its generated API clients, which the controller does not load (docs/controller.md "Memory"): a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_KUBE_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 404: the object (or its namespace) does not exist.',
    action: 'Create the object the message names, or fix the reference to it.',
  },
  E_KUBE_CONFLICT: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 409: the object changed since Vireo read it.',
    action: 'Nothing: Vireo reads it again and retries.',
  },
  E_KUBE_ALREADY_EXISTS: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 409 AlreadyExists to a create.',
    action: 'Nothing in most cases: Vireo adopts or updates the object it meant to create.',
  },
  E_KUBE_GONE: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 410: a watch asked for a version too old to replay.',
    action: 'Nothing: Vireo lists again and resumes watching.',
  },
  E_KUBE_INVALID: {
    area: 'Kubernetes controller',
    meaning: 'The API server refused an object as invalid (400 or 422).',
    action:
      'Read the API server’s reason in the message; it usually names a field of the target or of a generated object.',
  },
  E_KUBE_FORBIDDEN: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 403: RBAC does not allow this request.',
    action:
      'Grant the verb and resource the message names to the controller’s service account (see the chart’s ClusterRole).',
  },
  E_KUBE_UNAUTHORIZED: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 401: the credentials are missing, expired or wrong.',
    action: 'Check the kubeconfig’s user or the service account token.',
  },
  E_KUBE_TOO_MANY_REQUESTS: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered 429: it sheds load.',
    action:
      'Nothing: Vireo backs off and retries. If it persists, check the API server’s priority and fairness settings.',
  },
  E_KUBE_SERVER: {
    area: 'Kubernetes controller',
    meaning: 'The API server answered with a 5xx or an unexpected status.',
    action: 'Nothing at first: Vireo retries. If it persists, check the API server’s health.',
  },
  E_KUBE_TRANSPORT: {
    area: 'Kubernetes controller',
    meaning: 'No answer from the API server: connection refused, TLS failure, or timeout.',
    action: 'Check the server address in the kubeconfig and the network path to it; Vireo retries meanwhile.',
  },
  E_CANARY_GONE: {
    area: 'Kubernetes controller',
    meaning: 'A canary was deleted while Vireo was writing its status; the write is dropped.',
    action: 'Nothing.',
  },
  E_CANARY_UID: {
    area: 'Kubernetes controller',
    meaning:
      'A Canary without `metadata.uid` reached the controller, so generated objects could not be owned by it: a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_TARGET_SELECTOR: {
    area: 'Kubernetes controller',
    meaning:
      'The target’s `spec.selector.matchLabels` has none of the selector labels Vireo uses to build the primary.',
    action:
      'Add one of the labels the message lists (with the same value on the pod template), or start the controller with `--selector-labels` naming the label the target uses.',
  },
  E_SERVICE_SPEC: {
    area: 'Kubernetes controller',
    meaning: 'The canary’s `spec.service` cannot become Services (a missing or bad port, a name clash).',
    action: 'Fix the field of `spec.service` the message names.',
  },
  E_TARGET_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The workload the canary’s `targetRef` names does not exist.',
    action: 'Create the workload, or fix `targetRef`. Vireo retries on the next tick.',
  },
  E_UNSUPPORTED_TARGET: {
    area: 'Kubernetes controller',
    meaning: 'The `targetRef` kind is not one the controller runs.',
    action:
      'Use a Deployment, DaemonSet or Service target; a local-mode `Workload` runs with `vireo local apply`.',
  },
  E_UNSUPPORTED_AUTOSCALER: {
    area: 'Kubernetes controller',
    meaning: 'The `autoscalerRef` kind is not one the controller manages.',
    action:
      'Use a HorizontalPodAutoscaler (autoscaling/v2) or a KEDA ScaledObject (keda.sh/v1alpha1), or remove `autoscalerRef`.',
  },
  E_WORKLOAD_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The target, its primary or its autoscaler is missing.',
    action: 'Create what the message names; Vireo retries on the next tick.',
  },
  E_CONFIG_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning:
      'A ConfigMap or Secret the pod template requires (not marked `optional`) does not exist, so the primary cannot get a copy.',
    action: 'Create it, or mark the reference `optional: true`.',
  },
  E_SECRET_TYPE_CHANGED: {
    area: 'Kubernetes controller',
    meaning: 'A Secret the target uses changed its `type`, and its primary copy cannot be updated in place.',
    action:
      'Delete the `-primary` copy the message names; Vireo creates it again (its RBAC has no delete on Secrets).',
  },
  E_TARGET_NOT_RESTORED: {
    area: 'Kubernetes controller',
    meaning:
      'With `revertOnDeletion`, the restored target did not become ready in time after the canary was deleted.',
    action: 'Check why the target’s pods are not ready; Vireo tries again on the next tick.',
  },
  E_UNKNOWN_ROUTER: {
    area: 'Kubernetes controller',
    meaning: 'The canary’s `spec.provider` (or `--mesh-provider`) names a router Vireo does not support yet.',
    action: 'Use one of the providers the message lists.',
  },
  E_ROUTER_NOT_IMPLEMENTED: {
    area: 'Kubernetes controller',
    meaning:
      'The provider is one Flagger supports, but Vireo has not built its router on this platform yet (docs/routers/README.md).',
    action:
      'Use one of the implemented providers the message lists, or keep Flagger for this canary until the router lands.',
  },
  E_INGRESS_REF: {
    area: 'Kubernetes controller',
    meaning:
      'The nginx or skipper router needs `spec.ingressRef` and the canary has none, or it names another kind.',
    action: 'Set `spec.ingressRef` to the Ingress (`networking.k8s.io/v1`) in front of the target.',
  },
  E_INGRESS_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The Ingress that `spec.ingressRef` names does not exist.',
    action: 'Create the Ingress, or fix the reference. Vireo retries on the next tick.',
  },
  E_INGRESS_BACKEND: {
    area: 'Kubernetes controller',
    meaning: 'The Ingress has no rule whose backend is the canary’s Service, so no traffic could be shifted.',
    action: 'Point a rule of the Ingress at the Service named after the target (`spec.service.name`).',
  },
  E_INGRESS_MATCH: {
    area: 'Kubernetes controller',
    meaning:
      'An `analysis.match` condition cannot be expressed with ingress-nginx canary annotations, or is set for skipper, which has no A/B testing.',
    action: 'Use one header (exact or regex) or one cookie, as docs/routers explains.',
  },
  E_TRAFFICSPLIT_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The SMI TrafficSplit `<svc>` is not there yet (linkerd, osm, smi:* routers).',
    action:
      'Nothing: the router creates it on the next reconcile. If it persists, check the TrafficSplit CRD serves the version the router writes (docs/routers/smi.md).',
  },
  E_TRAFFICSPLIT_BACKENDS: {
    area: 'Kubernetes controller',
    meaning:
      'The TrafficSplit has no `<svc>-primary` or `<svc>-canary` backend, so its weights cannot be read.',
    action: 'Leave the generated TrafficSplit to Vireo; its reconcile writes both backends again.',
  },
  E_TRAFFICSPLIT_WEIGHT: {
    area: 'Kubernetes controller',
    meaning: 'A TrafficSplit backend weight is neither a number nor a Kubernetes quantity.',
    action: 'Remove the edit; Vireo writes whole-number weights.',
  },
  E_HTTPPROXY_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The contour router’s HTTPProxy `<svc>` is not there yet.',
    action:
      'Nothing: the router creates it on the next reconcile. If it persists, check the HTTPProxy CRD is installed.',
  },
  E_HTTPPROXY_ROUTES: {
    area: 'Kubernetes controller',
    meaning:
      'The HTTPProxy’s first route has no weighted `<svc>-primary` service, so its weights cannot be read.',
    action: 'Leave the generated HTTPProxy to Vireo; its reconcile writes the routes again.',
  },
  E_HTTPPROXY_SPEC: {
    area: 'Kubernetes controller',
    meaning:
      'A Canary field cannot be expressed in a Contour HTTPProxy (a duration, a retryOn condition, an empty match).',
    action: 'Change the field the message names as it says (docs/routers/contour.md).',
  },
  E_INGRESS_WEIGHT: {
    area: 'Kubernetes controller',
    meaning: 'A canary weight outside what ingress-nginx accepts.',
    action: 'Keep weights between 0 and `maxWeight` (at most 100).',
  },
  E_KNATIVE_SERVICE_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The Knative Service named by `spec.targetRef` does not exist.',
    action: 'Create it, or fix `spec.targetRef` (apiVersion serving.knative.dev/v1, kind Service).',
  },
  E_KNATIVE_TRAFFIC_UNKNOWN: {
    area: 'Kubernetes controller',
    meaning:
      'The Knative Service reports no traffic split yet (`status.traffic`), or has no primary revision recorded.',
    action: 'Check that Knative Serving runs and reconciles the Service; Vireo retries on the next tick.',
  },
  E_TRAEFIK_SERVICE: {
    area: 'Kubernetes controller',
    meaning:
      'The TraefikService `<svc>` of the traefik router is missing, has no entry for `<svc>-primary`, or its saved original spec is unreadable.',
    action:
      'Wait a tick (the router creates and repairs it); if it persists, delete the TraefikService and Vireo creates it again.',
  },
  E_TRAEFIK_WEIGHT: {
    area: 'Kubernetes controller',
    meaning: 'A weight in the TraefikService `<svc>` is not a whole number from 0 to 100.',
    action: 'Remove the weight from the entry; Vireo sets it again.',
  },
  E_HTTPROUTE_GATEWAY_REFS: {
    area: 'Kubernetes controller',
    meaning: 'The Gateway API router needs `spec.service.gatewayRefs` and the canary has none.',
    action:
      'List the Gateway (or, for mesh routing, the Service) the HTTPRoute attaches to in `spec.service.gatewayRefs`.',
  },
  E_HTTPROUTE_MATCH: {
    area: 'Kubernetes controller',
    meaning:
      'A `spec.service.match`, `analysis.match` or `corsPolicy` condition cannot be expressed in an HTTPRoute (for example a prefix header match or a source label).',
    action:
      'Use the conditions docs/routers/gatewayapi.md lists (exact or regex headers and query parameters).',
  },
  E_HTTPROUTE_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning: 'The HTTPRoute `<svc>` is not there yet: the router creates it on its first reconcile.',
    action:
      'Nothing: the next tick retries. If it persists, check the controller may create HTTPRoutes (RBAC).',
  },
  E_HTTPROUTE_NOT_ACCEPTED: {
    area: 'Kubernetes controller',
    meaning:
      'A Gateway has not accepted the current generation of the HTTPRoute (its `Accepted` condition is not True, or older), so the analysis halts rather than judge traffic that did not move.',
    action:
      'Read the condition in `kubectl get httproute <svc> -o yaml` (status.parents) and fix the route or the Gateway; the analysis resumes once it is accepted.',
  },
  E_HTTPROUTE_SHAPE: {
    area: 'Kubernetes controller',
    meaning:
      'The HTTPRoute `<svc>` has no rule sending to both `<svc>-primary` and `<svc>-canary` (it was edited, or is a route Vireo has not taken over yet).',
    action: 'Nothing: the router’s reconcile rewrites the route on the next tick.',
  },
  E_MESH_REF: {
    area: 'Kubernetes controller',
    meaning:
      'A mesh router lacks what it routes through: `spec.routeRef` (apisix), a rule of that route whose only backend is the apex Service, or `spec.service.meshName` (appmesh v1beta1).',
    action: 'Set the field the message names (docs/routers/<provider>.md says what each router needs).',
  },
  E_MESH_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning:
      'An object a mesh router reads does not exist: the referenced ApisixRoute or Upstream, a generated Service, or its own routing object before the first reconcile.',
    action:
      'Create the referenced object or fix the reference. Generated objects are created by the next reconcile.',
  },
  E_MESH_WEIGHTS: {
    area: 'Kubernetes controller',
    meaning:
      'The weights in a routing object Vireo generated are not whole numbers from 0 to 100 (edited by hand).',
    action: 'Fix the weights, or delete the object; Vireo writes it again at 100/0 on the next reconcile.',
  },
  E_MESH_MATCH: {
    area: 'Kubernetes controller',
    meaning: "An `analysis.match` condition that the provider's routing objects cannot express.",
    action: 'Use the match operators docs/routers/<provider>.md lists for the provider.',
  },
  E_MESH_CONFLICT: {
    area: 'Kubernetes controller',
    meaning:
      'The Kuma TrafficRoute the canary needs is cluster-scoped and already belongs to another Canary, or was not made by Vireo.',
    action: 'Give the canary a `spec.service.name` no other canary uses, or delete the stray TrafficRoute.',
  },
  E_MESH_SPEC: {
    area: 'Kubernetes controller',
    meaning:
      'A `spec.service` value (timeout, retries) that the mesh cannot take, such as a duration that does not parse.',
    action: 'Write durations like `15s` or `500ms`.',
  },
  E_ISTIO_API: {
    area: 'Kubernetes controller',
    meaning:
      'The cluster serves no `networking.istio.io` API, or only a version Vireo does not write (it writes v1, else v1beta1).',
    action: 'Install Istio (at least its CRDs), or upgrade them; Vireo asks again on the next tick.',
  },
  E_ISTIO_NOT_FOUND: {
    area: 'Kubernetes controller',
    meaning:
      'The canary’s VirtualService does not exist yet, or has no route to both `<svc>-primary` and `<svc>-canary`.',
    action: 'Nothing: the router’s reconcile creates or rewrites it on the next tick.',
  },
  E_ISTIO_SPEC: {
    area: 'Kubernetes controller',
    meaning:
      'A canary field cannot be written as Istio routing: hosts or gateways with `delegation`, a match operator Istio lacks (suffix), or a cookie setting unfit for a Set-Cookie header.',
    action: 'Fix the field the message names (docs/routers/istio.md).',
  },
  E_ISTIO_ORIGINAL: {
    area: 'Kubernetes controller',
    meaning:
      'With `revertOnDeletion`, the spec saved in `flagger.kubernetes.io/original-configuration` of an adopted VirtualService is not readable JSON, so it cannot be restored.',
    action:
      'Put the VirtualService spec you want back yourself and remove the annotation; deletion then completes.',
  },

  // Local mode
  E_LOCAL_MANIFEST: {
    area: 'Local mode',
    meaning:
      'A local-mode manifest is not valid (a Workload or Canary field, or two files declaring one object).',
    action: 'Fix the field and file the message names; docs/local lists the fields.',
  },
  E_WORKLOAD_SPEC: {
    area: 'Local mode',
    meaning: 'A local Workload cannot be run as written (command, port, probe or replica count).',
    action: 'Fix the field the message names.',
  },
  E_WORKLOAD_SPAWN: {
    area: 'Local mode',
    meaning: 'A Workload’s command could not be started (not found, not executable, bad working directory).',
    action: 'Check the command and `cwd`; Vireo tries again when the manifest is applied again.',
  },
  E_WORKLOAD_NOT_READY: {
    area: 'Local mode',
    meaning: 'A Workload’s replicas did not pass their readiness probe in time.',
    action:
      'Check what the replicas print (`vireo local status` shows each one’s state) and the probe’s path and port.',
  },
  E_NO_FREE_PORT: {
    area: 'Local mode',
    meaning: 'No free loopback port could be found for a replica.',
    action: 'Free some ports (or stop other local-mode runs) and retry.',
  },
  E_LOCAL_STATE: {
    area: 'Local mode',
    meaning: 'The state directory’s `state.json` cannot be read or written.',
    action: 'Check the directory’s permissions and free space; a damaged file is named in the message.',
  },
  E_LOCAL_LOCK: {
    area: 'Local mode',
    meaning: 'The state directory’s lock file cannot be created or checked.',
    action: 'Check the directory’s permissions.',
  },
  E_LOCAL_DAEMON_RUNNING: {
    area: 'Local mode',
    meaning: 'Another `vireo local` already runs for this state directory.',
    action: 'Use `vireo local status`, or `vireo local down` before starting another.',
  },
  E_LOCAL_DAEMON: {
    area: 'Local mode',
    meaning: 'The local-mode daemon did not answer a command, or answered something that is not JSON.',
    action:
      'Run `vireo local status`; if the daemon does not answer, stop it with `vireo local down` and apply again.',
  },
  E_UNKNOWN_LOCAL_ROUTER: {
    area: 'Local mode',
    meaning: 'A Workload’s `spec.router` names a local router that does not exist.',
    action: 'Use `builtin` (the default) or `nginx`, as the message suggests.',
  },
  E_NO_ARM_OBSERVATIONS: {
    area: 'Local mode',
    meaning:
      'A check asked for per-arm request counts that this canary’s router does not record (the nginx router).',
    action: 'Use the built-in router for checks that need per-arm counts, or a check that reads Prometheus.',
  },
  E_INVALID_ROUTE: {
    area: 'Local mode',
    meaning: 'A route the local router cannot express (a port, a match or a cookie value it cannot serve).',
    action: 'Fix the field the message names.',
  },
  E_ROUTER_CLOSED: {
    area: 'Local mode',
    meaning: 'The built-in router was used after it closed: a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_UPSTREAM_PROTOCOL: {
    area: 'Local mode',
    meaning:
      'An upstream answered the built-in router with a malformed or ambiguous HTTP/1.1 answer (a bare LF, a folded header, conflicting lengths, a head over 16 KiB); the router answered 502 and closed that connection.',
    action: 'Fix the service so it answers well-formed HTTP/1.1; the 502 body names the replica.',
  },
  E_UPSTREAM_CLOSED: {
    area: 'Local mode',
    meaning:
      'An upstream closed its connection in the middle of an answer; the router cut the client’s answer short too.',
    action: 'Look at the service’s logs for the crash or restart at that time.',
  },
  E_LISTEN: {
    area: 'Local mode',
    meaning: 'Local mode could not listen on a port it was given (the router’s statistics endpoint).',
    action: 'Choose another port, or 0 for any free port.',
  },
  E_INVALID_OPTION: {
    area: 'Local mode',
    meaning:
      'A local router option is out of range (for example a retention that is not a positive whole number).',
    action: 'Fix the option the message names.',
  },
  E_INVALID_WINDOW: {
    area: 'Local mode',
    meaning: 'A built-in metric was asked for a window that is not a positive duration.',
    action: 'Use a positive `interval` on the metric.',
  },
  E_INVALID_QUANTILE: {
    area: 'Local mode',
    meaning: 'A latency quantile outside 0 to 1 was asked of the built-in router’s statistics.',
    action: 'Use a quantile such as 0.99 for p99.',
  },
  E_INVALID_INTERVAL: {
    area: 'Local mode',
    meaning: 'A built-in metric’s `interval` is not a positive duration.',
    action: 'Write it like `1m` or `30s`.',
  },
  E_NGINX_MISSING: {
    area: 'Local mode',
    meaning: 'The nginx router was chosen and nginx cannot be run.',
    action: 'Install nginx (`apt-get install nginx`) or give its path; or use the built-in router.',
  },
  E_NGINX_VERSION: {
    area: 'Local mode',
    meaning: 'The installed nginx is older than the nginx router needs.',
    action: 'Install a newer nginx, or use the built-in router.',
  },
  E_NGINX_CONFIG: {
    area: 'Local mode',
    meaning:
      'The nginx router’s configuration was refused by nginx; it is kept as `nginx.conf.rejected`, the running one is untouched.',
    action:
      'Read nginx’s words in the message; report it, since Vireo should not render a configuration nginx refuses.',
  },
  E_NGINX_START: {
    area: 'Local mode',
    meaning: 'The nginx router did not start serving its routes in time.',
    action: 'Read nginx’s error log lines in the message (a port in use is the usual cause).',
  },
  E_NGINX_RELOAD: {
    area: 'Local mode',
    meaning:
      'The nginx router did not take up a new configuration in time; nginx keeps serving the previous one.',
    action: 'Read nginx’s error log lines in the message; the next change tries again.',
  },
  E_NGINX_NOT_RUNNING: {
    area: 'Local mode',
    meaning: 'The nginx router was used after it stopped: a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_NGINX_NO_ROUTE: {
    area: 'Local mode',
    meaning: 'The nginx router was asked for a service it has no route for: a bug in Vireo.',
    action: 'Report it with the log lines before it.',
  },
  E_PROMETHEUS_START: {
    area: 'Local mode',
    meaning: 'Local mode could not start Prometheus for metric templates that query it.',
    action:
      'Install Prometheus (`apt-get install prometheus`) or give its path; the message has its own words.',
  },
  E_PROMETHEUS_RELOAD: {
    area: 'Local mode',
    meaning: 'Prometheus refused the new scrape configuration.',
    action: 'Read Prometheus’s answer in the message; the previous targets keep being scraped.',
  },
  E_PROMETHEUS_STOPPED: {
    area: 'Local mode',
    meaning: 'A metric query came in while local mode was stopping.',
    action: 'Nothing.',
  },
  E_DEMO: {
    area: 'Local mode',
    meaning:
      '`vireo demo` could not complete a step (a service did not start, a rollout did not end as the script expects).',
    action: 'Read the message; the demo’s state directory keeps the logs.',
  },
  E_DEMO_INTERRUPTED: {
    area: 'Local mode',
    meaning:
      '`vireo demo` was stopped (Ctrl-C, SIGTERM) before it finished; everything it started has stopped.',
    action: 'Nothing.',
  },
  E_DEMO_SERVICE_CONFIG: {
    area: 'Local mode',
    meaning: 'The demo service was given a setting it cannot run with.',
    action: 'Fix the environment variable or option the message names.',
  },
  E_DEMO_SERVICE_LISTEN: {
    area: 'Local mode',
    meaning: 'The demo service could not listen on its port.',
    action: 'Choose another `PORT` (0 picks a free one).',
  },

  // Loadtester
  E_LOADTESTER_LISTEN: {
    area: 'Loadtester',
    meaning: '`vireo loadtester` could not listen on its address.',
    action: 'Choose another `--port` or `--host`, or stop what holds it.',
  },
  E_LOADTESTER_INVALID_TASK: {
    area: 'Loadtester',
    meaning: 'A webhook’s payload or metadata does not describe a task the loadtester can run (400).',
    action: 'Fix the `metadata` of the webhook as the answer says; docs/loadtester.md lists the task types.',
  },
  E_LOADTESTER_INVALID_PAYLOAD: {
    area: 'Loadtester',
    meaning: 'The request body is not a webhook payload (400).',
    action: 'Send the JSON Flagger sends to webhooks (name, namespace, phase, metadata).',
  },
  E_LOADTESTER_BODY_TOO_LARGE: {
    area: 'Loadtester',
    meaning: 'The request body is larger than `--body-limit` (413).',
    action: 'Send a smaller payload, or raise `--body-limit`.',
  },
  E_LOADTESTER_BAD_REQUEST: {
    area: 'Loadtester',
    meaning: 'The request is not one the loadtester understands (4xx).',
    action: 'Check the method, path and content type against docs/loadtester.md.',
  },
  E_LOADTESTER_SHELL_SYNTAX: {
    area: 'Loadtester',
    meaning:
      'A command uses shell syntax (pipes, redirections, substitutions); the loadtester runs programs without a shell (400).',
    action:
      'Write the command as one program and its arguments, or use a task type that does what the pipe did.',
  },
  E_LOADTESTER_COMMAND_NOT_ALLOWED: {
    area: 'Loadtester',
    meaning: 'The program, subcommand or option is outside the loadtester’s allow-list (403).',
    action: 'Use one of the programs and options docs/loadtester.md lists.',
  },
  E_LOADTESTER_NAMESPACE_FORBIDDEN: {
    area: 'Loadtester',
    meaning: 'The canary’s namespace does not match `--namespace-regexp` (403).',
    action: 'Run the canary in an allowed namespace, or widen `--namespace-regexp`.',
  },
  E_LOADTESTER_TARGET_NOT_ALLOWED: {
    area: 'Loadtester',
    meaning: 'A task names a server outside the allowed targets (403).',
    action: 'Add the host (and port) to `--allow-target`.',
  },
  E_LOADTESTER_BROWSER_REQUEST: {
    area: 'Loadtester',
    meaning:
      'A request carried an `Origin` header: a web page was driving a browser at the loadtester, which it refuses (403).',
    action: 'Call the loadtester from Flagger, Vireo or a command-line client, not from a web page.',
  },
  E_LOADTESTER_HOST_REFUSED: {
    area: 'Loadtester',
    meaning:
      'Without a token the loadtester answers only requests addressed to localhost or a loopback address (403).',
    action:
      'Set `--token` (or `VIREO_LOADTESTER_TOKEN`) to serve other addresses, and send it as a bearer token.',
  },
  E_LOADTESTER_REFUSED: {
    area: 'Loadtester',
    meaning: '`vireo gate` was refused by the loadtester (a missing or wrong token).',
    action: 'Pass the loadtester’s token with `--token` (or `VIREO_LOADTESTER_TOKEN`).',
  },
  E_LOADTESTER_UNREACHABLE: {
    area: 'Loadtester',
    meaning: '`vireo gate` could not reach the loadtester.',
    action: 'Check the loadtester’s URL and that it runs.',
  },
  E_LOADTESTER_BUSY: {
    area: 'Loadtester',
    meaning: '`--max-concurrent` tasks are already running (429).',
    action: 'Nothing: Flagger retries the webhook. Raise `--max-concurrent` if it happens often.',
  },
  E_LOADTESTER_TOO_MANY_GATES: {
    area: 'Loadtester',
    meaning: 'Too many gates are open at once; the state file stays bounded (429).',
    action: 'Close gates that are no longer needed (`vireo gate close NAME.NAMESPACE --loadtester URL`).',
  },
  E_LOADTESTER_GATE_STATE: {
    area: 'Loadtester',
    meaning: 'The gate state file could not be written; the change holds in memory only (500).',
    action: 'Check the permissions and free space of the gate state directory.',
  },
  E_LOADTESTER_SHUTTING_DOWN: {
    area: 'Loadtester',
    meaning: 'The loadtester is stopping and takes no new tasks (503).',
    action: 'Nothing: Flagger retries against the next instance.',
  },
  E_LOADTESTER_INTERNAL: {
    area: 'Loadtester',
    meaning: 'The loadtester failed in a way it did not expect (500): a bug.',
    action: 'Report it with the loadtester’s log lines.',
  },
  E_DASHBOARD_UNPROTECTED: {
    area: 'Dashboard',
    meaning:
      '`vireo dashboard` (or `vireo controller --dashboard-port`) was asked to listen beyond loopback with no way to authenticate users.',
    action:
      'Pass `--token` (or set `VIREO_DASHBOARD_TOKEN`), serve a cluster (users sign in with their Kubernetes tokens), or bind `127.0.0.1`.',
  },
  E_DASHBOARD_LISTEN: {
    area: 'Dashboard',
    meaning:
      'The dashboard could not listen on `--address` (or `--dashboard-port`): the port is taken or the address is not this machine’s.',
    action: 'Pick another port or address.',
  },
  E_DASHBOARD_UNAUTHENTICATED: {
    area: 'Dashboard',
    meaning:
      'A dashboard request came without a bearer token, or with one neither the dashboard nor the API server (TokenReview) accepts (401).',
    action: 'Sign in with the dashboard token or your own Kubernetes token (`kubectl create token …`).',
  },
  E_DASHBOARD_AUTH_UNAVAILABLE: {
    area: 'Dashboard',
    meaning: 'The dashboard could not ask the API server who a token belongs to (TokenReview failed, 503).',
    action:
      'Check the API server; the dashboard’s own credentials need `create` on `tokenreviews` and `subjectaccessreviews`.',
  },
  E_DASHBOARD_FORBIDDEN: {
    area: 'Dashboard',
    meaning:
      'The signed-in user’s RBAC does not allow what the page asked for (403); the message names the verb, resource and namespace.',
    action: 'Ask for a Role granting that permission (docs/dashboard.md lists them per page and action).',
  },
  E_DASHBOARD_CSRF: {
    area: 'Dashboard',
    meaning: 'An action came from another origin, or without the page’s `x-vireo-csrf` token (403).',
    action: 'Take actions from the dashboard’s own page; scripts read the token from `GET /api/session`.',
  },
  E_DASHBOARD_BAD_HOST: {
    area: 'Dashboard',
    meaning:
      'A dashboard bound to loopback was asked for under a name that is not a loopback name (421): DNS rebinding is refused.',
    action: 'Open it as `http://127.0.0.1:PORT/` or `http://localhost:PORT/`.',
  },
  E_DASHBOARD_BAD_REQUEST: {
    area: 'Dashboard',
    meaning:
      'A dashboard API request was malformed: a missing reason, an unknown action, a wrong path or body (400, 413, 415).',
    action: 'Fix the request as the message says.',
  },
  E_DASHBOARD_NO_ROUTE: {
    area: 'Dashboard',
    meaning: 'No dashboard page or API route has that path or method (404).',
    action: 'Check the path: the API is listed in docs/dashboard.md.',
  },
  E_DASHBOARD_NO_ACTIONS: {
    area: 'Dashboard',
    meaning: 'The dashboard was started without actions (501).',
    action: 'Use `vireo dashboard` from a build that has the operations actions, or the CLI.',
  },
  E_DASHBOARD_NO_GATE: {
    area: 'Dashboard',
    meaning: 'A gate action was asked for a canary with no confirm-* webhook (409).',
    action: 'Add a confirm gate webhook pointing at a loadtester, or use the canary actions.',
  },
  E_DASHBOARD_BUSY: {
    area: 'Dashboard',
    meaning: 'Too many live pages are open on this dashboard at once (503).',
    action: 'Close some tabs and reload.',
  },
  E_DASHBOARD_INTERNAL: {
    area: 'Dashboard',
    meaning: 'The dashboard failed in a way it did not expect (500): a bug.',
    action: 'Report it with the message.',
  },
} as const satisfies Record<`E_${string}`, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export function isCatalogued(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOG, code);
}
