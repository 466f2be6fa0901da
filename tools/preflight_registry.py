"""The pre-flight's question about the registry purge (pure): will ACR Tasks run on this
subscription?

The stack's daily purge is an ACR task (components/practices_spec.py). ACR Tasks do not run on
subscriptions funded by free credits: Azure answers `TasksOperationsNotAllowed` ("ACR Tasks
requests for the registry ... are not permitted"; Microsoft Q&A "ACR Tasks requests for the
registry are not permitted", 1684863, which names free-credit subscriptions; the same error in
Azure-Samples/azure-search-openai-demo#2220 and #2592 on Free Trial accounts). Then no image is
ever purged and the registry grows.

What says a subscription is credit-funded, from `GET /subscriptions/{id}` (Subscriptions API,
`subscriptionPolicies`): `spendingLimit` "On" (Azure's spending limit exists only on
subscriptions with credits: Free Trial, Azure for Students, Visual Studio and MSDN credits,
Azure Pass, Sponsorship; learn.microsoft.com/azure/cost-management-billing/manage/spending-limit),
or a `quotaId` of those offers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config import StackConfig
from components.practices_spec import PURGE_TASK_NAME, purge_task_args

from .preflight_checks import Check

SUBSCRIPTIONS_API_VERSION = "2022-12-01"
# Offer quota IDs of credit-funded subscriptions (as `subscriptionPolicies.quotaId` names them).
FREE_CREDIT_QUOTA_IDS = {
    "FreeTrial_2014-09-01": "Free Trial",
    "AzureForStudents_2018-01-01": "Azure for Students",
    "AzurePass_2014-09-01": "Azure Pass",
    "MSDN_2014-09-01": "Visual Studio / MSDN credits",
    "Sponsored_2016-01-01": "Azure Sponsorship",
}


@dataclass(frozen=True)
class SubscriptionOffer:
    quota_id: str
    spending_limit: str


def parse_subscription(doc: Mapping[str, Any]) -> SubscriptionOffer:
    policies = doc.get("subscriptionPolicies") or {}
    return SubscriptionOffer(str(policies.get("quotaId") or ""), str(policies.get("spendingLimit") or ""))


def check_acr_tasks(cfg: StackConfig, offer: SubscriptionOffer) -> Check | None:
    """None when the stack has no purge task; a warning when ACR Tasks will not run."""
    if purge_task_args(cfg) is None:
        return None
    name = "acr tasks"
    credit = FREE_CREDIT_QUOTA_IDS.get(offer.quota_id)
    if credit is None and offer.spending_limit != "On":
        return Check(name, True, f"allowed (offer {offer.quota_id or 'unknown'}): the daily {PURGE_TASK_NAME} runs")
    what = credit or f"spending limit on ({offer.quota_id or 'unknown offer'})"
    return Check(name, True, f"this subscription runs on free credits ({what}): ACR Tasks do not run there "
                             f"(TasksOperationsNotAllowed), so {PURGE_TASK_NAME} never deletes old images and the "
                             "registry grows (Azure may also refuse to create the task)\n"
                             "fix: a pay-as-you-go subscription (or remove the spending limit), or set "
                             "binderhub-azure:registry.retentionDays 0 and delete old images by hand "
                             "(az acr repository delete)", warning=True)
