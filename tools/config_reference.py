"""The config reference of docs/config.md, generated from the model's field descriptions.

    ./run python -m tools.config_reference > docs/config.md
"""

from __future__ import annotations

import json
from typing import get_origin

from pydantic import BaseModel

from components.config import StackConfig
from components.config_fields import LOCATION_KEY
from components.config_messages import _model_class


def _doc_rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for field in model.model_fields.values():
        alias = field.alias or ""
        key = LOCATION_KEY if (not prefix and alias == "location") else (f"{prefix}.{alias}" if prefix else alias)
        sub = _model_class(field.annotation)
        if sub is not None:
            is_list = get_origin(field.annotation) is list
            if is_list or field.default is None:  # an optional block: say what leaving it out means
                empty = "required" if field.is_required() else "[]" if is_list else "—"
                rows.append((key, empty, field.description or "", ""))
            rows.extend(_doc_rows(sub, f"{key}[]" if is_list else key))
            continue
        if field.is_required():
            default = "required"
        else:
            value = field.get_default(call_default_factory=True)
            default = "—" if value is None else json.dumps(value)
        example = json.dumps(field.examples[0]) if field.examples else ""
        rows.append((key, default, field.description or "", example))
    return rows


def reference_markdown() -> str:
    """The config reference table, as in the README."""
    lines = ["| key | default | meaning | example |", "|---|---|---|---|"]
    for key, default, desc, example in _doc_rows(StackConfig, ""):
        desc = desc.replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"| `{key}` | {default} | {desc} | " + (f"`{example}`" if example else "") + " |")
    lines.append(
        "| `authClientSecret` | — (secret) | OAuth client secret; required when `auth.type` is not "
        "`none`. Set with `pulumi config set --secret authClientSecret`, which asks for it. | |"
    )
    lines.append(
        "| `dockerHubToken` | — (secret) | Docker Hub access token; required when `registry.type` is "
        "`dockerhub`. Set with `pulumi config set --secret dockerHubToken`, which asks for it. | |"
    )
    lines.append(
        "| `githubToken` | — (secret) | GitHub token for BinderHub's GitHub and Gist providers: 5,000 GitHub API "
        "requests an hour instead of 60 per address. Give it no scopes unless `repos.privateRepositories` is on. "
        "Set with `pulumi config set --secret githubToken`. | |"
    )
    lines.append(
        "| `gitlabToken` | — (secret) | Token of `repos.gitlabHost` (GitLab's `private_token`; it also clones). "
        "Set with `pulumi config set --secret gitlabToken`. | |"
    )
    lines.append(
        "| `githubEnterpriseToken` | — (secret) | Token of `repos.githubEnterpriseHost` (it also clones). Set with "
        "`pulumi config set --secret githubEnterpriseToken`. | |"
    )
    return "\n".join(lines)


INTRO = """# Configuration reference

Generated from the config model (`components/config*.py`) by
`./run python -m tools.config_reference > docs/config.md`; a test keeps this file in step.

Keys are in the `binderhub-azure:` namespace (`pulumi config set institution myuni` sets
`binderhub-azure:institution`), except the region. Objects are YAML mappings in
`Pulumi.<stack>.yaml`, or set one field with `pulumi config set --path cluster.userPool.maxCount 5`.
Every key is checked before anything is created; a mistake is reported on one line naming the
key, for example `binderhub-azure:cluster.userPool.maxCount must be >= minCount (got 0 < 2)`.
"""

OUTRO = """Secrets are only ever read as Pulumi secrets: a plain-text `authClientSecret`,
`dockerHubToken`, `githubToken`, `gitlabToken` or `githubEnterpriseToken` in a stack file is
refused. They never appear in the offline plan or in stack outputs (only `pulumi stack output
--show-secrets` shows the kubeconfig).
"""


def document() -> str:
    """The whole of docs/config.md."""
    return f"{INTRO}\n{reference_markdown()}\n\n{OUTRO}"


def main() -> None:
    print(document(), end="")


if __name__ == "__main__":
    main()
