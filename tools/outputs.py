"""What the operator's tools share: the stack outputs (read from the Pulumi CLI or a saved
file), the mode/namespace/https they tell, redaction of secret outputs, and the one-line
answer to an unexpected failure.

Nothing here imports the deploy program's components: the tools read what a deployed stack
exported, never how it was built.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

PROJECT_DIR = Path(__file__).resolve().parent.parent
PULUMI_TIMEOUT = 120  # seconds; a remote backend can be slow, but never this slow
MODES = ("binderhub", "jupyterhub")
# Outputs that are safe to show. Anything else (the kubeconfig, and whatever secret output
# a later version adds) is never printed, because `--show-secrets` reveals them all.
PUBLIC_OUTPUTS = ("url", "hubUrl", "publicIp", "azureDnsName", "resourceGroup", "clusterName",
                  "registryLoginServer", "nextStep", "mode", "hubNamespace", "https", "vmName",
                  # A federation's: the TXT record value that proves a domain (public in DNS anyway).
                  "domainVerificationId")
# What `pulumi stack output` prints for a secret when `--show-secrets` was left out.
PULUMI_SECRET_PLACEHOLDER = "[secret]"


class OpsError(Exception):
    """The check cannot run; the message is one line for the user (exit status 2)."""


def mode_hint(outputs: dict[str, Any]) -> str | None:
    """The mode according to the outputs: the `mode` output; for a stack deployed before that
    output existed, the resource group (`rg-<institution>-<mode>`), or the hub URL (only
    BinderHub puts JupyterHub below `/jupyter/`)."""
    exported = outputs.get("mode")
    if exported in MODES:
        return str(exported)
    group = str(outputs.get("resourceGroup") or "")
    for mode in MODES:
        if group.endswith(f"-{mode}"):
            return mode
    hub = outputs.get("hubUrl")
    if hub:
        return "binderhub" if str(hub).rstrip("/").endswith("/jupyter") else "jupyterhub"
    return None


def exported_mode(outputs: dict[str, Any]) -> str | None:
    """The `mode` output when the stack exports it (it is then authoritative)."""
    exported = outputs.get("mode")
    return str(exported) if exported in MODES else None


def hub_namespace(outputs: dict[str, Any], mode: str) -> str:
    """The hub's namespace: the `hubNamespace` output, else the mode's name (what the program
    has always used)."""
    exported = outputs.get("hubNamespace")
    return exported if isinstance(exported, str) and exported else mode


def https_hint(outputs: dict[str, Any]) -> bool | None:
    """Whether the stack serves HTTPS (and so needs cert-manager and a certificate): the `https`
    output, else the scheme of the `url` output; None when the outputs do not say."""
    exported = outputs.get("https")
    if isinstance(exported, bool):
        return exported
    url = outputs.get("url")
    if not url:
        return None
    return str(url).startswith("https://")


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def run_pulumi(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the Pulumi CLI in the project directory, where it finds Pulumi.yaml."""
    # stdin is closed so that a passphrase prompt fails at once (and is reported) instead of
    # waiting invisibly behind the captured output.
    return subprocess.run(args, cwd=PROJECT_DIR, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=PULUMI_TIMEOUT, check=False)


def pulumi_command(stack: str | None) -> list[str]:
    command = ["pulumi", "stack", "output", "--json", "--show-secrets"]
    return [*command, "--stack", stack] if stack else command


def _stack_label(stack: str | None) -> str:
    return f"stack {stack!r}" if stack else "the selected stack"


def parse_outputs(text: str, stack: str | None = None) -> dict[str, Any]:
    """The JSON of `pulumi stack output --json`; no outputs means the stack was never deployed."""
    if not text.strip():
        raise OpsError(f"{_stack_label(stack)} has no outputs: it has not been deployed yet (run `pulumi up`)")
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError:
        raise OpsError("the stack outputs are not JSON (expected the output of "
                       "`pulumi stack output --json --show-secrets`)") from None
    if not isinstance(outputs, dict):
        raise OpsError("the stack outputs are not a JSON object")
    if not outputs:
        raise OpsError(f"{_stack_label(stack)} has no outputs: it has not been deployed yet (run `pulumi up`)")
    return outputs


