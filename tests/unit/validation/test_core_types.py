"""Pod templates and the other Kubernetes core types are checked against Kubernetes' own schema:
a misspelled or mistyped field is reported with its full path, never silently dropped."""

from __future__ import annotations

from raykopf.validation import Severity, validate
from tests.unit.validation.manifests import raycluster, rayjob, rayservice


def messages(manifest: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {p.path: p.message for p in validate(manifest) if p.severity is Severity.ERROR}


def test_misspelled_container_field_names_the_field_and_suggests_the_right_one() -> None:
    manifest = raycluster()
    manifest["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = (
        "Always"
    )
    assert messages(manifest) == {
        "spec.workerGroupSpecs[0].template.spec.containers[0].imagePullPolicyy": "unknown field 'imagePullPolicyy' (did you mean 'imagePullPolicy'?)"
    }


def test_wrong_case_is_caught_too() -> None:
    manifest = raycluster()
    manifest["spec"]["headGroupSpec"]["template"]["spec"]["nodeselector"] = {"a": "b"}
    assert messages(manifest) == {
        "spec.headGroupSpec.template.spec.nodeselector": "unknown field 'nodeselector' (did you mean 'nodeSelector'?)"
    }


def test_mistyped_port_names_the_expected_type() -> None:
    manifest = raycluster()
    manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"containerPort": "6379"}
    ]
    assert messages(manifest) == {
        "spec.headGroupSpec.template.spec.containers[0].ports[0].containerPort": "expected integer, got string '6379'"
    }


def test_missing_required_container_name() -> None:
    manifest = raycluster()
    del manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["name"]
    assert messages(manifest) == {
        "spec.headGroupSpec.template.spec.containers[0].name": "required field is missing"
    }


def test_quantities_accept_numbers_and_strings_but_not_objects() -> None:
    manifest = raycluster()
    container = manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"cpu": 1, "memory": "2Gi"}, "requests": {"cpu": 0.5}}
    assert messages(manifest) == {}
    container["resources"]["limits"]["cpu"] = {"cores": 1}
    assert messages(manifest) == {
        "spec.headGroupSpec.template.spec.containers[0].resources.limits.cpu": "expected number or string, got object {'cores': 1}"
    }


def test_pod_metadata_inside_the_template_is_checked() -> None:
    manifest = raycluster()
    manifest["spec"]["headGroupSpec"]["template"]["metadata"] = {"labels": ["not", "a", "map"]}
    assert list(messages(manifest)) == ["spec.headGroupSpec.template.metadata.labels"]


def test_autoscaler_env_and_security_context_are_core_types() -> None:
    manifest = raycluster()
    manifest["spec"]["autoscalerOptions"] = {
        "env": [{"name": "A", "valu": "1"}],
        "securityContext": {"runAsUser": "root"},
    }
    assert messages(manifest) == {
        "spec.autoscalerOptions.env[0].valu": "unknown field 'valu' (did you mean 'value'?)",
        "spec.autoscalerOptions.securityContext.runAsUser": "expected integer, got string 'root'",
    }


def test_submitter_pod_template_and_serve_service_are_checked() -> None:
    job = rayjob()
    job["spec"]["submitterPodTemplate"] = {"spec": {"restartPolicy": "Never", "containerz": []}}
    assert "spec.submitterPodTemplate.spec.containerz" in messages(job)
    service = rayservice()
    service["spec"]["serveService"] = {"spec": {"ports": [{"port": "http"}]}}
    assert messages(service) == {
        "spec.serveService.spec.ports[0].port": "expected integer, got string 'http'"
    }


def test_object_metadata_is_checked_against_object_meta() -> None:
    manifest = raycluster()
    manifest["metadata"]["lables"] = {"a": "b"}
    assert messages(manifest) == {"metadata.lables": "unknown field 'lables' (did you mean 'labels'?)"}


def test_unknown_ray_fields_are_warnings_that_name_the_field() -> None:
    manifest = raycluster()
    manifest["spec"]["workerGroupSpecs"][0]["replica"] = 3
    problems = validate(manifest)
    assert [(p.path, p.severity) for p in problems] == [
        ("spec.workerGroupSpecs[0].replica", Severity.WARNING)
    ]
    assert "drops it" in problems[0].message


def test_a_field_of_the_wrong_json_type_is_an_error_not_a_crash() -> None:
    manifest = raycluster()
    manifest["spec"]["workerGroupSpecs"] = {"groupName": "x"}
    manifest["spec"]["headGroupSpec"]["template"] = "not-an-object"
    found = messages(manifest)
    assert found["spec.workerGroupSpecs"] == "expected array, got object {'groupName': 'x'}"
    assert found["spec.headGroupSpec.template"].startswith("expected object")


def test_templates_with_the_same_content_are_checked_against_the_schema_once() -> None:
    from unittest import mock

    from raykopf.validation import core_types

    core_types._checked.clear()
    first, same, other = raycluster(), raycluster(), raycluster()
    same["metadata"]["name"] = "another-name"
    other["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with mock.patch.object(core_types, "_check", wraps=core_types._check) as check:
        assert messages(first) == {}
        checked_once = check.call_count
        assert messages(same) == {}
        assert check.call_count - checked_once == 1  # only its metadata (the name differs) was checked again
        # A change inside a template is checked, not answered from the cache.
        assert messages(other) == {
            "spec.headGroupSpec.template.spec.containers[0].imagePullPolicyy": "unknown field 'imagePullPolicyy' (did you mean 'imagePullPolicy'?)"
        }


def test_values_json_cannot_hold_are_checked_without_the_cache() -> None:
    """YAML read by `raykopf validate` can hold a date where a string belongs: reported, not a crash."""
    import datetime

    manifest = raycluster()
    manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["args"] = [
        datetime.date(2020, 1, 2)
    ]
    assert list(messages(manifest)) == ["spec.headGroupSpec.template.spec.containers[0].args[0]"]
    assert messages(manifest)["spec.headGroupSpec.template.spec.containers[0].args[0]"].startswith(
        "expected string, got date"
    )
