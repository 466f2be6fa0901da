"""Repository providers, their tokens and CORS (issue 25): what each key renders, where each token
goes (distinct values, as Pulumi secrets under mocks), and what is refused."""

from __future__ import annotations

import json
import sys
import types

import pytest

from components import helm_guard, repos_spec
from components.config_site import BINDERHUB_PROVIDERS
from components.helm_python import read_snippet
from tests.helpers import SECRET, parsed, refusals, release
from tests.test_wiring import reg

GITHUB_LOGIN = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
OAUTH = "oauth-client-secret-plaintext"
GH = "github-token-plaintext-1111"
GL = "gitlab-token-plaintext-2222"
GHE = "ghe-token-plaintext-3333"
HOSTS = {"gitlabHost": "gitlab.testuni.example", "githubEnterpriseHost": "github.testuni.example"}
ALL_TOKENS = {"githubToken": GH, "gitlabToken": GL, "githubEnterpriseToken": GHE, "authClientSecret": OAUTH}
PRIVATE = {"auth": GITHUB_LOGIN, "repos": {**HOSTS, "privateRepositories": True}}


# --- pure builders ---------------------------------------------------------------------------

def test_defaults_render_nothing_and_keep_binderhubs_providers():
    cfg = parsed()
    assert repos_spec.enabled_providers(cfg) == list(BINDERHUB_PROVIDERS)
    assert repos_spec.provider_code(cfg) is None
    assert repos_spec.binder_repo_values(cfg, repos_spec.RepoTokens()) == {}


def test_each_token_goes_to_its_own_provider_section():
    cfg = parsed({"githubToken": "x", "gitlabToken": "y", "githubEnterpriseToken": "z"}, repos=HOSTS)
    values = repos_spec.binder_repo_values(cfg, repos_spec.RepoTokens(github="T1", gitlab="T2",
                                                                       github_enterprise="T3"))
    assert values["config"] == {
        "GitHubRepoProvider": {"access_token": "T1"},
        repos_spec.GITLAB_CLASS: {"hostname": "gitlab.testuni.example", "private_token": "T2"},
        repos_spec.GHE_CLASS: {"hostname": "github.testuni.example", "api_base_path": "https://{hostname}/api/v3",
                               "access_token": "T3"},
    }


def test_enterprise_provider_never_inherits_the_github_com_token():
    # traitlets gives a subclass its parent's config: without its own (empty) token the github.com
    # token would be sent to the Enterprise host.
    cfg = parsed({"githubToken": "x"}, repos={"githubEnterpriseHost": "github.testuni.example"})
    values = repos_spec.binder_repo_values(cfg, repos_spec.RepoTokens(github="T1"))
    assert values["config"][repos_spec.GHE_CLASS]["access_token"] == ""
    assert values["config"]["GitHubRepoProvider"] == {"access_token": "T1"}


