"""The post-deploy smoke test (`tools/smoke.py`) against fake BinderHub and JupyterHub servers.

Nothing here leaves this machine: the fake servers listen on 127.0.0.1 only, answer a bounded
number of requests, and stop by themselves after a few seconds if a test forgets to. The TLS
cases use the throwaway certificates in tests/data/tls (see its README).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import ssl
import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tools import smoke, smoke_report
from tools.ops import OpsError

TLS = Path(__file__).resolve().parent / "data" / "tls"
SPEC = smoke.DEFAULT_REPO
TOKENS = ("launch-token-first-5e1f0c2a9b", "launch-token-second-77d0a4c3e8")
OTHER_SECRET = "a-secret-stack-output-0123456789"
MAX_REQUESTS = 40  # the most any test needs is about a dozen
SERVER_LIFETIME = 10.0  # seconds; a fixture stops the server long before


# --------------------------------------------------------------------------- fake servers


def build_events() -> list[dict[str, Any]]:
    """A first launch as BinderHub streams it: a build, then the launch."""
    return [
        {"phase": "waiting", "message": "Waiting for build to start...\n"},
        {"phase": "fetching", "message": "Picked Git content provider.\n"},
        *({"phase": "building", "message": f"Step {i}/3\n"} for i in range(1, 4)),
        {"phase": "pushing", "message": "Pushing image\n"},
        {"phase": "built", "message": "Built image, launching...\n", "imageName": "registry/binder-x:abc"},
        {"phase": "launching", "message": "Launching server...\n"},
        {"phase": "ready", "message": "server running at {url}\n"},
    ]


def found_events() -> list[dict[str, Any]]:
    """A launch that finds the image in the registry."""
    return [
        {"phase": "built", "message": "Found built image, launching...\n", "imageName": "registry/binder-x:abc"},
        {"phase": "launching", "message": "Launching server...\n"},
        {"phase": "ready", "message": "server running at {url}\n"},
    ]


FAILED_BUILD = [
    {"phase": "waiting", "message": "Waiting for build to start...\n"},
    {"phase": "fetching", "message": "Picked Git content provider.\n"},
    {"phase": "building", "message": "Step 2/3: RUN pip install -r requirements.txt\n"},
    {"phase": "failure", "message": "Error during build: pip could not find numpy==0.0.1\n"},
]


@dataclass
class Scenario:
    """What the fake site answers, and what it was asked."""

    hub_health: int = 200
    hub_version: str = "5.3.0"
    binder_health: dict[str, Any] = field(default_factory=lambda: {"ok": True, "checks": [
        {"service": "Docker registry", "ok": True}, {"service": "JupyterHub API", "ok": True},
        {"service": "Pod quota", "ok": True, "total_pods": 0, "quota": 200, "_ignore_failure": True}]})
    launches: list[list[dict[str, Any]]] = field(default_factory=lambda: [build_events(), found_events()])
    stall_after: int | None = None
    """Stop sending (but keep the connection open) after this many events of a launch."""
    shutdown_status: int = 200
    hub_prefix: str = "/jupyter/"
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    shutdowns: list[tuple[str, str]] = field(default_factory=list)
    """(path, Authorization header) of each shutdown POST."""
    port: int = 0
    scheme: str = "http"
    metrics: bytes | None = (b"# HELP binderhub_github_rate_limit_remaining GitHub rate limit remaining\n"
                             b"# TYPE binderhub_github_rate_limit_remaining gauge\n"
                             b"binderhub_github_rate_limit_remaining 4987.0\n")
    """BinderHub's /metrics; None answers 404."""

    def paths(self, method: str = "GET") -> list[str]:
        return [path for m, path, _ in self.requests if m == method]