def read_outputs(stack: str | None, outputs_json: str | None, runner: Runner,
                 stdin: TextIO | None = None) -> dict[str, Any]:
    """The stack outputs, from a file (`-`: stdin) or from the Pulumi CLI."""
    if outputs_json is not None:
        if outputs_json == "-":
            return parse_outputs((stdin or sys.stdin).read(), stack)
        try:
            return parse_outputs(Path(outputs_json).read_text(), stack)
        except OSError as err:
            raise OpsError(f"cannot read the outputs file {outputs_json}: {err.strerror or err}") from None
    try:
        proc = runner(pulumi_command(stack))
    except FileNotFoundError:
        raise OpsError("the Pulumi CLI (`pulumi`) is not installed or not on PATH: install it "
                       "(https://www.pulumi.com/docs/install/), or pass --outputs-json FILE with the output "
                       "of `pulumi stack output --json --show-secrets`") from None
    except subprocess.TimeoutExpired:
        raise OpsError(f"`pulumi stack output` did not answer within {PULUMI_TIMEOUT} s") from None
    if proc.returncode != 0:
        first = next((line.strip() for line in (proc.stderr or "").splitlines() if line.strip()), "")
        hint = " (pass --stack NAME; `pulumi stack ls` lists them)" if "stack" in first.lower() else ""
        raise OpsError(f"`pulumi stack output` failed: {first or f'exit status {proc.returncode}'}{hint}")
    return parse_outputs(proc.stdout or "", stack)


def kubeconfig_text(outputs: dict[str, Any], stack: str | None = None) -> str:
    """The kubeconfig output, or why there is none."""
    value = outputs.get("kubeconfig")
    if value == PULUMI_SECRET_PLACEHOLDER:
        raise OpsError("the kubeconfig output reads \"[secret]\": save the outputs with "
                       "`pulumi stack output --json --show-secrets`")
    if not isinstance(value, str) or not value.strip():
        raise OpsError(f"{_stack_label(stack)} has no kubeconfig output: it has not been deployed yet, or "
                       "`pulumi up` did not finish (run `pulumi up`, or pass --kubeconfig PATH)")
    return value


@contextlib.contextmanager
def kubeconfig_file(text: str) -> Iterator[str]:
    """The kubeconfig in a temporary file only its owner can read, removed afterwards: the
    Kubernetes client loads configuration from a file, and this one grants cluster access."""
    fd, path = tempfile.mkstemp(prefix="binderhub-azure-kubeconfig-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as handle:
            os.chmod(path, 0o600)  # mkstemp already does; said explicitly because it matters here
            handle.write(text)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def secret_fragments(outputs: dict[str, Any]) -> list[str]:
    """Strings that must never reach the terminal: every non-public output, and the longer
    values inside multi-line ones (tokens, keys and certificates in the kubeconfig)."""
    found: list[str] = []
    for key, value in outputs.items():
        if key in PUBLIC_OUTPUTS or not isinstance(value, str) or not value:
            continue
        found.append(value)
        for line in value.splitlines():
            _, sep, rest = line.partition(": ")
            candidate = rest.strip().strip("'\"") if sep else line.strip()
            if len(candidate) >= 16:
                found.append(candidate)
    return sorted(set(found), key=len, reverse=True)


def redact(text: str, fragments: Sequence[str]) -> str:
    for fragment in fragments:
        text = text.replace(fragment, "[secret]")
    return text


DEBUG_ENV = "BINDERHUB_AZURE_DEBUG"


def unexpected(err: BaseException, *, doing: str = "", detail: str | None = None, stream: TextIO | None = None,
               status: int = 1) -> int:
    """A bug, not bad input: one line on `stream` (stderr), then the exit status to return; the
    traceback instead when BINDERHUB_AZURE_DEBUG is set. Every command's `main` ends with this.
    `doing` names what failed; `detail` replaces the exception's text (shortened, redacted)."""
    if os.environ.get(DEBUG_ENV):
        raise err
    text = " ".join((str(err) if detail is None else detail).split())
    where = f"{doing}: " if doing else ""
    print(f"error: {where}{type(err).__name__}: {text} (set {DEBUG_ENV}=1 for a traceback)", file=stream or sys.stderr)
    return status