def test_provider_code_defines_the_host_providers_and_only_the_chosen_ids():
    cfg = parsed(repos={**HOSTS, "providers": ["gitlab", "ghe", "git"]})
    code = repos_spec.provider_code(cfg)
    assert code is not None
    # Run it against stand-ins of BinderHub's classes, with a stand-in `c`: what the chart's
    # binderhub_config.py does with the real ones (tests/test_binderhub_config_loads.py).
    stubs = types.ModuleType("_binderhub_stubs")
    for pid, name in repos_spec.UPSTREAM_CLASSES.items():
        setattr(stubs, name, type(name, (), {"display_config": {"id": pid, "repo": {"urlEncode": pid == "gl"}}}))

    class Section(dict):
        def __getattr__(self, key):
            return self.setdefault(key, Section())

        def __setattr__(self, key, value):
            self[key] = value

    c = Section()
    sys.modules[stubs.__name__] = stubs
    try:
        exec(code.replace("from binderhub.repoproviders import", f"from {stubs.__name__} import"), {"c": c})
    finally:
        del sys.modules[stubs.__name__]
    providers = c["BinderHub"]["repo_providers"]
    assert list(providers) == ["gitlab", "ghe", "git"]
    gitlab, ghe = providers["gitlab"], providers["ghe"]
    assert gitlab.__name__ == repos_spec.GITLAB_CLASS and ghe.__name__ == repos_spec.GHE_CLASS
    # The front page finds each by its id (`/v2/<id>/...`), and URLs of its host only.
    assert gitlab.display_config["id"] == "gitlab" and ghe.display_config["id"] == "ghe"
    assert gitlab.display_config["repo"]["urlEncode"] is True  # kept from BinderHub's GitLab provider
    assert "gitlab\\.testuni\\.example/" in gitlab.display_config["detect"]["regex"]
    assert "github\\.testuni\\.example/" in ghe.display_config["detect"]["regex"]
    # The gate reads it: no secret, no dynamic config, only repo_providers set.
    found = read_snippet(code)
    assert (found.error, found.secrets, found.dynamic) == (None, [], [])
    assert found.sets == {("BinderHub", "repo_providers")}


def test_cors_renders_one_origin_on_both_traits():
    cfg = parsed(binderSite={"corsAllowOrigins": ["https://book.testuni.example"]})
    values = repos_spec.binder_repo_values(cfg, repos_spec.RepoTokens())
    assert values["config"]["BinderHub"] == {"cors_allow_origin": "https://book.testuni.example"}
    assert values["jupyterhub"]["hub"]["config"]["BinderSpawner"] == {"cors_allow_origin":
                                                                      "https://book.testuni.example"}
    star = repos_spec.binder_repo_values(parsed(binderSite={"corsAllowOrigins": ["*"]}), repos_spec.RepoTokens())
    assert star["config"]["BinderHub"]["cors_allow_origin"] == "*"


@pytest.mark.parametrize("origin", ["https://book.testuni.example", "http://localhost:8000", "*"])
def test_origins_accepted(origin):
    assert parsed(binderSite={"corsAllowOrigins": [origin]}).binder_site.cors_allow_origins == [origin]


@pytest.mark.parametrize("origin", ["https://book.testuni.example/", "book.testuni.example", "ftp://x.example",
                                    "https://Book.example", "https://a.example/path", "https://a.example:0",
                                    "https://a.example:99999", "https://a.example\n", "https://-a.example"])
def test_origins_refused(origin):
    [line] = refusals(binderSite={"corsAllowOrigins": [origin]})
    assert line.startswith("binderhub-azure:binderSite.corsAllowOrigins")


def test_more_than_one_origin_is_refused_with_the_reason():
    [line] = refusals(binderSite={"corsAllowOrigins": ["https://a.example", "https://b.example"]})
    assert "one origin only" in line and "'*'" in line
    [line] = refusals(binderSite={"corsAllowOrigins": ["*", "https://a.example"]})
    assert "alone" in line


def test_cors_with_login_is_refused():
    [line] = refusals({"authClientSecret": "s"}, auth=GITHUB_LOGIN, binderSite={"corsAllowOrigins": ["*"]})
    assert line.startswith("binderhub-azure:binderSite.corsAllowOrigins works only on a Binder without login")


# --- refusals ----------------------------------------------------------------------------------

def test_private_repositories_on_an_anonymous_binder_are_refused_with_the_reason():
    [line] = refusals({"githubToken": "t"}, repos={"privateRepositories": True})
    assert line.startswith("binderhub-azure:repos.privateRepositories needs login")
    assert "anyone on the internet could launch" in line


def test_private_repositories_with_every_github_account_admitted_are_refused():
    login = {"type": "github", "clientId": "gh-client", "allowAll": True, "admins": ["alice"]}
    [line] = refusals({"githubToken": "t", "authClientSecret": "s"}, auth=login, repos={"privateRepositories": True})
    assert line.startswith("binderhub-azure:repos.privateRepositories needs a login that admits only your people")


