"""The pre-flight says what failed when it cannot check (issue 22): the network (which host, DNS
or connection), the credentials (none found, or expired), or the rights (which action on which
scope), each one line and exit 2; a check that ran and failed is exit 1.

The errors are the ones the real SDK raises: the real DefaultAzureCredential with a stand-in
`az` that prints what the Azure CLI prints (Azure/azure-cli#24841 for a DNS failure), the real
ClientSecretCredential over a transport whose DNS lookup fails, and the real management clients
over the recorded HTTP adapter of tests/test_preflight.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
import urllib3
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import CredentialUnavailableError, DefaultAzureCredential

from tests.test_preflight import ROUTES, SUB, RecordedAdapter, fake_clients, load, sdk_clients, stack_file
from tools import preflight

ROOT = Path(__file__).resolve().parent.parent
DNS_FAILURE = ("HTTPSConnectionPool(host='login.microsoftonline.com', port=443): Max retries exceeded with url: "
               "/organizations/oauth2/v2.0/token (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection "
               "object at 0x7f6bd8e06ce0>: Failed to establish a new connection: [Errno -3] Temporary failure in "
               "name resolution'))")
EXPIRED = ("ERROR: AADSTS700082: The refresh token has expired due to inactivity. The token was issued on "
           "2026-08-01T09:00:00Z and was inactive for 90.00:00:00.\nInteractive authentication is needed. "
           "Please run:\naz login --scope https://management.core.windows.net//.default")
NOT_LOGGED_IN = "ERROR: Please run 'az login' to setup account."


def only_the_cli(monkeypatch, tmp_path: Path, stderr: str) -> DefaultAzureCredential:
    """DefaultAzureCredential as `az login` users have it, its `az` a script that fails as the
    real one does; the other credentials find nothing in this environment."""
    for var in [v for v in os.environ if v.startswith(("AZURE_", "ARM_", "MSI_", "IDENTITY_"))]:
        monkeypatch.delenv(var)
    az = tmp_path / "bin" / "az"
    az.parent.mkdir()
    (tmp_path / "stderr.txt").write_text(stderr)
    az.write_text(f"#!/bin/sh\ncat '{tmp_path / 'stderr.txt'}' >&2\nexit 1\n")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{az.parent}{os.pathsep}{os.environ['PATH']}")
    return DefaultAzureCredential(exclude_managed_identity_credential=True, exclude_powershell_credential=True,
                                  exclude_developer_cli_credential=True, exclude_visual_studio_code_credential=True,
                                  exclude_shared_token_cache_credential=True)


def run_with(credential: Any, tmp_path: Path, capsys, transport: Any = None) -> tuple[int, str, str]:
    session = requests.Session()
    session.mount("https://", transport or RecordedAdapter(ROUTES))
    clients = preflight.build_clients(SUB, credential, transport=RequestsTransport(session=session), retry_total=0)
    code = preflight.main(["--config-file", stack_file(tmp_path)], clients=clients)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- network


def test_credentials_but_no_network_names_the_host_and_the_dns_failure(monkeypatch, tmp_path, capsys):
    code, out, err = run_with(only_the_cli(monkeypatch, tmp_path, f"ERROR: {DNS_FAILURE}"), tmp_path, capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "No Azure credentials" not in err and "no Azure credentials" not in err
    assert err.startswith("could not reach Azure's login endpoint (login.microsoftonline.com: the name does not "
                          "resolve (DNS)): check the network, VPN or proxy"), err
    assert "the credentials were not the problem" in err


class DnsFails(requests.adapters.BaseAdapter):
    """A network where no name resolves: requests raises what urllib3 raises then."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        host = urllib3.util.parse_url(request.url).host
        reason = urllib3.exceptions.NameResolutionError(
            host, None, OSError(-3, "Temporary failure in name resolution"))  # type: ignore[arg-type]
        raise requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, request.url, reason),
                                                  request=request)

    def close(self) -> None:
        pass


