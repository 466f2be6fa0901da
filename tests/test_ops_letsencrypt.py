"""What a first `pulumi up` runs into after the resources exist, as `ops status` and the smoke
test report it: Let's Encrypt refusing the certificate of an Azure DNS label for the shared
rate limit, and the registry purge that never runs on a free-credit subscription."""

from __future__ import annotations

import datetime
import io
from typing import Any

from components import letsencrypt
from tests.test_ops import BINDER_OUTPUTS, Pulumi, binderhub_cluster, certificate
from tests.test_smoke import Scenario, outputs_for, serve
from tools import ops, purge_status, smoke, smoke_report, status

# Boulder's words (ratelimits/limiter.go) as cert-manager passes them on: the Order's reason
# (acmeorders/sync.go "Failed to create Order: %v", the ACME error "%d %s: %s"), carried into the
# Certificate's Issuing condition (issuing_controller.go).
LIMIT = ('too many certificates (50) already issued for "westeurope.cloudapp.azure.com" in the last 168h0m0s, '
         'retry after 2026-12-14 09:12:00 UTC')
ORDER_REASON = f"Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: {LIMIT}"
ISSUING = ('The certificate request has failed to complete and will be retried: Failed to wait for order resource '
           f'"testuni-tls-1-2345" to become ready: order is in "errored" state: {ORDER_REASON}')


def rate_limited_certificate(*, with_issuing: bool = True) -> dict[str, Any]:
    cert = certificate("binderhub", ready="False", reason="Failed", message="Issuing certificate as Secret does not "
                       "exist")
    cert["spec"]["dnsNames"] = ["testuni-binder.westeurope.cloudapp.azure.com"]
    if with_issuing:
        cert["status"]["conditions"].append({"type": "Issuing", "status": "False", "reason": "Failed",
                                             "message": ISSUING})
    return cert


def status_run(factory: Any, *, purge: Any = None) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops.main(["status"], runner=Pulumi(BINDER_OUTPUTS), api_factory=factory, out=out, err=err,
                    purge_lookup=purge)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue()


# ------------------------------------------------------------------------- ops status: the certificate


def test_status_recognises_a_rate_limited_certificate_and_says_what_to_do():
    code, out = status_run(binderhub_cluster(cert=rate_limited_certificate()))
    assert code == 1
    assert "Certificate binderhub/testuni-tls: rate-limited; issuer letsencrypt-production" in out
    assert (f"  Let's Encrypt refused the certificate: {LIMIT.split(', retry')[0]}, retry after 2026-12-14 09:12:00 "
            "UTC") in out
    assert ("  what to do: Let's Encrypt counts every Azure DNS label in westeurope.cloudapp.azure.com as one domain, "
            "shared with everyone in the region: set binderhub-azure:domain to a name you own") in out
    assert "it cannot succeed before 2026-12-14 09:12:00 UTC" in out
    assert "NOT READY: certificate testuni-tls: rate-limited" in out


def test_status_reads_the_refusal_from_the_order_before_the_certificate_has_it():
    factory = binderhub_cluster(cert=rate_limited_certificate(with_issuing=False))
    factory.custom.objects[("acme.cert-manager.io", "binderhub", "orders")] = [
        {"metadata": {"name": "testuni-tls-1-2345"}, "status": {"state": "errored", "reason": ORDER_REASON}}]
    code, out = status_run(factory)
    assert code == 1 and "rate-limited" in out and "retry after 2026-12-14 09:12:00 UTC" in out


def test_a_pending_certificate_is_not_called_rate_limited():
    cert = certificate("binderhub", ready="False", reason="DoesNotExist", message="Issuing certificate as Secret "
                       "does not exist")
    code, out = status_run(binderhub_cluster(cert=cert))
    assert code == 1 and "pending" in out and "rate-limited" not in out and "Let's Encrypt refused" not in out


def test_rate_limit_messages_of_every_limit_boulder_names():
    for message, limit in [
        (ISSUING, LIMIT.split(", retry")[0]),
        ("429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set "
         "of identifiers in the last 168h0m0s, retry after 2026-12-09 10:00:00 UTC",
         "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s"),
        ("429 urn:ietf:params:acme:error:rateLimited: too many new orders (300) from this account in the last "
         "3h0m0s, retry after 2026-12-09 10:00:00 UTC",
         "too many new orders (300) from this account in the last 3h0m0s"),
        ("429 urn:ietf:params:acme:error:rateLimited: too many failed authorizations (5) for \"x.example\" in the "
         "last 1h0m0s, retry after 2026-12-09 10:00:00 UTC",
         "too many failed authorizations (5) for \"x.example\" in the last 1h0m0s"),
    ]:
        found = letsencrypt.rate_limit_in(message)
        assert found == letsencrypt.RateLimit(limit, found.retry_after if found else None), message
        assert found is not None and found.retry_after and found.retry_after.endswith(" UTC")
    assert letsencrypt.rate_limit_in("Waiting for HTTP-01 challenge propagation") is None
    # An own domain: no advice to get one.
    advice = letsencrypt.rate_limit_advice(letsencrypt.RateLimit("x", "2026-12-09 10:00:00 UTC"), "binder.myuni.ac.uk")
    assert advice.startswith("wait: cert-manager retries by itself") and "domain" not in advice