def test_private_repositories_with_login_are_accepted():
    cfg = parsed({"githubToken": "t", "authClientSecret": "s"}, auth=GITHUB_LOGIN,
                 repos={"privateRepositories": True})
    assert cfg.repos.private_repositories


def test_private_repositories_need_a_token():
    [line] = refusals({"authClientSecret": "s"}, auth=GITHUB_LOGIN, repos={"privateRepositories": True})
    assert "needs a token" in line


@pytest.mark.parametrize("key", ["githubToken", "gitlabToken", "githubEnterpriseToken"])
def test_a_token_in_plain_text_is_refused(key):
    [line] = refusals(repos=HOSTS, **{key: "pasted-token"})
    assert line == (f"binderhub-azure:{key} must be stored as a secret: pulumi config rm {key} && "
                    f"pulumi config set --secret {key} (it asks for the value)")
    assert "pasted-token" not in line


@pytest.mark.parametrize("host", ["https://gitlab.testuni.example", "gitlab.testuni.example/", "gitlab",
                                  "GitLab.testuni.example", "gitlab.testuni.example:8443", "10.0.0.1",
                                  "gitlab.testuni.example\n", "gitlab..example", "-gitlab.example"])
@pytest.mark.parametrize("key", ["gitlabHost", "githubEnterpriseHost"])
def test_a_provider_host_that_is_not_a_host_name_is_refused(key, host):
    [line] = refusals(repos={key: host})
    assert line.startswith(f"binderhub-azure:repos.{key}")


def test_binderhubs_own_hosts_are_refused_as_extra_hosts():
    [line] = refusals(repos={"gitlabHost": "gitlab.com"})
    assert "already one of BinderHub's own providers" in line


@pytest.mark.parametrize(("secrets", "repos", "wanted"), [
    ({"gitlabToken": "t"}, {}, "binderhub-azure:gitlabToken is set but repos.gitlabHost is not"),
    ({"githubEnterpriseToken": "t"}, {}, "binderhub-azure:githubEnterpriseToken is set but repos.githubEnterpriseHost"),
    ({}, {"providers": ["gitlab"]}, "binderhub-azure:repos.providers lists gitlab but repos.gitlabHost is not set"),
    ({}, {"gitlabHost": "gitlab.testuni.example", "providers": ["gh"]},
     "binderhub-azure:repos.gitlabHost is set but repos.providers does not list gitlab"),
    ({"githubToken": "t"}, {"providers": ["git"]}, "binderhub-azure:githubToken is set but repos.providers offers"),
    ({}, {"providers": []}, "binderhub-azure:repos.providers must name at least one provider"),
    ({}, {"providers": ["gh", "gh"]}, "binderhub-azure:repos.providers names gh more than once"),
    ({}, {"providers": ["bitbucket"]}, "binderhub-azure:repos.providers"),
])
def test_inconsistent_repos_keys_are_refused(secrets, repos, wanted):
    assert any(line.startswith(wanted) for line in refusals(secrets, repos=repos)), refusals(secrets, repos=repos)


def test_repos_on_tljh_is_refused():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs rse@testuni"
    found = refusals({"authClientSecret": "s", "gitlabToken": "t"}, mode="tljh", auth=GITHUB_LOGIN,
                     vm={"sshPublicKey": key}, repos={"gitlabHost": "gitlab.testuni.example"})
    assert "binderhub-azure:repos is not used when mode is tljh (it configures the Kubernetes modes)" in found
    assert any(line.startswith("binderhub-azure:gitlabToken is only used when mode is binderhub") for line in found)


def test_repos_and_tokens_outside_binderhub_are_refused():
    found = refusals({"authClientSecret": "s", "githubToken": "t"}, mode="jupyterhub", auth=GITHUB_LOGIN,
                     repos={"providers": ["gh"]})
    assert "binderhub-azure:githubToken is only used when mode is binderhub (BinderHub's repository providers)" in found
    assert "binderhub-azure:repos is only used when mode is binderhub" in found


