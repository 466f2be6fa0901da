"""The tree shows what `pulumi up` runs and what only an operator runs, and the deploy program
gives the tools what they need instead of letting them guess."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest
import yaml

from components.config_load import parse_config
from tests.helpers import raw_config
from tools import cost, plan
from tools import outputs as stack_outputs

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("components", "tools")
GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"]}


def imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (lazily or not)."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    base = package if node.level else ""
                    module = f"{base}.{node.module}" if base and node.module else (node.module or base)
                    if node.module is None or module in PACKAGES:
                        found |= {f"{module}.{alias.name}" for alias in node.names}
                    else:
                        found.add(module)
                elif isinstance(node, ast.Import):
                    found |= {alias.name for alias in node.names}
            graph[f"{package}.{path.stem}"] = {m for m in found if m.split(".")[0] in PACKAGES and m in
                                                {f"{p}.{q.stem}" for p in PACKAGES for q in (ROOT / p).glob("*.py")}}
    return graph


def test_components_never_import_the_tools():
    wrong = {m: sorted(d for d in deps if d.startswith("tools.")) for m, deps in imports().items()
             if m.startswith("components.")}
    assert {m: d for m, d in wrong.items() if d} == {}


def test_no_import_cycle():
    graph = imports()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path, dep]
            if dep not in state and (cycle := visit(dep, [*path, dep])):
                return cycle
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            assert visit(module, [module]) is None


def test_the_deploy_program_imports_no_operator_tool_but_the_preflight():
    tree = ast.parse((ROOT / "__main__.py").read_text())
    used = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {m for m in used if m.startswith("tools")} == {"tools.preflight"}


def test_the_default_kubernetes_provider_is_disabled_for_the_project():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    # A key outside the project's namespace sets its value with `value:` in Pulumi.yaml.
    assert project["config"]["pulumi:disable-default-providers"] == {"value": ["kubernetes"]}
    # The CLI hands it to the program as JSON; the config reader accepts it.
    raw, secret = raw_config(**{"pulumi:disable-default-providers": '["kubernetes"]'})
    parse_config(raw, secret)


def test_outputs_tell_mode_namespace_and_https(render):
    binder = render()["outputs"]
    assert (binder["mode"], binder["hubNamespace"], binder["https"]) == ("binderhub", "binderhub", True)
    jupyter = render(mode="jupyterhub", auth=GITHUB, https=False, contactEmail=None,
                     secrets={"authClientSecret": "s"})["outputs"]
    assert (jupyter["mode"], jupyter["hubNamespace"], jupyter["https"]) == ("jupyterhub", "jupyterhub", False)


def test_tools_trust_the_exported_outputs_over_guessing():
    # Outputs that, guessed from names, would say binderhub over HTTPS.
    outputs = {"resourceGroup": "rg-uni-binderhub", "url": "https://hub.uni.example/", "mode": "jupyterhub",
               "hubNamespace": "hubs", "https": False}
    assert stack_outputs.mode_hint(outputs) == "jupyterhub"
    assert stack_outputs.exported_mode(outputs) == "jupyterhub"
    assert stack_outputs.hub_namespace(outputs, "jupyterhub") == "hubs"
    assert stack_outputs.https_hint(outputs) is False
    # A stack deployed before these outputs existed: the old rules still apply.
    old = {"resourceGroup": "rg-uni-binderhub", "url": "https://hub.uni.example/"}
    assert (stack_outputs.mode_hint(old), stack_outputs.exported_mode(old)) == ("binderhub", None)
    assert stack_outputs.hub_namespace(old, "binderhub") == "binderhub"
    assert stack_outputs.https_hint(old) is True


def test_the_new_outputs_are_public_and_never_redacted():
    outputs = {"mode": "binderhub", "hubNamespace": "binderhub", "https": True, "kubeconfig": "token: " + "x" * 20}
    fragments = stack_outputs.secret_fragments(outputs)
    assert stack_outputs.redact("binderhub pods in binderhub", fragments) == "binderhub pods in binderhub"
    assert "x" * 20 in fragments


def test_the_pinned_urn_lists_are_json_lists_of_urns():
    for path in sorted((ROOT / "tests" / "data" / "urns").glob("*.json")):
        assert all(u.startswith("urn:pulumi:test::binderhub-azure::") for u in json.loads(path.read_text()))


def test_every_command_answers_a_bug_with_the_same_one_line(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.delenv("BINDERHUB_AZURE_DEBUG", raising=False)
    monkeypatch.setattr(plan, "build_plan", broken)
    assert plan.main(["--stack", "dev"]) == 1
    assert capsys.readouterr().err == ("error: the offline plan failed: RuntimeError: first line second line "
                                       "(set BINDERHUB_AZURE_DEBUG=1 for a traceback)\n")
    monkeypatch.setattr(cost, "estimate", broken)
    assert cost.main(["--stack", "dev", "--offline"]) == 1
    assert capsys.readouterr().err.startswith("error: the cost estimate failed: RuntimeError: first line second")
    stream = io.StringIO()
    assert stack_outputs.unexpected(ValueError("x"), detail="shortened", stream=stream, status=2) == 2
    assert stream.getvalue() == "error: ValueError: shortened (set BINDERHUB_AZURE_DEBUG=1 for a traceback)\n"
    monkeypatch.setenv("BINDERHUB_AZURE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        plan.main(["--stack", "dev"])
