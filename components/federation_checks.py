"""Config rules of federation mode, and of the `federation` block in the other modes (pure).
Each problem is one line naming a key.
"""

from __future__ import annotations

import re

from pydantic.alias_generators import to_camel

from .config import StackConfig
from .config_federation import normalised_url
from .config_fields import PROJECT

# Keys of the cluster and VM modes; a federation stack runs no hub of its own.
_HUB_KEYS = ("cluster", "registry", "auth", "limits", "security", "speed", "profiles", "datasets", "vm",
             "monitoring", "helm_values", "binder_site", "storage", "lets_encrypt", "default_url", "schedule",
             "repos")
# A container app's name: lowercase letters, digits and '-', a letter first, at most 32 characters
# (Microsoft.App/containerApps naming rules), and no '--'.
_APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}[a-z0-9]")


def federation_problems(cfg: StackConfig) -> list[str]:
    """Every rule of a stack with `mode: federation`."""
    p = PROJECT
    fed = cfg.federation
    problems = [f"{p}:{to_camel(name)} is not used when mode is federation (the members run their own hubs)"
                for name in _HUB_KEYS if name in cfg.model_fields_set]
    if not cfg.https:
        problems.append(f"{p}:https must be true when mode is federation (Azure Container Apps serves the "
                        "redirector over HTTPS only)")
    label = cfg.effective_dns_label
    if not _APP_NAME.fullmatch(label) or "--" in label:
        key = "dnsLabel" if cfg.dns_label else "institution"
        problems.append(f"{p}:{key} gives the container app name {label!r}: in federation mode it must be 2-32 "
                        "characters of [a-z0-9-], start with a letter, end with a letter or digit, without '--'")
    if fed.domain_bound and not cfg.domain:
        problems.append(f"{p}:federation.domainBound needs domain (the host name whose certificate is bound)")
    if not fed.image:
        problems.append(f"{p}:federation.image is required: the redirector's image by digest, "
                        "'<registry>/<path>@sha256:<64 hex>' (.github/workflows/redirector-image.yml builds it and "
                        "prints the digest)")
    checks = fed.checks
    if checks.failed_period_seconds < checks.period_seconds:
        problems.append(f"{p}:federation.checks.failedPeriodSeconds must be >= periodSeconds (a failed member is "
                        f"checked less often, not more) (got {checks.failed_period_seconds:g} < "
                        f"{checks.period_seconds:g})")
    if not fed.members:
        problems.append(f"{p}:federation.members must list at least one BinderHub, each with `stack: "
                        "<organization>/<project>/<stack>` or `url: https://...`")
    seen_stacks: dict[str, int] = {}
    seen_urls: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for i, member in enumerate(fed.members):
        key = f"{p}:federation.members[{i}]"
        if (member.stack is None) == (member.url is None):
            problems.append(f"{key} needs exactly one of stack (another stack of this project) and url "
                            "(any BinderHub's https:// address)")
        if member.weight <= 0:
            problems.append(f"{key}.weight must be > 0 (a member that should get no launches is left out) "
                            f"(got {member.weight:g})")
        if member.stack is not None:
            first = seen_stacks.setdefault(member.stack.lower(), i)
            if first != i:
                problems.append(f"{key}.stack {member.stack!r} is already members[{first}]")
        if member.url is not None:
            first = seen_urls.setdefault(normalised_url(member.url), i)
            if first != i:
                problems.append(f"{key}.url {member.url!r} is the same BinderHub as members[{first}]")
        if member.name is None and member.label_problem:
            problems.append(f"{key}.{'stack' if member.stack else 'url'} {member.label_problem}")
        first = seen_names.setdefault(member.label, i)
        if first != i:
            problems.append(f"{key}.name {member.label!r} is already members[{first}]'s name (set a distinct "
                            "name: the front page and metrics tell members apart by it)")
    primes = [i for i, member in enumerate(fed.members) if member.prime]
    if len(primes) > 1:
        problems.append(f"{p}:federation.members may mark at most one member prime: true (got members "
                        f"{', '.join(map(str, primes))})")
    return problems


def federation_unused(cfg: StackConfig) -> list[str]:
    """The `federation` block in another mode would do nothing."""
    if "federation" in cfg.model_fields_set:
        return [f"{PROJECT}:federation is only used when mode is federation (this stack is {cfg.mode})"]
    return []
