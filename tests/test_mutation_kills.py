"""Tests that kill the mutants `./run mutate` left alive in the federation's redirector
(redirector/rendezvous.py, redirector/health.py) and the repository providers
(components/repos_spec.py): one behaviour each, asserting the outcome, and the properties that
hold for every input."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redirector import health
from redirector.health import POD_QUOTA, Checker, MemberState, judge
from redirector.rendezvous import choose, rank, repo_key, score
from redirector.settings import Checks, Member

# --------------------------------------------------------------------------- rendezvous: the repository key


@pytest.mark.parametrize("path", ["/v2/gh", "/v2/gh/", "/build/gh//", "/v2/zenodo/"])
def test_rendezvous_a_provider_without_a_repository_is_its_own_key(path):
    assert repo_key(path) == path


@pytest.mark.parametrize(("path", "key"), [
    ("/v2/gh/Org/Repo", "gh/org/repo"),  # no ref: the repository as given
    ("/v2/gl/Group%2FProject", "gl/group%2fproject"),
    ("/v2/gh/org/repo/", "gh/org/repo"),
    ("/other/gh/org/repo/main", "other/gh/org/repo/main"),  # not a launch prefix: 'other' is the provider
    ("/v2/GH/Org/Repo/main", "gh/org/repo"),  # the provider id in any case
])
def test_rendezvous_key_of_a_spec_without_a_ref_and_of_other_paths(path, key):
    assert repo_key(path) == key


_NAME = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(prefix=st.sampled_from(["/v2/", "/build/"]), provider=st.sampled_from(["gh", "gist"]), owner=_NAME, repo=_NAME,
       ref=st.lists(_NAME, min_size=1, max_size=3), other=st.lists(_NAME, min_size=1, max_size=3))
def test_rendezvous_every_ref_of_a_github_repository_lands_on_the_same_key(prefix, provider, owner, repo, ref, other):
    key = repo_key(f"{prefix}{provider}/{owner}/{repo}/{'/'.join(ref)}")
    assert key == repo_key(f"/v2/{provider}/{owner.upper()}/{repo.lower()}/{'/'.join(other)}")
    assert key == f"{provider}/{owner.lower()}/{repo.lower()}"


# --------------------------------------------------------------------------- rendezvous: the choice

_MEMBERS = st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0.05, 20), min_size=1, max_size=6)
_KEYS = st.lists(st.text("abcdefghij/0123456789", min_size=1, max_size=20), min_size=1, max_size=40, unique=True)


@settings(max_examples=60, deadline=None)
@given(members=_MEMBERS, keys=_KEYS, gone=st.sampled_from("abcdefgh"))
def test_rendezvous_removing_a_member_moves_only_that_members_keys(members, keys, gone):
    before = {k: choose(list(members.items()), k) for k in keys}
    rest = [(name, w) for name, w in members.items() if name != gone]
    for k in keys:
        if before[k] != gone:
            assert choose(rest, k) == before[k]
        else:
            assert choose(rest, k) == (rank(list(members.items()), k)[1] if rest else None)


@settings(max_examples=60, deadline=None)
@given(members=_MEMBERS, keys=_KEYS, data=st.data())
def test_rendezvous_the_choice_is_the_highest_score_whatever_the_order_of_members(members, keys, data):
    items = list(members.items())
    shuffled = data.draw(st.permutations(items))
    for k in keys:
        ranking = rank(items, k)
        assert ranking == rank(shuffled, k) and sorted(ranking) == sorted(members)
        assert choose(shuffled, k) == ranking[0] == max(members, key=lambda name: score(name, members[name], k))
        scores = [score(name, members[name], k) for name in ranking]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_rendezvous_a_heavier_member_gets_the_larger_share():
    # Weighted rendezvous: the share of keys follows the weights (0.25, 0.75 here), for small weights too.
    n = 8000
    counts = Counter(choose([("light", 0.1), ("heavy", 0.3)], f"gh/o/r{i}") for i in range(n))
    assert abs(counts["heavy"] / n - 0.75) < 0.025, counts


def test_rendezvous_a_score_is_weight_over_an_exponential_draw():
    # weight / -ln(u): for weight 1 the reciprocal of the score is a standard exponential draw (mean 1).
    draws = [1 / score("m", 1.0, f"k{i}") for i in range(20000)]
    assert abs(sum(draws) / len(draws) - 1) < 0.03
    assert abs(sum(d < math.log(2) for d in draws) / len(draws) - 0.5) < 0.015  # the median is ln 2
    assert score("m", 2.5, "k") == pytest.approx(2.5 * score("m", 1.0, "k"))
    assert score("m", 0.5, "k") > 0 and score("m", -1.0, "k") == score("m", -0.5, "k") == 0.0


def test_rendezvous_members_without_weight_are_never_chosen_and_none_is_left_without_positive_weight():
    assert choose([("a", 0.0), ("b", -1.0)], "gh/o/r") is None
    assert choose([], "gh/o/r") is None
    assert {choose([("a", 0.0), ("b", 1e-9)], f"k{i}") for i in range(200)} == {"b"}


# --------------------------------------------------------------------------- health: judging an answer


def _quota(pods: Any, quota: Any) -> dict[str, Any]:
    return {"service": POD_QUOTA, "total_pods": pods, "quota": quota, "ok": True, "_ignore_failure": True}


def test_health_the_first_failure_is_the_reason_and_a_low_quota_after_it_does_not_replace_it():
    verdict = judge({"checks": [{"service": "Docker registry", "ok": False}, _quota(99, 100)]}, 10)
    assert (verdict.healthy, verdict.reason) == (False, "Docker registry")
    assert verdict.checks == {"Docker registry": False, POD_QUOTA: False}
    verdict = judge({"checks": [_quota(99, 100), {"service": "Docker registry", "ok": False}]}, 10)
    assert (verdict.healthy, verdict.reason) == (False, POD_QUOTA)


def test_health_a_failed_check_after_the_pod_quota_still_counts():
    verdict = judge({"checks": [_quota(5, 100), {"service": "JupyterHub API", "ok": False}]}, 10)
    assert (verdict.healthy, verdict.reason, verdict.pods, verdict.quota) == (False, "JupyterHub API", 5, 100)


@pytest.mark.parametrize("ok", [1, "true", None, "yes"])
def test_health_only_a_json_true_is_ok(ok):
    verdict = judge({"checks": [{"service": "JupyterHub API", "ok": ok}]}, 10)
    assert (verdict.healthy, verdict.reason, verdict.checks) == (False, "JupyterHub API", {"JupyterHub API": False})


@pytest.mark.parametrize(("pods", "quota"), [(True, 100), (99, True), ("99", 100), (99.0, 100), (None, 100)])
def test_health_pod_counts_that_are_not_whole_numbers_are_ignored(pods, quota):
    verdict = judge({"checks": [_quota(pods, quota)]}, 10)
    assert verdict.healthy and verdict.reason == ""
    assert (verdict.pods, verdict.quota) == (pods if type(pods) is int else None, quota if type(quota) is int else None)


def test_health_a_check_without_a_service_name_is_named():
    verdict = judge({"checks": [{"ok": False}]}, 10)
    assert (verdict.healthy, verdict.reason) == (False, "unnamed check")


_CHECK = st.one_of(
    st.fixed_dictionaries({"service": st.sampled_from(["Docker registry", "JupyterHub API", "Build pods"]),
                           "ok": st.sampled_from([True, False, None, 1])}),
    st.fixed_dictionaries({"service": st.just(POD_QUOTA), "ok": st.booleans(),
                           "total_pods": st.none() | st.integers(0, 200), "quota": st.none() | st.integers(0, 200)}))


@settings(max_examples=150, deadline=None)
@given(checks=st.lists(_CHECK, max_size=5), headroom=st.integers(0, 50))
def test_health_healthy_iff_every_check_passes_and_the_quota_leaves_the_headroom(checks, headroom):
    def fails(c: dict[str, Any]) -> bool:
        if c["service"] == POD_QUOTA:  # BinderHub's soft quota: only the free slots count
            return c["total_pods"] is not None and c["quota"] is not None and c["quota"] - c["total_pods"] < headroom
        return c["ok"] is not True

    verdict = judge({"ok": True, "checks": checks}, headroom)
    failed = [c["service"] for c in checks if fails(c)]
    assert verdict.healthy is not failed
    assert verdict.reason == (failed[0] if failed else "")
    # Each service's outcome (the last of a name wins); the quota's is its own `ok` unless too few slots are left.
    assert verdict.checks == {c["service"]: c["ok"] is True and not fails(c) for c in checks}


# --------------------------------------------------------------------------- health: the periodic checks


class _StopWatchingError(Exception):
    pass


def _watch(monkeypatch, answers: list[bool], checks: Checks, draw: float) -> list[float]:
    """The waits `_watch` sleeps between checks whose answers are `answers` (healthy or not)."""
    waits: list[float] = []
    left = list(answers)

    async def check(state: MemberState) -> None:
        state.healthy = left.pop(0)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not left:
            raise _StopWatchingError

    monkeypatch.setattr(health.asyncio, "sleep", sleep)
    monkeypatch.setattr(health.random, "random", lambda: draw)
    checker = Checker((Member("m", "http://m/", 1.0),), checks)
    monkeypatch.setattr(checker, "check", check)
    with pytest.raises(_StopWatchingError):
        asyncio.run(checker._watch(checker.states["m"]))
    return waits


def test_health_a_healthy_member_is_checked_every_period_and_a_failed_one_every_failed_period(monkeypatch):
    checks = Checks(period_seconds=10.0, failed_period_seconds=300.0, jitter=0.0)
    assert _watch(monkeypatch, [True, False, True], checks, 0.5) == [10.0, 300.0, 10.0]


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.9), (0.5, 1.0), (1.0, 1.1)])
def test_health_the_jitter_stretches_or_shrinks_a_wait_by_up_to_half_its_share(monkeypatch, draw, factor):
    checks = Checks(period_seconds=10.0, failed_period_seconds=300.0, jitter=0.2)
    assert _watch(monkeypatch, [True, False], checks, draw) == pytest.approx([10.0 * factor, 300.0 * factor])


@pytest.mark.parametrize("retries", [1, 2, 3, 4, 5])
def test_health_a_check_retries_a_member_that_does_not_answer_then_records_why(monkeypatch, retries):
    asked, waits, seen = [], [], []

    async def ask(member: Member) -> health.Verdict:
        asked.append(member.name)
        raise health.NoAnswerError(f"HTTP 502 (attempt {len(asked)})")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(health.asyncio, "sleep", sleep)
    checker = Checker((Member("m", "http://m/", 1.0),), Checks(retries=retries, retry_delay_seconds=0.25),
                      seen.append)
    monkeypatch.setattr(checker, "_ask", ask)
    state = checker.states["m"]
    asyncio.run(checker.check(state))
    assert asked == ["m"] * retries and waits == [0.25] * (retries - 1)  # no wait after the last attempt
    assert (state.healthy, state.reason) == (False, f"no answer: HTTP 502 (attempt {retries})")
    assert seen == [state] and state.last_check is not None


def test_health_a_check_stops_retrying_at_the_first_answer_and_keeps_its_figures(monkeypatch):
    answers = [health.NoAnswerError("refused"), health.Verdict(True, "", {POD_QUOTA: True}, 7, 100)]
    waits: list[float] = []

    async def ask(member: Member) -> health.Verdict:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(health.asyncio, "sleep", sleep)
    checker = Checker((Member("m", "http://m/", 1.0),), Checks(retries=5, retry_delay_seconds=0.5))
    monkeypatch.setattr(checker, "_ask", ask)
    state = checker.states["m"]
    asyncio.run(checker.check(state))
    assert answers == [] and waits == [0.5]
    assert (state.healthy, state.reason, state.checks, state.pods, state.quota) == (True, "", {POD_QUOTA: True}, 7,
                                                                                    100)


# --------------------------------------------------------------------------- repos_spec: providers and tokens

GH_LOGIN = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}


def test_repos_tokens_are_read_only_for_the_secret_keys_the_stack_holds():
    from components import repos_spec
    from tests.helpers import parsed

    read: list[str] = []

    def read_secret(key: str) -> str:
        read.append(key)
        return f"<{key}>"

    cfg = parsed({"githubToken": "x", "gitlabToken": "y"}, repos={"gitlabHost": "gitlab.testuni.example"})
    assert repos_spec.tokens_from(read_secret, cfg) == repos_spec.RepoTokens(github="<githubToken>",
                                                                             gitlab="<gitlabToken>")
    assert sorted(read) == ["githubToken", "gitlabToken"]
    assert repos_spec.tokens_from(read_secret, parsed()) == repos_spec.RepoTokens()


def test_repos_a_jupyterhub_stack_reads_no_repository_token():
    from components import repos_spec
    from tests.helpers import parsed

    cfg = parsed({"authClientSecret": "s"}, mode="jupyterhub", auth=GH_LOGIN)
    assert repos_spec.tokens_from(lambda key: pytest.fail(f"read {key}"), cfg) == repos_spec.RepoTokens()


def test_repos_a_gitlab_host_without_its_token_gets_an_empty_token_not_none():
    from components import repos_spec
    from tests.helpers import parsed

    cfg = parsed(repos={"gitlabHost": "gitlab.testuni.example"})
    values = repos_spec.binder_repo_values(cfg, repos_spec.RepoTokens())
    assert values["config"] == {repos_spec.GITLAB_CLASS: {"hostname": "gitlab.testuni.example", "private_token": ""}}


def test_repos_extra_hosts_are_added_after_binderhubs_providers_in_order():
    from components import repos_spec
    from components.config_site import BINDERHUB_PROVIDERS
    from tests.helpers import parsed

    both = parsed(repos={"gitlabHost": "gitlab.testuni.example", "githubEnterpriseHost": "github.testuni.example"})
    assert repos_spec.enabled_providers(both) == [*BINDERHUB_PROVIDERS, "gitlab", "ghe"]
    ghe = parsed(repos={"githubEnterpriseHost": "github.testuni.example"})
    assert repos_spec.enabled_providers(ghe) == [*BINDERHUB_PROVIDERS, "ghe"]
    code = repos_spec.provider_code(ghe)
    assert code is not None
    assert "from binderhub.repoproviders import " + ", ".join(sorted(set(repos_spec.UPSTREAM_CLASSES.values()))) \
        in code
    assert repos_spec.GITLAB_CLASS not in code and f"'ghe': {repos_spec.GHE_CLASS}}}" in code


def test_repos_a_subset_of_binderhubs_providers_imports_only_their_classes():
    from components import repos_spec
    from tests.helpers import parsed

    code = repos_spec.provider_code(parsed(repos={"providers": ["zenodo", "gh"]}))
    assert code is not None
    assert "from binderhub.repoproviders import GitHubRepoProvider, ZenodoProvider\n" in code
    assert code.endswith("c.BinderHub.repo_providers = {'zenodo': ZenodoProvider, 'gh': GitHubRepoProvider}\n")
    assert repos_spec.binder_repo_values(parsed(repos={"providers": ["zenodo", "gh"]}), repos_spec.RepoTokens()) == {
        "extraConfig": {repos_spec.EXTRA_CONFIG_KEY: code}}


def test_health_a_change_of_state_is_logged_once(monkeypatch, caplog):
    verdicts = [health.Verdict(False, "Docker registry"), health.Verdict(False, "Docker registry"),
                health.Verdict(True)]

    async def ask(member: Member) -> health.Verdict:
        return verdicts.pop(0)

    checker = Checker((Member("m", "http://m/", 1.0),), Checks(retries=1))
    monkeypatch.setattr(checker, "_ask", ask)
    state = checker.states["m"]
    with caplog.at_level("WARNING", logger="redirector"):
        for _ in range(3):
            asyncio.run(checker.check(state))
    assert [r.getMessage() for r in caplog.records] == ["m is now unhealthy (Docker registry)", "m is now healthy"]


def _serve(handler: Any) -> tuple[Any, str]:
    import tornado.web
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(tornado.web.Application([(r"/.*", handler)]))
    server.add_sockets(sockets)
    return server, f"http://127.0.0.1:{sockets[0].getsockname()[1]}/"


def _checked_once(handler: Any) -> MemberState:
    """One member served by `handler` on localhost, checked once (one attempt): its state."""

    async def main() -> MemberState:
        server, url = _serve(handler)
        checker = Checker((Member("m", url, 1.0),), Checks(retries=1, timeout_seconds=2.0))
        try:
            await checker.check(checker.states["m"])
        finally:
            server.stop()
        return checker.states["m"]

    return asyncio.run(main())


def test_health_a_member_that_redirects_its_health_page_gives_no_answer():
    import tornado.web

    class Moved(tornado.web.RequestHandler):
        def get(self) -> None:
            if self.request.path == "/health":
                self.redirect("/elsewhere")
            else:
                self.write({"ok": True, "checks": []})

    state = _checked_once(Moved)
    assert (state.healthy, state.reason) == (False, "no answer: HTTP 302")


def test_health_a_member_that_does_not_answer_in_time_gives_no_answer_with_the_error():
    # Tornado 6 raises a timeout (and a refused connection) even with raise_error=False.
    import socket

    with socket.socket() as sock:  # listens, never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        checker = Checker((Member("m", f"http://127.0.0.1:{port}/", 1.0),), Checks(retries=1, timeout_seconds=0.2))
        asyncio.run(checker.check(checker.states["m"]))
    state = checker.states["m"]
    assert (state.healthy, state.reason) == (False, "no answer: HTTPTimeoutError: Timeout during request")


def test_health_a_page_that_is_not_json_gives_no_answer():
    import tornado.web

    class Html(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write("<html>a login page</html>")

    state = _checked_once(Html)
    assert (state.healthy, state.reason) == (False, "no answer: HTTP 200 without JSON")


def test_health_no_member_is_checked_after_the_checker_stops(monkeypatch):
    calls: list[float] = []

    async def main() -> tuple[int, int]:
        checker = Checker((Member("a", "http://a/", 1.0), Member("b", "http://b/", 1.0)),
                          Checks(period_seconds=0.01, failed_period_seconds=0.01, jitter=0.0))

        async def check(state: MemberState) -> None:
            calls.append(asyncio.get_running_loop().time())
            state.healthy = True

        monkeypatch.setattr(checker, "check", check)
        checker.start()
        await asyncio.sleep(0.1)
        checker.stop()
        stopped = len(calls)
        await asyncio.sleep(0.1)
        return stopped, len(calls)

    stopped, later = asyncio.run(main())
    assert stopped >= 4 and later == stopped


def test_repos_a_prefix_of_binderhubs_providers_is_a_choice_of_its_own():
    from components import repos_spec
    from tests.helpers import parsed

    code = repos_spec.provider_code(parsed(repos={"providers": ["gh", "gist"]}))
    assert code is not None
    assert code.endswith("c.BinderHub.repo_providers = {'gh': GitHubRepoProvider, 'gist': GistRepoProvider}\n")
