{{- define "kra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kra.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "kra.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "kra.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kra.labels" -}}
app.kubernetes.io/name: {{ include "kra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: kube-request-access
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{/* The ungated namespaces as a JSON list: ungatedNamespaces plus the release namespace. The exec
webhook's namespaceSelector and the server's --ungated-namespaces are both rendered from it. */}}
{{- define "kra.ungatedNamespaces" -}}
{{- concat (.Values.ungatedNamespaces | default list) (list .Release.Namespace) | uniq | toJson -}}
{{- end -}}

{{- define "kra.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secretName is required with tls.mode=secret" .Values.tls.secretName -}}
{{- else -}}
{{- printf "%s-tls" (include "kra.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "kra.serviceDNS" -}}
{{- printf "%s.%s.svc" (include "kra.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "kra.clientCA" -}}
{{- if or .Values.clientCA.pem .Values.clientCA.existingSecret .Values.clientCA.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{- define "kra.validate" -}}
{{- if not (has .Values.tls.mode (list "self-signed" "cert-manager" "secret")) -}}
{{- fail (printf "tls.mode must be self-signed, cert-manager or secret, not %q" .Values.tls.mode) -}}
{{- end -}}
{{- if and .Values.grantedRole.name (not (has .Values.grantedRole.kind (list "ClusterRole" "Role"))) -}}
{{- fail (printf "grantedRole.kind must be ClusterRole or Role, not %q" .Values.grantedRole.kind) -}}
{{- end -}}
{{- if and .Values.server.auditWebhook.url (not .Values.server.auditWebhook.caBundle) -}}
{{- fail "server.auditWebhook.url needs server.auditWebhook.caBundle (the PEM CA of its certificate)" -}}
{{- end -}}
{{- if and .Values.server.extendedValidationWebhook.url (not .Values.server.extendedValidationWebhook.caBundle) -}}
{{- fail "server.extendedValidationWebhook.url needs server.extendedValidationWebhook.caBundle" -}}
{{- end -}}
{{- if and .Values.webhook.url (ne .Values.tls.mode "secret") -}}
{{- fail "webhook.url (a server outside the cluster) needs tls.mode=secret and its CA in tls.caBundle" -}}
{{- end -}}
{{- end -}}
