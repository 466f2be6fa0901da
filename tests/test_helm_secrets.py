"""What the helmValues gate calls a secret, what it reads in Python config, and that the
offline plan never prints either, in text or JSON, refused or (if something let it through)
rendered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components import helm_secrets
from components.helm_guard import redact
from components.helm_python import read_snippet
from components.helm_secrets import PLACEHOLDER, redact_text, secret_name, secrets_in, value_secret
from tools import plan

ROOT = Path(__file__).resolve().parent.parent

SECRETS = ["Sup3r~Secret.Value", "QUJDREVGR0hJSktMTU5PUA==", "py-secret-123456", "ghp_" + "Z" * 36]
STACK = f"""config:
  azure-native:location: westeurope
  binderhub-azure:institution: demo
  binderhub-azure:contactEmail: rse@demo.example
  binderhub-azure:helmValues:
    jupyterhub:
      singleuser:
        extraEnv:
          AZURE_CLIENT_SECRET: "{SECRETS[0]}"
          DATA: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={SECRETS[1]}"
      hub:
        extraConfig:
          svc: "c.MyService.api_key = '{SECRETS[2]}'"
        extraEnv:
          - name: GH
            value: "{SECRETS[3]}"
    uncheckedPaths: ["jupyterhub.hub"]
"""


def _stack(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.leaky.yaml"
    path.write_text(STACK)
    return path


def run_plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.plan", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)


@pytest.mark.parametrize("as_json", [False, True])
def test_the_plan_refuses_secrets_even_on_listed_paths_and_never_prints_them(tmp_path, as_json):
    proc = run_plan("--config-file", str(_stack(tmp_path)), *(["--json"] if as_json else []))
    assert proc.returncode == 2, proc.stderr
    out = proc.stdout + proc.stderr
    assert not any(secret in out for secret in SECRETS), out
    lines = proc.stderr.splitlines()
    for key in ("singleuser.extraEnv.AZURE_CLIENT_SECRET", "singleuser.extraEnv.DATA", "hub.extraConfig.svc",
                "hub.extraEnv[0].value"):
        assert any(line.startswith(f"binderhub-azure:helmValues.jupyterhub.{key} ") for line in lines), (key, lines)
    assert "Traceback" not in out


@pytest.mark.parametrize("as_json", [False, True])
def test_whatever_got_past_the_gate_the_plan_shows_as_secret(tmp_path, monkeypatch, capsys, as_json):
    """Defence in depth: with the gate's path layer switched off, the same values render, and
    the plan (text and --json) still shows each as the placeholder."""
    from components import config_checks

    monkeypatch.setattr(config_checks, "helm_values_problems", lambda cfg: [])
    assert plan.main(["--config-file", str(_stack(tmp_path)), *(["--json"] if as_json else [])]) == 0
    out = capsys.readouterr()
    assert not any(secret in out.out + out.err for secret in SECRETS)
    if as_json:
        doc = json.loads(out.out)
        release = next(r for r in doc["helmReleases"] if r["name"] == "binderhub")
        env = release["values"]["jupyterhub"]["singleuser"]["extraEnv"]
        assert env["AZURE_CLIENT_SECRET"] == PLACEHOLDER and env["DATA"] == PLACEHOLDER
        assert release["values"]["jupyterhub"]["hub"]["extraConfig"]["svc"] == PLACEHOLDER
        assert release["values"]["jupyterhub"]["hub"]["extraEnv"][0] == {"name": "GH", "value": PLACEHOLDER}
        assert doc["uncheckedHelmValues"] == [
            {"path": "helmValues.jupyterhub.hub.extraConfig.svc", "acknowledgedBy": "jupyterhub.hub"},
            {"path": "helmValues.jupyterhub.hub.extraEnv", "acknowledgedBy": "jupyterhub.hub"}]
    else:
        assert "helmValues.jupyterhub.hub.extraConfig.svc is not checked by the stack" in out.out


def test_refusal_lines_are_redacted_by_content_too():
    line = "x breaks the schema: 'AccountKey=abc123==' is not of type 'object'"
    assert "abc123" not in redact_text(line) and PLACEHOLDER in redact_text(line)


# ---------------------------------------------------------------- the detector, case by case


@pytest.mark.parametrize("name", [
    "GITHUB_TOKEN", "githubToken", "AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "JUPYTERHUB_CRYPT_KEY", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_KEY",
    "ARM_ACCESS_KEY", "storageAccountKey", "password", "db_passwd", "apiKey", "api-key", "privateKey",
    "client_secret", "GOOGLE_APPLICATION_CREDENTIALS", "git_credentials", "HF_TOKEN", "sasToken",
])
def test_names_that_hold_secrets(name):
    assert secret_name(name)


@pytest.mark.parametrize("name", [
    "TOKEN_URL", "token_url", "existingSecret", "secretKeyRef", "secretName", "SECRET_NAME", "AWS_ACCESS_KEY_ID",
    "PASSWORD_FILE", "tokenTtl", "client_id", "tenant_id", "COURSE",
    "image", "keys_dir",
])
def test_names_that_point_at_secrets_or_are_something_else(name):
    assert not secret_name(name)


@pytest.mark.parametrize(("name", "value"), [
    ("GITHUB_TOKEN", True), ("GITHUB_TOKEN", 0), ("USE_TOKEN", "false"), ("USE_TOKEN", "1"), ("TOKEN", ""),
    ("PASSWORD", "[secret]"), ("GOOGLE_APPLICATION_CREDENTIALS", "/var/secrets/google/key.json"),
    ("COURSE", "stats101"),
])
def test_flags_numbers_placeholders_and_paths_are_not_secrets(name, value):
    assert value_secret(name, value) is None


@pytest.mark.parametrize("value", [
    "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc==;EndpointSuffix=core.windows.net",
    "BlobEndpoint=https://x.blob.core.windows.net/;SharedAccessSignature=sv=2022&sig=abc",
    "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc=",
    "https://x.blob.core.windows.net/c?sp=r&st=2026&se=2027&sv=2022-11-02&sr=c&sig=AbCdEfGhIjKlMnOp%3D",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
    '{"type": "service_account", "private_key": "-----BEGIN"}',
    "ghp_" + "a" * 36, "github_pat_" + "b" * 40, "dckr_pat_" + "c" * 20,
    "https://oauth2:glpat-xyz@gitlab.example/x.git",
])
def test_credentials_are_secrets_whatever_their_name(value):
    assert value_secret("ANYTHING", value)


def test_secrets_in_finds_env_lists_and_value_mappings():
    tree = {"extraEnv": [{"name": "GITHUB_TOKEN", "value": "abc"}, {"name": "MODE", "value": "x"}],
            "env": {"API_KEY": {"value": "k"}, "OK": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}}}
    assert sorted(path for path, _ in secrets_in(tree)) == [
        ("env", "API_KEY", "value"), ("extraEnv", "[0]", "value")]
    assert redact(tree)["extraEnv"][0]["value"] == PLACEHOLDER and redact(tree)["extraEnv"][1]["value"] == "x"


# ---------------------------------------------------------------------- Python config, read


@pytest.mark.parametrize(("code", "sets"), [
    ("c.Authenticator.allow_all = True", {("Authenticator", "allow_all")}),
    ("c.KubeSpawner.update({'uid': 0})", {("KubeSpawner", "*")}),
    ("c['KubeSpawner']['service_account'] = 'x'", {("KubeSpawner", "service_account")}),
    ("s = c.KubeSpawner\ns.privileged = True", {("KubeSpawner", "privileged")}),
    ("cfg = c\ncfg.Authenticator.admin_users.add('m')", {("Authenticator", "admin_users")}),
    ("c = get_config()\nc.JupyterHub.template_vars = {}", {("JupyterHub", "template_vars")}),
])
def test_python_config_is_read_for_what_it_sets(code, sets):
    found = read_snippet(code)
    assert found.sets == sets and not found.dynamic and found.error is None


@pytest.mark.parametrize("code", [
    "setattr(c.Authenticator, 'allow_all', True)", "exec(open('x').read())", "import importlib",
    "for section in c:\n    pass", "c[name].allow_all = True", "eval('1')",
])
def test_python_that_hides_what_it_sets_is_flagged(code):
    assert read_snippet(code).dynamic


def test_python_secrets_are_found_by_name_and_content():
    assert read_snippet("c.GitHubOAuthenticator.client_secret = 'abcdef123'").secrets
    assert read_snippet("os.environ['AZURE_CLIENT_SECRET'] = 'abc~def'").secrets
    assert read_snippet("conn = 'AccountName=x;AccountKey=abc=='").secrets
    assert read_snippet("f(token='zzz-123')").secrets
    assert not read_snippet("c.KubeSpawner.http_timeout = 60\nTOKEN_URL = 'https://x/token'").secrets


def test_the_secret_rules_come_with_their_sources():
    assert helm_secrets.__doc__ and "AccountKey=" in helm_secrets.__doc__
    for _, what in helm_secrets.CONTENT:
        assert what
