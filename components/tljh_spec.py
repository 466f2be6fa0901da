"""The Littlest JupyterHub on one VM, as plain data (pure): firewall rules, the VM image,
and the cloud-init document that installs and configures TLJH.

The cloud-init document is VM custom data, which Azure keeps readable to anyone who can
read the VM: it must never hold a secret. The OAuth client secret lives in a Key Vault;
a script on the VM reads it at first boot with the VM's managed identity.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import string
from pathlib import Path
from typing import Any

import yaml

from .config import StackConfig

# TLJH and the VM image are pinned in pins.json with their sources and the reason for each.
PINS: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "pins.json").read_text())
TLJH_PIN: dict[str, Any] = PINS["tljh"]
# A full commit on TLJH's main branch: no release yet ships a Traefik with the path-matcher fixes
# (2.0.0 installs 3.1.4). bootstrap.py installs whatever `--version` names that is not a version
# number from git at that ref, and the bootstrap script comes from the same commit.
TLJH_REF: str = TLJH_PIN["ref"]
BOOTSTRAP_URL = (f"https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub/{TLJH_REF}"
                 "/bootstrap/bootstrap.py")
IMAGE: dict[str, str] = {key: PINS["vmImages"]["tljh"][key] for key in ("publisher", "offer", "sku", "version")}
# Canonical's `server` SKU is the x64 (Hyper-V generation 2) image; the Arm64 build is the
# separate SKU `server-arm64` (Azure quickstart image aliases, as pinned). An Arm64 VM size
# cannot boot it.
IMAGE_ARCHITECTURE = "x64"
# The /home data disk is attached at this LUN (tljh.py). Azure images name it by LUN under
# /dev/disk/azure in two ways: data/by-lun/<lun> from azure-vm-utils (SCSI and NVMe disk
# controllers; in Canonical's 22.04 and 24.04 images) and scsi1/lun<lun> from WALinuxAgent
# (SCSI only). The first-boot script takes whichever exists.
DATA_DISK_LUN = 0
AZURE_DISK_DIR = "/dev/disk/azure"
DATA_DISK_LINKS = (f"data/by-lun/{DATA_DISK_LUN}", f"scsi1/lun{DATA_DISK_LUN}")
# Sizes with only an NVMe disk controller (the v6 sizes and later) show the data disk as an NVMe
# namespace. azure-vm-utils links it as data/by-lun/<lun> (udev/80-azure-disk.rules: on the
# controller whose model is "MSFT NVMe Accelerator v1.0", namespace 1 is the OS disk and
# namespace <lun> + 2 the data disk at that LUN; "/dev/nvme0n2" is the first data disk in
# Microsoft's table, learn.microsoft.com/azure/virtual-machines/nvme-linux). An image without
# azure-vm-utils has no such link; the script then finds the same namespace in sysfs by the same
# rule, and its first partition as <namespace>p1.
NVME_REMOTE_MODEL = "MSFT NVMe Accelerator v1.0"
NVME_NSID_OFFSET = 2
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


# defaultUrl -> TLJH's user_environment.default_app, which its configurer turns back into the
# servers' default URL (tljh/configurer.py update_user_environment); TLJH offers only these two.
DEFAULT_APPS = {"/lab": "jupyterlab", "/tree": "classic"}


def reads_as_text(value: str) -> bool:
    """Whether tljh-config keeps a value given on its command line as text. Whatever the key, it
    reads `none` as null, digits (with at most one dot) as a number and `true`/`false` as a boolean,
    in any case (tljh/config.py parse_value); a GitHub account or organisation named `2024` or
    `true` would reach TLJH as a number or a boolean, which its schema (users.*) or the
    authenticator (at login) refuses."""
    return not (value.lower() in ("none", "true", "false") or re.match(r"\d+(\.\d*)?$", value))


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
        # Another defaultUrl is refused (config_checks), though only after the custom-data size
        # check has rendered this document.
        _tljh("set", "user_environment.default_app", DEFAULT_APPS.get(cfg.default_url, "jupyterlab")),
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


# The tljh-config keys the stack sets (_configure_commands and the client secret). configure-tljh.sh
# unsets each before setting it again, so that running it on a configured VM (reconfigure_script)
# leaves what a first boot with the new config would: `add-item` appends (tljh/config.py
# add_item_to_config), and an admin, organisation or HTTPS setting taken out of the stack config
# would otherwise stay. tljh-config refuses to unset a key that is not there (`ValueError`), which
# `|| true` lets pass. Keys set by hand over SSH that are not here are kept.
OWNED_KEYS = ("auth", "users.allowed", "users.admin", "limits.memory", "limits.cpu", "services.cull.timeout",
              "services.cull.max_age", "user_environment.default_app", "https")


def configure_script(cfg: StackConfig, vault_name: str) -> str:
    """Fetch the client secret from Key Vault with the VM's identity (the role assignment may take
    minutes to apply, so it retries), then replace the keys the stack owns and reload TLJH. Runs
    at first boot and again from reconfigure_script; the config is untouched until the secret is
    read. It never echoes the secret (no `set -x`)."""
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
        *(f"{_tljh('unset', key)} > /dev/null 2>&1 || true" for key in OWNED_KEYS),
        f"tljh-config set auth.{cls}.client_secret \"$secret\" > /dev/null",
        *_configure_commands(cfg),
        "tljh-config reload",
        # The hub now logs in through OAuth: open the web ports (closed until now, see
        # web_guard_script), then start the proxy's HTTPS, whose Let's Encrypt challenge needs port 80.
        f"touch {CONFIGURED_MARK}",
        *_web_ports("-D", until_gone=True),
        "tljh-config reload proxy",
    ]
    return "\n".join(lines) + "\n"


def oneshot_unit(description: str, script: str, *, before: str = "", condition: str = "", after: str = "") -> str:
    """A systemd unit that runs one of the stack's scripts once. With `before`: at boot, before the
    units named, staying "active" (so they can order after it); without it: each time something
    starts it (a timer), with no [Install] section. `condition` is a ConditionPathExists value."""
    lines = ["[Unit]", f"Description={description}"]
    if condition:
        lines.append(f"ConditionPathExists={condition}")
    if before:
        lines += [f"Before={before}", "After=network-pre.target", "", "[Service]", "Type=oneshot",
                  f"ExecStart={SCRIPT_DIR}/{script}", "RemainAfterExit=yes", "", "[Install]",
                  "WantedBy=multi-user.target"]
    else:
        # Not RemainAfterExit: an "active" oneshot would not run again when its timer fires.
        lines += [*([f"After={after}"] if after else []), "", "[Service]", "Type=oneshot",
                  f"ExecStart={SCRIPT_DIR}/{script}"]
    return "\n".join(lines) + "\n"


# Until configure-tljh.sh has finished, TLJH runs with its installer's config: FirstUseAuthenticator
# with the admins already known, so whoever reached port 80 first could claim an admin's account
# (any password) and with it sudo on the VM. The web ports stay closed on the VM itself until the
# real login is in place; the mark keeps them open at later boots. SSH (22) is not affected.
CONFIGURED_MARK = f"{SCRIPT_DIR}/configured"
_WEB_RULE = "INPUT -p tcp -m multiport --dports 80,443 -m comment --comment tljh-unconfigured -j DROP"


def _web_ports(action: str, *, until_gone: bool = False) -> list[str]:
    """Shell lines that add (`-I`, once) or delete (`-D`, every copy) the rule dropping web traffic."""
    lines = []
    for tool in ("iptables", "ip6tables"):
        if until_gone:
            body = f"while {tool} {action} {_WEB_RULE} 2>/dev/null; do :; done"
        else:
            body = f"{tool} -C {_WEB_RULE} 2>/dev/null || {tool} {action} {_WEB_RULE}"
        lines.append(f"if command -v {tool} > /dev/null; then {body}; fi")
    return lines


def web_guard_script() -> str:
    """Closes ports 80 and 443 on the VM before the proxy and the hub start, at every boot until
    TLJH is configured (the unit's condition reads the mark configure-tljh.sh writes)."""
    return "\n".join(["#!/bin/bash", "set -eu", *_web_ports("-I")]) + "\n"


WEB_GUARD_UNIT = oneshot_unit("Keep the web ports closed until TLJH's login is configured", "web-guard.sh",
                              before="traefik.service jupyterhub.service", condition=f"!{CONFIGURED_MARK}")


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


class _Fill(string.Template):
    """`@name` placeholders, so that a shell script's own `$` needs no escaping."""

    delimiter = "@"


HOME_DISK_SCRIPT = _Fill(r"""#!/bin/sh
set -eu
label=@label
azure=${AZURE_DISK_DIR:-@azure}
wait_seconds=${HOME_DISK_WAIT_SECONDS:-120}
fstab=${FSTAB:-/etc/fstab}
mounted() { findmnt -n -o LABEL /home 2>/dev/null || true; }
fail() {
  echo "home-disk: $*; /home is not on the data disk, so TLJH is neither installed nor started" >&2
  exit 1
}
[ "$(mounted)" = "$label" ] && exit 0
sys_block=${SYS_BLOCK_DIR:-/sys/block}
dev=${DEV_DIR:-/dev}
link=''
part=''
waited=0
while :; do
  for candidate in @candidates; do
    if [ -e "$candidate" ]; then link=$candidate; part="$candidate-part1"; break; fi
  done
  if [ -z "$link" ]; then
    # Without azure-vm-utils' links: the remote-disk NVMe controller's namespace LUN + 2.
    for ns in "$sys_block"/nvme*n*; do
      [ "$(cat "$ns/nsid" 2>/dev/null)" = @nsid ] || continue
      model=$(cat "$ns/device/model" 2>/dev/null) || continue
      [ "$(echo $model)" = "@model" ] || continue
      link="$dev/${ns##*/}"; part="${link}p1"; break
    done
  fi
  [ -n "$link" ] && [ -e "$link" ] && break
  link=''
  [ "$waited" -ge "$wait_seconds" ] && \
    fail "no data disk at LUN @lun (@shown) nor NVMe namespace @nsid after ${waited}s"
  sleep 5
  waited=$((waited + 5))
done
udevadm settle || true
disk=$(readlink -f "$link")
if [ ! -e "$part" ] || [ "$(blkid -p -o value -s LABEL "$part" 2>/dev/null || true)" != "$label" ]; then
  # blkid -p exits 2 when it finds neither a partition table nor a file system.
  found=0
  blkid -p "$disk" > /dev/null 2>&1 || found=$?
  [ "$found" -eq 2 ] || fail "$link ($disk) is not empty and has no $label partition: not formatting it"
  printf 'label: gpt\n,,L\n' | sfdisk --quiet "$disk"
  udevadm settle || true
  tries=0
  until [ -e "$part" ]; do
    [ "$tries" -ge 30 ] && fail "$part did not appear after partitioning $disk"
    sleep 1
    tries=$((tries + 1))
  done
  mkfs.ext4 -q -L "$label" "$part"
fi
grep -q "^LABEL=$label " "$fstab" || echo "LABEL=$label /home ext4 defaults,nofail 0 2" >> "$fstab"
[ "$(mounted)" = "$label" ] || mount /home || true
[ "$(mounted)" = "$label" ] || fail "could not mount $part at /home"
""").substitute(label=HOME_LABEL, azure=AZURE_DISK_DIR, lun=DATA_DISK_LUN, nsid=DATA_DISK_LUN + NVME_NSID_OFFSET,
                model=NVME_REMOTE_MODEL,
                candidates=" ".join(f'"$azure/{link}"' for link in DATA_DISK_LINKS),
                shown=" or ".join(f"$azure/{link}" for link in DATA_DISK_LINKS))
"""Puts /home on the data disk. cloud-init runs it at every boot as a `bootcmd`, before it
creates the admin user, so that every home directory lands on the disk. A new, empty disk gets
one GPT partition with an ext4 file system labelled tljh-home; a disk that holds anything else
is never formatted. Without the disk it fails (and install-tljh.sh then refuses to install TLJH)
rather than leave /home on the OS disk, which goes with the VM. POSIX sh; AZURE_DISK_DIR,
SYS_BLOCK_DIR, DEV_DIR, HOME_DISK_WAIT_SECONDS and FSTAB are there for the tests."""


def install_script(cfg: StackConfig) -> str:
    """First boot, after the packages: install TLJH at the pinned commit with the admins, then
    configure it. Only when /home is the data disk: users' files must outlive the VM."""
    admins = " ".join(f"--admin {shlex.quote(admin)}" for admin in cfg.auth.admins)
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        f"if [ \"$(findmnt -n -o LABEL /home || true)\" != {HOME_LABEL} ]; then",
        f"  echo 'install-tljh: /home is not the {HOME_LABEL} data disk (see home-disk in /var/log/cloud-init.log);"
        " not installing TLJH' >&2",
        "  exit 1",
        "fi",
        f"curl -fsSL -o {SCRIPT_DIR}/bootstrap.py {BOOTSTRAP_URL}",
        f"python3 {SCRIPT_DIR}/bootstrap.py --version {TLJH_REF} {admins}".rstrip(),
        # The schedule's hub config, into the folder the installer made (configure-tljh.sh's reload loads it).
        *([f"install -m 0600 {SCRIPT_DIR}/{SLEEP_HUB_CONFIG} {HUB_CONFIG_D}/"] if cfg.schedule else []),
        f"{SCRIPT_DIR}/configure-tljh.sh",
    ]) + "\n"


