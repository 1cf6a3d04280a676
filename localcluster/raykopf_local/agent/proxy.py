"""Applies the ClusterIP translations with iptables, the way kube-proxy's iptables mode does."""

from __future__ import annotations

import subprocess

from raykopf_local.agent.services import CHAIN, POSTROUTING_CHAIN, REJECT_CHAIN, Translation, iptables_rules

# (table, hook, chain)
_HOOKS = (
    ("nat", "PREROUTING", CHAIN),
    ("nat", "OUTPUT", CHAIN),
    ("nat", "POSTROUTING", POSTROUTING_CHAIN),
    ("filter", "OUTPUT", REJECT_CHAIN),
    ("filter", "FORWARD", REJECT_CHAIN),
)


def _iptables(table: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "-t", table, *args], capture_output=True, text=True, check=False)


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
    for table, hook, chain in _HOOKS:
        if _iptables(table, "-C", hook, "-j", chain).returncode != 0:
            _iptables(table, "-I", hook, "1", "-j", chain)


def remove_rules() -> None:
    for table, hook, chain in _HOOKS:
        while _iptables(table, "-D", hook, "-j", chain).returncode == 0:
            pass
    for table, chain in (("nat", CHAIN), ("nat", POSTROUTING_CHAIN), ("filter", REJECT_CHAIN)):
        _iptables(table, "-F", chain)
        _iptables(table, "-X", chain)
