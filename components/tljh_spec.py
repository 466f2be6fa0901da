"""The Littlest JupyterHub on one VM, as plain data (pure): firewall rules, the VM image,
and the cloud-init document that installs and configures TLJH.

The cloud-init document is VM custom data, which Azure keeps readable to anyone who can
read the VM: it must never hold a secret. The OAuth client secret lives in a Key Vault;
a script on the VM reads it at first boot with the VM's managed identity.
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from .config import StackConfig

# TLJH release and the bootstrap script of that same tag (not the moving tljh.jupyter.org copy).
TLJH_VERSION = "2.0.0"
BOOTSTRAP_URL = (f"https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub/{TLJH_VERSION}"
                 "/bootstrap/bootstrap.py")
# TLJH 2 supports Ubuntu 22.04 and later.
IMAGE = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2",
         "version": "latest"}
# Azure exposes the data disk at LUN 0 under this stable path.
DATA_DISK_DEVICE = "/dev/disk/azure/scsi1/lun0"
HOME_LABEL = "tljh-home"
SECRET_NAME = "oauth-client-secret"
IMDS_IP = "169.254.169.254"
SCRIPT_DIR = "/opt/binderhub-azure"


def security_rules(cfg: StackConfig) -> list[dict[str, Any]]:
    """Inbound rules: HTTP and HTTPS from anywhere, SSH only from the given addresses. Azure's
    default rules deny all other inbound traffic."""
    rules: list[dict[str, Any]] = [
        {"name": "allow-http", "priority": 100, "destination_port_range": "80"},
        {"name": "allow-https", "priority": 110, "destination_port_range": "443"},
    ]
    for rule in rules:
        rule["source_address_prefix"] = "Internet"
    if cfg.vm.ssh_allowed_cidrs:
        rules.append({"name": "allow-ssh", "priority": 120, "destination_port_range": "22",
                      "source_address_prefixes": list(cfg.vm.ssh_allowed_cidrs)})
    return [{"direction": "Inbound", "access": "Allow", "protocol": "Tcp", "source_port_range": "*",
             "destination_address_prefix": "*", **rule} for rule in rules]


def _tljh(*args: str) -> str:
    return "tljh-config " + " ".join(shlex.quote(a) for a in args)


def _configure_commands(cfg: StackConfig) -> list[str]:
    """tljh-config commands for login, users, limits, culling and HTTPS (no secret here)."""
    auth = cfg.auth
    cls = "GitHubOAuthenticator" if auth.type == "github" else "AzureAdOAuthenticator"
    prefix = f"auth.{cls}"
    callback = f"{cfg.scheme}://{cfg.host}/hub/oauth_callback"
    cmds = [
        _tljh("set", "auth.type", "github" if auth.type == "github" else "azuread"),
        _tljh("set", f"{prefix}.client_id", auth.client_id or ""),
        _tljh("set", f"{prefix}.oauth_callback_url", callback),
    ]
    if auth.type == "entra":
        cmds += [_tljh("set", f"{prefix}.tenant_id", auth.tenant_id or ""),
                 _tljh("set", f"{prefix}.username_claim", "preferred_username")]
    for org in auth.allowed_organizations:
        cmds.append(_tljh("add-item", f"{prefix}.allowed_organizations", org))
    if auth.allowed_organizations:
        cmds.append(_tljh("add-item", f"{prefix}.scope", "read:org"))
    if cfg.allow_all:
        cmds.append(_tljh("set", f"{prefix}.allow_all", "true"))
    for user in auth.allowed_users:
        cmds.append(_tljh("add-item", "users.allowed", user))
    for admin in auth.admins:
        cmds.append(_tljh("add-item", "users.admin", admin))
    cmds += [
        _tljh("set", "limits.memory", cfg.limits.memory),
        _tljh("set", "limits.cpu", str(cfg.limits.cpu)),
        _tljh("set", "services.cull.timeout", str(cfg.cull_idle_minutes * 60)),
        _tljh("set", "services.cull.max_age", str(int(cfg.max_age_hours * 3600))),
        _tljh("set", "user_environment.default_app", "jupyterlab"),
    ]
    if cfg.https:
        cmds += [
            _tljh("set", "https.enabled", "true"),
            _tljh("set", "https.letsencrypt.email", cfg.contact_email or ""),
            _tljh("add-item", "https.letsencrypt.domains", cfg.host),
        ]
        if cfg.lets_encrypt == "staging":
            cmds.append(_tljh("set", "https.letsencrypt.staging", "true"))
    return cmds


def configure_script(cfg: StackConfig, vault_name: str) -> str:
    """First-boot script: fetch the client secret from Key Vault with the VM's identity (the
    role assignment may take minutes to apply, so it retries), then configure and reload TLJH.
    It never echoes the secret (no `set -x`)."""
    cls = "GitHubOAuthenticator" if cfg.auth.type == "github" else "AzureAdOAuthenticator"
    token_url = (f"http://{IMDS_IP}/metadata/identity/oauth2/token?api-version=2018-02-01"
                 "&resource=https%3A%2F%2Fvault.azure.net")
    secret_url = f"https://{vault_name}.vault.azure.net/secrets/{SECRET_NAME}?api-version=7.4"
    read_json = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        "secret=''",
        "for attempt in $(seq 1 90); do",
        f"  token=$(curl -sf -H Metadata:true '{token_url}' | {read_json} access_token) || token=''",
        "  if [ -n \"$token\" ]; then",
        f"    secret=$(curl -sf -H \"Authorization: Bearer $token\" '{secret_url}' | {read_json} value) || secret=''",
        "  fi",
        "  [ -n \"$secret\" ] && break",
        "  sleep 10",
        "done",
        "if [ -z \"$secret\" ]; then echo 'could not read the OAuth client secret from Key Vault' >&2; exit 1; fi",
        f"tljh-config set auth.{cls}.client_secret \"$secret\" > /dev/null",
        *_configure_commands(cfg),
        "tljh-config reload",
        "tljh-config reload proxy",
    ]
    return "\n".join(lines) + "\n"


def metadata_guard_script() -> str:
    """Only root may reach the instance metadata service: users' servers run as ordinary
    Linux users on this VM and must not obtain the VM's identity (which can read the
    Key Vault secret)."""
    return "\n".join([
        "#!/bin/bash",
        "set -eu",
        f"iptables -C OUTPUT -d {IMDS_IP} -m owner ! --uid-owner 0 -j DROP 2>/dev/null || "
        f"iptables -I OUTPUT -d {IMDS_IP} -m owner ! --uid-owner 0 -j DROP",
    ]) + "\n"


GUARD_UNIT = f"""[Unit]
Description=Keep the instance metadata service away from non-root users
Before=jupyterhub.service
After=network-pre.target

