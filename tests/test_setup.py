"""`./run` sets itself up with a Python it can use, and `pulumi up` installs only what the
deploy program imports (requirements.txt); tools and tests come from requirements-dev.txt."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Import name -> distribution, for everything the repository imports from outside the standard library.
DISTRIBUTIONS = {
    "pulumi": "pulumi", "pulumi_azure_native": "pulumi-azure-native", "pulumi_kubernetes": "pulumi-kubernetes",
    "pulumi_random": "pulumi-random", "pydantic": "pydantic", "jsonschema": "jsonschema", "yaml": "PyYAML",
    "azure": "azure-identity", "google": "pulumi", "ruamel": "ruamel.yaml", "kubernetes": "kubernetes",
    "matplotlib": "matplotlib", "pytest": "pytest", "hypothesis": "hypothesis",
}
TOOLS_AND_TESTS = {"pytest", "pytest-xdist", "ruff", "hypothesis", "zizmor", "matplotlib", "kubernetes",
                   "ruamel.yaml", "cosmic-ray"}


def _requirements(name: str) -> set[str]:
    names = set()
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            names.add(re.split(r"[=<>~!]", line)[0])
    return names


def _fake_python(tmp_path: Path, version: str) -> Path:
    fake = tmp_path / f"python{version}"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    return fake


def _copy_of_run(tmp_path: Path) -> Path:
    # A copy without .venv, so `run` has to build one with the interpreter it is given.
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("run", "requirements.txt", "requirements-dev.txt", "requirements-mutate.txt"):
        shutil.copy2(ROOT / name, work / name)
    return work / "run"


@pytest.mark.parametrize("version", ["3.9", "3.10", "2.7"])
def test_run_refuses_an_old_python_with_one_line(tmp_path, version):
    run = _copy_of_run(tmp_path)
    proc = subprocess.run([str(run), "test"], env={**os.environ, "PYTHON": str(_fake_python(tmp_path, version))},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "needs Python 3.11 or newer" in lines[0] and f"is {version}" in lines[0]
    assert "PYTHON=python3.12 ./run" in lines[0]  # how to point it at another Python
    assert not (run.parent / ".venv").exists()


def test_run_says_so_when_the_python_it_is_given_does_not_run(tmp_path):
    run = _copy_of_run(tmp_path)
    proc = subprocess.run([str(run), "setup"], env={**os.environ, "PYTHON": str(tmp_path / "no-such-python")},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "does not run" in proc.stderr


def test_run_accepts_this_python():
    assert sys.version_info >= (3, 11)
    proc = subprocess.run([str(ROOT / "run"), "setup"], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ready: .venv"


def test_pulumi_up_installs_no_tool_or_test_package():
    deploy = _requirements("requirements.txt")
    assert not deploy & TOOLS_AND_TESTS
    assert TOOLS_AND_TESTS - {"cosmic-ray"} <= _requirements("requirements-dev.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements-dev.txt" in (ROOT / "requirements-mutate.txt").read_text().splitlines()
    assert "cosmic-ray" in _requirements("requirements-mutate.txt")


def _imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"components", "tools", "__future__"}


def test_the_deploy_program_imports_only_what_requirements_txt_installs():
    # What `pulumi up` runs: __main__.py, components/, and the pre-flight it imports lazily.
    files = [ROOT / "__main__.py", *sorted((ROOT / "components").glob("*.py")),
             ROOT / "tools" / "preflight.py", ROOT / "tools" / "preflight_checks.py", ROOT / "tools" / "outputs.py"]
    deploy = _requirements("requirements.txt")
    for path in files:
        for package in _imported_packages(path):
            assert DISTRIBUTIONS.get(package) in deploy, f"{path.relative_to(ROOT)} imports {package}"


def test_pulumi_yaml_installs_requirements_txt_into_the_venv_run_uses():
    import yaml

    options = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert options == {"toolchain": "pip", "virtualenv": ".venv"}