# --- under mocks: which token reaches which key, as a secret --------------------------------------

def test_each_token_reaches_its_key_as_a_pulumi_secret(program):
    # `inputs` are what the engine was sent, each Pulumi secret as "[secret]" (no redaction by name:
    # the plan's own redaction would hide a plain value under `access_token` too).
    sent = reg(program(ALL_TOKENS, **PRIVATE), "hub-release").inputs["values"]["config"]
    assert sent["GitHubRepoProvider"]["access_token"] == SECRET
    assert sent[repos_spec.GITLAB_CLASS]["private_token"] == SECRET
    assert sent[repos_spec.GHE_CLASS]["access_token"] == SECRET
    assert sent[repos_spec.GITLAB_CLASS]["hostname"] == "gitlab.testuni.example"  # a host is no secret
    assert sent[repos_spec.GHE_CLASS]["api_base_path"] == "https://{hostname}/api/v3"


def test_each_token_reaches_its_key_and_no_other(program):
    values = reg(program(ALL_TOKENS, **PRIVATE), "hub-release").revealed["values"]
    config = values["config"]
    assert config["GitHubRepoProvider"]["access_token"] == GH
    assert config[repos_spec.GITLAB_CLASS] == {"hostname": "gitlab.testuni.example", "private_token": GL}
    assert config[repos_spec.GHE_CLASS]["access_token"] == GHE
    assert config[repos_spec.GHE_CLASS]["hostname"] == "github.testuni.example"
    text = json.dumps(values)
    for token in (GH, GL, GHE):
        assert text.count(token) == 1  # only at its own key (never in extraConfig or the hub's values)
    assert GH not in json.dumps(values["extraConfig"]) and GH not in json.dumps(values["jupyterhub"])


def test_tokens_are_never_in_the_plan(render):
    plan = render(ALL_TOKENS, **PRIVATE)
    values = release(plan, "binderhub")["values"]
    assert values["config"]["GitHubRepoProvider"]["access_token"] == SECRET
    assert values["config"][repos_spec.GITLAB_CLASS]["private_token"] == SECRET
    assert values["config"][repos_spec.GHE_CLASS]["access_token"] == SECRET
    # Hosts are not secret: the plan shows them.
    assert values["config"][repos_spec.GITLAB_CLASS]["hostname"] == "gitlab.testuni.example"
    text = json.dumps(plan)
    for token in (GH, GL, GHE, OAUTH):
        assert token not in text
    assert values["extraConfig"][repos_spec.EXTRA_CONFIG_KEY] == repos_spec.provider_code(
        parsed(ALL_TOKENS, **PRIVATE))


def test_github_token_alone_keeps_binderhubs_default_providers(render):
    values = release(render({"githubToken": GH}), "binderhub")["values"]
    assert values["config"]["GitHubRepoProvider"] == {"access_token": SECRET}
    assert repos_spec.EXTRA_CONFIG_KEY not in (values.get("extraConfig") or {})


def test_cors_reaches_binderhub_and_the_spawner(render):
    values = release(render(binderSite={"corsAllowOrigins": ["*"]}), "binderhub")["values"]
    assert values["config"]["BinderHub"]["cors_allow_origin"] == "*"
    assert values["jupyterhub"]["hub"]["config"]["BinderSpawner"]["cors_allow_origin"] == "*"
    plain = release(render(), "binderhub")["values"]
    assert "cors_allow_origin" not in plain["config"]["BinderHub"]
    assert "BinderSpawner" not in plain["jupyterhub"]["hub"]["config"]


# --- helmValues cannot bring a token in, or take the providers or CORS out ---------------------------

@pytest.mark.parametrize("path", [("GitHubRepoProvider", "access_token"), ("GitLabRepoProvider", "private_token"),
                                  ("GitHubRepoProvider", "client_secret"), ("GitRepoProvider", "git_credentials")])