# ------------------------------------------------------------------------- smoke test: the certificate


def test_smoke_test_says_the_certificate_is_rate_limited_when_https_fails():
    row = status.certificate_row(rate_limited_certificate())
    with serve(Scenario(hub_prefix="/"), certificate="server") as sc:
        out, err = io.StringIO(), io.StringIO()
        args = smoke._parser().parse_args([])
        code = smoke.run(args, outputs=outputs_for(sc, binder=False), opener=smoke.make_opener(), out=out, err=err,
                         certificates=lambda outputs: [row])
    assert code == 1, err.getvalue()
    site = next(line for line in out.getvalue().splitlines() if line.startswith("FAIL  site"))
    assert "certificate not trusted" in site
    assert f"Let's Encrypt refused the certificate: {LIMIT.split(', r')[0]}" in site
    assert "retry after 2026-12-14 09:12:00 UTC" in site
    assert "hint: wait: cert-manager retries by itself; it cannot succeed before 2026-12-14" in out.getvalue()


def test_smoke_test_on_an_azure_dns_label_names_the_shared_limit_without_the_cluster():
    check = smoke_report.Check("site", smoke_report.FAIL, "certificate not trusted (self-signed: Traefik's default "
                               "certificate ...)")
    host = "testuni-binder.westeurope.cloudapp.azure.com"
    said = smoke_report.with_certificate_state(check, host, None)
    assert "Let's Encrypt limits certificates for all of westeurope.cloudapp.azure.com together" in said.hint
    assert "a domain of your own (binderhub-azure:domain) avoids the shared limit" in said.hint
    # Pending, as the cluster says: wait, then look.
    pending = status.certificate_row(certificate("binderhub", ready="False", reason="DoesNotExist",
                                                 message="Issuing certificate as Secret does not exist"))
    said = smoke_report.with_certificate_state(check, host, [pending])
    assert "certificate testuni-tls is pending: DoesNotExist" in said.detail and "ops status" in said.hint
    # Not a certificate problem: unchanged.
    refused = smoke_report.Check("site", smoke_report.FAIL, "connection refused by x:443")
    assert smoke_report.with_certificate_state(refused, host, None) == refused


# ------------------------------------------------------------------------- ops status: the registry purge

NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.UTC)


def run_doc(status_: str, finished: str, error: str = "") -> dict[str, Any]:
    return {"name": "ca1", "properties": {"runId": "ca1", "status": status_, "createTime": finished,
                                          "finishTime": finished, "runErrorMessage": error}}


def test_purge_lines():
    ok = purge_status.purge_line(run_doc("Succeeded", "2026-12-05T03:00:41Z"), NOW)
    assert ok == purge_status.PurgeStatus(True, "registry purge: last run ca1 Succeeded, 9 h ago "
                                                "(2026-12-05 03:00 UTC)")
    never = purge_status.purge_line(None, NOW)
    assert not never.ok and "TasksOperationsNotAllowed" in never.text and "has never run" in never.text
    failed = purge_status.purge_line(run_doc("Failed", "2026-12-05T03:00:41Z", "exit status 1"), NOW)
    assert not failed.ok and "Failed" in failed.text and "az acr task logs --registry <registry> --run-id ca1" in \
        failed.text
    stale = purge_status.purge_line(run_doc("Succeeded", "2026-12-01T03:00:41Z"), NOW)
    assert not stale.ok and "the daily task has stopped running" in stale.text


def test_status_shows_the_purge_as_a_warning_that_does_not_make_the_site_not_ready():
    seen: list[dict[str, Any]] = []

    def lookup(outputs: dict[str, Any]) -> purge_status.PurgeStatus:
        seen.append(outputs)
        return purge_status.purge_line(None, NOW)

    code, out = status_run(binderhub_cluster(), purge=lookup)
    assert code == 0 and "Everything is ready." in out
    assert "WARN registry purge: purge-binder-images has never run" in out
    assert purge_status.registry_name(seen[0]) == "testunibinderab12cd"


class FakeResources:
    """ResourceManagementClient.send_request, answering the runs list."""

    def __init__(self, body: dict[str, Any], status_code: int = 200):
        self.body, self.status_code, self.requests = body, status_code, []

    def send_request(self, request: Any) -> Any:
        self.requests.append(request)
        body, code = self.body, self.status_code

        class Response:
            status_code = code

            def json(self) -> dict[str, Any]:
                return body

            def text(self) -> str:
                return "x"

        return Response()


def test_the_runs_request_asks_for_the_newest_run_of_the_purge_task():
    resources = FakeResources({"value": [run_doc("Succeeded", "2026-12-05T03:00:41Z")]})
    found = purge_status.last_purge_run(resources, "sub", "rg-testuni-binderhub", "testunibinderab12cd")
    assert found is not None and found["properties"]["runId"] == "ca1"
    (request,) = resources.requests
    assert request.url.startswith("/subscriptions/sub/resourceGroups/rg-testuni-binderhub/providers/"
                                  "Microsoft.ContainerRegistry/registries/testunibinderab12cd/runs?")
    assert request.url.endswith("runs?api-version=2019-06-01-preview&$filter=TaskName eq 'purge-binder-images'&$top=1")
    assert purge_status.last_purge_run(FakeResources({"value": []}), "s", "g", "r") is None
