{{/* Common labels; version is the pinned product version. */}}
{{- define "sim-platform.labels" -}}
app.kubernetes.io/part-of: sim-platform
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ required "version is required (the org's pinned product version)" .Values.version | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
cellplane.io/org: {{ .Values.org | quote }}
{{- end -}}

{{- define "sim-platform.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{- define "sim-platform.image" -}}
{{ .root.Values.image.registry }}/{{ .name }}:{{ required "version is required" .root.Values.version }}
{{- end -}}

{{/* Hardened pod and container security contexts (restricted Pod Security Standard). */}}
{{- define "sim-platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sim-platform.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Environment every workload gets: its org, version, LiveKit and Redis credentials. */}}
{{- define "sim-platform.env" -}}
- name: CELLPLANE_ORG
  value: {{ .Values.org | quote }}
- name: CELLPLANE_VERSION
  value: {{ .Values.version | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otelEndpoint | quote }}
- name: LIVEKIT_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.livekit }}, key: url}}
- name: LIVEKIT_API_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.livekit }}, key: apiKey}}
- name: LIVEKIT_API_SECRET
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.livekit }}, key: apiSecret}}
- name: REDIS_ADDR
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.redis }}, key: addr}}
- name: REDIS_USERNAME
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.redis }}, key: username}}
- name: REDIS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.redis }}, key: password}}
- name: REDIS_KEY_PREFIX
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.redis }}, key: keyPrefix}}
- name: REDIS_TLS
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.redis }}, key: tls}}
{{- end -}}
