"""tools.deploy_stacks: the stacks CI previews and deploys, never the demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools import deploy_stacks

ROOT = Path(__file__).resolve().parent.parent
KEY = "azurekeyvault://myuni-pulumi-kv.vault.azure.net/keys/pulumi-secrets/0123456789abcdef0123456789abcdef"
MYUNI = f"""secretsprovider: {KEY}
encryptedkey: ZXhhbXBsZQ==
config:
  azure-native:location: swedencentral
  binderhub-azure:institution: myuni
  binderhub-azure:contactEmail: rse@myuni.example
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy2(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    (tmp_path / "Pulumi.myuni.yaml").write_text(MYUNI)
    (tmp_path / ".github").mkdir()
    return tmp_path


def run(repo: Path, listed: str, capsys) -> tuple[int, str, str]:
    (repo / deploy_stacks.LIST_FILE).write_text(listed)
    code = deploy_stacks.main([], root=repo)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_listed_stacks_are_one_json_list(repo, capsys):
    code, out, err = run(repo, "# ours\nmyuni   # the production hub\n\n", capsys)
    assert (code, json.loads(out), err) == (0, ["myuni"], "")


def test_an_empty_or_missing_list_deploys_nothing(repo, capsys):
    assert run(repo, "# nothing yet\n", capsys)[:2] == (0, "[]\n")
    (repo / deploy_stacks.LIST_FILE).unlink()
    assert deploy_stacks.main([], root=repo) == 0
    assert capsys.readouterr().out == "[]\n"


@pytest.mark.parametrize(("listed", "message"), [
    ("dev\n", "dev is the demo stack, which CI never deploys"),
    ("elsewhere\n", "elsewhere has no Pulumi.elsewhere.yaml beside Pulumi.yaml"),
    ("myuni\nmyuni\n", "myuni is listed twice"),
    ("../secrets\n", "'../secrets' is not a stack name"),
])
def test_a_bad_list_is_one_line_each_and_exit_2(repo, capsys, listed, message):
    code, out, err = run(repo, listed, capsys)
    assert code == 2 and out == ""
    assert err.startswith(f".github/deploy-stacks.txt: {message}")
    assert len(err.splitlines()) == 1


def test_a_copy_of_the_demo_under_another_name_is_refused_too(repo, capsys):
    shutil.copy2(repo / "Pulumi.dev.yaml", repo / "Pulumi.staging.yaml")
    code, _, err = run(repo, "staging\n", capsys)
    assert code == 2 and "institution 'demo', the demo" in err


def test_the_repository_list_deploys_nothing_yet():
    assert deploy_stacks.read_list((ROOT / deploy_stacks.LIST_FILE).read_text()) == []


@pytest.mark.parametrize(("head", "message"), [
    ("encryptionsalt: v1:abc\n", "myuni encrypts its secrets with a passphrase, which CI does not have"),
    ("", "myuni encrypts its secrets with a passphrase"),  # never initialised with a secrets provider
    ("secretsprovider: azurekeyvault://myuni-pulumi-kv.vault.azure.net/keys/pulumi-secrets\n",
     "is not a versioned Key Vault key"),
    ("secretsprovider: passphrase\n", "is not a versioned Key Vault key"),
])
def test_a_stack_ci_could_not_decrypt_is_refused(repo, capsys, head, message):
    body = MYUNI.split("config:", 1)[1]
    (repo / "Pulumi.myuni.yaml").write_text(head + "config:" + body)
    code, _, err = run(repo, "myuni\n", capsys)
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_a_stack_with_a_sleep_schedule_is_refused_before_any_login(repo, capsys):
    """Its custom role is beyond the deploy identity (issue 23): refused here, never half-made by `up`."""
    (repo / "Pulumi.course.yaml").write_text(MYUNI.replace("institution: myuni", "institution: course") + """\
  binderhub-azure:mode: jupyterhub
  binderhub-azure:schedule:
    timeZone: Europe/London
    awake:
      - days: [mon, tue, wed, thu, fri]
        from: "08:30"
        to: "18:00"
""")
    code, out, err = run(repo, "myuni\ncourse\n", capsys)
    assert code == 2 and out == ""
    assert err == (".github/deploy-stacks.txt: course has a sleep schedule, whose custom role the CI deploy "
                   "identity may not create or assign (tools/ci_identities.py): deploy it from a laptop as an "
                   "Owner and leave it out of this list (README, \"Sleeping outside teaching hours\")\n")
    assert run(repo, "myuni\n", capsys)[0] == 0