# The hub never starts without the data disk at /home (it is mounted `nofail`, so that the VM
# still boots and an admin can log in to see why).
HOME_DROPIN = """[Unit]
RequiresMountsFor=/home
"""


# ---------------------------------------------------------------------------
# The sleep schedule on the VM (with `schedule`): the awake hours on every hub page, and every
# user server stopped through the hub's API `stopServersMinutesBefore` each deallocation.
# ---------------------------------------------------------------------------

# TLJH's hub loads each *.py in this folder after its own config (tljh/jupyterhub_config.py at the
# pinned commit: `sorted(glob(CONFIG_DIR/jupyterhub_config.d/*.py))`, each with load_subconfig).
# The installer makes the folder private (0700, tljh/installer.py ensure_config_yaml), so the
# snippet is copied in after it ran: cloud-init never makes that folder, nor loosens it.
HUB_CONFIG_D = "/opt/tljh/config/jupyterhub_config.d"
SLEEP_HUB_CONFIG = "binderhub-azure-sleep.py"
# The hub's own port (`c.JupyterHub.hub_port = 15001`, tljh/jupyterhub_config.py) on JupyterHub's
# default hub_ip, 127.0.0.1: the API without Traefik (nor its redirect to HTTPS).
HUB_API_URL = "http://127.0.0.1:15001/hub/api"
# The service's token is made on the VM by the snippet, the first time the hub loads it, and is
# readable by root only: never in custom data, which anyone who may read the VM can read. It sits
# in TLJH's state folder (0700, where the installer keeps Traefik's API secret); the hub's unit
# sets TLJH_INSTALL_PREFIX (/opt/tljh).
SLEEP_TOKEN_FILE = "state/sleep-schedule-api-token"
STOP_SERVERS_UNIT = "stop-servers-before-sleep"
SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")  # cron's numbering, Sunday 0

