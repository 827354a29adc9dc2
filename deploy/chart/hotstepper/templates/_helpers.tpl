{{/*
Names and labels. Kubernetes names are at most 63 characters; ClusterRoles get a suffix, so the
full name is cut to 52.
*/}}
{{- define "hotstepper.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hotstepper.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "hotstepper.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of a release (a Deployment's selector is immutable). */}}
{{- define "hotstepper.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hotstepper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hotstepper.labels" -}}
{{ include "hotstepper.selectorLabels" . }}
app.kubernetes.io/component: companion
app.kubernetes.io/part-of: hotstepper
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "hotstepper.chart" . }}
{{- end }}

{{- define "hotstepper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hotstepper.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ClusterRole a user's own workloads get in their namespace (bound by the companion). */}}
{{- define "hotstepper.userClusterRole" -}}
{{- printf "%s-user" (include "hotstepper.fullname" .) }}
{{- end }}

{{/* The ClusterRole the companion binds in each user's namespace: the chart's, unless configured. */}}
{{- define "hotstepper.tenancyClusterRole" -}}
{{- default (include "hotstepper.userClusterRole" .) .Values.kubernetes.tenancy.userClusterRole }}
{{- end }}

{{- define "hotstepper.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the secret keys: the chart's own, or existingSecret. */}}
{{- define "hotstepper.secretName" -}}
{{- default (include "hotstepper.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* "true" when the chart creates the Secret (no existingSecret, and something to put in it). */}}
{{- define "hotstepper.createSecret" -}}
{{- if and (not .Values.existingSecret) (or .Values.jupyterhub.apiToken .Values.database.url .Values.llm.apiKey) }}true{{ end }}
{{- end }}

{{/* "true" when the companion uses PostgreSQL (a URL in the values or in existingSecret). */}}
{{- define "hotstepper.usesPostgres" -}}
{{- if or .Values.database.url (and .Values.existingSecret .Values.existingSecretKeys.databaseUrl) }}true{{ end }}
{{- end }}

{{/* The replica count: replicas, or 2 with PostgreSQL and 1 with SQLite when it is null. */}}
{{- define "hotstepper.replicas" -}}
{{- if kindIs "invalid" .Values.replicas }}
{{- if include "hotstepper.usesPostgres" . }}2{{ else }}1{{ end }}
{{- else }}
{{- int .Values.replicas }}
{{- end }}
{{- end }}

{{/*
Checks across values that values.schema.json cannot express. Each fails the render with a message
that says what to change.
*/}}
{{- define "hotstepper.validate" -}}
{{- $replicas := include "hotstepper.replicas" . | int }}
{{- if and (gt $replicas 1) (not (include "hotstepper.usesPostgres" .)) }}
{{- fail (printf "\n\nhotstepper: replicas is %d, but no PostgreSQL database is configured. Several replicas cannot share one SQLite file: set database.url (postgres://user:password@host:5432/dbname), or existingSecret with the URL under existingSecretKeys.databaseUrl; or set replicas: 1." $replicas) }}
{{- end }}
{{- if and .Values.existingSecret (or .Values.jupyterhub.apiToken .Values.database.url .Values.llm.apiKey) }}
{{- fail (printf "\n\nhotstepper: existingSecret is set (%s), so jupyterhub.apiToken, database.url and llm.apiKey must stay empty: put them in that Secret (keys: existingSecretKeys)." .Values.existingSecret) }}
{{- end }}
{{- if and .Values.persistence.enabled (gt $replicas 1) }}
{{- fail "\n\nhotstepper: persistence is for the SQLite database of a single replica; with several replicas the database is PostgreSQL (database.url): set persistence.enabled: false." }}
{{- end }}
{{- end }}

{{/*
The companion's configuration file, from the values with the config file's keys. The secret keys
are left out (they come from the Secret as environment variables), and so is every key whose
value is empty, so the companion's own default applies.
*/}}
{{- define "hotstepper.config" -}}
{{- $secretKeys := list "jupyterhub.apiToken" "database.url" "llm.apiKey" }}
{{- $config := dict }}
{{- range $section := list "server" "log" "jupyterhub" "identity" "database" "connections" "kubernetes" "prometheus" "llm" }}
{{- $out := dict }}
{{- range $key, $value := index $.Values $section }}
{{- if not (or (has (printf "%s.%s" $section $key) $secretKeys) (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
{{- $_ := set $out $key $value }}
{{- end }}
{{- end }}
{{- $_ := set $config $section $out }}
{{- end }}
{{- $tenancy := deepCopy .Values.kubernetes.tenancy }}
{{- $_ := set $tenancy "userClusterRole" (include "hotstepper.tenancyClusterRole" .) }}
{{- $_ := set (index $config "kubernetes") "tenancy" $tenancy }}
{{- toYaml $config }}
{{- end }}

{{/*
The container's environment: the secret keys of the configuration, as the variables the
companion reads, from the chart's Secret (when set in the values) or from existingSecret; then
extraEnv. An LLM key missing from existingSecret is tolerated (the LLM is optional); the hub token
and the database URL are not (the pod waits for them, with an event naming the key).
*/}}
{{- define "hotstepper.env" -}}
{{- $keys := .Values.existingSecretKeys }}
{{- $vars := list
  (list "JUPYTERHUB_API_TOKEN" .Values.jupyterhub.apiToken "jupyterhub-api-token" $keys.jupyterhubApiToken false)
  (list "DATABASE_URL" .Values.database.url "database-url" $keys.databaseUrl false)
  (list "HOTSTEPPER_LLM_API_KEY" .Values.llm.apiKey "llm-api-key" $keys.llmApiKey true) }}
{{- range $vars }}
{{- $secret := "" }}
{{- $key := "" }}
{{- if $.Values.existingSecret }}
{{- $secret = $.Values.existingSecret }}
{{- $key = index . 3 }}
{{- else if index . 1 }}
{{- $secret = include "hotstepper.fullname" $ }}
{{- $key = index . 2 }}
{{- end }}
{{- if and $secret $key }}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key | quote }}
      {{- if and $.Values.existingSecret (index . 4) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
