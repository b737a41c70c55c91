{{- define "loadtester.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release name when it holds the chart name ("flagger-loadtester"), else "<release>-loadtester",
so that webhooks written for http://flagger-loadtester.<namespace>/ keep working.
*/}}
{{- define "loadtester.fullname" -}}
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

{{- define "loadtester.selectorLabels" -}}
app: {{ include "loadtester.fullname" . }}
app.kubernetes.io/name: {{ include "loadtester.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "loadtester.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 | trimSuffix "-" }}
{{ include "loadtester.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "loadtester.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "loadtester.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "loadtester.tokenSecretName" -}}
{{- default (printf "%s-token" (include "loadtester.fullname" .)) .Values.token.secretName -}}
{{- end -}}

{{- define "loadtester.refuseUnsupported" -}}
{{- if .Values.istio.enabled -}}
{{- fail "istio.enabled: Vireo has no Istio router yet, so the chart creates no Gateway or VirtualService; remove the value and reach the loadtester through its Service" -}}
{{- end -}}
{{- if .Values.appmesh.enabled -}}
{{- fail "appmesh.enabled: Vireo has no App Mesh router yet; remove the value" -}}
{{- end -}}
{{- if and .Values.rbac.create (not (has .Values.rbac.scope (list "namespace" "cluster"))) -}}
{{- fail (printf "rbac.scope: %q must be namespace or cluster when rbac.create is true" (toString .Values.rbac.scope)) -}}
{{- end -}}
{{- end -}}
