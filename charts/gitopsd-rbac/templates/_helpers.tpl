{{/* Name of every object this release creates (release name, with "gitopsd" added unless present). */}}
{{- define "gitopsd-rbac.fullname" -}}
{{- $base := default "gitopsd" .Values.nameOverride -}}
{{- if contains $base .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $base | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gitopsd-rbac.labels" -}}
app.kubernetes.io/name: gitopsd-rbac
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gitopsd
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gitopsd-rbac.subjectNamespace" -}}
{{- default .Values.inventory.namespace .Values.subject.namespace -}}
{{- end -}}

{{- define "gitopsd-rbac.subjects" -}}
{{- if eq .Values.subject.kind "ServiceAccount" }}
- kind: ServiceAccount
  name: {{ .Values.subject.name }}
  namespace: {{ include "gitopsd-rbac.subjectNamespace" . }}
{{- else }}
- kind: {{ .Values.subject.kind }}
  apiGroup: rbac.authorization.k8s.io
  name: {{ .Values.subject.name | quote }}
{{- end }}
{{- end -}}

{{/*
RBAC rules for a list of kinds spelt RESOURCE or RESOURCE.GROUP, one rule per API group.
Call with (dict "kinds" LIST "verbs" LIST).
*/}}
{{- define "gitopsd-rbac.rules" -}}
{{- $groups := dict -}}
{{- range .kinds -}}
{{- $parts := splitn "." 2 . -}}
{{- $group := default "" $parts._1 -}}
{{- $resources := get $groups $group | default (list) -}}
{{- $_ := set $groups $group (append $resources $parts._0 | uniq) -}}
{{- end -}}
{{- range $group := keys $groups | sortAlpha }}
- apiGroups: [{{ $group | quote }}]
  resources: {{ get $groups $group | sortAlpha | toJson }}
  verbs: {{ $.verbs | toJson }}
{{- end }}
{{- end -}}

{{/* Fails the render when the values would widen access beyond what the chart promises. */}}
{{- define "gitopsd-rbac.validate" -}}
{{- $clusterRead := concat .Values.kinds .Values.readOnlyKinds -}}
{{- if has "secrets" $clusterRead -}}
{{- fail "secrets must not be in kinds or readOnlyKinds (that would grant cluster-wide read of every Secret); set secrets: true for per-namespace access" -}}
{{- end -}}
{{- if and (ne .Values.subject.kind "ServiceAccount") .Values.subject.namespace -}}
{{- fail "subject.namespace applies to a ServiceAccount subject only" -}}
{{- end -}}
{{- end -}}
