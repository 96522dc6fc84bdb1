{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a label value.
*/}}
{{- define "tokenvault.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full resource name: "<release>-<chart>", or the release name alone when it already contains the chart
name; truncated to 63 characters (the limit of DNS labels such as Service names).
*/}}
{{- define "tokenvault.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"name-version" of the chart, for the helm.sh/chart label.
*/}}
{{- define "tokenvault.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "tokenvault.labels" -}}
helm.sh/chart: {{ include "tokenvault.chart" . }}
{{ include "tokenvault.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenvault
{{- end }}

{{/*
Labels that select the pods (stable across upgrades: never add a changing value here).
*/}}
{{- define "tokenvault.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenvault.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount (bound to the Vault Kubernetes auth role).
*/}}
{{- define "tokenvault.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tokenvault.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image settings of the chosen flavour (image.native or image.jvm); fails on any other flavour.
*/}}
{{- define "tokenvault.flavor" -}}
{{- $flavor := .Values.image.flavor | toString }}
{{- if not (has $flavor (list "native" "jvm")) }}
{{- fail (printf "image.flavor must be \"native\" or \"jvm\", not %q" $flavor) }}
{{- end }}
{{- $flavor }}
{{- end }}

{{/*
Full image reference of the chosen flavour: [registry/]repository(@digest | :tag).
*/}}
{{- define "tokenvault.image" -}}
{{- $flavor := include "tokenvault.flavor" . }}
{{- $img := index .Values.image $flavor }}
{{- $repo := required (printf "image.%s.repository is required" $flavor) $img.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .Values.image.registry) $repo }}
{{- end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion ($img.tag | toString)) }}
{{- end }}
{{- end }}

{{/*
User id the chosen image runs as.
*/}}
{{- define "tokenvault.runAsUser" -}}
{{- $flavor := include "tokenvault.flavor" . }}
{{- (index .Values.image $flavor).runAsUser | int64 }}
{{- end }}

{{/*
Environment variable name of one setting of one HubSpot app: TOKENVAULT_APPS_<APP>_<KEY> for app names
made of letters and digits; for names with a dash, the exact property name
(tokenvault.apps.<app>.<key>), which Kubernetes accepts as a variable name and which, unlike the
upper-case form, cannot be mistaken for a nested key.
Call with (dict "app" $name "key" "client-id").
*/}}
{{- define "tokenvault.appEnvName" -}}
{{- if regexMatch "^[a-z0-9]+$" .app }}
{{- printf "TOKENVAULT_APPS_%s_%s" (upper .app) (.key | replace "-" "_" | replace "." "_" | upper) }}
{{- else }}
{{- printf "tokenvault.apps.%s.%s" .app .key }}
{{- end }}
{{- end }}

{{/*
Path of the projected service-account token presented to Vault.
*/}}
{{- define "tokenvault.vaultTokenDir" -}}
/var/run/secrets/tokenvault/vault
{{- end }}

{{/*
Path where the Vault CA certificate is mounted (when vault.tls.caConfigMap is set).
*/}}
{{- define "tokenvault.vaultCaDir" -}}
/etc/tokenvault/vault-ca
{{- end }}

{{/*
A value as a string for an environment variable. Numbers in values files arrive as floats, which
would print large integers in exponent form (12345678 -> 1.2345678e+07): whole numbers print as
integers.
*/}}
{{- define "tokenvault.str" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
A value or a list of values as one comma-separated string (lists in values files, or a string as is).
*/}}
{{- define "tokenvault.csv" -}}
{{- if kindIs "slice" . }}
{{- $out := list }}
{{- range . }}{{ $out = append $out (include "tokenvault.str" .) }}{{ end }}
{{- join "," $out }}
{{- else }}
{{- include "tokenvault.str" . }}
{{- end }}
{{- end }}

{{/*
A value for a .properties file: backslashes and line breaks escaped.
*/}}
{{- define "tokenvault.prop" -}}
{{- . | replace "\\" "\\\\" | replace "\n" "\\n" | replace "\r" "\\r" }}
{{- end }}

{{/*
"true" when callers beyond the jwt.* issuer are configured (templates/callers-configmap.yaml is rendered).
*/}}
{{- define "tokenvault.callersEnabled" -}}
{{- if or .Values.callers.kubernetes.enabled .Values.callers.issuers .Values.callers.policies }}true{{ end }}
{{- end }}

{{/*
"true" when the cluster's service-account keys are read from the API server (the pod then gets a token for it).
*/}}
{{- define "tokenvault.kubernetesApiKeys" -}}
{{- $k := .Values.callers.kubernetes }}
{{- if and $k.enabled (not $k.jwksConfigMap) (not $k.jwksUrl) }}true{{ end }}
{{- end }}

{{- define "tokenvault.callersDir" -}}
/etc/tokenvault/callers
{{- end }}

{{- define "tokenvault.kubeApiDir" -}}
/var/run/secrets/tokenvault/kube-api
{{- end }}

{{- define "tokenvault.kubeJwksDir" -}}
/etc/tokenvault/kube-jwks
{{- end }}
