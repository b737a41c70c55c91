{{/* The chart name, or nameOverride. */}}
{{- define "vireo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's full name: fullnameOverride, else the release name when it already holds the chart
name ("vireo"), else "<release>-vireo". A release named "flagger" gets "flagger-vireo", so it never
collides with the objects of Flagger's own release during a migration (docs/migrating-from-flagger.md).
*/}}
{{- define "vireo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vireo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vireo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vireo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vireo.labels" -}}
helm.sh/chart: {{ include "vireo.chart" . }}
{{ include "vireo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vireo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vireo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
A proxy value in any of the shapes Flagger users write: proxyUrl (what Flagger's template reads),
proxy as a string (what its docs say), or proxy.url (what seed write-ups use). A bare host gets
http:// so that the notifier accepts it.
*/}}
{{- define "vireo.proxy" -}}
{{- $proxy := .proxyUrl | default "" -}}
{{- if and (not $proxy) .proxy -}}
{{- if kindIs "map" .proxy -}}
{{- $proxy = .proxy.url | default "" -}}
{{- else -}}
{{- $proxy = .proxy | toString -}}
{{- end -}}
{{- end -}}
{{- $proxy = trim $proxy -}}
{{- if and $proxy (not (contains "://" $proxy)) -}}
{{- $proxy = printf "http://%s" $proxy -}}
{{- end -}}
{{- $proxy -}}
{{- end -}}

{{/* The notifier Secret's data: only the keys whose values are set. */}}
{{- define "vireo.notifierSecretData" -}}
{{- $slackProxy := include "vireo.proxy" .Values.slack -}}
{{- $teamsProxy := include "vireo.proxy" .Values.msteams -}}
{{- with .Values.slack.url }}
SLACK_URL: {{ . | toString | trim | b64enc | quote }}
{{- end }}
{{- with $slackProxy }}
SLACK_PROXY_URL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.msteams.url }}
MSTEAMS_URL: {{ . | toString | trim | b64enc | quote }}
{{- end }}
{{- with $teamsProxy }}
MSTEAMS_PROXY_URL: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* The Prometheus the controller queries. */}}
{{- define "vireo.metricsServer" -}}
{{- if .Values.prometheus.install -}}
http://{{ .Release.Name }}-prometheus:9090
{{- else -}}
{{- .Values.metricsServer -}}
{{- end -}}
{{- end -}}

{{/* Flagger values Vireo cannot honour: fail with the reason instead of doing less than asked. */}}
{{- define "vireo.refuseUnsupported" -}}
{{- if .Values.noCrossNamespaceRefs -}}
{{- fail "noCrossNamespaceRefs=true: Vireo does not refuse cross-namespace MetricTemplate and AlertProvider references yet; remove the value (see docs/helm.md)" -}}
{{- end -}}
{{- if and .Values.controlplane .Values.controlplane.kubeconfig .Values.controlplane.kubeconfig.secretName -}}
{{- fail "controlplane.kubeconfig.secretName: Vireo has no Istio router, which is what this kubeconfig is for; remove the value (see docs/helm.md)" -}}
{{- end -}}
{{- if and .Values.istio .Values.istio.kubeconfig .Values.istio.kubeconfig.secretName -}}
{{- fail "istio.kubeconfig.secretName: Vireo has no Istio router, which is what this kubeconfig is for; remove the value (see docs/helm.md)" -}}
{{- end -}}
{{- if and .Values.leaderElection.enabled (lt (int .Values.leaderElection.replicaCount) 1) -}}
{{- fail "leaderElection.replicaCount must be at least 1" -}}
{{- end -}}
{{- with .Values.threadiness -}}
{{- if not (regexMatch "^[0-9]+$" (toString .)) -}}
{{- fail (printf "threadiness: %q must be a whole number from 1 to 64" (toString .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