def test_helm_values_token_in_plain_text_is_refused(path):
    section, trait = path
    found = refusals(helmValues={"binderhub": {"config": {section: {trait: "pasted-value"}}},
                                 "uncheckedPaths": [f"binderhub.config.{section}"]})
    key = f"binderhub-azure:helmValues.binderhub.config.{section}.{trait}"
    assert any(line.startswith(f"{key} is refused: it holds a secret in plain text; use the secret keys "
                               "binderhub-azure:githubToken") for line in found), found
    assert not any("pasted-value" in line for line in found)


def test_helm_values_cannot_add_a_token_from_a_secret_on_an_anonymous_binder():
    env = [{"name": "GITHUB_ACCESS_TOKEN", "valueFrom": {"secretKeyRef": {"name": "mine", "key": "token"}}}]
    found = refusals(helmValues={"binderhub": {"extraEnv": env}, "uncheckedPaths": ["binderhub.extraEnv"]})
    assert any("helmValues.binderhub.extraEnv" in line and "GITHUB_ACCESS_TOKEN" in line for line in found), found


@pytest.mark.parametrize("values", [
    {"config": {"BinderHub": {"cors_allow_origin": "*"}}},
    {"config": {"GitLabRepoProvider": {"hostname": "gitlab.other.example"}}},
    {"jupyterhub": {"hub": {"config": {"BinderSpawner": {"cors_allow_origin": "*"}}}}},
    {"extraConfig": {"99-mine": "from binderhub.repoproviders import GitRepoProvider\n"
                                "c.BinderHub.repo_providers = {'git': GitRepoProvider}\n"}},
])
def test_helm_values_cannot_change_providers_or_cors(values):
    top = next(iter(values))
    unchecked = ["binderhub.jupyterhub.hub.config.BinderSpawner"] if top == "jupyterhub" else [f"binderhub.{top}"]
    found = refusals(helmValues={"binderhub": values, "uncheckedPaths": unchecked})
    assert any("is refused" in line for line in found), found


def test_private_repositories_refusal_holds_whatever_helm_values_say():
    # Login off through helmValues would make the private repositories public again: the login
    # invariant refuses it.
    found = refusals({"githubToken": "t", "authClientSecret": "s"}, auth=GITHUB_LOGIN,
                     repos={"privateRepositories": True},
                     helmValues={"binderhub": {"config": {"BinderHub": {"auth_enabled": False}}},
                                 "uncheckedPaths": ["binderhub.config.BinderHub.auth_enabled"]})
    assert any("changes whether Binder requires login" in line for line in found), found


def test_product_values_pass_their_own_invariants():
    cfg = parsed(ALL_TOKENS, **PRIVATE, helmValues={"binderhub": {"config": {"BinderHub": {
        "banner_message": "Hello"}}}})
    assert helm_guard.merged_values_problems(cfg) == []


def test_a_token_without_private_repositories_gets_a_note_on_what_it_may_read():
    from datetime import date

    from components.notes import stack_notes

    notes = stack_notes(parsed({"githubToken": "t"}), date(2026, 12, 5))
    assert any(n.startswith("githubToken: repos.privateRepositories is false, so give this token read access to "
                            "public repositories only") for n in notes)
    private = parsed({"githubToken": "t", "authClientSecret": "s"}, auth=GITHUB_LOGIN,
                     repos={"privateRepositories": True})
    assert [n for n in stack_notes(private, date(2026, 12, 5)) if "privateRepositories" in n] == [
        "repos.privateRepositories is on: everyone who can log in can launch, and so read, every repository "
        "githubToken can read (BinderHub clones with the token, not as the user); the token also reaches every "
        "image build pod as its git credential (GIT_CREDENTIAL_ENV)"]
    assert not any("privateRepositories" in n for n in stack_notes(parsed(), date(2026, 12, 5)))