SLEEP_HUB_CONFIG_TEXT = _Fill('''# binderhub-azure's sleep schedule (components/tljh_spec.py).
c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)
# The awake hours on every hub page (JupyterHub's `announcement` template variable).
c.JupyterHub.template_vars.update({"announcement": @announcement})
''')
SLEEP_SERVICE_TEXT = _Fill('''
# The service whose token the VM's stop-servers timer uses: it may list users and stop their
# servers, nothing else. Its token is made here, on the VM, the first time the hub starts.
import os
import secrets

token_file = os.path.join(os.environ.get("TLJH_INSTALL_PREFIX", "/opt/tljh"), @token_file)
if not os.path.exists(token_file):
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(secrets.token_hex(32))
with open(token_file) as f:
    token = f.read().strip()
c.JupyterHub.services.append({"name": @service, "api_token": token})
c.JupyterHub.load_roles.append({
    "name": @service,
    "description": @description,
    "scopes": @scopes,
    "services": [@service],
})
''')


def sleep_hub_config(cfg: StackConfig) -> str:
    """The config.d snippet. TLJH's configurer sets `services` (its idle culler) and neither
    `template_vars` nor `load_roles`, so the snippet adds to them rather than set them."""
    from . import sleep_spec

    assert cfg.schedule is not None
    text = SLEEP_HUB_CONFIG_TEXT.substitute(announcement=repr(sleep_spec.announcement(cfg.schedule)))
    if cfg.schedule.stop_servers_minutes_before:
        text += SLEEP_SERVICE_TEXT.substitute(
            token_file=repr(SLEEP_TOKEN_FILE), service=repr(sleep_spec.SERVICE),
            scopes=repr(list(sleep_spec.SERVICE_SCOPES)),
            description=repr("Stops every user server before the VM is deallocated by its sleep schedule"))
    return text