def test_a_service_principal_without_network_is_a_network_problem_too(monkeypatch, tmp_path, capsys):
    """DefaultAzureCredential with a service principal in the environment (AZURE_CLIENT_SECRET), its
    token request unable to resolve the login host: MSAL's error, wrapped by the chain."""
    for var in [v for v in os.environ if v.startswith(("AZURE_", "ARM_", "MSI_", "IDENTITY_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-4000-8000-00000000000a")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-4000-8000-00000000000b")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    session = requests.Session()
    session.mount("https://", DnsFails())
    credential = DefaultAzureCredential(exclude_managed_identity_credential=True, exclude_cli_credential=True,
                                        exclude_powershell_credential=True, exclude_developer_cli_credential=True,
                                        exclude_visual_studio_code_credential=True,
                                        exclude_shared_token_cache_credential=True,
                                        transport=RequestsTransport(session=session), retry_total=0)
    code, out, err = run_with(credential, tmp_path, capsys, transport=DnsFails())
    assert (code, out) == (2, "")
    assert err.startswith("could not reach Azure's login endpoint (login.microsoftonline.com: the name does not "
                          "resolve (DNS))"), err
    assert "not-a-real-secret" not in err


def test_management_endpoint_unreachable_names_it(tmp_path, capsys):
    from tests.test_preflight import FakeCredential

    code, out, err = run_with(FakeCredential(), tmp_path, capsys, transport=DnsFails())
    assert (code, out) == (2, "")
    assert err.startswith("could not reach Azure (management.azure.com: the name does not resolve (DNS))"), err


@pytest.mark.parametrize(("error", "expected"), [
    (ServiceRequestError("HTTPSConnectionPool(host='management.azure.com', port=443): Max retries exceeded "
                         "(Caused by ConnectTimeoutError(..., 'Connection to management.azure.com timed out.'))"),
     "could not reach Azure (management.azure.com: the connection timed out)"),
    (ServiceRequestError("HTTPSConnectionPool(host='management.azure.com', port=443): Max retries exceeded "
                         "(Caused by NewConnectionError('...: Failed to establish a new connection: [Errno 111] "
                         "Connection refused'))"),
     "could not reach Azure (management.azure.com: the connection failed)"),
    (ServiceResponseError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))"),
     "could not reach Azure (the connection failed)"),
])
def test_other_network_failures_say_which(tmp_path, capsys, error, expected):
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=fake_clients(error=error)) == 2
    assert capsys.readouterr().err.startswith(expected)


# --------------------------------------------------------------------------- credentials


def test_no_credentials_at_all_says_az_login(monkeypatch, tmp_path, capsys):
    code, out, err = run_with(only_the_cli(monkeypatch, tmp_path, NOT_LOGGED_IN), tmp_path, capsys)
    assert (code, out, err) == (2, "", preflight.NO_CREDENTIALS + "\n")


def test_expired_credentials_say_so_and_az_login(monkeypatch, tmp_path, capsys):
    code, out, err = run_with(only_the_cli(monkeypatch, tmp_path, EXPIRED), tmp_path, capsys)
    assert (code, out) == (2, "")
    assert err == "Azure credentials were found but have expired (AADSTS700082): run az login again (or renew the " \
                  "service principal's secret)\n"


def test_credential_unavailable_alone_is_no_credentials(tmp_path, capsys):
    error = CredentialUnavailableError(message="EnvironmentCredential authentication unavailable. Environment "
                                               "variables are not fully configured.")
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=fake_clients(error=error)) == 2
    assert capsys.readouterr().err == preflight.NO_CREDENTIALS + "\n"


# --------------------------------------------------------------------------- rights


def test_a_forbidden_read_names_the_action_scope_and_role(tmp_path, capsys):
    clients, _ = sdk_clients({**ROUTES, "/providers/Microsoft.Compute/skus": (403, load("error_authorization_failed"))})
    assert preflight.main(["--config-file", stack_file(tmp_path)], clients=clients) == 2
    err = capsys.readouterr().err
    assert err == (f"not allowed: the identity you are logged in as may not perform Microsoft.Compute/skus/read on "
                   f"/subscriptions/{SUB}; {preflight.READER_HINT}\n")
    assert "Reader role on the subscription" in err


def test_a_forbidden_call_without_the_usual_message_still_says_rights():
    line = preflight.error_message(HttpResponseError(message="Forbidden", response=_response(403)))
    assert line and line.startswith("not allowed: the identity you are logged in as may not make a read")


def _response(status: int) -> Any:
    class Response:
        status_code = status
        reason = "Forbidden"
        headers: ClassVar[dict[str, str]] = {}

        def text(self) -> str:
            return ""

    return Response()


# --------------------------------------------------------------------------- exit codes, as documented


def test_exit_codes_are_documented_alike_in_the_readme_and_the_command():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**Pre-flight before deploying**"):]
    section = " ".join(section[:section.index("\n\n")].split())
    for words in ("Exit 0 when all is well", "1 when a check failed", "2 when it could not check",
                  "the network (which host", "the credentials (none found, or expired", "the rights (which action"):
        assert words in section, words
    doc = " ".join((preflight.__doc__ or "").split())
    assert "0 when every check is OK or WARN; 1 when any check FAILs" in doc and "2 with one line on stderr" in doc
