"""Stack files read the way Pulumi reads them, and every command's answer to a malformed one:
one line on stderr, exit 2, no traceback, before the heavy SDKs load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError
from components.config_load import parse_config
from tools import cost, ops, plan, preflight
from tools.stackfile import SECRET, PlanError, parse_stack_text, read_stack_file

ROOT = Path(__file__).resolve().parent.parent
GOOD = ("config:\n  azure-native:location: westeurope\n  binderhub-azure:institution: demo\n"
        "  binderhub-azure:contactEmail: a@b.example\n")


def config_of(text: str) -> dict[str, str]:
    raw, _ = parse_stack_text(text)
    return raw


# ---------------------------------------------------------------- YAML 1.2 like Pulumi


@pytest.mark.parametrize(("value", "expected"), [
    ("no", "no"), ("yes", "yes"), ("on", "on"), ("off", "off"), ("y", "y"), ("NO", "NO"),
    ("1:30", "1:30"), ("012", "12"), ("'012'", "012"), ("true", "true"), ("false", "false"),
    ("3", "3"), ("2.5", "2.5"), ('"yes"', "yes"),
])
def test_scalars_keep_their_yaml_1_2_meaning(value, expected):
    assert config_of(f"config:\n  binderhub-azure:x: {value}\n")["binderhub-azure:x"] == expected


def test_an_institution_called_off_is_a_string_not_false():
    raw, secret = parse_stack_text(GOOD.replace("institution: demo", "institution: off"))
    assert parse_config(raw, secret).institution == "off"


@pytest.mark.parametrize("text", [
    "config:\n  binderhub-azure:institution: a\n  binderhub-azure:institution: b\n",
    "config:\n  institution: a\n  binderhub-azure:institution: b\n",
    "config:\n  binderhub-azure:auth:\n    type: github\n    type: entra\n",
    "config:\n  a:b: 1\nconfig:\n  a:b: 2\n",
])
def test_duplicate_keys_are_refused(text):
    with pytest.raises(PlanError) as info:
        parse_stack_text(text, "Pulumi.x.yaml")
    assert len(info.value.problems) == 1
    assert "duplicate key" in info.value.problems[0] or "set twice" in info.value.problems[0]


def test_secure_values_and_nested_secure_leaves_are_secret():
    raw, secret = parse_stack_text(
        "config:\n  binderhub-azure:authClientSecret:\n    secure: v1:abc\n"
        "  binderhub-azure:auth:\n    type: github\n    clientId:\n      secure: v1:def\n")
    assert raw["binderhub-azure:authClientSecret"] == SECRET
    assert json.loads(raw["binderhub-azure:auth"]) == {"type": "github", "clientId": SECRET}
    assert secret == {"binderhub-azure:authClientSecret", "binderhub-azure:auth"}


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "must be a YAML mapping with a 'config:' section (got a list)"),
    ("just text\n", "must be a YAML mapping with a 'config:' section (got a string)"),
    ("42\n", "must be a YAML mapping"),
    ("config: [a, b]\n", "'config' must be a mapping of keys to values (got a list)"),
    ("config:\n  binderhub-azure:x: !!binary aGVsbG8=\n", "binderhub-azure:x is binary data (!!binary)"),
    ("config:\n  binderhub-azure:x: !!set {a, b}\n", "binderhub-azure:x is a set"),
    ("config:\n  binderhub-azure:x: !!python/object:os.system x\n", "not valid YAML 1.2"),
    # Well past what Python's recursion allows the parser (about 500 levels).
    ("config:\n  binderhub-azure:x: " + "[" * 1000 + "]" * 1000 + "\n", "not valid YAML 1.2 (nests deeper than"),
    ("config:\n  binderhub-azure:x: " + "{a: " * 40 + "1" + "}" * 40 + "\n", "nests deeper than"),
    ("config:\n  binderhub-azure:x: .nan\n", "must be a finite number"),
    ("config:\n  binderhub-azure:authClientSecret:\n    secure: ''\n", "empty 'secure:' value"),
    ("config:\n  binderhub-azure:authClientSecret:\n    secure: v1:x\n    other: y\n", "holds nothing else"),
    ("confg:\n  a:b: 1\n", "did you mean 'config'?"),
    ("config:\n  1: 2\n", "must be text"),
    ("config: [\n", "not valid YAML 1.2"),
])
def test_malformed_text_is_one_plan_error(text, message):
    with pytest.raises(PlanError) as info:
        parse_stack_text(text, "Pulumi.x.yaml")
    assert len(info.value.problems) == 1 and message in info.value.problems[0], info.value.problems


def _malformed(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "dir.yaml").mkdir()
    files = {
        "list": (b"- a\n", "got a list"),
        "scalar": (b"hello\n", "got a string"),
        "latin1": ("config:\n  binderhub-azure:institution: caf\xe9\n".encode("latin-1"), "not UTF-8"),
        "binary": (b"config:\n  binderhub-azure:x: !!binary aGVsbG8=\n", "binary data"),
        # Deeper than Python's recursion allows the parser, as in the parse test above.
        "deep": (("config:\n  binderhub-azure:x: " + "[" * 600 + "]" * 600 + "\n").encode(),
                 "not valid YAML 1.2 (nests deeper"),
        "zero-memory": ((GOOD + "  binderhub-azure:limits:\n    memory: 0G\n").encode(),
                        "binderhub-azure:limits.memory must be from 128M"),
        "duplicate": ((GOOD + "  binderhub-azure:institution: other\n").encode(), "duplicate key"),
        "typo-namespace": ((GOOD + "  binderhub-azuer:auth:\n    type: github\n").encode(), "did you mean"),
    }
    out = {}
    for name, (data, message) in files.items():
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_bytes(data)
        out[name] = (path, message)
    out["directory"] = (tmp_path / "dir.yaml", "is a directory")
    out["missing"] = (tmp_path / "Pulumi.nothere.yaml", "no such stack file")
    return out


CASES = ["list", "scalar", "latin1", "binary", "deep", "zero-memory", "duplicate", "typo-namespace",
         "directory", "missing"]


@pytest.mark.parametrize("command", ["plan", "cost", "preflight"])
@pytest.mark.parametrize("case", CASES)
def test_every_command_answers_a_malformed_file_with_one_line_and_exit_2(tmp_path, capsys, command, case):
    path, message = _malformed(tmp_path)[case]
    main = {"plan": plan.main, "cost": cost.main, "preflight": preflight.main}[command]
    args = ["--config-file", str(path)] + (["--offline"] if command == "cost" else [])
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err


def test_a_stack_name_is_not_a_path(capsys):
    assert plan.main(["--stack", "../etc/passwd"]) == 2
    assert "pass the stack name alone" in capsys.readouterr().err


def test_a_plain_text_secret_is_one_line_that_says_how_to_set_it(tmp_path, capsys):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(GOOD + "  binderhub-azure:auth:\n    type: github\n    clientId: c\n    allowedUsers: [a]\n"
                    "  binderhub-azure:authClientSecret: plaintext\n")
    assert plan.main(["--config-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "binderhub-azure:authClientSecret must be stored as a secret: pulumi config rm authClientSecret && "
        "pulumi config set --secret authClientSecret (it asks for the value)"]
    assert "plaintext" not in err


@pytest.mark.parametrize("command", ["plan", "cost", "preflight"])
def test_a_malformed_file_fails_before_the_heavy_sdks_load(tmp_path, command):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("- not a stack\n")
    code = (f"import sys\nfrom tools import {command} as m\n"
            f"rc = m.main(['--config-file', {str(path)!r}])\n"
            "heavy = [n for n in sys.modules if n.split('.')[0] in ('pulumi', 'pulumi_azure_native', "
            "'pulumi_kubernetes', 'kubernetes') or n.startswith(('azure.identity', 'azure.mgmt'))]\n"
            "print(rc, sorted(heavy))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.stdout.strip() == "2 []", proc.stdout + proc.stderr


# ---------------------------------------------------------------- PULUMI_CONFIG


def test_pulumi_config_in_the_environment_does_not_change_the_plan(tmp_path):
    path = tmp_path / "Pulumi.env.yaml"
    path.write_text(GOOD)
    env = {**os.environ, "PULUMI_CONFIG": json.dumps({"binderhub-azure:institution": "injected",
                                                      "binderhub-azure:https": "false"})}
    proc = subprocess.run([sys.executable, "-m", "tools.plan", "--config-file", str(path), "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "PULUMI_CONFIG set in the environment is ignored" in proc.stderr
    assert "injected" not in proc.stdout
    assert "demo-binder.westeurope.cloudapp.azure.com" in proc.stdout


def test_run_program_restores_the_environment(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", '{"binderhub-azure:institution": "injected"}')
    raw, secret = read_stack_file(ROOT / "Pulumi.dev.yaml")
    doc = plan.build_plan(raw, secret, "dev")
    assert "injected" not in json.dumps(doc)
    assert os.environ["PULUMI_CONFIG"] == '{"binderhub-azure:institution": "injected"}'


# ---------------------------------------------------------------- ops


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2]", "not a JSON object"),
    (b"[" * 100000 + b"]" * 100000, "nest too deeply"),
    (b"not json", "not JSON"),
])
def test_ops_answers_a_malformed_outputs_file_with_one_line(tmp_path, data, message):
    path = tmp_path / "outputs.json"
    path.write_bytes(data)
    out, err = _Buffer(), _Buffer()
    assert ops.main(["info", "--outputs-json", str(path)], out=out, err=err) == 2
    assert len(err.text.strip().splitlines()) == 1 and message in err.text, err.text


def test_ops_outputs_path_that_is_a_directory(tmp_path):
    err = _Buffer()
    assert ops.main(["info", "--outputs-json", str(tmp_path)], out=_Buffer(), err=err) == 2
    assert err.text.startswith("error: cannot read the outputs file") and len(err.text.splitlines()) == 1


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_ops_removes_its_kubeconfig_on_sigterm(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"kubeconfig": "apiVersion: v1\nkind: Config\n", "mode": "binderhub"}))
    seen: list[str] = []

    def factory(path: str):
        seen.append(path)
        assert Path(path).exists()
        os.kill(os.getpid(), signal.SIGTERM)  # delivered here, in the main thread
        raise AssertionError("SIGTERM did not stop the command")

    before = signal.getsignal(signal.SIGTERM)
    code = ops.main(["status", "--outputs-json", str(outputs)], api_factory=factory, out=_Buffer(), err=_Buffer())
    assert code == 143
    assert seen and not Path(seen[0]).exists()
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


def test_ops_process_killed_with_sigterm_leaves_no_kubeconfig(tmp_path):
    """A real process: the kubeconfig file exists while the command waits, and is gone after SIGTERM."""
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"kubeconfig": "apiVersion: v1\nkind: Config\n"}))
    marker = tmp_path / "kubeconfig-path"
    code = ("import sys, time\nfrom tools import ops\n"
            "def factory(path):\n"
            f"    open({str(marker)!r}, 'w').write(path)\n"
            "    time.sleep(60)\n"
            f"sys.exit(ops.main(['status', '--outputs-json', {str(outputs)!r}], api_factory=factory))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if marker.exists() and marker.read_text():
                break
            if proc.poll() is not None:
                break
            import time

            time.sleep(0.1)
        kubeconfig = Path(marker.read_text())
        assert kubeconfig.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        assert not kubeconfig.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- fuzzing: only the promised errors

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(["institution", "binderhub-azure:auth", "auth", "limits", "cluster", "helmValues",
                         "azure-native:location", "datasets", "profiles", "binderhub-azuer:auth", "mode",
                         "security", "authClientSecret", "defaultUrl", "vm", "budget"]) | st.text(max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_with_a_plan_error(text):
    try:
        parse_stack_text(text)
    except PlanError as err:
        assert err.problems and all("\n" not in p for p in err.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _JSON, max_size=6), st.sets(_KEYS, max_size=2))
def test_any_config_is_parsed_or_refused_with_config_error_lines(values, secure):
    import yaml as pyyaml

    config = {**{"azure-native:location": "westeurope", "institution": "demo", "contactEmail": "a@b.example"},
              **values}
    for key in secure:
        config[key] = {"secure": "v1:abc"}
    text = pyyaml.safe_dump({"config": config})
    try:
        raw, secret = parse_stack_text(text)
        parse_config(raw, secret)
    except PlanError as err:
        assert all("\n" not in p for p in err.problems)
    except ConfigError as err:
        assert err.problems and all("\n" not in p for p in err.problems)
        assert not any("[secret]" in p and "got" in p for p in err.problems), err.problems