def stop_servers_script() -> str:
    """Runs the same standard-library script as the Kubernetes modes' CronJob (sleep_spec), with the
    hub's service token from the file the hub wrote; the token goes through the environment,
    never a command line. HUB_TOKEN_FILE and JUPYTERHUB_API_URL are there for the tests."""
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        f"token_file=${{HUB_TOKEN_FILE:-/opt/tljh/{SLEEP_TOKEN_FILE}}}",
        "if [ ! -s \"$token_file\" ]; then",
        "  echo \"no hub token at $token_file (the hub writes it when it starts): not stopping servers\" >&2",
        "  exit 1",
        "fi",
        "JUPYTERHUB_API_TOKEN=$(cat \"$token_file\")",
        f"export JUPYTERHUB_API_TOKEN JUPYTERHUB_API_URL=${{JUPYTERHUB_API_URL:-{HUB_API_URL}}}",
        "exec python3 \"$(dirname \"$0\")/stop-servers.py\"",
    ]) + "\n"


def stop_servers_timer(cfg: StackConfig) -> str:
    """When the servers are stopped: one OnCalendar line per local time, in the schedule's IANA
    zone (systemd.time(7): a calendar event may end in a time zone, and follows its daylight
    saving). Not Persistent: a time missed while the VM was off is not caught up at boot,
    which would stop the servers of a hub that has just woken."""
    from . import schedule as sched

    assert cfg.schedule is not None
    calendars = [f"OnCalendar={','.join(SYSTEMD_DAYS[d] for d in days)} *-*-* {hour:02d}:{minute:02d}:00 "
                 f"{cfg.schedule.time_zone}" for hour, minute, days in sched.stop_servers_times(cfg.schedule)]
    return "\n".join([
        "[Unit]", f"Description=Stop every user server {cfg.schedule.stop_servers_minutes_before} minutes before "
        "the VM's scheduled deallocation", "", "[Timer]", *calendars, "AccuracySec=1s", "Persistent=false",
        f"Unit={STOP_SERVERS_UNIT}.service", "", "[Install]", "WantedBy=timers.target",
    ]) + "\n"


