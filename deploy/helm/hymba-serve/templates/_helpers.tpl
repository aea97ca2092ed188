{{/*
Names, labels and derived values shared by the templates.
  hymba-serve.fullname          release-qualified name (63 characters at most)
  hymba-serve.labels            the recommended app.kubernetes.io labels
  hymba-serve.selectorLabels    the subset the Services, PDB and Deployment select on
  hymba-serve.image             the CPU or CUDA image, by gpu.enabled
  hymba-serve.modelDir          the --model directory, by model.pvc / model.initImage
  hymba-serve.terminationGrace  preStop sleep + drain timeout + margin
*/}}

{{- define "hymba-serve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hymba-serve.fullname" -}}
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

{{- define "hymba-serve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hymba-serve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hymba-serve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hymba-serve.labels" -}}
helm.sh/chart: {{ include "hymba-serve.chart" . }}
{{ include "hymba-serve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hymba-serve.image" -}}
{{- $image := ternary .Values.gpu.image .Values.image .Values.gpu.enabled }}
{{- printf "%s:%s" $image.repository $image.tag }}
{{- end }}

{{- define "hymba-serve.modelDir" -}}
{{- if or .Values.model.pvc.claimName .Values.model.initImage.repository }}
{{- print "/models/volume" }}
{{- else }}
{{- .Values.model.path }}
{{- end }}
{{- end }}

{{- define "hymba-serve.terminationGrace" -}}
{{- $l := .Values.lifecycle }}
{{- add $l.preStopSleepSeconds .Values.server.drainTimeoutSeconds $l.terminationMarginSeconds }}
{{- end }}
