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

{{/*
The JupyterHub roles the companion's features need, as JSON {service, user, server}: the one
place they are written in the chart (NOTES.txt prints them; deploy/test/chart.test.ts checks them
against the roles of dev/jupyterhub_config.py, the hub the tests run).
- service (the role of the companion's own token): list:users, read:users, read:servers,
  read:roles:users to resolve users and their servers; delete:servers for the idle guard;
  read:groups for Flare's access lists; access:servers for Flare's port list and the idle guard's
  kernel probes; groups for the grader's rosters (nbgrader-<course> groups).
- user and server (users' own tokens and their servers' tokens, which the Jupyter extension
  forwards): the companion accepts a token only with access:services!service=<serviceName>.
*/}}
{{- define "hotstepper.hubRoles" -}}
{{- $access := printf "access:services!service=%s" .Values.jupyterhub.serviceName }}
{{- toJson (dict
  "service" (list "list:users" "read:users" "read:servers" "read:roles:users" "delete:servers" "read:groups" "access:servers" "groups")
  "user" (list "self" $access)
  "server" (list "users:activity!user" "access:servers!server" $access)) }}
{{- end }}

{{/* A list of scopes as a YAML flow sequence of quoted strings. */}}
{{- define "hotstepper.scopeList" -}}
{{- $quoted := list }}
{{- range . }}{{ $quoted = append $quoted (quote .) }}{{ end }}
{{- printf "[%s]" (join ", " $quoted) }}
{{- end }}

{{/* The ClusterRole a user's own workloads get in their namespace (bound by the companion). */}}
{{- define "hotstepper.userClusterRole" -}}
{{- printf "%s-user" (include "hotstepper.fullname" .) }}
{{- end }}

{{/* The ClusterRole the companion binds in each user's namespace: the chart's, unless configured. */}}
{{- define "hotstepper.tenancyClusterRole" -}}
{{- default (include "hotstepper.userClusterRole" .) .Values.kubernetes.tenancy.userClusterRole }}
{{- end }}

{{/*
A controller's leader-election Lease: the configured name, else <fullname>-<suffix> (the names
rbac.leases grants). The context is (list $ "config.path" "suffix").
*/}}
{{- define "hotstepper.leaseName" -}}
{{- $ := index . 0 }}
{{- default (printf "%s-%s" (include "hotstepper.fullname" $) (index . 2)) (include "hotstepper.valueAt" (list $ (index . 1))) }}
{{- end }}