class FakeHandler(BaseHTTPRequestHandler):
    scenario: ClassVar[Scenario]
    server_version = "fake-hub"
    timeout = 5  # a client that stops talking frees its thread soon

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, in this thread, not in the accepting loop

    def _count(self, method: str) -> bool:
        sc = self.scenario
        sc.requests.append((method, self.path, dict(self.headers)))
        if len(sc.requests) > MAX_REQUESTS:
            self._send(503, b"too many requests for a test\n", "text/plain")
            return False
        return True

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        if not self._count("GET"):
            return
        sc, path = self.scenario, self.path
        hub = sc.hub_prefix
        if path == f"{hub}hub/health":
            self._send(sc.hub_health, b"", "text/plain")
        elif path == f"{hub}hub/api":
            self._json(200, {"version": sc.hub_version})
        elif path == "/":
            self._send(200, b"<html>a hub</html>", "text/html")
        elif path == "/health" and hub != "/":
            self._json(200 if sc.binder_health.get("ok") else 503, sc.binder_health)
        elif path.startswith("/build/") and hub != "/":
            self._stream_launch()
        elif path == "/metrics" and hub != "/" and sc.metrics is not None:
            self._send(200, sc.metrics, "text/plain; version=0.0.4")
        else:
            self._send(404, b"not found", "text/html")

    def _stream_launch(self) -> None:
        sc = self.scenario
        if "text/event-stream" not in self.headers.get("Accept", ""):
            self._send(400, b"Missing Accept header: text/event-stream", "text/html")
            return
        number = sum(1 for m, p, _ in sc.requests if m == "GET" and p.startswith("/build/"))
        events = sc.launches[number - 1] if number <= len(sc.launches) else sc.launches[-1]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(b":keepalive\n\n")
        for index, event in enumerate(events):
            if sc.stall_after is not None and index >= sc.stall_after:
                time.sleep(2.5)  # longer than the client's timeout, bounded so the thread ends
                return
            if event.get("phase") == "ready":
                url = f"{sc.scheme}://127.0.0.1:{sc.port}{hub_user(sc, number)}"
                event = {**event, "message": event["message"].format(url=url), "url": url,
                         "token": TOKENS[(number - 1) % 2], "image": "registry/binder-x:abc",
                         "repo_url": "https://github.com/binder-examples/requirements"}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()

    def do_POST(self) -> None:
        if not self._count("POST"):
            return
        sc = self.scenario
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith(f"{sc.hub_prefix}user/") and self.path.endswith("/api/shutdown"):
            sc.shutdowns.append((self.path, self.headers.get("Authorization", "")))
            self._send(sc.shutdown_status, b"", "application/json")
        else:
            self._send(404, b"not found", "text/html")


def hub_user(sc: Scenario, number: int) -> str:
    return f"{sc.hub_prefix}user/binder-examples-requirements-{number}/"


class FakeServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1, optionally speaking TLS with a given certificate."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None = None) -> None:
        self.context = context
        super().__init__(("127.0.0.1", 0), handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients rejecting the certificate, or hanging up early, are what some tests are about


@contextlib.contextmanager
def serve(scenario: Scenario, certificate: str | None = None) -> Iterator[Scenario]:
    context = None
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS / f"{certificate}.pem", TLS / f"{certificate}.key")
        scenario.scheme = "https"
    handler = type("Handler", (FakeHandler,), {"scenario": scenario})
    server = FakeServer(handler, context)
    scenario.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    # Stops the server by itself should a test hang past the fixture.
    watchdog = threading.Timer(SERVER_LIFETIME, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield scenario
    finally:
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; loopback requests must not go to a proxy."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("BINDERHUB_AZURE_DEBUG", raising=False)


def outputs_for(sc: Scenario, *, binder: bool = True) -> dict[str, Any]:
    url = f"{sc.scheme}://127.0.0.1:{sc.port}/"
    return {"url": url, "hubUrl": f"{url}jupyter/" if binder else url, "publicIp": "20.50.60.70",
            "resourceGroup": "rg-testuni-binderhub" if binder else "rg-testuni-jupyterhub",
            "kubeconfig": f"apiVersion: v1\nusers:\n- user:\n    token: {OTHER_SECRET}\n"}


def run(*argv: str, outputs: dict[str, Any] | None = None, opener: Any = None,
        default_opener: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if opener is None and not default_opener:
        opener = smoke.make_opener()
    code = smoke.main(list(argv), outputs=outputs, opener=opener, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def line(report: str, name: str) -> str:
    """The report line of one check."""
    for text in report.splitlines():
        parts = text.split()
        if len(parts) > 1 and parts[1] == name and parts[0] in ("OK", "FAIL", "SKIP"):
            return text
    raise AssertionError(f"no {name} line in:\n{report}")


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in (*TOKENS, OTHER_SECRET):
            assert secret not in text


# --------------------------------------------------------------------------- whole runs


def test_healthy_binder_builds_once_then_finds_the_image():
    with serve(Scenario()) as sc:
        code, out, err = run(outputs=outputs_for(sc))
    assert code == 0, out + err
    assert err == ""
    for name in ("site", "jupyterhub", "binderhub", "launch", "relaunch"):
        assert line(out, name).startswith("OK")
    assert "over plain HTTP" in line(out, "site")
    assert "JupyterHub 5.3.0" in line(out, "jupyterhub")
    assert "Docker registry, JupyterHub API" in line(out, "binderhub")
    assert "built the image" in line(out, "launch")
    assert "no rebuild" in line(out, "relaunch")
    assert "test server stopped" in line(out, "launch")
    assert "test server stopped" in line(out, "relaunch")
    assert out.splitlines()[0].startswith(f"Smoke test of http://127.0.0.1:{sc.port}/ (binderhub mode")
    assert out.splitlines()[-1] == "All checks passed."
    assert len(out.splitlines()) <= 12
    assert_no_secrets(out, err)


def test_build_requests_accept_an_event_stream_and_name_the_spec():
    with serve(Scenario()) as sc:
        run(outputs=outputs_for(sc))
    builds = [(p, h) for m, p, h in sc.requests if p.startswith("/build/")]
    assert [p for p, _ in builds] == [f"/build/{SPEC}"] * 2
    assert all(h.get("Accept") == "text/event-stream" for _, h in builds)


def test_shutdown_post_carries_each_servers_token():
    with serve(Scenario()) as sc:
        run(outputs=outputs_for(sc))
    assert sc.shutdowns == [
        (f"{hub_user(sc, 1)}api/shutdown", f"token {TOKENS[0]}"),
        (f"{hub_user(sc, 2)}api/shutdown", f"token {TOKENS[1]}"),
    ]


def test_rebuild_on_second_launch_fails_with_the_acr_hint():
    with serve(Scenario(launches=[build_events(), build_events()])) as sc:
        code, out, err = run(outputs=outputs_for(sc))
    assert code == 1
    assert line(out, "launch").startswith("OK")
    assert line(out, "relaunch").startswith("FAIL")
    assert "built the image again" in line(out, "relaunch")
    assert "BinderHub rebuilt an image it had pushed" in out
    assert "jupyterhub/binderhub#1620" in out
    assert "check the binder pod's logs" in out
    assert out.splitlines()[-1] == "1 of 6 checks failed."
    assert len(sc.shutdowns) == 2  # the rebuilt server was stopped too
    assert_no_secrets(out, err)


def test_failed_build_fails_with_its_message_and_is_not_retried():
    with serve(Scenario(launches=[FAILED_BUILD])) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 1
    assert line(out, "launch").startswith("FAIL")
    assert "Error during build: pip could not find numpy==0.0.1" in line(out, "launch")
    assert "after phase failure" in line(out, "launch")
    assert line(out, "relaunch").startswith("SKIP")
    assert len([p for p in sc.paths() if p.startswith("/build/")]) == 1
    assert sc.shutdowns == []


def test_hub_health_down_fails():
    with serve(Scenario(hub_health=503)) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 1
    assert line(out, "jupyterhub").startswith("FAIL")
    assert "/jupyter/hub/health answered HTTP 503" in line(out, "jupyterhub")
    assert "ingress has no ready service" in out


def test_binder_health_not_ok_names_the_failing_service():
    health = {"ok": False, "checks": [{"service": "Docker registry", "ok": False},
                                      {"service": "JupyterHub API", "ok": True},
                                      {"service": "Pod quota", "ok": False, "_ignore_failure": True}]}
    with serve(Scenario(binder_health=health)) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 1
    assert line(out, "binderhub").startswith("FAIL")
    assert "Docker registry not ok" in line(out, "binderhub")
    assert "Pod quota" not in line(out, "binderhub")  # information only, as BinderHub treats it
    assert "cannot query its image registry" in out


def test_jupyterhub_mode_has_no_binder_checks():
    with serve(Scenario(hub_prefix="/")) as sc:
        code, out, err = run(outputs=outputs_for(sc, binder=False))
    assert code == 0, out + err
    assert "(jupyterhub mode)" in out.splitlines()[0]
    assert [text.split()[1] for text in out.splitlines()[1:-1]] == ["site", "jupyterhub"]
    assert not [p for p in sc.paths() if p.startswith(("/build/", "/health"))]
    assert sc.paths() == ["/", "/hub/health", "/hub/api"]


def test_login_required_skips_the_launches():
    forbidden = [{"phase": "failed", "status_code": 403, "message": "Forbidden\n"}]
    with serve(Scenario(launches=[forbidden])) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 0
    assert line(out, "launch").startswith("SKIP")
    assert "requires a login" in line(out, "launch")
    assert line(out, "relaunch").startswith("SKIP")
    assert out.splitlines()[-1] == "All checks passed (2 skipped)."


def test_shutdown_refused_is_reported_but_not_a_failure():
    with serve(Scenario(shutdown_status=403)) as sc:
        code, out, err = run(outputs=outputs_for(sc))
    assert code == 0
    assert "could not stop the test server (HTTP 403); the idle culler will" in line(out, "launch")
    assert_no_secrets(out, err)


def test_stalled_launch_times_out():
    with serve(Scenario(stall_after=3)) as sc:
        started = time.monotonic()
        code, out, _ = run("--timeout", "1", outputs=outputs_for(sc))
    assert time.monotonic() - started < 5
    assert code == 1
    assert line(out, "launch").startswith("FAIL")
    assert "not ready within" in line(out, "launch")
    assert "last phase: building" in line(out, "launch")
    assert line(out, "relaunch").startswith("SKIP")


def test_outputs_from_a_file_and_the_stack_secrets_stay_hidden(tmp_path):
    with serve(Scenario()) as sc:
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs_for(sc)))
        code, out, err = run("--outputs-json", str(path))
    assert code == 0, out + err
    assert_no_secrets(out, err)


def test_other_repo_spec():
    with serve(Scenario()) as sc:
        code, out, _ = run("--repo", "gh/my-org/my-repo/main", outputs=outputs_for(sc))
    assert code == 0
    assert [p for p in sc.paths() if p.startswith("/build/")] == ["/build/gh/my-org/my-repo/main"] * 2
    assert "gh/my-org/my-repo/main" in line(out, "launch")


# --------------------------------------------------------------------------- cannot run


def test_not_deployed_exits_2_with_one_line(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text("{}")
    code, out, err = run("--outputs-json", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "has not been deployed yet" in err
    assert "Traceback" not in err


def test_no_url_output_exits_2():
    code, out, err = run(outputs={"publicIp": "20.50.60.70", "kubeconfig": OTHER_SECRET})
    assert code == 2
    assert "has no url output" in err
    assert_no_secrets(out, err)


@pytest.mark.parametrize(("argv", "message"), [
    (["--timeout", "0"], "--timeout must be a positive"),
    (["--repo", "requirements"], "is not a BinderHub spec"),
    (["--ca-bundle", "no-such-file.pem"], "no such --ca-bundle file"),
])
def test_bad_options_exit_2(argv, message):
    code, _, err = run(*argv, outputs={"url": "https://example.invalid/"})
    assert code == 2
    assert message in err


def test_unparseable_options_exit_2():
    with pytest.raises(SystemExit) as exit_info:
        smoke.main(["--timeout", "soon"], out=io.StringIO(), err=io.StringIO())
    assert exit_info.value.code == 2


def test_unexpected_error_is_one_line_unless_debugging(monkeypatch):
    class Broken:
        def open(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"bug near {OTHER_SECRET}")

    outputs = {"url": "https://example.invalid/", "kubeconfig": OTHER_SECRET}
    code, _, err = run(outputs=outputs, opener=Broken())
    assert code == 2
    assert err.startswith("error: RuntimeError: bug near [secret]")
    assert "BINDERHUB_AZURE_DEBUG" in err
    monkeypatch.setenv("BINDERHUB_AZURE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run(outputs=outputs, opener=Broken())


# --------------------------------------------------------------------------- connections and TLS


def test_connection_refused_fails_the_site_and_skips_the_rest():
    with socket.socket() as probe:  # a port that was free a moment ago, and nobody listens on now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    code, out, _ = run(outputs={"url": url, "hubUrl": f"{url}jupyter/"})
    assert code == 1
    assert "connection refused by 127.0.0.1:" in line(out, "site")
    assert [text.split()[0] for text in out.splitlines()[2:-1]] == ["SKIP"] * 5


def test_untrusted_certificate_against_the_system_trust_store():
    with serve(Scenario(hub_prefix="/"), certificate="server") as sc:
        code, out, _ = run(outputs=outputs_for(sc, binder=False), default_opener=True)
    assert code == 1
    assert "certificate not trusted" in line(out, "site")
    assert "a Let's Encrypt staging certificate? set letsEncrypt: production" in line(out, "site")
    assert line(out, "jupyterhub").startswith("SKIP")


def test_certificate_trusted_through_ca_bundle():
    with serve(Scenario(hub_prefix="/"), certificate="server") as sc:
        code, out, err = run("--ca-bundle", str(TLS / "ca.pem"), outputs=outputs_for(sc, binder=False),
                             default_opener=True)
    assert code == 0, out + err
    assert "over HTTPS; certificate valid for the host (--ca-bundle" in line(out, "site")


def test_certificate_for_another_host():
    with serve(Scenario(hub_prefix="/"), certificate="wrong-host") as sc:
        code, out, _ = run("--ca-bundle", str(TLS / "ca.pem"), outputs=outputs_for(sc, binder=False),
                           default_opener=True)
    assert code == 1
    assert "certificate does not match the host 127.0.0.1" in line(out, "site")


def test_binder_over_https_with_ca_bundle():
    with serve(Scenario(), certificate="server") as sc:
        code, out, err = run("--ca-bundle", str(TLS / "ca.pem"), outputs=outputs_for(sc), default_opener=True)
    assert code == 0, out + err
    assert len(sc.shutdowns) == 2


# --------------------------------------------------------------------------- pure: outputs and mode


def test_binderhub_mode_when_the_hub_is_elsewhere():
    site = smoke.site_from_outputs({"url": "https://b.example/", "hubUrl": "https://b.example/jupyter/"})
    assert site == smoke.Site("https://b.example/", "https://b.example/jupyter/", "binderhub")


@pytest.mark.parametrize("outputs", [
    {"url": "https://h.example/", "hubUrl": "https://h.example/"},  # jupyterhub
    {"url": "http://t.example", "hubUrl": "http://t.example/", "vmName": "vm-t"},  # tljh, no trailing slash
])
def test_jupyterhub_mode_when_both_urls_are_the_same(outputs):
    site = smoke.site_from_outputs(outputs)
    assert site.mode == "jupyterhub"
    assert site.url == site.hub_url
    assert site.url.endswith("/")


def test_without_hub_url_the_resource_group_decides():
    site = smoke.site_from_outputs({"url": "https://b.example/", "resourceGroup": "rg-uni-binderhub"})
    assert (site.mode, site.hub_url) == ("binderhub", "https://b.example/jupyter/")
    site = smoke.site_from_outputs({"url": "https://b.example/"})
    assert (site.mode, site.hub_url) == ("jupyterhub", "https://b.example/")


@pytest.mark.parametrize("outputs", [{}, {"url": ""}, {"url": None}, {"url": "ftp://x.example/"}])
def test_unusable_url_output(outputs):
    with pytest.raises(OpsError):
        smoke.site_from_outputs(outputs)


# --------------------------------------------------------------------------- pure: event stream


def test_sse_parsing_skips_comments_joins_data_lines_and_handles_crlf():
    lines = [":keepalive\n", "\n", "data: one\n", "data:two\n", "\n", "event: x\r\n", "id: 7\r\n",
             "data: {\"phase\": \"ready\"}\r\n", "\r\n", "data: cut short\n"]
    assert list(smoke.parse_sse(lines)) == ["one\ntwo", '{"phase": "ready"}', "cut short"]


def test_events_are_json_objects_and_other_payloads_become_messages():
    lines = ['data: {"phase": "building", "message": "Step 1"}\n', "\n", "data: not json\n", "\n",
             "data: [1, 2]\n", "\n"]
    assert list(smoke.parse_events(lines)) == [{"phase": "building", "message": "Step 1"},
                                               {"message": "not json"}]


def test_a_build_is_recorded_and_repeated_phases_collapse():
    result = smoke.summarize_launch([*build_events()[:-1], {"phase": "ready", "url": "u", "token": "t"}])
    assert result.outcome == "ready"
    assert result.built
    assert result.phases == ("waiting", "fetching", "building", "pushing", "built", "launching", "ready")
    assert (result.server_url, result.token) == ("u", "t")


def test_found_image_is_not_a_build():
    result = smoke.summarize_launch(found_events())
    assert result.outcome == "ready"
    assert not result.built


def test_events_after_ready_are_not_read():
    def events() -> Iterator[dict[str, Any]]:
        yield {"phase": "ready", "url": "u", "token": "t"}
        raise AssertionError("read past ready")

    assert smoke.summarize_launch(events()).outcome == "ready"


def test_a_failed_event_without_message_takes_the_last_log_line():
    result = smoke.summarize_launch([{"phase": "building", "message": "E: disk full\n"}, {"phase": "failed"}])
    assert (result.outcome, result.message) == ("failed", "E: disk full")


def test_forbidden_means_login_but_other_403s_are_failures():
    login = smoke.summarize_launch([{"phase": "failed", "status_code": 403, "message": "Forbidden\n"}])
    assert login.outcome == "login"
    token = smoke.summarize_launch([{"phase": "failed", "status_code": 403, "message": "Invalid build token\n"}])
    assert (token.outcome, token.message) == ("failed", "Invalid build token")


def test_stream_that_stops_early_or_times_out():
    events = [{"phase": "waiting", "message": "Waiting for build to start...\n"}]
    assert smoke.summarize_launch(events).outcome == "ended"
    assert smoke.summarize_launch(events, timed_out=True).outcome == "timeout"


def test_judging_launches():
    built = smoke.LaunchResult("ready", ("building", "ready"), built=True, seconds=300)
    found = smoke.LaunchResult("ready", ("built", "ready"), built=False, seconds=20)
    assert smoke.judge_launch(built, SPEC).status == "OK"
    assert smoke.judge_launch(found, SPEC).status == "OK"
    assert "found the image (built before)" in smoke.judge_launch(found, SPEC).detail
    assert smoke.judge_launch(found, SPEC, again=True).status == "OK"
    rebuilt = smoke.judge_launch(built, SPEC, again=True)
    assert (rebuilt.name, rebuilt.status, rebuilt.hint) == ("relaunch", "FAIL", smoke.REBUILD_HINT)
    failed = smoke.judge_launch(smoke.LaunchResult("failed", ("building", "failed"), message="boom"), SPEC)
    assert failed.status == "FAIL"
    assert "failed after phase failed: boom" in failed.detail
    assert smoke.judge_launch(smoke.LaunchResult("login"), SPEC).status == "SKIP"
    assert smoke.judge_launch(smoke.LaunchResult("ended", ("launching",)), SPEC).status == "FAIL"
    assert smoke.judge_launch(smoke.LaunchResult("error", message="HTTP 502"), SPEC).status == "FAIL"


def test_launch_follows_a_stream_in_memory():
    """The HTTP layer with an in-memory opener: no server needed."""
    body = b":keepalive\n\n" + b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in found_events())

    class Response(io.BytesIO):
        status = 200
        headers: ClassVar[dict[str, str]] = {"Content-Type": "text/event-stream; charset=UTF-8"}

        def geturl(self) -> str:
            return "https://b.example/build/x"

    class Opener:
        def open(self, request: Any, timeout: float) -> Response:
            assert request.get_header("Accept") == "text/event-stream"
            return Response(body)

    result = smoke.launch(Opener(), "https://b.example/", SPEC, timeout=5)
    assert (result.outcome, result.built) == ("ready", False)


def test_html_instead_of_an_event_stream():
    class Response(io.BytesIO):
        status = 200
        headers: ClassVar[dict[str, str]] = {"Content-Type": "text/html"}

        def __init__(self, url: str) -> None:
            super().__init__(b"<html>")
            self.url = url

        def geturl(self) -> str:
            return self.url

    class Opener:
        def __init__(self, url: str) -> None:
            self.url = url

        def open(self, request: Any, timeout: float) -> Response:
            return Response(self.url)

    login = smoke.launch(Opener("https://b.example/jupyter/hub/login"), "https://b.example/", SPEC, timeout=5)
    assert login.outcome == "login"
    other = smoke.launch(Opener("https://b.example/build/x"), "https://b.example/", SPEC, timeout=5)
    assert other.outcome == "error"
    assert "text/html instead of an event stream" in other.message


def test_shutdown_redirected_to_a_login_page_did_not_stop_the_server():
    """A server that rejects the token sends the client to the hub's login page, which answers 200."""
    class Response(io.BytesIO):
        status = 200

        def geturl(self) -> str:
            return "https://b.example/jupyter/hub/login?next=x"

    class Opener:
        def __init__(self) -> None:
            self.requests: list[Any] = []

        def open(self, request: Any, timeout: float) -> Response:
            self.requests.append(request)
            return Response(b"<html>login</html>")

    opener = Opener()
    problem = smoke.stop_server(opener, "https://b.example/jupyter/user/u", TOKENS[0])
    assert problem == "redirected to /jupyter/hub/login: the token was not accepted"
    request = opener.requests[0]
    assert (request.get_method(), request.full_url) == ("POST", "https://b.example/jupyter/user/u/api/shutdown")
    assert request.get_header("Authorization") == f"token {TOKENS[0]}"


# --------------------------------------------------------------------------- pure: errors and report


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    err.verify_code = code
    err.verify_message = message
    return err


URL = "https://myuni-binder.westeurope.cloudapp.azure.com/"


@pytest.mark.parametrize(("err", "expected"), [
    (_verify_error(20, "unable to get local issuer certificate"),
     "certificate not trusted (a Let's Encrypt staging certificate? set letsEncrypt: production): "
     "unable to get local issuer certificate"),
    (_verify_error(19, "self-signed certificate in certificate chain"), "set letsEncrypt: production"),
    (_verify_error(18, "self-signed certificate"), "certificate not trusted (self-signed: Traefik's default "
     "certificate, served until cert-manager has issued the real one"),
    (_verify_error(62, "Hostname mismatch, certificate is not valid for 'x'."),
     "certificate does not match the host myuni-binder.westeurope.cloudapp.azure.com"),
    (_verify_error(10, "certificate has expired"), "certificate expired"),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
     "the name myuni-binder.westeurope.cloudapp.azure.com does not resolve yet: create the DNS record "
     "(an A record to 20.50.60.70) / wait for propagation"),
    (ConnectionRefusedError(111, "Connection refused"),
     "connection refused by myuni-binder.westeurope.cloudapp.azure.com:443"),
    (TimeoutError("timed out"), "no answer from myuni-binder.westeurope.cloudapp.azure.com:443 within 20 s"),
    (http.client.RemoteDisconnected("closed"), "closed the connection without answering"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS handshake with"),
])
def test_error_messages(err, expected):
    assert expected in smoke.classify_error(urllib.error.URLError(err), URL, timeout=20, public_ip="20.50.60.70")
    # Unwrapped too: a read timeout reaches the caller without urllib's URLError around it.
    assert expected in smoke.classify_error(err, URL, timeout=20, public_ip="20.50.60.70")


def test_dns_message_without_a_public_ip():
    message = smoke.classify_error(socket.gaierror(socket.EAI_NONAME, "unknown"), "https://binder.myuni.example/")
    assert message.startswith("the name binder.myuni.example does not resolve yet: create the DNS record / wait")


def test_report_layout():
    site = smoke.Site("https://b.example/", "https://b.example/jupyter/", "binderhub")
    checks = [smoke.Check("site", "OK", "fine"), smoke.Check("relaunch", "FAIL", "rebuilt", "look at logs"),
              smoke.Check("binderhub", "SKIP", "later", "not shown")]
    assert smoke.render_report(site, checks) == "\n".join([
        "Smoke test of https://b.example/ (binderhub mode, JupyterHub at https://b.example/jupyter/)",
        "OK    site       fine",
        "FAIL  relaunch   rebuilt",
        "                 hint: look at logs",
        "SKIP  binderhub  later",
        "                 hint: not shown",
        "1 of 3 checks failed (1 skipped).",
    ])


def test_ops_check_runs_the_smoke_test(tmp_path):
    import io

    from tools import ops

    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    err = io.StringIO()
    assert ops.main(["check", "--outputs-json", str(outputs)], out=io.StringIO(), err=err) == 2
    assert "has not been deployed" in err.getvalue()


# --- GitHub's API quota (issue 25) ------------------------------------------------------------------

def test_github_quota_is_read_from_binderhubs_metrics_after_the_launches():
    with serve(Scenario()) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 0, out
    assert line(out, "github-quota") == ("OK    github-quota  4,987 GitHub API requests left this hour "
                                         "(binderhub_github_rate_limit_remaining, as of BinderHub's last GitHub "
                                         "answer; 0 also means none since the binder pod started)")
    gets = sc.paths("GET")
    assert gets.index("/metrics") > max(i for i, p in enumerate(gets) if p.startswith("/build/"))


def test_low_github_quota_names_the_token_key():
    low = b"binderhub_github_rate_limit_remaining 12.0\n"
    with serve(Scenario(metrics=low)) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 0
    assert "12 GitHub API requests left" in line(out, "github-quota")
    assert "pulumi config set --secret githubToken" in line(out, "github-quota")


@pytest.mark.parametrize(("metrics", "wanted"), [(None, "answered HTTP 404"),
                                                   (b"process_cpu_seconds_total 1.0\n", "has no binderhub_github")])
def test_github_quota_missing_is_skipped_not_failed(metrics, wanted):
    with serve(Scenario(metrics=metrics)) as sc:
        code, out, _ = run(outputs=outputs_for(sc))
    assert code == 0
    assert line(out, "github-quota").startswith("SKIP") and wanted in line(out, "github-quota")


def test_metric_value_reads_only_the_named_unlabelled_metric():
    text = "# HELP x\nbinderhub_github_rate_limit_remaining_total 3\nbinderhub_github_rate_limit_remaining 59.0\n"
    assert smoke_report.metric_value(text, "binderhub_github_rate_limit_remaining") == 59.0
    assert smoke_report.metric_value("", "binderhub_github_rate_limit_remaining") is None
