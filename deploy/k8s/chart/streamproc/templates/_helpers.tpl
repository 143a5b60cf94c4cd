{{/* Names are capped at 63 characters: the DNS label limit that label values share. */}}
{{- define "streamproc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "streamproc.fullname" -}}
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

{{- define "streamproc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "streamproc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamproc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "streamproc.labels" -}}
helm.sh/chart: {{ include "streamproc.chart" . }}
{{ include "streamproc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: streamproc
{{- end -}}

{{/* Detector plugin names may hold underscores, which Kubernetes names do not allow. */}}
{{- define "streamproc.dnsName" -}}
{{- . | lower | replace "_" "-" -}}
{{- end -}}

{{- define "streamproc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "streamproc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "streamproc.image" -}}
{{- $root := .root -}}
{{- $tag := $root.Values.image.tag | default $root.Chart.AppVersion -}}
{{- if .gpu -}}
{{- $tag = $root.Values.image.cudaTag | default (printf "%s-cuda" $root.Chart.AppVersion) -}}
{{- end -}}
{{- printf "%s:%s" $root.Values.image.repository $tag -}}
{{- end -}}

{{- define "streamproc.modelsDir" -}}
{{- if .Values.models.version -}}
{{- printf "/models/%s" .Values.models.version -}}
{{- else -}}
/models
{{- end -}}
{{- end -}}

{{/*
The workloads of this release, one per Deployment: the single place that decides the topology.
Every other template (Deployments, PodDisruptionBudgets, ScaledObjects) iterates over this list.
*/}}
{{- define "streamproc.workloads" -}}
{{- $fullname := include "streamproc.fullname" . -}}
{{- $items := list -}}
{{- if eq .Values.mode "all-in-one" -}}
{{- $items = append $items (dict "name" $fullname "role" "all" "consumerGroup" .Values.appId "settings" .Values.allInOne "gpu" .Values.allInOne.gpu "models" true) -}}
{{- else -}}
{{- $items = append $items (dict "name" (printf "%s-window" $fullname) "role" "window" "consumerGroup" (printf "%s-window" .Values.appId) "settings" .Values.window "gpu" false "models" false) -}}
{{- range .Values.detectors -}}
{{- /* Each key given for a detector replaces the default as a whole (false and 0 included). */ -}}
{{- $settings := deepCopy $.Values.detectorDefaults -}}
{{- range $key, $value := omit . "name" -}}
{{- $_ := set $settings $key $value -}}
{{- end -}}
{{- /* Shorten the release part, never the detector's: two detectors keep two names. */ -}}
{{- $suffix := printf "-detect-%s" (include "streamproc.dnsName" .name) -}}
{{- $base := $fullname | trunc (int (max 1 (sub 63 (len $suffix)))) | trimSuffix "-" -}}
{{- $items = append $items (dict "name" (printf "%s%s" $base $suffix) "role" "detect" "detector" .name "consumerGroup" (printf "%s-detect-%s" $.Values.appId .name) "settings" $settings "gpu" $settings.gpu "models" true) -}}
{{- end -}}
{{- $items = append $items (dict "name" (printf "%s-fusion" $fullname) "role" "fuse" "consumerGroup" (printf "%s-fuse" .Values.appId) "settings" .Values.fusion "gpu" false "models" false) -}}
{{- end -}}
{{- dict "items" $items | toJson -}}
{{- end -}}

{{/* Labels that select one workload's pods. */}}
{{- define "streamproc.workloadSelectorLabels" -}}
{{ include "streamproc.selectorLabels" .root }}
app.kubernetes.io/component: {{ .workload.role }}
{{- with .workload.detector }}
streamproc/detector: {{ include "streamproc.dnsName" . }}
{{- end }}
{{- end -}}

{{- define "streamproc.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.podSecurityContext.runAsUser }}
runAsUser: {{ int . }}
{{- end }}
{{- with .Values.podSecurityContext.runAsGroup }}
runAsGroup: {{ int . }}
{{- end }}
{{- with .Values.podSecurityContext.fsGroup }}
fsGroup: {{ int . }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "streamproc.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end -}}

{{- define "streamproc.saslEnabled" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end -}}
{{- end -}}

{{- define "streamproc.tlsEnabled" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{/* Environment of workers and training: configuration path and writable paths. */}}
{{- define "streamproc.env" -}}
- name: STREAMPROC_CONFIG
  value: /etc/streamproc/config/streamproc.toml
- name: F_DATADIR
  value: /var/lib/streamproc
- name: HOME
  value: /tmp
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Kafka connection secrets, for the workers only: training reads files, not topics. */}}
{{- define "streamproc.kafkaEnv" -}}
- name: KAFKA_BOOTSTRAP
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.bootstrap.secretName is required: the Secret holding the bootstrap servers" .Values.kafka.bootstrap.secretName }}
      key: {{ .Values.kafka.bootstrap.key }}
{{- if include "streamproc.saslEnabled" . }}
- name: STREAMPROC_KAFKA__SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.secretName is required with a SASL_* securityProtocol" .Values.kafka.sasl.secretName }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: STREAMPROC_KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.secretName }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- end -}}

{{/* Volumes of every pod: configuration and writable scratch space (the root is read-only). */}}
{{- define "streamproc.volumes" -}}
- name: config
  configMap:
    name: {{ include "streamproc.fullname" . }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.storage.dataSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.storage.tmpSizeLimit }}
{{- end -}}

{{/* Kafka TLS material of the workers, under fixed file names the configuration points at. */}}
{{- define "streamproc.kafkaVolumes" -}}
{{- if include "streamproc.tlsFiles" . }}
- name: kafka-tls
  projected:
    sources:
{{- with .Values.kafka.tls.caSecretName }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $.Values.kafka.tls.caKey }}
              path: ca.crt
{{- end }}
{{- with .Values.kafka.tls.clientSecretName }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $.Values.kafka.tls.certKey }}
              path: client.crt
            - key: {{ $.Values.kafka.tls.keyKey }}
              path: client.key
{{- end }}
{{- end }}
{{- end -}}

{{- define "streamproc.volumeMounts" -}}
- name: config
  mountPath: /etc/streamproc/config
  readOnly: true
- name: data
  mountPath: /var/lib/streamproc
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "streamproc.kafkaVolumeMounts" -}}
{{- if include "streamproc.tlsFiles" . }}
- name: kafka-tls
  mountPath: /etc/streamproc/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "streamproc.tlsFiles" -}}
{{- if and (include "streamproc.tlsEnabled" .) (or .Values.kafka.tls.caSecretName .Values.kafka.tls.clientSecretName) }}true{{ end -}}
{{- end -}}

