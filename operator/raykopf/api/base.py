"""Base model and the passthrough types shared by the ray.io/v1 models.

Kubernetes core types (pod templates, env vars, security contexts, ...) are kept as open objects
in the CRD schema so that the CRDs stay small; `K8sType` records which Kubernetes definition each
one is, so `raykopf.validation` can check it against Kubernetes' own schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """camelCase wire names, unknown fields kept (never a crash), docstrings become descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        use_attribute_docstrings=True,
        serialize_by_alias=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: only what was set, as the user wrote it (defaults are not added)."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


@dataclass(frozen=True)
class K8sType:
    """Marks an open object as an instance of a Kubernetes OpenAPI definition."""

    definition: str


def without_nulls(value: Any) -> Any:
    """`value` without the null fields of its objects, at any depth: what Go makes of them (a nil
    pointer, map or slice, left out on output), so that the builders never meet a null."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def _open_object(definition: str) -> Any:
    return Annotated[
        dict[str, Any],
        K8sType(definition),
        AfterValidator(without_nulls),
        WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
    ]


PodTemplateSpec = _open_object("io.k8s.api.core.v1.PodTemplateSpec")
ServiceTemplate = _open_object("io.k8s.api.core.v1.Service")
EnvVar = _open_object("io.k8s.api.core.v1.EnvVar")
EnvVarSource = _open_object("io.k8s.api.core.v1.EnvVarSource")
EnvFromSource = _open_object("io.k8s.api.core.v1.EnvFromSource")
ResourceRequirements = _open_object("io.k8s.api.core.v1.ResourceRequirements")
SecurityContext = _open_object("io.k8s.api.core.v1.SecurityContext")
VolumeMount = _open_object("io.k8s.api.core.v1.VolumeMount")
IngressTLS = _open_object("io.k8s.api.networking.v1.IngressTLS")
NetworkPolicyIngressRule = _open_object("io.k8s.api.networking.v1.NetworkPolicyIngressRule")
NetworkPolicyEgressRule = _open_object("io.k8s.api.networking.v1.NetworkPolicyEgressRule")

Int32 = Annotated[
    int, Field(ge=-(2**31), le=2**31 - 1), WithJsonSchema({"type": "integer", "format": "int32"})
]
Int64 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int64"})]
Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""An RFC 3339 timestamp, kept as the string the apiserver stores."""

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
Quantity = Annotated[
    int | str,
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
StringMap = dict[str, str]


class Condition(ApiModel):
    """metav1.Condition."""

    type: Annotated[str, Field(max_length=316)]
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": ["True", "False", "Unknown"]})]
    last_transition_time: Time
    reason: Annotated[str, Field(max_length=1024, min_length=1)]
    message: Annotated[str, Field(max_length=32768)]
    observed_generation: Int64 | None = None


class ObjectMeta(ApiModel):
    """The parts of metav1.ObjectMeta the operator reads; everything else is kept as is."""

    k8s_definition: ClassVar[str] = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: Int64 | None = None
    resource_version: str | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None
    finalizers: list[str] | None = None
    deletion_timestamp: Time | None = None
    creation_timestamp: Time | None = None


def conditions_field() -> Any:
    """A list-map keyed by condition type, as metav1.Condition lists are."""
    return Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
