"""The conformance suite's own tools: a difference it normalises away must be chance, never behaviour."""

from __future__ import annotations

import re
from pathlib import Path

from e2e.conformance.compare import (
    Declared,
    Difference,
    compare_case,
    event_view,
    load_declared,
    owned_by,
    side,
)
from e2e.conformance.normalise import ORDER, Normaliser, diff, flatten


def _pod(namespace: str, name: str, env: list[dict[str, str]], owner_uid: str = "u-root") -> dict:
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": "c-head-",
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": "17",
            "labels": {"ray.io/node-type": "head", "ray.io/group": "headgroup"},
            "ownerReferences": [{"kind": "RayCluster", "name": "c", "uid": owner_uid}],
        },
        "spec": {
            "nodeName": "n1",
            "containers": [
                {
                    "name": "ray-head",
                    "env": env,
                    "volumeMounts": [{"name": "kube-api-access-ab12c", "mountPath": "/var/run"}],
                }
            ],
        },
        "status": {"podIP": "10.0.0.3"},
    }


def _root(namespace: str, state: str = "ready") -> dict:
    return {
        "kind": "RayCluster",
        "metadata": {"name": "c", "namespace": namespace, "uid": "u-root"},
        "status": {"state": state, "lastUpdateTime": "2026-12-02T10:00:00Z", "head": {"podIP": "10.0.0.9"}},
    }


def test_chance_is_normalised_away_but_values_and_order_are_not() -> None:
    env = [
        {"name": "A", "value": "http://c-head-svc.ns-one.svc.cluster.local:8265"},
        {"name": "B", "value": "1"},
    ]
    left = side("ns-one", "c", "RayCluster", [_root("ns-one"), _pod("ns-one", "c-head-x1y2z", env)], [])
    env_two = [
        {"name": "A", "value": "http://c-head-svc.ns-two.svc.cluster.local:8265"},
        {"name": "B", "value": "1"},
    ]
    right = side("ns-two", "c", "RayCluster", [_root("ns-two"), _pod("ns-two", "c-head-q9w8e", env_two)], [])
    assert left is not None
    assert right is not None
    assert compare_case("c", left, right).differences == []

    swapped = side(
        "ns-two", "c", "RayCluster", [_root("ns-two"), _pod("ns-two", "c-head-q9w8e", env_two[::-1])], []
    )
    assert swapped is not None
    found = compare_case("c", left, swapped).differences
    assert [d.path for d in found] == [
        f"/spec/containers/ray-head/env/{ORDER}/0",
        f"/spec/containers/ray-head/env/{ORDER}/1",
    ]

    changed = [env_two[0], {"name": "B", "value": "2"}]
    other = side(
        "ns-two", "c", "RayCluster", [_root("ns-two", "suspended"), _pod("ns-two", "c-head-q", changed)], []
    )
    assert other is not None
    paths = {d.path for d in compare_case("c", left, other).differences}
    assert "/spec/containers/ray-head/env/B/value" in paths
    assert "/status/state" in paths


def test_only_objects_owned_by_the_case_and_not_by_a_job_are_compared() -> None:
    root = _root("ns")
    job = {"kind": "Job", "metadata": {"name": "j", "uid": "u-job", "ownerReferences": [{"uid": "u-root"}]}}
    job_pod = {
        "kind": "Pod",
        "metadata": {"name": "j-abcde", "uid": "u-jp", "ownerReferences": [{"kind": "Job", "uid": "u-job"}]},
    }
    stranger = {"kind": "Service", "metadata": {"name": "s", "uid": "u-s"}}
    found = owned_by([root, job, job_pod, stranger], root)
    assert [item["metadata"]["name"] for item in found] == ["j"]


def test_service_ports_order_is_not_compared_but_container_order_is() -> None:
    normaliser = Normaliser("ns")
    ports = normaliser.value([{"name": "b", "port": 2}, {"name": "a", "port": 1}], "ports")
    assert ORDER not in ports
    containers = normaliser.value([{"name": "b"}, {"name": "a"}], "containers")
    assert containers[ORDER] == ["b", "a"]
    assert normaliser.value(31234, "nodePort") == "<nodePort>"
    conditions = normaliser.value([{"type": "B", "status": "True"}, {"type": "A"}], "conditions")
    assert conditions["B"] == {"type": "B", "status": "True"}
    assert conditions[ORDER] == ["B", "A"]
    assert flatten({"a/b": {"c": [1]}}) == {"/a~1b/c/0": 1}
    assert diff({"x": 1}, {"y": 1})[1] == [("/x", 1, "<absent>"), ("/y", "<absent>", 1)]


def test_a_declared_difference_covers_only_what_it_names() -> None:
    declared = Declared(
        id="d",
        reason="r",
        category="deliberate",
        kind="Pod",
        path="/metadata/annotations/*",
        raykopf="raykopf-*",
    )
    hit = Difference("case", "Pod head headgroup x", "/metadata/annotations/v", "v1.6.1", "raykopf-v0.1.0")
    assert declared.covers(hit)
    assert not declared.covers(Difference("case", "Service x", hit.path, hit.kuberay, hit.raykopf))
    assert not declared.covers(Difference("case", hit.object, "/spec/x", hit.kuberay, hit.raykopf))
    assert not declared.covers(Difference("case", hit.object, hit.path, hit.kuberay, "other"))

    # Several paths, and values as a list of alternatives, each still exact.
    several = Declared(
        id="s",
        reason="r",
        category="deliberate",
        kind="RayJob",
        path=("/status/jobStatus", "/status/message"),
        kuberay=["Failure", "error trying*"],
        raykopf="<absent>",
    )
    job = "RayJob (root)"
    assert several.covers(Difference("c", job, "/status/jobStatus", "Failure", "<absent>"))
    assert several.covers(Difference("c", job, "/status/message", "error trying to reach", "<absent>"))
    assert not several.covers(Difference("c", job, "/status/jobStatus", "SUCCEEDED", "<absent>"))
    assert not several.covers(Difference("c", job, "/status/reason", "Failure", "<absent>"))
    assert not several.covers(Difference("c", job, "/status/jobStatus", "Failure", "FAILED"))


