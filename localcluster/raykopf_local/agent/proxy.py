"""Applies the ClusterIP translations with iptables, the way kube-proxy's iptables mode does."""

from __future__ import annotations

import subprocess

from raykopf_local.agent.services import CHAIN, POSTROUTING_CHAIN, Translation, iptables_rules

_HOOKS = (("PREROUTING", CHAIN), ("OUTPUT", CHAIN), ("POSTROUTING", POSTROUTING_CHAIN))


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "-t", "nat", *args], capture_output=True, text=True, check=False)


def apply_rules(rules: list[Translation]) -> None:
    result = subprocess.run(
        ["iptables-restore", "-w", "--noflush"],
        input=iptables_rules(rules),
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"iptables-restore failed: {result.stderr.strip()}")
    for hook, chain in _HOOKS:
        if _iptables("-C", hook, "-j", chain).returncode != 0:
            _iptables("-I", hook, "1", "-j", chain)


def remove_rules() -> None:
    for hook, chain in _HOOKS:
        while _iptables("-D", hook, "-j", chain).returncode == 0:
            pass
    for chain in (CHAIN, POSTROUTING_CHAIN):
        _iptables("-F", chain)
        _iptables("-X", chain)
