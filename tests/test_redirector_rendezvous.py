"""The redirector's choice of member (redirector/rendezvous.py), pure: the repository key of a
launch path, and weighted rendezvous hashing's shares and stability."""

from __future__ import annotations

from collections import Counter

import pytest

from redirector.rendezvous import choose, rank, repo_key, score


@pytest.mark.parametrize(("path", "key"), [
    ("/v2/gh/binder-examples/requirements/HEAD", "gh/binder-examples/requirements"),
    ("/build/gh/Binder-Examples/Requirements/main", "gh/binder-examples/requirements"),
    ("/v2/gh/org/repo/feature/with/slashes", "gh/org/repo"),  # a ref may hold '/'
    ("/v2/gist/someone/0123abcd/HEAD", "gist/someone/0123abcd"),
    ("/v2/gl/group%2Fsub%2Fproject/main", "gl/group%2fsub%2fproject"),
    ("/v2/git/https%3A%2F%2Fcodeberg.org%2Fa%2FB/main", "git/https%3A%2F%2Fcodeberg.org%2Fa%2FB"),  # case kept
    ("/v2/zenodo/10.5281/zenodo.3242074", "zenodo/10.5281/zenodo.3242074"),  # no ref: the whole spec
    ("/v2/figshare/10.6084/m9.figshare.9782777.v1/", "figshare/10.6084/m9.figshare.9782777.v1"),
    ("/v2/", "/v2/"),
])
def test_repository_key_drops_the_ref_only(path, key):
    assert repo_key(path) == key


def test_equal_weights_split_evenly_and_deterministically():
    keys = [f"gh/org/repo-{i}" for i in range(20000)]
    counts = Counter(choose([("a", 1.0), ("b", 1.0)], k) for k in keys)
    assert abs(counts["a"] / 20000 - 0.5) < 0.02  # sd 0.0035
    assert counts == Counter(choose([("b", 1.0), ("a", 1.0)], k) for k in keys)  # order of members irrelevant


@pytest.mark.parametrize("weights", [{"a": 3.0, "b": 1.0}, {"a": 1.0, "b": 2.0, "c": 7.0}, {"a": 0.2, "b": 0.8}])
def test_shares_follow_weights(weights):
    n = 20000
    counts = Counter(choose(list(weights.items()), f"gh/org/repo-{i}") for i in range(n))
    total = sum(weights.values())
    for name, weight in weights.items():
        assert abs(counts[name] / n - weight / total) < 0.02, counts


def test_removing_a_member_moves_only_its_keys_and_adding_one_takes_only_from_others_evenly():
    members = [("a", 1.0), ("b", 2.0), ("c", 1.0)]
    keys = [f"zenodo/{i}" for i in range(5000)]
    before = {k: choose(members, k) for k in keys}
    after = {k: choose([m for m in members if m[0] != "b"], k) for k in keys}
    assert all(after[k] == before[k] for k in keys if before[k] != "b")
    moved = Counter(after[k] for k in keys if before[k] == "b")
    assert abs(moved["a"] / sum(moved.values()) - 0.5) < 0.05  # b's keys spread by the others' weights
    grown = {k: choose([*members, ("d", 1.0)], k) for k in keys}
    assert all(grown[k] in (before[k], "d") for k in keys)


def test_zero_weight_is_never_chosen_and_rank_orders_all():
    assert {choose([("a", 1.0), ("b", 0.0)], f"k{i}") for i in range(500)} == {"a"}
    assert choose([("a", 0.0)], "k") is None
    assert score("a", 0.0, "k") == 0.0
    ranking = rank([("a", 1.0), ("b", 1.0), ("c", 1.0)], "gh/x/y")
    assert sorted(ranking) == ["a", "b", "c"] and ranking[0] == choose([("c", 1), ("a", 1), ("b", 1)], "gh/x/y")
    assert score("a", 2.0, "k") == 2 * score("a", 1.0, "k")  # a weight scales its score
