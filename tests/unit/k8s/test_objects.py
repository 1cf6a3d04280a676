"""The status patch: applied as the apiserver applies a JSON merge patch, it must give the new status."""

from __future__ import annotations

from typing import Any

from raykopf.k8s.objects import merge_patch


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, section 2, as written there."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def test_a_field_gone_at_any_depth_is_removed_by_the_patch() -> None:
    before = {
        "state": "ready",
        "head": {"podIP": "10.0.0.1", "podName": "h", "serviceName": "svc", "serviceIP": "10.0.0.1"},
        "endpoints": {"dashboard": "8265", "client": "10001"},
        "reason": "old",
        "conditions": [{"type": "A"}, {"type": "B"}],
    }
    after = {
        "state": "suspended",
        "head": {"serviceName": "svc"},
        "endpoints": {"dashboard": "8265"},
        "conditions": [{"type": "A"}],
    }
    patch = merge_patch(before, after)
    assert apply_merge_patch(before, patch) == after
    assert patch["head"]["podIP"] is None
    assert patch["reason"] is None
    # The whole new value is written, so a stale `before` cannot leave an old value in place.
    assert apply_merge_patch({**before, "state": "other"}, patch)["state"] == "suspended"
