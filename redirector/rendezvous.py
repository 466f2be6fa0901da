"""Which member a launch goes to: weighted rendezvous (highest random weight) hashing of the
repository, so a repository keeps landing on the member that has its image built (pure).

Every member scores every repository independently; the highest score wins. Removing a member
therefore moves only the repositories it had won, and a member's share of repositories is its
weight over the sum of weights. The score is weight / -ln(u), with u in (0, 1) drawn from a
hash of (member, repository): the logarithmic method for weighted rendezvous hashing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

# Providers whose spec ends with a ref, and how many leading '/'-separated parts name the
# repository (BinderHub's repoproviders: GitHub `<user>/<repo>/<ref>` and gists
# `<user>/<gist id>/<ref>`; GitLab and plain git `<url-escaped repository>/<ref>`).
_REPO_PARTS = {"gh": 2, "gist": 2, "gl": 1, "git": 1}
# Hosts that treat a repository's name case-insensitively.
_CASE_INSENSITIVE = {"gh", "gist", "gl"}
LAUNCH_PREFIXES = ("/build/", "/v2/")


def repo_key(path: str) -> str:
    """The repository a launch path names, without its ref: `/v2/gh/Org/Repo/main` and
    `/build/gh/org/repo/v1.0` both give `gh/org/repo`. DOI-like specs (zenodo, figshare,
    dataverse, ...) have no ref and are kept whole. A path that names no repository is its own key."""
    rest = next((path[len(p):] for p in LAUNCH_PREFIXES if path.startswith(p)), path)
    provider, _, spec = rest.strip("/").partition("/")
    provider = provider.lower()
    spec = spec.strip("/")
    if not provider or not spec:
        return path
    parts = _REPO_PARTS.get(provider)
    if parts is not None:
        pieces = spec.split("/")
        if len(pieces) > parts:
            spec = "/".join(pieces[:parts])
    if provider in _CASE_INSENSITIVE:
        spec = spec.lower()
    return f"{provider}/{spec}"


def score(member: str, weight: float, key: str) -> float:
    """The member's score for `key` (higher wins); 0 for a weight of 0 or less."""
    if weight <= 0:
        return 0.0
    digest = hashlib.sha256(f"{member}\n{key}".encode()).digest()
    # 64 bits of the hash as a number strictly between 0 and 1.
    u = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64
    return weight / -math.log(u)


def rank(members: Iterable[tuple[str, float]], key: str) -> list[str]:
    """Member names, best first, for `key`; ties (only possible with equal hashes) by name."""
    scored = [(score(name, weight, key), name) for name, weight in members]
    return [name for _, name in sorted(scored, key=lambda item: (-item[0], item[1]))]


def choose(members: Iterable[tuple[str, float]], key: str) -> str | None:
    """The member for `key`, or None when no member has a positive weight."""
    positive = [(name, weight) for name, weight in members if weight > 0]
    ranked = rank(positive, key)
    return ranked[0] if ranked else None
