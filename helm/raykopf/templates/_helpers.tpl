{{- define "raykopf.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "raykopf.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "raykopf.name" . -}}
{{- end -}}
{{- end -}}

{{- define "raykopf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "raykopf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "raykopf.labels" -}}
{{ include "raykopf.selectorLabels" . }}
app.kubernetes.io/component: {{ .Values.componentOverride | default (include "raykopf.name" .) }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "raykopf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "raykopf.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespaces the operator watches: empty means all, unless singleNamespaceInstall. */}}
{{- define "raykopf.watchNamespaces" -}}
{{- if .Values.watchNamespace -}}
{{- join "," .Values.watchNamespace -}}
{{- else if .Values.singleNamespaceInstall -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does, and nothing more; rendered once into a ClusterRole or into one Role per
watched namespace. Roles/RoleBindings/ServiceAccounts are for the autoscaler sidecar (Kubernetes lets
the operator grant only what it holds itself, hence pods patch and rayclusters patch). The proxy
subresources only with useKubernetesProxy (--use-kubernetes-proxy): they reach into every Pod and
Service of the namespaces, so an operator that calls dashboards directly does not hold them.
*/}}
{{- define "raykopf.rules" -}}
- apiGroups: [ray.io]
  resources: [rayclusters, rayjobs, rayservices]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [ray.io]
  resources: [rayclusters/status, rayjobs/status, rayservices/status]
  verbs: [get, update, patch]
- apiGroups: [ray.io]
  resources: [rayclusters/finalizers, rayjobs/finalizers, rayservices/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete, patch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, delete, patch]
- apiGroups: [""]
  resources: [pods/resize]
  verbs: [patch]
{{- if .Values.useKubernetesProxy }}
- apiGroups: [""]
  resources: [pods/proxy, services/proxy]
  verbs: [get, create, update]
{{- end }}
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, create]
# Other operators' ray-operator-leader Leases, anywhere: raykopf stands back while one leads over the
# namespaces it watches (it never writes them).
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [list]
# The Ray auth token Secret of `authOptions.mode: token` clusters (read, and created once).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [get, create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* KubeRay's operator Configuration (config.ray.io/v1alpha1) for `--config`: the same settings the
flags carry without it, plus the Pod defaults of `configuration`. */}}
{{- define "raykopf.configuration" -}}
apiVersion: config.ray.io/v1alpha1
kind: Configuration
metricsAddr: ":8080"
probeAddr: ":8082"
enableMetrics: {{ .Values.metrics.enabled }}
enableLeaderElection: {{ .Values.leaderElectionEnabled }}
leaderElectionNamespace: {{ .Release.Namespace }}
reconcileConcurrency: {{ .Values.reconcileConcurrency | int }}
watchNamespace: {{ include "raykopf.watchNamespaces" . | quote }}
qps: {{ .Values.kubeClient.qps }}
burst: {{ .Values.kubeClient.burst | int }}
logStdoutEncoder: {{ .Values.logging.stdoutEncoder }}
{{- with include "raykopf.logFile" . }}
logFile: {{ . }}
logFileEncoder: {{ $.Values.logging.fileEncoder }}
{{- end }}
useKubernetesProxy: {{ .Values.useKubernetesProxy }}
{{- with .Values.configuration }}
{{- with .defaultContainerEnvs }}
defaultContainerEnvs:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .defaultPodAnnotations }}
defaultPodAnnotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .defaultPodLabels }}
defaultPodLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .headSidecarContainers }}
headSidecarContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .workerSidecarContainers }}
workerSidecarContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The operator's log file, as KubeRay's chart: logging.baseDir/logging.fileName (both set), on an emptyDir. */}}
{{- define "raykopf.logFile" -}}
{{- if and .Values.logging.baseDir .Values.logging.fileName -}}
{{- printf "%s/%s" .Values.logging.baseDir .Values.logging.fileName -}}
{{- end -}}
{{- end -}}