def sleep_files(cfg: StackConfig) -> list[dict[str, str]]:
    """What a schedule adds to the VM: the hub's config snippet (copied into TLJH's config.d by
    install-tljh.sh), and with stopServersMinutesBefore the script, its unit and its timer."""
    from . import sleep_spec

    if cfg.schedule is None:
        return []
    files = [{"path": f"{SCRIPT_DIR}/{SLEEP_HUB_CONFIG}", "permissions": "0600", "content": sleep_hub_config(cfg)}]
    if cfg.schedule.stop_servers_minutes_before:
        unit = oneshot_unit("Stop every user server through the hub's API before the VM sleeps", "stop-servers.sh",
                            after="jupyterhub.service")
        files += [
            {"path": f"{SCRIPT_DIR}/stop-servers.py", "permissions": "0600", "content": sleep_spec.STOP_SERVERS_SCRIPT},
            {"path": f"{SCRIPT_DIR}/stop-servers.sh", "permissions": "0700", "content": stop_servers_script()},
            {"path": f"/etc/systemd/system/{STOP_SERVERS_UNIT}.service", "permissions": "0644", "content": unit},
            {"path": f"/etc/systemd/system/{STOP_SERVERS_UNIT}.timer", "permissions": "0644",
             "content": stop_servers_timer(cfg)},
        ]
    return files


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the scripts) as literal blocks, so the document reads as it runs."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def cloud_init(cfg: StackConfig, vault_name: str) -> str:
    """The #cloud-config document: /home on the data disk (formatted only when empty, so it
    survives VM replacement), the metadata guard, TLJH at the pinned commit, then the config."""
    doc = {
        "bootcmd": [["sh", "-c", HOME_DISK_SCRIPT, "home-disk"]],
        "package_update": True,
        "packages": ["python3", "python3-dev", "git", "curl", "iptables"],
        "write_files": [
            {"path": f"{SCRIPT_DIR}/metadata-guard.sh", "permissions": "0700", "content": metadata_guard_script()},
            {"path": "/etc/systemd/system/metadata-guard.service", "permissions": "0644", "content": GUARD_UNIT},
            {"path": f"{SCRIPT_DIR}/web-guard.sh", "permissions": "0700", "content": web_guard_script()},
            {"path": "/etc/systemd/system/web-guard.service", "permissions": "0644", "content": WEB_GUARD_UNIT},
            {"path": "/etc/systemd/system/jupyterhub.service.d/home-disk.conf", "permissions": "0644",
             "content": HOME_DROPIN},
            {"path": f"{SCRIPT_DIR}/install-tljh.sh", "permissions": "0700", "content": install_script(cfg)},
            # configure-tljh.sh and the schedule's files: the same the VM extension writes later.
            *config_files(cfg, vault_name),
        ],
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "metadata-guard.service"],
            ["systemctl", "enable", "--now", "web-guard.service"],
            [f"{SCRIPT_DIR}/install-tljh.sh"],
            *([["systemctl", "enable", "--now", f"{STOP_SERVERS_UNIT}.timer"]]
              if cfg.schedule and cfg.schedule.stop_servers_minutes_before else []),
        ],
    }
    return "#cloud-config\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000)


