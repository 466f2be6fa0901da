"""BinderHub's repository providers, their tokens, and CORS, as Helm values (pure).

What BinderHub does at the pinned commit (jupyterhub/binderhub af9ca8b1):

- `GitHubRepoProvider` resolves every GitHub launch through GitHub's API, with
  `access_token` when set (binderhub/repoproviders.py `github_api_request`). Without one
  GitHub allows 60 requests an hour per address, with one 5,000 (BinderHub's "Increase your
  GitHub API limit", docs/source/zero-to-binderhub/setup-binderhub.rst). Each answer sets the
  `binderhub_github_rate_limit_remaining` gauge that `/metrics` serves. `GistRepoProvider`
  is a subclass, so it uses the same token.
- `GitLabRepoProvider` takes `hostname` and `private_token`; `GitHubRepoProvider` takes
  `hostname` and `api_base_path` (GitHub Enterprise: `https://{hostname}/api/v3`). Both clone
  with their token as git credentials (`git_credentials`), which is why a token that reads
  private repositories lets every user of the Binder launch them (setup-binderhub.rst,
  "Accessing private repositories").
- `BinderHub.repo_providers` is a Dict of *classes* (app.py), keyed by the id the front page
  and the launch links use (`/v2/<id>/...`); the front page lists each class's
  `display_config` (main.py, handlers/repoproviders.py). A class cannot be written in the
  chart's `config:` values, so the providers are set in the chart's `extraConfig` Python,
  which the chart's files/binderhub_config.py runs after loading `config:`. The hosts and
  tokens stay in `config:` (the values, which the release keeps secret); the Python holds
  neither a token nor anything a user typed other than a validated host name.
- The stack's own providers are subclasses with their own config section, so the
  institution's GitLab does not replace gitlab.com. traitlets gives a subclass its parents'
  config too: the GitHub Enterprise provider's `access_token` is therefore always set (empty
  without githubEnterpriseToken), never inherited, so the github.com token is never sent to
  another host.
- CORS: `BinderHub.cors_allow_origin` (the API's Access-Control-Allow-Origin header) and
  `BinderSpawner.cors_allow_origin` (the spawned servers' `allow_origin`, only for servers of
  an anonymous Binder: binderspawner_mixin.py `get_args`), both one string: '*' or one origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config_site import BINDERHUB_PROVIDERS

if TYPE_CHECKING:
    from .config import StackConfig


@dataclass(frozen=True)
class RepoTokens:
    """The repository tokens, as opaque values (Pulumi secret Outputs in the program, strings in
    tests); None when the stack does not hold that secret key."""

    github: Any = None
    gitlab: Any = None
    github_enterprise: Any = None


# RepoTokens field -> the secret config key it comes from.
TOKEN_KEYS = {"github": "githubToken", "gitlab": "gitlabToken", "github_enterprise": "githubEnterpriseToken"}


def tokens_from(read_secret: Callable[[str], Any], cfg: StackConfig) -> RepoTokens:
    """The tokens the stack holds, each read with `read_secret` (`pulumi.Config.require_secret`)."""
    if not cfg.binder:
        return RepoTokens()
    return RepoTokens(**{field: read_secret(key) for field, key in TOKEN_KEYS.items() if key in cfg.secrets_set})


# BinderHub's classes by provider id (binderhub/app.py `repo_providers` default).
UPSTREAM_CLASSES = {
    "gh": "GitHubRepoProvider", "gist": "GistRepoProvider", "git": "GitRepoProvider", "gl": "GitLabRepoProvider",
    "zenodo": "ZenodoProvider", "figshare": "FigshareProvider", "hydroshare": "HydroshareProvider",
    "dataverse": "DataverseProvider", "ckan": "CKANProvider",
}
GITLAB_CLASS = "InstitutionGitLabRepoProvider"
GHE_CLASS = "GitHubEnterpriseRepoProvider"
# GitHub Enterprise Server's REST API (GitHubRepoProvider.api_base_path's own example).
GHE_API = "https://{hostname}/api/v3"
EXTRA_CONFIG_KEY = "20-repo-providers"
METRIC = "binderhub_github_rate_limit_remaining"


def enabled_providers(cfg: StackConfig) -> list[str]:
    """The provider ids this Binder offers, in order."""
    repos = cfg.repos
    if repos.providers is not None:
        return list(repos.providers)
    extra = [pid for pid, host in (("gitlab", repos.gitlab_host), ("ghe", repos.github_enterprise_host)) if host]
    return [*BINDERHUB_PROVIDERS, *extra]


def _detect(host: str) -> str:
    """The front page's detect regex (JavaScript) for URLs on `host` (a validated host name:
    only letters, digits, '-' and '.')."""
    escaped = host.replace(".", "\\.")
    return f"^(https?://{escaped}/)?(?<repo>.*[^/])/?"


def _subclass(name: str, base: str, pid: str, title: str, host: str, example: str) -> list[str]:
    return [
        "",
        "",
        f"class {name}({base}):",
        f"    \"\"\"{title} at {host}: hostname and token come from config.{name}.\"\"\"",
        "",
        "    display_config = {",
        f"        **{base}.display_config,",
        f"        \"displayName\": {f'{title} ({host})'!r},",
        f"        \"id\": {pid!r},",
        f"        \"detect\": {{\"regex\": {_detect(host)!r}}},",
        f"        \"repo\": {{**{base}.display_config[\"repo\"], \"label\": {f'Repository name or URL on {host}'!r},",
        f"                 \"placeholder\": {f'example: {example} or https://{host}/{example}'!r}}},",
        "    }",
    ]


def provider_code(cfg: StackConfig) -> str | None:
    """The extraConfig Python that sets `BinderHub.repo_providers`; None when BinderHub's own
    default is what the stack offers."""
    ids = enabled_providers(cfg)
    if ids == list(BINDERHUB_PROVIDERS):
        return None
    classes = {pid: UPSTREAM_CLASSES[pid] for pid in ids if pid in UPSTREAM_CLASSES}
    bases = set(classes.values())
    if "gitlab" in ids:
        bases.add("GitLabRepoProvider")
    if "ghe" in ids:
        bases.add("GitHubRepoProvider")
    lines = ["# Repository providers of this Binder (rendered by binderhub-azure from its `repos` keys).",
             f"from binderhub.repoproviders import {', '.join(sorted(bases))}"]
    if "gitlab" in ids:
        assert cfg.repos.gitlab_host
        lines += _subclass(GITLAB_CLASS, "GitLabRepoProvider", "gitlab", "GitLab", cfg.repos.gitlab_host,
                           "group/project")
        classes["gitlab"] = GITLAB_CLASS
    if "ghe" in ids:
        assert cfg.repos.github_enterprise_host
        lines += _subclass(GHE_CLASS, "GitHubRepoProvider", "ghe", "GitHub Enterprise",
                           cfg.repos.github_enterprise_host, "org/repo")
        classes["ghe"] = GHE_CLASS
    mapping = ", ".join(f"{pid!r}: {classes[pid]}" for pid in ids)
    lines += ["", "", f"c.BinderHub.repo_providers = {{{mapping}}}", ""]
    return "\n".join(lines)


def cors_origin(cfg: StackConfig) -> str | None:
    """The one origin (or '*') both CORS traits get; None when CORS is off."""
    origins = cfg.binder_site.cors_allow_origins
    return origins[0] if origins else None


def binder_repo_values(cfg: StackConfig, tokens: RepoTokens) -> dict[str, Any]:
    """The BinderHub chart values for providers, tokens and CORS (merged into binderhub_values)."""
    repos = cfg.repos
    ids = enabled_providers(cfg)
    config: dict[str, Any] = {}
    if tokens.github is not None:
        config["GitHubRepoProvider"] = {"access_token": tokens.github}
    if "gitlab" in ids and repos.gitlab_host:
        config[GITLAB_CLASS] = {"hostname": repos.gitlab_host,
                                "private_token": tokens.gitlab if tokens.gitlab is not None else ""}
    if "ghe" in ids and repos.github_enterprise_host:
        config[GHE_CLASS] = {
            "hostname": repos.github_enterprise_host,
            "api_base_path": GHE_API,
            # Always set: otherwise it would inherit GitHubRepoProvider's (github.com's) token.
            "access_token": tokens.github_enterprise if tokens.github_enterprise is not None else "",
        }
    values: dict[str, Any] = {}
    origin = cors_origin(cfg)
    if origin:
        config["BinderHub"] = {"cors_allow_origin": origin}
        values["jupyterhub"] = {"hub": {"config": {"BinderSpawner": {"cors_allow_origin": origin}}}}
    if config:
        values["config"] = config
    code = provider_code(cfg)
    if code:
        values["extraConfig"] = {EXTRA_CONFIG_KEY: code}
    return values