[Service]
Type=oneshot
ExecStart={SCRIPT_DIR}/metadata-guard.sh
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the scripts) as literal blocks, so the document reads as it runs."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def cloud_init(cfg: StackConfig, vault_name: str) -> str:
    """The #cloud-config document: /home on the data disk (formatted only when empty, so it
    survives VM replacement), the metadata guard, TLJH at a pinned version, then the config."""
    admins = [arg for admin in cfg.auth.admins for arg in ("--admin", admin)]
    doc = {
        "disk_setup": {DATA_DISK_DEVICE: {"table_type": "gpt", "layout": True, "overwrite": False}},
        "fs_setup": [{"device": DATA_DISK_DEVICE, "partition": 1, "filesystem": "ext4", "label": HOME_LABEL,
                      "overwrite": False}],
        "mounts": [[f"LABEL={HOME_LABEL}", "/home", "ext4", "defaults,nofail", "0", "2"]],
        "package_update": True,
        "packages": ["python3", "python3-dev", "git", "curl"],
        "write_files": [
            {"path": f"{SCRIPT_DIR}/metadata-guard.sh", "permissions": "0700", "content": metadata_guard_script()},
            {"path": "/etc/systemd/system/metadata-guard.service", "permissions": "0644", "content": GUARD_UNIT},
            {"path": f"{SCRIPT_DIR}/configure-tljh.sh", "permissions": "0700",
             "content": configure_script(cfg, vault_name)},
        ],
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "metadata-guard.service"],
            ["curl", "-fsSL", "-o", f"{SCRIPT_DIR}/bootstrap.py", BOOTSTRAP_URL],
            ["python3", f"{SCRIPT_DIR}/bootstrap.py", "--version", TLJH_VERSION, *admins],
            [f"{SCRIPT_DIR}/configure-tljh.sh"],
        ],
    }
    return "#cloud-config\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000)
