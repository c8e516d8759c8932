{{/*
Chart name, truncated to 63 characters (DNS label limit).
*/}}
{{- define "triage.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: release name plus chart name, unless the release name already contains it.
*/}}
{{- define "triage.fullname" -}}
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
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "triage.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. The version labels change on every upgrade, so they never appear in selectors.
*/}}
{{- define "triage.labels" -}}
helm.sh/chart: {{ include "triage.chart" . }}
{{ include "triage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: triage
{{- end }}

{{/*
Selector labels: immutable in a Deployment, so only the name and the release instance.
*/}}
{{- define "triage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "triage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component. Call with (dict "root" $ "component" "api").
*/}}
{{- define "triage.componentLabels" -}}
{{ include "triage.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one component. Call with (dict "root" $ "component" "api").
*/}}
{{- define "triage.componentSelectorLabels" -}}
{{ include "triage.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Name of the service account.
*/}}
{{- define "triage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "triage.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference. Call with (dict "root" $ "image" .Values.image.api); a digest wins over the tag.
*/}}
{{- define "triage.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
Names of the Secrets and ConfigMaps the chart references. It never creates a Secret.
*/}}
{{- define "triage.secretName" -}}
{{- default (printf "%s-secrets" (include "triage.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "triage.databaseSecretName" -}}
{{- default (printf "%s-database" (include "triage.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "triage.redisUrlSecretName" -}}
{{- default (printf "%s-redis-url" (include "triage.fullname" .)) .Values.externalRedis.existingSecret }}
{{- end }}

{{- define "triage.tenantsSecretName" -}}
{{- default (printf "%s-tenants" (include "triage.fullname" .)) .Values.tenants.existingSecret }}
{{- end }}

{{- define "triage.redisName" -}}
{{- printf "%s-redis" (include "triage.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Whether a routing policy is mounted, and from which ConfigMap.
*/}}
{{- define "triage.policyEnabled" -}}
{{- if or .Values.policy.content .Values.policy.existingConfigMap }}true{{- end }}
{{- end }}

{{- define "triage.policyConfigMapName" -}}
{{- default (printf "%s-policy" (include "triage.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{/*
Environment shared by every triage container. Secret values only ever arrive through secretKeyRef.
*/}}
{{- define "triage.env" -}}
- name: TRIAGE_ENVIRONMENT
  value: {{ .Values.config.environment | quote }}
- name: TRIAGE_DATA_DIR
  value: /tmp/triage
- name: TRIAGE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.databaseSecretName" . }}
      key: {{ .Values.database.urlKey }}
{{- if .Values.redis.enabled }}
{{- if .Values.redis.auth.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.auth.existingSecret }}
      key: {{ .Values.redis.auth.passwordKey }}
# Kubernetes expands $(REDIS_PASSWORD) when the container starts; the manifest holds no password.
- name: TRIAGE_REDIS_URL
  value: "redis://:$(REDIS_PASSWORD)@{{ include "triage.redisName" . }}:6379/0"
{{- else }}
- name: TRIAGE_REDIS_URL
  value: "redis://{{ include "triage.redisName" . }}:6379/0"
{{- end }}
{{- else }}
- name: TRIAGE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.redisUrlSecretName" . }}
      key: {{ .Values.externalRedis.urlKey }}
{{- end }}
- name: TRIAGE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.secretName" . }}
      key: {{ .Values.secrets.apiKeyKey }}
- name: TRIAGE_OUTBOUND_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.secretName" . }}
      key: {{ .Values.secrets.outboundWebhookSecretKey }}
      optional: true
- name: TRIAGE_PAGER_ROUTING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.secretName" . }}
      key: {{ .Values.secrets.pagerRoutingKeyKey }}
      optional: true
- name: TRIAGE_PAGER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.secretName" . }}
      key: {{ .Values.secrets.pagerSecretKey }}
      optional: true
- name: TRIAGE_DRAFT_ENDPOINT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "triage.secretName" . }}
      key: {{ .Values.secrets.draftEndpointApiKeyKey }}
      optional: true
{{- with .Values.config.outboundWebhookUrl }}
- name: TRIAGE_OUTBOUND_WEBHOOK_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.publicUrl }}
- name: TRIAGE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
- name: TRIAGE_METRICS_PUBLIC
  value: {{ .Values.config.metricsPublic | quote }}
{{- with .Values.config.modelDir }}
- name: TRIAGE_MODEL_DIR
  value: {{ . | quote }}
{{- end }}
{{- if include "triage.policyEnabled" . }}
- name: TRIAGE_POLICY_FILE
  value: /etc/triage/policy/{{ .Values.policy.key }}
{{- end }}
{{- if .Values.tenants.enabled }}
- name: TRIAGE_TENANTS_FILE
  value: /etc/triage/tenants/{{ .Values.tenants.key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes shared by every triage pod: a writable /tmp (the root filesystem is read-only), the policy
and the tenants file.
*/}}
{{- define "triage.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- if include "triage.policyEnabled" . }}
- name: policy
  configMap:
    name: {{ include "triage.policyConfigMapName" . }}
{{- end }}
{{- if .Values.tenants.enabled }}
- name: tenants
  secret:
    secretName: {{ include "triage.tenantsSecretName" . }}
    defaultMode: 0400
{{- end }}
{{- end }}

{{- define "triage.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "triage.policyEnabled" . }}
- name: policy
  mountPath: /etc/triage/policy
  readOnly: true
{{- end }}
{{- if .Values.tenants.enabled }}
- name: tenants
  mountPath: /etc/triage/tenants
  readOnly: true
{{- end }}
{{- end }}

{{/*
Pod annotations: the component's own, plus a checksum of the policy the chart templates so that
editing it rolls the pods. Call with (dict "root" $ "annotations" .Values.api.podAnnotations).
*/}}
{{- define "triage.podAnnotations" -}}
{{- $annotations := merge (dict) (.annotations | default dict) }}
{{- if .root.Values.policy.content }}
{{- $_ := set $annotations "checksum/policy" (.root.Values.policy.content | sha256sum) }}
{{- end }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
`envFrom` of every triage container, when extra sources are set.
*/}}
{{- define "triage.envFrom" -}}
{{- with .Values.extraEnvFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
