"""Every deliberate difference between raykopf's CRDs and KubeRay v1.7.0's, with its reason.

The schema-parity test fails on any difference that is not listed here.
"""

# Kubernetes core types are open objects (x-kubernetes-preserve-unknown-fields) in raykopf's CRDs,
# so that each CRD stays far below the 256 KiB annotation limit and `kubectl apply -f crds/` works
# client-side. raykopf validates them against Kubernetes' own schema instead (raykopf.validation),
# and reports every problem with its path. Keys are path suffixes;
# upstream paths below these are not compared.
OPEN_CORE_TYPES = {
    "template": "PodTemplateSpec",
    "submitterPodTemplate": "PodTemplateSpec",
    "headService": "Service",
    "serveService": "Service",
    "env[]": "EnvVar",
    "envFrom[]": "EnvFromSource",
    "autoscalerOptions.resources": "ResourceRequirements",
    "collectorOptions.resources": "ResourceRequirements",
    "securityContext": "SecurityContext",
    "volumeMounts[]": "VolumeMount",
    "valueFrom": "EnvVarSource",
    "tls[]": "IngressTLS",
    "ingressRules[]": "NetworkPolicyIngressRule",
    "egressRules[]": "NetworkPolicyEgressRule",
}

# Fields whose type, enum or default differ on purpose: {path: reason}.
FIELD_DIFFERENCES: dict[str, str] = {}
