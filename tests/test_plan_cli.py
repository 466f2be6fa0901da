"""The offline plan command as a user runs it: exit codes, messages, JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import plan

ROOT = Path(__file__).resolve().parent.parent


def run_plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.plan", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_dev_stack_json():
    proc = run_plan("--stack", "dev", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert set(plan) >= {"project", "stack", "resources", "helmReleases", "outputs"}
    assert plan["project"] == "binderhub-azure" and plan["stack"] == "dev"
    assert plan["costEstimate"]["currency"] == "USD" and plan["costEstimate"]["offline"] is True
    types = {r["type"] for r in plan["resources"]}
    assert {"azure-native:resources:ResourceGroup", "azure-native:containerservice:ManagedCluster",
            "azure-native:containerservice:AgentPool", "azure-native:containerregistry:Registry",
            "azure-native:authorization:RoleAssignment"} <= types
    for res in plan["resources"]:
        assert set(res) >= {"type", "name", "parent", "inputs", "protect", "dependsOn"}
    assert proc.stderr == ""


def test_summary_is_readable(capsys):
    # In this process (the JSON test above runs the command as a user does).
    assert plan.main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "azure-native:containerservice:ManagedCluster" in out
    assert "[protected]" in out
    assert "Cost estimate (USD, list pay-as-you-go): idle $" in out


BAD = [
    ("config:\n  binderhub-azure:institution: demo\n", "azure-native:location is required"),
    ("config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: Demo!\n"
     "  binderhub-azure:contactEmail: a@b.example\n", "binderhub-azure:institution must be"),
    ("config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: demo\n"
     "  binderhub-azure:contactEmail: a@b.example\n  binderhub-azure:cluster:\n    userPool:\n"
     "      minCount: 2\n      maxCount: 0\n", "binderhub-azure:cluster.userPool.maxCount must be >= 1"),
    ("config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: demo\n"
     "  binderhub-azure:contactEmail: a@b.example\n  binderhub-azure:auth:\n    type: github\n"
     "    clientId: x\n    allowedUsers: [a]\n  binderhub-azure:authClientSecret: plaintext\n",
     "binderhub-azure:authClientSecret must be stored as a secret"),
    ("config: [\n", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_stack_file_exits_2_with_one_line(tmp_path, text, message):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(text)
    proc = run_plan("--config-file", str(path), "--json")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_secure_values_count_as_set_secrets(tmp_path, capsys):
    path = tmp_path / "Pulumi.hub.yaml"
    path.write_text(
        "config:\n  azure-native:location: uksouth\n  binderhub-azure:institution: hubuni\n"
        "  binderhub-azure:contactEmail: a@b.example\n  binderhub-azure:mode: jupyterhub\n"
        "  binderhub-azure:auth:\n    type: github\n    clientId: abc\n    allowedOrganizations: [hubuni]\n"
        "  binderhub-azure:authClientSecret:\n    secure: v1:AAAABBBBCCCC\n"
    )
    assert plan.main(["--config-file", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["stack"] == "hub"
    assert "v1:AAAABBBBCCCC" not in out


def test_missing_stack_file():
    proc = run_plan("--stack", "does-not-exist")
    assert proc.returncode == 2 and "no such stack file" in proc.stderr
