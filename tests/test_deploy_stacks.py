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


# ---- a federation after its member stacks ------------------------------------------------------------------------


def _federation(repo: Path, name: str, members: list[dict[str, object]]) -> None:
    """Pulumi.<name>.yaml: a federation stack CI could deploy, with these members."""
    (repo / f"Pulumi.{name}.yaml").write_text(MYUNI.replace("institution: myuni", f"institution: {name}") + """\
  binderhub-azure:mode: federation
  binderhub-azure:federation:
    image: ghcr.io/myuni/binderhub-azure/redirector@sha256:""" + "ab" * 32 + "\n    members:\n" + "".join(
        "      - " + ", ".join(f"{k}: {v}" for k, v in m.items()).replace(", ", "\n        ") + "\n" for m in members))


@pytest.fixture
def fed_repo(repo: Path) -> Path:
    (repo / "Pulumi.second.yaml").write_text(MYUNI.replace("institution: myuni", "institution: second"))
    _federation(repo, "fed", [{"stack": "organization/binderhub-azure/myuni", "weight": 2},
                              {"stack": "organization/binderhub-azure/second"},
                              {"stack": "someorg/other-project/theirs"},  # another project: external by nature
                              {"url": "https://binder.partner.example/"}])
    return repo


def test_a_federation_after_its_member_stacks_is_deployed_in_that_order(fed_repo, capsys):
    code, out, err = run(fed_repo, "myuni\nsecond\nfed\n", capsys)
    assert (code, json.loads(out), err) == (0, ["myuni", "second", "fed"], "")
    assert deploy_stacks.member_stacks(deploy_stacks.read_stack_file(fed_repo / "Pulumi.fed.yaml")[0]) == [
        "organization/binderhub-azure/myuni", "organization/binderhub-azure/second", "someorg/other-project/theirs"]


@pytest.mark.parametrize(("listed", "message"), [
    ("myuni\nfed\nsecond\n", "fed is a federation of organization/binderhub-azure/second, listed after it: "
                             "list second before fed (the federation reads its url output)"),
    ("fed\nmyuni\nsecond\n", "fed is a federation of organization/binderhub-azure/myuni, listed after it"),
    ("myuni\nfed\n", "fed is a federation of organization/binderhub-azure/second, which is not listed: list second "
                     "before fed, or add a line `external organization/binderhub-azure/second` if it is deployed "
                     "elsewhere"),
    ("external myuni\nmyuni\nsecond\nfed\n", "`external myuni` must name a stack as <organization>/<project>/<stack>"),
])
def test_a_federation_before_or_without_a_member_is_one_line_and_exit_2(fed_repo, capsys, listed, message):
    code, out, err = run(fed_repo, listed, capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[0].startswith(f".github/deploy-stacks.txt: {message}")


def test_a_member_deployed_elsewhere_is_declared_external(fed_repo, capsys):
    listed = "external organization/binderhub-azure/second   # the partner's CI deploys it\nmyuni\nfed\n"
    code, out, err = run(fed_repo, listed, capsys)
    assert (code, json.loads(out), err) == (0, ["myuni", "fed"], "")  # an external stack is never deployed here
    assert deploy_stacks.parse_list(listed) == (["myuni", "fed"], ["organization/binderhub-azure/second"])


def test_the_deploy_job_runs_one_stack_at_a_time_in_the_lists_order():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pulumi.yml").read_text())
    up = workflow["jobs"]["up"]["strategy"]
    assert up["max-parallel"] == 1 and up["fail-fast"] is False
    assert up["matrix"]["stack"] == "${{ fromJSON(needs.test.outputs.stacks) }}"  # the list, as ordered


def test_a_stack_with_a_sleep_schedule_is_refused_before_any_login(repo, capsys):
    """Without schedule.roleDefinitionId its custom role is beyond the CI identities (issue 23): refused
    here, never half-made by `up` (tests/test_sleep_role.py has the stack that sets it)."""
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
    assert err == (".github/deploy-stacks.txt: course has a sleep schedule without schedule.roleDefinitionId, so "
                   "it would create its own custom role, which neither CI identity may (CI neither previews nor "
                   "deploys it): have an Owner run what `./run python -m tools.ci_identities sleep-role --stack "
                   "course` prints (README, \"Sleeping outside teaching hours\")\n")
    assert run(repo, "myuni\n", capsys)[0] == 0