# ---------------------------------------------------------------------------
# Config changes on a running VM. Azure runs custom data only at the first boot and refuses to
# change it on a VM (PropertyChangeNotAllowed), so the VM ignores it after creation (tljh.py) and
# a CustomScript extension runs reconfigure_script whenever it changes: it rewrites the files that
# follow the stack config and re-runs configure-tljh.sh. The VM, its OS disk (TLJH, the hub
# database, the user environment, the HTTPS certificate) and /home are kept.
# ---------------------------------------------------------------------------

RECONFIGURE_EXTENSION = "tljh-reconfigure"
# Everything a schedule may have written (sleep_files): what the new config no longer has is removed.
SLEEP_PATHS = (f"{SCRIPT_DIR}/{SLEEP_HUB_CONFIG}", f"{SCRIPT_DIR}/stop-servers.py", f"{SCRIPT_DIR}/stop-servers.sh",
               f"/etc/systemd/system/{STOP_SERVERS_UNIT}.service", f"/etc/systemd/system/{STOP_SERVERS_UNIT}.timer")


def config_files(cfg: StackConfig, vault_name: str) -> list[dict[str, str]]:
    """The files on the VM that follow the stack config (the same entries as in cloud_init)."""
    return [{"path": f"{SCRIPT_DIR}/configure-tljh.sh", "permissions": "0700",
             "content": configure_script(cfg, vault_name)}, *sleep_files(cfg)]


