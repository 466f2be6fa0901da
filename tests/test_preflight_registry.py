"""The pre-flight says when ACR Tasks will not run (a free-credit subscription): the daily
registry purge would never delete an image (tools/preflight_registry.py)."""

from __future__ import annotations

import json

from components.config_load import parse_config
from tests.helpers import raw_config
from tests.test_preflight import ROUTES, SUB, cfg_of, load, sdk_clients, stack_file
from tools import preflight
from tools.preflight_registry import check_acr_tasks, parse_subscription


def test_free_trial_subscription_warns_that_the_purge_will_not_run(tmp_path, capsys):
    clients, adapter = sdk_clients({**ROUTES, f"/subscriptions/{SUB}": (200, load("subscription_free_trial"))})
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 0  # a warning, not a failure
    out = capsys.readouterr().out
    line = next(text for text in out.splitlines() if "acr tasks" in text)
    assert line.split()[0] == "WARN"
    assert ("this subscription runs on free credits (Free Trial): ACR Tasks do not run there "
            "(TasksOperationsNotAllowed), so purge-binder-images never deletes old images") in line
    assert "set binderhub-azure:registry.retentionDays 0 and delete old images by hand" in out
    request = adapter.seen[-1]
    assert request.url.endswith(f"/subscriptions/{SUB}?api-version=2022-12-01")


def test_pay_as_you_go_subscription_runs_the_purge(tmp_path, capsys):
    clients, _ = sdk_clients(ROUTES)
    assert preflight.main(["--config-file", stack_file(tmp_path), "--json"], clients=clients) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    detail = "allowed (offer PayAsYouGo_2014-09-01): the daily purge-binder-images runs"
    assert checks["acr tasks"] == {"name": "acr tasks", "ok": True, "warning": False, "detail": detail}


def test_a_spending_limit_alone_marks_credits_and_no_purge_means_no_check():
    offer = parse_subscription({"subscriptionPolicies": {"quotaId": "SomeNewOffer_2030-01-01", "spendingLimit": "On"}})
    check = check_acr_tasks(cfg_of(), offer)
    assert check is not None and check.warning and "spending limit on (SomeNewOffer_2030-01-01)" in check.detail
    assert check_acr_tasks(cfg_of(registry={"retentionDays": 0}), offer) is None
    raw, secret = raw_config({"dockerHubToken": "t"}, registry={"type": "dockerhub", "username": "u"})
    assert check_acr_tasks(parse_config(raw, secret), offer) is None