{{/* Flare's auth endpoint as the ingress controller reaches it: this release's Service. */}}
{{- define "hotstepper.flareAuthUrl" -}}
{{- $default := printf "http://%s.%s.svc:%d/flare/auth" (include "hotstepper.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- default $default (include "hotstepper.valueAt" (list . "flare.kubernetes.authUrl")) }}
{{- end }}

{{/* The Service in front of Flare's gateway listener (templates/service.yaml, mode kubernetes). */}}
{{- define "hotstepper.flareGatewayService" -}}
{{- $default := printf "%s-flare.%s.svc.cluster.local" (include "hotstepper.fullname" .) .Release.Namespace }}
{{- default $default (include "hotstepper.valueAt" (list . "flare.kubernetes.gatewayService")) }}
{{- end }}

{{- define "hotstepper.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the secret keys: the chart's own, or existingSecret. */}}
{{- define "hotstepper.secretName" -}}
{{- default (include "hotstepper.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The secret keys of the configuration: [config path, environment variable, key in the chart's
Secret, key name in existingSecretKeys, may be absent from existingSecret]. The variables are
config.ts's envKeys for these paths.
*/}}
{{- define "hotstepper.secretKeys" -}}
{{- toJson (list
  (list "jupyterhub.apiToken" "JUPYTERHUB_API_TOKEN" "jupyterhub-api-token" "jupyterhubApiToken" false)
  (list "database.url" "DATABASE_URL" "database-url" "databaseUrl" false)
  (list "llm.apiKey" "HOTSTEPPER_LLM_API_KEY" "llm-api-key" "llmApiKey" true)
  (list "flare.cookieSecret" "HOTSTEPPER_FLARE_COOKIE_SECRET" "flare-cookie-secret" "flareCookieSecret" true)
  (list "mail.smtp.password" "HOTSTEPPER_SMTP_PASSWORD" "smtp-password" "smtpPassword" true)) }}
{{- end }}

{{/* The value of a dotted path in the values ("" when unset); the context is (list $ path). */}}
{{- define "hotstepper.valueAt" -}}
{{- $node := (index . 0).Values.AsMap }}
{{- range splitList "." (index . 1) }}
{{- $node = and (kindIs "map" $node) (index $node .) }}
{{- end }}
{{- if $node }}{{ $node }}{{ end }}
{{- end }}

{{/* "true" when one of the secret keys is set in the values. */}}
{{- define "hotstepper.hasSecretValues" -}}
{{- range include "hotstepper.secretKeys" $ | fromJsonArray }}
{{- if include "hotstepper.valueAt" (list $ (index . 0)) }}true{{ end }}
{{- end }}
{{- end }}

{{/* "true" when the chart creates the Secret (no existingSecret, and something to put in it). */}}
{{- define "hotstepper.createSecret" -}}
{{- if and (not .Values.existingSecret) (include "hotstepper.hasSecretValues" .) }}true{{ end }}
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
{{- if and .Values.existingSecret (include "hotstepper.hasSecretValues" .) }}
{{- fail (printf "\n\nhotstepper: existingSecret is set (%s), so jupyterhub.apiToken, database.url and llm.apiKey must stay empty, and so must flare.cookieSecret and mail.smtp.password: put them in that Secret (keys: existingSecretKeys)." .Values.existingSecret) }}
{{- end }}
{{- if and (eq .Values.flare.mode "kubernetes") (not (int .Values.flare.gateway.port)) }}
{{- fail "\n\nhotstepper: flare.mode is kubernetes, so the gateway listener needs a fixed port for its Service: set flare.gateway.port (e.g. 9180), not 0." }}
{{- end }}
{{- if and .Values.persistence.enabled (gt $replicas 1) }}
{{- fail "\n\nhotstepper: persistence is for the SQLite database of a single replica; with several replicas the database is PostgreSQL (database.url): set persistence.enabled: false." }}
{{- end }}
{{- end }}

{{/*
A map without its empty values (null, or an empty string: "not set"), at every depth, as JSON.
Lists are kept as they are.
*/}}
{{- define "hotstepper.prune" -}}
{{- $out := dict }}
{{- range $key, $value := . }}
{{- if kindIs "map" $value }}
{{- $_ := set $out $key (include "hotstepper.prune" $value | fromJson) }}
{{- else if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
{{- $_ := set $out $key $value }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The companion's configuration file, from the values with the config file's keys. The secret keys
are left out (they come from the Secret as environment variables), and so is every key whose
value is empty, so the companion's own default applies. A few defaults depend on the release
(names the chart's RBAC and Services use) and are filled in here.
*/}}
{{- define "hotstepper.config" -}}
{{- $config := dict }}
{{- range $section := list "server" "log" "jupyterhub" "identity" "database" "connections" "kubernetes" "prometheus" "llm" "welcome" "flare" "grader" "usage" "jobs" "spawn" "idle" "mail" }}
{{- $values := index $.Values $section }}
{{- if kindIs "map" $values }}
{{- $_ := set $config $section (include "hotstepper.prune" $values | fromJson) }}
{{- end }}
{{- end }}
{{- range include "hotstepper.secretKeys" . | fromJsonArray }}
{{- $path := splitList "." (index . 0) }}
{{- $node := $config }}
{{- range initial $path }}
{{- $node = and (kindIs "map" $node) (index $node .) }}
{{- end }}
{{- if kindIs "map" $node }}
{{- $_ := unset $node (last $path) }}
{{- end }}
{{- end }}
{{- $_ := set $config.kubernetes.tenancy "userClusterRole" (include "hotstepper.tenancyClusterRole" .) }}
{{- with $config.usage }}
{{- $_ := set . "meter" (default (dict) .meter) }}
{{- $_ := set .meter "leaseName" (include "hotstepper.leaseName" (list $ "usage.meter.leaseName" "usage-meter")) }}
{{- end }}
{{- with $config.idle }}
{{- $_ := set . "leaseName" (include "hotstepper.leaseName" (list $ "idle.leaseName" "idle-guard")) }}
{{- /* quietHours is optional as a whole: without from and to there are none (timeZone alone is no setting). */}}
{{- if not (and .quietHours (or .quietHours.from .quietHours.to)) }}
{{- $_ := unset . "quietHours" }}
{{- end }}
{{- end }}
{{- with $config.jobs }}
{{- if not $.Values.kubernetes.enabled }}
{{- fail "jobs.executor: jobs run as Kubernetes Jobs, which needs kubernetes.enabled (the companion never runs users' code in its own pod)" }}
{{- end }}
{{- $_ := set . "executor" (default "kubernetes" .executor) }}
{{- end }}
{{- with $config.flare }}
{{- $_ := set . "kubernetes" (default (dict) .kubernetes) }}
{{- $_ := set .kubernetes "authUrl" (include "hotstepper.flareAuthUrl" $) }}
{{- $_ := set .kubernetes "gatewayService" (include "hotstepper.flareGatewayService" $) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
The container's environment: the secret keys of the configuration, as the variables the
companion reads, from the chart's Secret (when set in the values) or from existingSecret; then
extraEnv. An LLM key, Flare cookie secret or SMTP password missing from existingSecret is tolerated
(each is optional); the hub token and the database URL are not (the pod waits for them, with an
event naming the key).
*/}}
{{- define "hotstepper.env" -}}
{{- range include "hotstepper.secretKeys" . | fromJsonArray }}
{{- $secret := "" }}
{{- $key := "" }}
{{- if $.Values.existingSecret }}
{{- $secret = $.Values.existingSecret }}
{{- $key = index $.Values.existingSecretKeys (index . 3) }}
{{- else if include "hotstepper.valueAt" (list $ (index . 0)) }}
{{- $secret = include "hotstepper.fullname" $ }}
{{- $key = index . 2 }}
{{- end }}
{{- if and $secret $key }}
- name: {{ index . 1 }}
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