def reconfigure_script(cfg: StackConfig, vault_name: str) -> str:
    """What the VM's CustomScript extension runs (as root), at creation and whenever the stack
    config changes it: wait for the first boot, write the config's files, remove the schedule's
    that the config no longer has, then run configure-tljh.sh (which reloads the hub and the
    proxy). Holds no secret: configure-tljh.sh reads the client secret from Key Vault, as at
    first boot. TLJH_ROOT and CONFIGURE_TLJH are there for the tests."""
    files = config_files(cfg, vault_name)
    written = {f["path"] for f in files}
    timer = f"{STOP_SERVERS_UNIT}.timer"
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        "root=${TLJH_ROOT:-}",
        # At creation the extension may start while cloud-init is still installing TLJH. `status
        # --wait` exits non-zero when cloud-init reported an error: what counts is whether TLJH
        # is there (its installer links tljh-config into /usr/bin, tljh/installer.py
        # ensure_symlinks). Installed but not configured (the mark is missing: a first boot
        # that could not configure it, or a VM from before the mark) is configured now.
        "cloud-init status --wait > /dev/null || true",
        f"if [ ! -e \"$root{CONFIGURED_MARK}\" ] && ! command -v tljh-config > /dev/null; then",
        "  echo 'reconfigure-tljh: TLJH is not installed: the first boot failed (see"
        " /var/log/cloud-init-output.log on the VM)' >&2",
        "  exit 1",
        "fi",
        "umask 077",
    ]
    if not (cfg.schedule and cfg.schedule.stop_servers_minutes_before):
        lines.append(f"systemctl disable --now {timer} > /dev/null 2>&1 || true")
    gone = [path for path in SLEEP_PATHS if path not in written]
    if cfg.schedule is None:
        gone.append(f"{HUB_CONFIG_D}/{SLEEP_HUB_CONFIG}")
    lines += [f"rm -f \"$root{path}\"" for path in gone]
    for directory in sorted({str(Path(f["path"]).parent) for f in files}):
        lines.append(f"mkdir -p \"$root{directory}\"")
    for f in files:
        encoded = base64.b64encode(f["content"].encode()).decode()
        lines += [f"echo '{encoded}' | base64 -d > \"$root{f['path']}.new\"",
                  f"chmod {f['permissions']} \"$root{f['path']}.new\"",
                  f"mv -f \"$root{f['path']}.new\" \"$root{f['path']}\""]
    if cfg.schedule is not None:
        lines.append(f"install -m 0600 \"$root{SCRIPT_DIR}/{SLEEP_HUB_CONFIG}\" \"$root{HUB_CONFIG_D}/\"")
    lines.append("systemctl daemon-reload")
    if cfg.schedule and cfg.schedule.stop_servers_minutes_before:
        # A running timer keeps the times it computed: restart it to take the new ones.
        lines += [f"systemctl enable {timer}", f"systemctl restart {timer}"]
    lines.append(f"exec \"${{CONFIGURE_TLJH:-$root{SCRIPT_DIR}/configure-tljh.sh}}\"")
    return "\n".join(lines) + "\n"
