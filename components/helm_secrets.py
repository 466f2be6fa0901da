"""What the helmValues gate calls a secret, and how the plan hides one (pure).

A secret in `helmValues` would sit in plain text in the stack file and be printed by the
offline plan, so the gate refuses it wherever it is, even on a path listed in
`helmValues.uncheckedPaths`; and the plan replaces anything this module calls secret by
the placeholder "[secret]" (defence in depth: a refused config never renders).

A value is secret when
- it is on a path that always holds one (the chart secrets the stack generates, the OAuth
  client secret, the registry password: `KNOWN_SECRETS`), unless empty;
- it is a text whose *name* says secret (`SECRET_WORDS`, `SECRET_PAIRS`: `GITHUB_TOKEN`,
  `AZURE_CLIENT_SECRET`, `AWS_SECRET_ACCESS_KEY`, `JUPYTERHUB_CRYPT_KEY`,
  `AZURE_STORAGE_CONNECTION_STRING`, ...). The name of an environment variable is its
  `name` when it sits in a list (`[{name, value}]`) or in `{value: ...}`. Booleans, numbers,
  on/off words and digit strings are flags or settings, not secrets (`USE_TOKEN: false`);
  file paths are where a secret is, not the secret (`GOOGLE_APPLICATION_CREDENTIALS:
  /secrets/key.json`); names that end in a reference word (`*_URL`, `*Name`, `*Ref`, `*_FILE`,
  `*_ID`, ...) name or point at a secret;
- or its *text* carries a credential whatever its name (`CONTENT`): an Azure Storage
  connection string's `AccountKey=` or `SharedAccessSignature=`, a SAS query (`sig=`), a
  PEM private key, a Google service-account key file, GitHub and Docker Hub token formats,
  or a URL with a password (`https://user:pass@host`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

PLACEHOLDER = "[secret]"

# chart-relative paths (`*` is any one key) that always hold a secret, with what to do instead
PROJECT = "binderhub-azure"
GENERATED = "the stack generates it (pulumi_random) and keeps it secret; remove it"
REPO_TOKENS = (f"use the secret keys {PROJECT}:githubToken, gitlabToken or githubEnterpriseToken with the repos "
               "block (pulumi config set --secret githubToken, which asks for it)")
KNOWN_SECRETS: tuple[tuple[str, str, str], ...] = (
    ("jupyterhub", "hub.cookieSecret", GENERATED),
    ("jupyterhub", "proxy.secretToken", GENERATED),
    ("jupyterhub", "hub.config.CryptKeeper.keys", GENERATED),
    ("jupyterhub", "hub.config.JupyterHub.cookie_secret", GENERATED),
    ("jupyterhub", "hub.config.ConfigurableHTTPProxy.auth_token", GENERATED),
    ("jupyterhub", "hub.config.*.client_secret",
     f"use the secret key {PROJECT}:authClientSecret "
     "(pulumi config set --secret authClientSecret, which asks for it)"),
    ("jupyterhub", "hub.services.*.apiToken", GENERATED),
    ("jupyterhub", "hub.services.*.api_token", GENERATED),
    ("jupyterhub", "proxy.https.manual.key", f"let the stack get the certificate ({PROJECT}:https, letsEncrypt)"),
    ("jupyterhub", "hub.db.password", "the hub database is SQLite on its own disk and needs none"),
    ("jupyterhub", "imagePullSecret.password",
     f"for Docker Hub use the secret key {PROJECT}:dockerHubToken; the stack makes the pull secret"),
    ("binderhub", "registry.password",
     f"for Docker Hub use the secret key {PROJECT}:dockerHubToken; ACR credentials are managed by the stack"),
    ("binderhub", "config.BinderHub.build_token_secret", GENERATED),
    # BinderHub's repository providers clone and call their APIs with these (repoproviders.py).
    ("binderhub", "config.*.access_token", REPO_TOKENS),
    ("binderhub", "config.*.private_token", REPO_TOKENS),
    ("binderhub", "config.*.client_secret", REPO_TOKENS),
    ("binderhub", "config.*.git_credentials", REPO_TOKENS),
)
PLAIN = ("keep it in a Kubernetes Secret and reference it (e.g. extraEnv with valueFrom.secretKeyRef), or use "
         "the stack's secret keys")

# Words of a name (camelCase and snake_case split, lowercased) that make its text a secret.
SECRET_WORDS = frozenset({"secret", "secrets", "password", "passwd", "passphrase", "token", "tokens",
                          "credential", "credentials", "apikey", "privatekey", "cryptkey"})
# Adjacent word pairs that do the same (`AWS_SECRET_ACCESS_KEY` already has "secret").
SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("crypt", "key"), ("encryption", "key"),
                          ("signing", "key"), ("access", "key"), ("account", "key"), ("storage", "key"),
                          ("master", "key"), ("shared", "key"), ("connection", "string"), ("conn", "str"),
                          ("client", "secret")})
# A last word that makes the name a reference to a secret, not the secret itself.
REFERENCE_WORDS = frozenset({"name", "names", "url", "uri", "urls", "endpoint", "ref", "refs", "path", "paths",
                             "file", "files", "dir", "directory", "type", "id", "ids", "kind", "header", "prefix",
                             "format", "mode", "length", "ttl", "expiry", "expires", "lifetime", "timeout",
                             "seconds", "scope", "scopes", "enabled", "disabled", "host", "hosts", "user",
                             "username", "mount", "policy", "class", "label", "labels"})
_FLAG_WORDS = frozenset({"", "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null",
                         PLACEHOLDER})

# Text that carries a credential, whatever key it sits under.
CONTENT: tuple[tuple[re.Pattern[str], str], ...] = (
    # Azure Storage / Service Bus connection strings (learn.microsoft.com: "Configure Azure Storage
    # connection strings"; "Service Bus access control with Shared Access Signatures").
    (re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature)\s*="), "a connection string's key"),
    # An Azure SAS token: `sv=...&...&sig=<signature>` (learn.microsoft.com: "Create a service SAS").
    (re.compile(r"(?i)(^|[?&])sig=[A-Za-z0-9%+/=]{10,}"), "a shared access signature"),
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"), "a private key"),
    # A Google service-account key file (its JSON has "private_key").
    (re.compile(r"\"private_key\"\s*:"), "a service-account key"),
    # GitHub token formats (docs.github.com: "About authentication to GitHub", token prefixes).
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), "a GitHub token"),
    (re.compile(r"\bdckr_pat_[A-Za-z0-9_-]{10,}"), "a Docker Hub access token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    # A password in a URL: scheme://user:password@host
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a password in a URL"),
)


def words(name: str) -> list[str]:
    """`AZURE_CLIENT_SECRET`, `clientSecret`, `api-key` -> lowercase words."""
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", split.lower()) if w]


def secret_name(name: str) -> bool:
    """Whether a key or variable named `name` holds a secret when it holds text."""
    parts = words(name)
    if not parts or parts[0] == "existing" or parts[-1] in REFERENCE_WORDS:
        return False
    return any(w in SECRET_WORDS for w in parts) or any(pair in SECRET_PAIRS for pair in pairwise(parts))


def _flag_or_number(value: str) -> bool:
    text = value.strip().lower()
    return text in _FLAG_WORDS or bool(re.fullmatch(r"[0-9]{1,12}", text))


def _file_path(value: str) -> bool:
    return bool(re.fullmatch(r"(/|~/|\./)[^\s:]*", value.strip()))


def content_secret(value: str) -> str | None:
    """What credential a text carries, whatever its name; None if none."""
    for pattern, what in CONTENT:
        if pattern.search(value):
            return what
    return None


def value_secret(name: str, value: Any) -> str | None:
    """Why `value`, under key or variable `name`, is a secret; None if it is not."""
    if not isinstance(value, str) or value == PLACEHOLDER:
        return None
    found = content_secret(value)
    if found:
        return found
    if _flag_or_number(value) or _file_path(value):
        return None
    return "a secret by its name" if secret_name(name) else None


def _env_name(node: dict[str, Any], key: str) -> str:
    """The variable a `value` belongs to: `{name: X, value: ...}` or `X: {value: ...}`."""
    name = node.get("name")
    return name if isinstance(name, str) else key


Path = tuple[str, ...]


def secrets_in(tree: Any, path: Path = (), name: str = "") -> Iterator[tuple[Path, str]]:
    """(path, why) of every secret text in a values tree: by key name, by environment
    variable name, or by content. Python code (`extraConfig`) is looked at by content here;
    names in code are `helm_python`'s."""
    if isinstance(tree, dict):
        for key, item in tree.items():
            key = str(key)
            label = _env_name(tree, name) if key == "value" else key
            yield from secrets_in(item, (*path, key), label)
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from secrets_in(item, (*path, f"[{i}]"), name)  # a list's items share its name
    else:
        why = value_secret(name, tree)
        if why:
            yield path, why


def redact(tree: Any, code_secret: Callable[[str], bool] | None = None, name: str = "", parent: str = "") -> Any:
    """A copy of `tree` with every secret text (as `secrets_in` finds them, and, given
    `code_secret`, Python config under an `extraConfig` for which it says so) replaced by the
    placeholder. Anything else is returned as it is. (`helm_guard.redact` passes the Python
    reader, which itself uses this module's rules.)"""
    if isinstance(tree, dict):
        out = {}
        for key, item in tree.items():
            label = _env_name(tree, name) if key == "value" else str(key)
            out[key] = redact(item, code_secret, label, name)
        return out
    if isinstance(tree, list):
        return [redact(item, code_secret, name, parent) for item in tree]
    if value_secret(name, tree):
        return PLACEHOLDER
    if code_secret is not None and parent == "extraConfig" and isinstance(tree, str) and code_secret(tree):
        return PLACEHOLDER
    return tree


def redact_text(text: str) -> str:
    """A line with every credential-looking stretch (by `CONTENT`) replaced by the placeholder."""
    for pattern, _ in CONTENT:
        text = re.sub(pattern.pattern + r"\S*", PLACEHOLDER, text, flags=pattern.flags)
    return text
