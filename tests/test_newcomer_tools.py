"""The offline tools as a newcomer first meets them (issue 22): an example whose secrets are not
set yet, `--stack` given a file name, the same text plan on every run."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from google.protobuf import struct_pb2

from components import config_checks
from tools import cost, ops, plan, preflight, smoke
from tools.mocks import shown
from tools.stackfile import STAND_IN, PlanError, read_stack_file, stack_from_args, stack_name

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "examples" / "Pulumi.course-hub.yaml"
DOCKERHUB = ROOT / "examples" / "Pulumi.dockerhub-binder.yaml"
CLIENT_SECRET = "binderhub-azure:authClientSecret"
TOKEN = "binderhub-azure:dockerHubToken"


def _preflight_clients():
    from tests.test_preflight import fake_clients

    return fake_clients()


# --------------------------------------------------------------------------- secrets not set yet


def test_plan_of_an_example_without_its_secret_lists_it_with_the_command(capsys):
    assert plan.main(["--config-file", str(COURSE), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["missingSecrets"] == [{
        "key": CLIENT_SECRET, "neededWhen": "auth.type is 'entra'",
        "set": "pulumi config set --secret authClientSecret",
        "standIn": "<not set: pulumi config set --secret authClientSecret>"}]
    assert plan.main(["--config-file", str(COURSE)]) == 0
    text = capsys.readouterr().out
    head = text.split("Resources:")[0]
    assert "Secrets not set yet" in head and "pulumi up refuse" in head
    assert f"{CLIENT_SECRET} (needed when auth.type is 'entra'): pulumi config set --secret authClientSecret" in head


def test_the_stand_in_reaches_where_the_secret_would_and_says_it_is_one():
    """The program gets the stand-in exactly where `pulumi up` would put the real secret (the
    hub's OAuth client secret), and the secret the stack does not need gets none of it."""
    raw, secret = read_stack_file(COURSE)
    from tools.stackfile import stand_in_secrets

    raw, secret, stood_in = stand_in_secrets(raw, secret)
    assert stood_in == {CLIENT_SECRET, TOKEN}
    assert raw[CLIENT_SECRET] == STAND_IN.format(name="authClientSecret") and CLIENT_SECRET in secret
    monitor = plan.run_program(raw, secret, "course-hub")
    release = next(r for r in monitor.registrations if r.type == plan.RELEASE_TYPE and "hub" in r.name
                   and "jupyterhub" in json.dumps(r.revealed.get("chart")))
    oauth = release.revealed["values"]["hub"]["config"]["AzureAdOAuthenticator"]
    assert oauth["client_secret"] == "<not set: pulumi config set --secret authClientSecret>"
    assert "not set" not in json.dumps(release.inputs)  # shown as any secret is: "[secret]"
    everything = json.dumps([r.revealed for r in monitor.registrations])
    assert "dockerHubToken>" not in everything


def test_a_set_secret_is_no_missing_secret_and_keeps_its_placeholder(tmp_path, capsys):
    path = tmp_path / "Pulumi.course.yaml"
    path.write_text(COURSE.read_text() + "  binderhub-azure:authClientSecret:\n    secure: v1:AAAABBBBCCCC\n")
    assert plan.main(["--config-file", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["missingSecrets"] == [] and "not set" not in out and "v1:AAAABBBBCCCC" not in out
    assert plan.main(["--config-file", str(path)]) == 0
    assert "Secrets not set yet" not in capsys.readouterr().out


def test_cost_says_which_secrets_are_still_to_set(capsys):
    assert cost.main(["--config-file", str(DOCKERHUB), "--offline", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(m["key"], m["set"]) for m in doc["missingSecrets"]] == [
        (CLIENT_SECRET, "pulumi config set --secret authClientSecret"),
        (TOKEN, "pulumi config set --secret dockerHubToken")]
    assert cost.main(["--config-file", str(DOCKERHUB), "--offline"]) == 0
    text = capsys.readouterr().out
    assert "Secrets not set yet" in text and "pulumi config set --secret dockerHubToken" in text
    assert cost.main(["--stack", "dev", "--offline", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missingSecrets"] == []  # anonymous Binder: none needed


def test_preflight_checks_an_example_before_its_secrets_and_says_so(capsys):
    assert preflight.main(["--config-file", str(COURSE), "--json"], clients=_preflight_clients()) in (0, 1)
    doc = json.loads(capsys.readouterr().out)
    assert [m["key"] for m in doc["missingSecrets"]] == [CLIENT_SECRET]
    preflight.main(["--config-file", str(COURSE)], clients=_preflight_clients())
    assert "pulumi config set --secret authClientSecret" in capsys.readouterr().out


@pytest.mark.parametrize("tool", ["plan", "cost", "preflight"])
def test_a_plain_text_secret_is_still_refused(tmp_path, capsys, tool):
    path = tmp_path / "Pulumi.course.yaml"
    path.write_text(COURSE.read_text() + "  binderhub-azure:authClientSecret: plaintext-oops\n")
    argv = ["--config-file", str(path)]
    code = {"plan": lambda: plan.main(argv), "cost": lambda: cost.main([*argv, "--offline"]),
            "preflight": lambda: preflight.main(argv, clients=_preflight_clients())}[tool]()
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert f"{CLIENT_SECRET} must be stored as a secret" in captured.err and "plaintext-oops" not in captured.err


def test_pulumi_up_still_refuses_a_missing_secret_at_the_config_check():
    """The deploy program under mocks, config exactly as the stack file has it (no stand-ins)."""
    raw, secret = read_stack_file(COURSE)
    with pytest.raises(pulumi.RunError) as info:
        plan.run_program(raw, secret, "course-hub")
    assert ("binderhub-azure:authClientSecret is required when auth.type is 'entra': "
            "pulumi config set --secret authClientSecret") in str(info.value)


def test_pulumi_up_refuses_a_missing_secret_even_past_the_config_check(monkeypatch):
    """Second line: the program reads the secret with Config.require_secret, which refuses a missing
    key by name, so nothing but a set secret reaches Azure."""
    monkeypatch.setattr(config_checks, "_missing_secret", lambda cfg, key: [])
    raw, secret = read_stack_file(COURSE)
    with pytest.raises(pulumi.ConfigMissingError) as info:
        plan.run_program(raw, secret, "course-hub")
    assert "Missing required configuration variable 'binderhub-azure:authClientSecret'" in str(info.value)


# --------------------------------------------------------------------------- --stack with a file name


def ns(stack: str) -> argparse.Namespace:
    return argparse.Namespace(stack=stack, config_file=None)


def test_stack_takes_the_name_of_a_stack_file_at_the_root_or_the_path_of_one():
    assert stack_from_args(ns("dev")) == (ROOT / "Pulumi.dev.yaml", "dev")
    assert stack_from_args(ns("Pulumi.dev.yaml")) == (ROOT / "Pulumi.dev.yaml", "dev")
    assert stack_from_args(ns("examples/Pulumi.course-hub.yaml")) == (Path("examples/Pulumi.course-hub.yaml"),
                                                                      "course-hub")


@pytest.mark.parametrize(("value", "message"), [
    ("Pulumi.myuni.yaml", "--stack 'Pulumi.myuni.yaml': pass the stack name alone: --stack myuni (there is no "
                          "Pulumi.myuni.yaml at the repository root either)"),
    ("Pulumi.myuni.yml", "pass the stack name alone: --stack myuni"),
    ("myuni.yaml", "pass the stack name alone: --stack NAME"),
    ("elsewhere/Pulumi.myuni.yaml", "pass the stack name alone: --stack myuni"),
    ("../myuni", "pass the stack name alone"),
])
def test_stack_refuses_other_file_names_saying_what_to_pass(value, message):
    with pytest.raises(PlanError) as info:
        stack_from_args(ns(value))
    assert message in str(info.value) and "Pulumi.Pulumi" not in str(info.value)
    assert "--config-file PATH" in str(info.value)
    with pytest.raises(ValueError):
        stack_name(value)


@pytest.mark.parametrize("tool", ["plan", "cost", "preflight"])
def test_every_stack_file_tool_reads_a_stack_file_name(capsys, tool):
    run = {"plan": lambda a: plan.main([*a, "--json"]), "cost": lambda a: cost.main([*a, "--offline", "--json"]),
           "preflight": lambda a: preflight.main([*a, "--json"], clients=_preflight_clients())}[tool]
    assert run(["--stack", "Pulumi.dev.yaml"]) in (0, 1)
    by_file = json.loads(capsys.readouterr().out)
    assert run(["--stack", "dev"]) in (0, 1)
    assert json.loads(capsys.readouterr().out) == by_file
    assert run(["--stack", "Pulumi.myuni.yaml"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "pass the stack name alone: --stack myuni" in captured.err
    assert "Pulumi.Pulumi" not in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize("parser", [ops._parser, smoke._parser], ids=["ops", "ops check"])
def test_the_day_two_commands_read_a_stack_file_name_too(parser, capsys):
    argv = ["info"] if parser is ops._parser else []
    assert parser().parse_args([*argv, "--stack", "Pulumi.dev.yaml"]).stack == "dev"
    assert parser().parse_args([*argv, "--stack", "myuni"]).stack == "myuni"
    with pytest.raises(SystemExit) as info:
        parser().parse_args([*argv, "--stack", "Pulumi.myuni.yaml"])
    assert info.value.code == 2
    assert "pass the stack name alone: --stack myuni" in capsys.readouterr().err


# --------------------------------------------------------------------------- same input, same output


def test_a_struct_is_shown_in_key_order_whatever_the_map_order():
    value = struct_pb2.Struct()
    value.update({k: 1 for k in ["url", "hubUrl", "mode", "https", "kubeconfig", "nextStep", "a", "z"]})
    assert list(shown(value)) == sorted(["url", "hubUrl", "mode", "https", "kubeconfig", "nextStep", "a", "z"])


def test_the_text_plan_is_the_same_on_every_run():
    """A protobuf map is ordered by a hash seeded anew in each process: two processes, one text."""
    runs = [subprocess.run([sys.executable, "-m", "tools.plan", "--stack", "dev"], cwd=ROOT, capture_output=True,
                           text=True, timeout=180, env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)})
            for seed in (1, 2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    outputs = runs[0].stdout.split("Outputs:\n")[1].split("\n\n")[0].splitlines()
    names = [line.split(":")[0].strip() for line in outputs]
    assert names == sorted(names) and "url" in names