def test_every_declared_difference_has_a_reason() -> None:
    for item in load_declared(
        Path(__file__).resolve().parents[2] / "e2e" / "conformance" / "differences.yaml"
    ):
        assert len(item.reason.split()) >= 5, f"{item.id}: say why"


def test_only_in_and_rewrite_take_out_exactly_the_declared_part() -> None:
    env = [{"name": "A", "value": "ulimit -n 65536; x"}]
    left = side("ns-one", "c", "RayCluster", [_root("ns-one"), _pod("ns-one", "c-head-x1y2z", env)], [])
    extra = [{"name": "A", "value": "ulimit -n ${U:-65536}; x"}, {"name": "NEW", "value": "1"}]
    right = side("ns-two", "c", "RayCluster", [_root("ns-two"), _pod("ns-two", "c-head-q9w8e", extra)], [])
    assert left is not None
    assert right is not None
    only = Declared(
        id="only",
        reason="r",
        category="peer-version",
        kind="Pod",
        path="/spec/containers/*/env/NEW",
        only_in="raykopf",
    )
    rewrite = Declared(
        id="rw",
        reason="r",
        category="peer-version",
        kind="Pod",
        path="/spec/containers/*/env/A/value",
        kuberay_rewrite=("ulimit -n 65536;", "ulimit -n ${U:-65536};"),
    )
    result = compare_case("c", left, right, [only, rewrite])
    assert result.differences == []
    assert sorted(item.id for _, item in result.adjusted) == ["only", "rw"]
    # The rewrite changes only what it names: another difference in the same value still shows.
    other = [{"name": "A", "value": "ulimit -n ${U:-65536}; y"}, {"name": "NEW", "value": "1"}]
    right = side("ns-two", "c", "RayCluster", [_root("ns-two"), _pod("ns-two", "c-head-q9w8e", other)], [])
    assert right is not None
    left = side("ns-one", "c", "RayCluster", [_root("ns-one"), _pod("ns-one", "c-head-x1y2z", env)], [])
    assert left is not None
    assert [d.path for d in compare_case("c", left, right, [only, rewrite]).differences] == [
        "/spec/containers/ray-head/env/A/value"
    ]


def test_a_raykopf_rewrite_takes_out_a_regex_and_nothing_more() -> None:
    kuberay_env = [{"name": "A", "value": "if ! ray job status x ; then submit ; fi"}]
    raykopf_env = [
        {"name": "A", "value": "until check x ; do sleep 2 ; done ; if ! ray job status x ; then submit ; fi"}
    ]
    strip = Declared(
        id="strip",
        reason="r",
        category="peer-version",
        kind="Pod",
        path="/spec/containers/*/env/A/value",
        raykopf_rewrite=("^until .*?; done ; ", ""),
    )
    for raykopf_value, expected in ((raykopf_env, []), ([{"name": "A", "value": "if ! other"}], ["A"])):
        left = side(
            "ns-one", "c", "RayCluster", [_root("ns-one"), _pod("ns-one", "c-head-x", kuberay_env)], []
        )
        right = side(
            "ns-two", "c", "RayCluster", [_root("ns-two"), _pod("ns-two", "c-head-y", raykopf_value)], []
        )
        assert left is not None
        assert right is not None
        found = compare_case("c", left, right, [strip]).differences
        assert [d.path.split("/")[-2] for d in found] == expected


def test_a_generated_token_keeps_its_form_but_not_its_value() -> None:
    import base64

    def secret(raw: bytes) -> dict:
        token = base64.b64encode(base64.b64encode(raw)).decode()
        return {"kind": "Secret", "metadata": {"name": "c"}, "data": {"auth_token": token}}

    normaliser = Normaliser("ns")
    assert normaliser.object(secret(b"a" * 32)) == normaliser.object(secret(b"b" * 32))
    assert normaliser.object(secret(b"a" * 32)) != normaliser.object(secret(b"a" * 16))


def test_the_docs_list_every_declared_difference_and_no_other() -> None:
    root = Path(__file__).resolve().parents[2]
    declared = {item.id for item in load_declared(root / "e2e" / "conformance" / "differences.yaml")}
    table = (root / "docs" / "differences.md").read_text().split("## Schema")[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.MULTILINE))
    assert listed == declared


def test_events_of_an_earlier_object_of_the_same_name_are_not_the_cases() -> None:
    cluster = {"kind": "RayCluster", "metadata": {"name": "a", "uid": "new"}}
    events = [
        {"involvedObject": {"kind": "RayCluster", "name": "a", "uid": "old"}, "reason": "DeletedHeadPod"},
        {"involvedObject": {"kind": "RayCluster", "name": "a", "uid": "new"}, "reason": "CreatedService"},
        {
            "regarding": {"kind": "RayCluster", "name": "a", "uid": "new"},
            "reason": "CreatedHeadPod",
            "type": "Normal",
        },
    ]
    assert event_view(events, [cluster]) == {"RayCluster": {"CreatedService": "", "CreatedHeadPod": "Normal"}}