{{- define "streamproc.modelsVolume" -}}
- name: models
{{- if eq .Values.models.source "image" }}
  image:
    reference: {{ required "models.image.reference is required with models.source=image" .Values.models.image.reference }}
    pullPolicy: {{ .Values.models.image.pullPolicy }}
{{- else }}
  persistentVolumeClaim:
    claimName: {{ include "streamproc.modelsClaimName" . }}
{{- end }}
{{- end -}}

{{- define "streamproc.modelsClaimName" -}}
{{- .Values.models.pvc.existingClaim | default (printf "%s-models" (include "streamproc.fullname" .)) -}}
{{- end -}}

{{/* GPU scheduling: the workload's own node selector and tolerations plus the GPU ones. */}}
{{- define "streamproc.scheduling" -}}
{{- $root := .root -}}
{{- $nodeSelector := deepCopy (.settings.nodeSelector | default dict) -}}
{{- $tolerations := .settings.tolerations | default list -}}
{{- if .gpu -}}
{{- $nodeSelector = mergeOverwrite $nodeSelector (deepCopy $root.Values.gpu.nodeSelector) -}}
{{- $tolerations = concat $tolerations $root.Values.gpu.tolerations -}}
{{- end -}}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .settings.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Resources with the GPU limit added for GPU workloads. */}}
{{- define "streamproc.resources" -}}
{{- $resources := deepCopy (.settings.resources | default dict) -}}
{{- if .gpu -}}
{{- $limits := $resources.limits | default dict -}}
{{- $_ := set $limits .root.Values.gpu.resourceName (int .root.Values.gpu.count) -}}
{{- $_ := set $resources "limits" $limits -}}
{{- end -}}
{{- toYaml $resources -}}
{{- end -}}

{{/* Pod annotations of a Deployment: .root, and .port, the container's metrics port. */}}
{{- define "streamproc.podAnnotations" -}}
{{- $root := .root -}}
checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | int | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with $root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "streamproc.workloadLabels" -}}
{{ include "streamproc.labels" .root }}
app.kubernetes.io/component: {{ .workload.role }}
{{- with .workload.detector }}
streamproc/detector: {{ include "streamproc.dnsName" . }}
{{- end }}
{{- end -}}

{{/*
Monitoring. Every pod that serves /metrics carries the label streamproc/scrape-job, whose value
is the Prometheus `job` of its targets: the ServiceMonitor (jobLabel, read from the Service) and
the PodMonitor (jobLabel, read from the pod) both take the job from it, so the PrometheusRule's
expressions hold whichever monitor scrapes. The value is also the name of the metrics Service.
Names are cut so that the suffixes survive the 63-character limit.
*/}}
{{- define "streamproc.scrapeJobLabel" -}}
streamproc/scrape-job
{{- end -}}

{{/* Job (and Service name) of the worker pods, every role. */}}
{{- define "streamproc.metricsJob" -}}
{{- printf "%s-metrics" (include "streamproc.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{/* The alert forwarder's Deployment. */}}
{{- define "streamproc.forwarderName" -}}
{{- printf "%s-forwarder" (include "streamproc.fullname" . | trunc 53 | trimSuffix "-") -}}
{{- end -}}

{{/* Job (and Service name) of the alert forwarder's pods. */}}
{{- define "streamproc.forwarderJob" -}}
{{- printf "%s-forwarder-metrics" (include "streamproc.fullname" . | trunc 45 | trimSuffix "-") -}}
{{- end -}}


{{/* The forwarder's pod labels and selector: the release's plus component=forwarder. */}}
{{- define "streamproc.forwarderSelectorLabels" -}}
{{ include "streamproc.selectorLabels" . }}
app.kubernetes.io/component: forwarder
{{- end -}}

{{/* Refuses monitoring values the templates cannot honour; included by every monitoring template. */}}
{{- define "streamproc.checkMonitoring" -}}
{{- $m := .Values.metrics -}}
{{- if and $m.serviceMonitor.enabled $m.podMonitor.enabled -}}
{{- fail "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled are exclusive: both would scrape every pod, so every series would be stored twice; enable one" -}}
{{- end -}}
{{- if and $m.serviceMonitor.enabled (not $m.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled: the ServiceMonitor finds the pods through the metrics Services (or use metrics.podMonitor instead)" -}}
{{- end -}}
{{- if and $m.prometheusRule.enabled (not (or $m.serviceMonitor.enabled $m.podMonitor.enabled)) -}}
{{- fail "metrics.prometheusRule.enabled needs metrics.serviceMonitor.enabled or metrics.podMonitor.enabled: the rules select the Prometheus job those monitors give the targets" -}}
{{- end -}}
{{- end -}}
