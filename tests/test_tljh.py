"""mode: tljh — the VM, its network rules, Key Vault secret handling and cloud-init."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from components import tljh_spec
from components.config import ConfigError
from components.config_load import parse_config
from tests import tljh_hub
from tests.helpers import SECRET, named, one, raw_config, resources_of

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgC/wHhpkjr7StAlWWMFN+kF5WksXY+xqCZc0vi51vs rse@testuni"
OAUTH = "plaintext-oauth-secret-must-not-leak"
TLJH = {
    "mode": "tljh",
    "auth": {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]},
    "vm": {"sshPublicKey": KEY, "sshAllowedCidrs": ["203.0.113.0/24"], "diskSizeGb": 256},
    "secrets": {"authClientSecret": OAUTH},
}


def cfg(**overrides):
    keys = {**TLJH, **overrides}
    secrets = keys.pop("secrets")
    return parse_config(*raw_config(secrets, **keys))


def written(doc, name):
    """The content of the file written by cloud-init whose path ends with `name`."""
    return next(f["content"] for f in doc["write_files"] if f["path"].endswith(name))


def version(text):
    return tuple(int(part) for part in text.split("."))


def test_cloud_init_parses_and_installs_pinned_tljh():
    text = tljh_spec.cloud_init(cfg(), "kv-testuni-abc123")
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert doc["runcmd"][-1] == ["/opt/binderhub-azure/install-tljh.sh"]
    install = written(doc, "install-tljh.sh")
    assert f"curl -fsSL -o /opt/binderhub-azure/bootstrap.py {tljh_spec.BOOTSTRAP_URL}\n" in install
    assert f"--version {tljh_spec.TLJH_REF} --admin alice\n" in install
    assert install.endswith("/opt/binderhub-azure/configure-tljh.sh\n")
    # /home comes from the first-boot disk script, not cloud-init's disk modules (one device path only).
    assert not {"disk_setup", "fs_setup", "mounts"} & doc.keys()
    assert doc["bootcmd"] == [["sh", "-c", tljh_spec.HOME_DISK_SCRIPT, "home-disk"]]


def test_pinned_tljh_installs_a_traefik_with_the_fixes():
    """Why TLJH is pinned to a main-branch commit: its newest release, 2.0.0, installs Traefik
    3.1.4, open to CVE-2025-32431 and GHSA-vrch-868g-9jx5. The recorded Traefik version of the
    pinned commit (its tljh/traefik.py) must reach every recorded fix, and the cloud-init must
    install exactly that commit: bootstrap script and `--version` alike."""
    pin = tljh_spec.TLJH_PIN
    ref = pin["ref"]
    assert re.fullmatch(r"[0-9a-f]{40}", ref), "pin a full commit, not a branch, tag or short hash"
    # bootstrap.py would take a ref made only of digits and dots for a release number.
    assert not re.fullmatch(r"\d+(\.\d+)?(\.\d+)?", ref)
    advisories = [a for a in pin["advisories"] if a["component"] == "traefik"]
    assert "CVE-2025-32431" in {a["id"] for a in advisories}
    minimum = version(pin["minimum"]["traefik"])
    assert minimum >= max(version(a["fixed"]) for a in advisories)
    assert version(pin["traefik"]) >= minimum
    assert version("3.1.4") < minimum  # what TLJH 2.0.0 installs
    url = f"https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub/{ref}/bootstrap/bootstrap.py"
    assert url == tljh_spec.BOOTSTRAP_URL
    text = tljh_spec.cloud_init(cfg(), "kv-testuni-abc123")
    assert set(re.findall(r"[0-9a-f]{40}", text)) == {ref}
    assert re.findall(r"--version \S+", text) == [f"--version {ref}"]
    for key in ("describe", "source", "date", "follow"):
        assert pin[key], key


def test_vm_image_is_the_pinned_lts_with_support_left():
    pin = tljh_spec.PINS["vmImages"]["tljh"]
    image = {key: pin[key] for key in ("publisher", "offer", "sku", "version")}
    assert image == tljh_spec.IMAGE
    checked = date.fromisoformat(pin["date"])
    support_ends = date.fromisoformat(pin["supportEnds"] + "-01")
    assert (support_ends - checked).days > 365, "pick an LTS with more than a year of standard support left"
    assert pin["source"] and pin["hold"]


def test_a_fractional_cpu_limit_is_rendered_as_a_number():
    """TLJH's config schema at the pinned commit takes any number for limits.cpu (2.0.0 took only
    integers, so `tljh-config set limits.cpu 0.5` failed there and stopped the configure script)."""
    script = tljh_spec.configure_script(cfg(limits={"cpu": 0.5}), "kv")
    assert "tljh-config set limits.cpu 0.5\n" in script


def test_default_url_reaches_tljh_as_its_default_app():
    for url, app in (("/lab", "jupyterlab"), ("/tree", "classic")):
        script = tljh_spec.configure_script(cfg(defaultUrl=url), "kv")
        assert f"tljh-config set user_environment.default_app {app}\n" in script


def test_names_that_are_text_to_tljh_config_pass():
    # Names with letters, dashes, dots after letters or an @ stay text; so do GitHub's client IDs.
    for name in ("alice", "2024-school", "alice@myuni.example", "Iv1.0123abcd", "nonex", "1e3", "-1", ".5"):
        assert tljh_spec.reads_as_text(name), name
    for name in ("1234", "0.5", "2.", "true", "False", "NONE"):
        assert not tljh_spec.reads_as_text(name), name


# A fake /dev and stand-ins for the block-device tools, to run the rendered disk script as cloud-init
# would. The stand-ins log their calls and keep labels, signatures and the /home mount in $STATE.
STUBS = {
    "findmnt": 'cat "$STATE/mounted" 2>/dev/null',
    "blkid": """dev=$(readlink -f "$(eval echo \\${$#})"); name=$(basename "$dev")
case " $* " in
  *" LABEL "*) cat "$STATE/label-$name" 2>/dev/null || exit 2 ;;
  *) [ -e "$STATE/label-$name" ] || [ -e "$STATE/data-$name" ] || exit 2 ;;
esac""",
    "sfdisk": 'cat > "$STATE/sfdisk-input"; d=$(eval echo \\${$#}); case "$d" in *nvme*) touch "${d}p1";; '
              '*) touch "${d}1";; esac',
    "mkfs.ext4": 'echo "$3" > "$STATE/label-$(basename "$(readlink -f "$4")")"',  # -q -L LABEL DEVICE
    "mount": """label=$(sed -n 's|^LABEL=\\([^ ]*\\) /home .*|\\1|p' "$FSTAB")
grep -qx "$label" "$STATE"/label-* 2>/dev/null && echo "$label" > "$STATE/mounted" """,
    "udevadm": ":",
    "sleep": ":",
}


@pytest.fixture
def fake_vm(tmp_path):
    """(make_links, run): `make_links({"data/by-lun/0": "sdc"})` links Azure names to fake disks
    (with their partition links); `run(script, shell)` runs a script there -> (exit code, stderr,
    calls of the stand-ins)."""
    bin_dir, state, dev = tmp_path / "bin", tmp_path / "state", tmp_path / "dev"
    for folder in (bin_dir, state, dev):
        folder.mkdir()
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "$STATE/calls"\n{body}\n')
        stub.chmod(0o755)
    fstab = tmp_path / "fstab"
    fstab.touch()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE": str(state), "FSTAB": str(fstab),
           "AZURE_DISK_DIR": str(dev / "disk" / "azure"), "HOME_DISK_WAIT_SECONDS": "0",
           "SYS_BLOCK_DIR": str(tmp_path / "sys" / "block"), "DEV_DIR": str(dev)}

    def make_links(links):
        for link, disk in links.items():
            path = dev / "disk" / "azure" / link
            path.parent.mkdir(parents=True, exist_ok=True)
            (dev / disk).touch()
            path.symlink_to(dev / disk)
            # The kernel names an NVMe namespace's partitions <namespace>p1, a SCSI disk's sdc1.
            Path(f"{path}-part1").symlink_to(dev / (f"{disk}p1" if disk.startswith("nvme") else f"{disk}1"))

    def run(command):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        calls = (state / "calls").read_text().splitlines() if (state / "calls").exists() else []
        return done.returncode, done.stderr, calls

    return make_links, run, tmp_path


def disk_script():
    return yaml.safe_load(tljh_spec.cloud_init(cfg(), "kv"))["bootcmd"][0]


def test_disk_script_formats_a_new_disk_found_by_azure_vm_utils(fake_vm):
    make_links, run, root = fake_vm
    make_links({"data/by-lun/0": "nvme0n2"})
    code, err, calls = run(disk_script())
    assert code == 0, err
    azure = root / "dev" / "disk" / "azure"
    assert f"sfdisk --quiet {root}/dev/nvme0n2" in calls
    assert (root / "state" / "sfdisk-input").read_text() == "label: gpt\n,,L\n"
    assert f"mkfs.ext4 -q -L tljh-home {azure}/data/by-lun/0-part1" in calls
    assert (root / "fstab").read_text() == "LABEL=tljh-home /home ext4 defaults,nofail 0 2\n"
    assert calls[-2:] == ["mount /home", "findmnt -n -o LABEL /home"]
    assert (root / "state" / "mounted").read_text().strip() == "tljh-home"


def test_disk_script_keeps_a_home_disk_found_by_walinuxagent(fake_vm):
    """A VM replaced with its /home disk: mounted as it is, never formatted; fstab keeps one line."""
    make_links, run, root = fake_vm
    make_links({"scsi1/lun0": "sdc"})
    (root / "dev" / "sdc1").touch()
    (root / "state" / "label-sdc1").write_text("tljh-home\n")
    (root / "fstab").write_text("LABEL=tljh-home /home ext4 defaults,nofail 0 2\n")
    code, err, calls = run(disk_script())
    assert code == 0, err
    assert not [c for c in calls if c.startswith(("sfdisk", "mkfs"))]
    assert "mount /home" in calls
    assert (root / "fstab").read_text().count("LABEL=tljh-home") == 1


def test_disk_script_prefers_the_azure_vm_utils_name(fake_vm):
    make_links, run, root = fake_vm
    make_links({"data/by-lun/0": "sdc", "scsi1/lun0": "sdd"})
    code, err, calls = run(disk_script())
    assert code == 0, err
    assert f"sfdisk --quiet {root}/dev/sdc" in calls


def nvme_namespaces(root, namespaces):
    """A fake /sys/block and /dev of an NVMe-only VM: {"nvme0n2": (nsid, controller model)}. sysfs
    pads the model to 40 characters, as the NVMe identify data does."""
    for name, (nsid, model) in namespaces.items():
        block = root / "sys" / "block" / name
        (block / "device").mkdir(parents=True)
        (block / "nsid").write_text(f"{nsid}\n")
        (block / "device" / "model").write_text(model.ljust(40) + "\n")
        (root / "dev" / name).touch()


# An NVMe-only size (v6) without azure-vm-utils' links: OS disk namespace 1, the /home disk at
# LUN 0 is namespace 2 of the remote-disk controller, the local temp disk its own controller.
NVME_ONLY_VM = {"nvme0n1": (1, "MSFT NVMe Accelerator v1.0"), "nvme0n2": (2, "MSFT NVMe Accelerator v1.0"),
                "nvme1n1": (1, "Microsoft NVMe Direct Disk v2")}


def test_disk_script_finds_the_nvme_data_disk_without_azure_vm_utils(fake_vm):
    """The rendered script on an NVMe-only size: /home goes on namespace 2 (LUN 0), never on the
    OS disk's namespace 1 or the local disk."""
    _, run, root = fake_vm
    nvme_namespaces(root, NVME_ONLY_VM)
    code, err, calls = run(disk_script())
    assert code == 0, err
    assert f"sfdisk --quiet {root}/dev/nvme0n2" in calls
    assert f"mkfs.ext4 -q -L tljh-home {root}/dev/nvme0n2p1" in calls
    assert (root / "fstab").read_text() == "LABEL=tljh-home /home ext4 defaults,nofail 0 2\n"
    assert (root / "state" / "mounted").read_text().strip() == "tljh-home"


def test_disk_script_keeps_the_nvme_home_disk_of_a_replaced_vm(fake_vm):
    _, run, root = fake_vm
    nvme_namespaces(root, NVME_ONLY_VM)
    (root / "dev" / "nvme0n2p1").touch()
    (root / "state" / "label-nvme0n2p1").write_text("tljh-home\n")
    code, err, calls = run(disk_script())
    assert code == 0, err
    assert not [c for c in calls if c.startswith(("sfdisk", "mkfs"))]
    assert (root / "state" / "mounted").read_text().strip() == "tljh-home"


def test_disk_script_never_takes_an_nvme_os_or_local_disk(fake_vm):
    _, run, root = fake_vm
    nvme_namespaces(root, {k: v for k, v in NVME_ONLY_VM.items() if k != "nvme0n2"})
    code, err, calls = run(disk_script())
    assert code == 1 and "nor NVMe namespace 2" in err
    assert not [c for c in calls if c.split()[0] in ("sfdisk", "mkfs.ext4", "mount")]


def test_disk_script_fails_loudly_without_the_disk(fake_vm):
    _, run, root = fake_vm
    code, err, calls = run(disk_script())
    azure = root / "dev" / "disk" / "azure"
    assert code == 1
    assert f"no data disk at LUN 0 ({azure}/data/by-lun/0 or {azure}/scsi1/lun0)" in err
    assert "TLJH is neither installed nor started" in err
    assert not [c for c in calls if c.split()[0] in ("sfdisk", "mkfs.ext4", "mount")]
    assert (root / "fstab").read_text() == ""


def test_disk_script_never_formats_a_disk_holding_other_data(fake_vm):
    make_links, run, root = fake_vm
    make_links({"data/by-lun/0": "sdc"})
    (root / "state" / "data-sdc").touch()
    code, err, calls = run(disk_script())
    assert code == 1 and "is not empty and has no tljh-home partition: not formatting it" in err
    assert not [c for c in calls if c.split()[0] in ("sfdisk", "mkfs.ext4", "mount")]


def test_disk_script_does_nothing_once_home_is_mounted(fake_vm):
    _, run, root = fake_vm
    (root / "state" / "mounted").write_text("tljh-home\n")
    code, err, calls = run(disk_script())
    assert (code, calls) == (0, ["findmnt -n -o LABEL /home"]), err


def test_install_script_refuses_without_the_home_disk(fake_vm):
    _, run, root = fake_vm
    install = written(yaml.safe_load(tljh_spec.cloud_init(cfg(), "kv")), "install-tljh.sh")
    for name in ("curl", "python3"):
        stub = root / "bin" / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "$STATE/calls"\n')
        stub.chmod(0o755)
    code, err, calls = run(["bash", "-c", install])
    assert code == 1 and "/home is not the tljh-home data disk" in err
    assert calls == ["findmnt -n -o LABEL /home"]


def test_cloud_init_configures_login_limits_culling_and_https():
    doc = yaml.safe_load(tljh_spec.cloud_init(cfg(limits={"memory": "3G", "cpu": 2, "cullIdleMinutes": 30}),
                                              "kv-testuni-abc123"))
    script = next(f["content"] for f in doc["write_files"] if f["path"].endswith("configure-tljh.sh"))
    for line in ("tljh-config set auth.type github",
                 "tljh-config set auth.GitHubOAuthenticator.client_id gh-client",
                 "tljh-config add-item auth.GitHubOAuthenticator.allowed_organizations testuni",
                 "tljh-config add-item users.admin alice",
                 "tljh-config set limits.memory 3G",
                 "tljh-config set limits.cpu 2.0",
                 "tljh-config set services.cull.timeout 1800",
                 "tljh-config set https.enabled true",
                 "tljh-config set https.letsencrypt.email rse@testuni.example",
                 "tljh-config add-item https.letsencrypt.domains testuni-hub.westeurope.cloudapp.azure.com",
                 "tljh-config reload proxy"):
        assert line in script, line
    assert "https://kv-testuni-abc123.vault.azure.net/secrets/oauth-client-secret" in script
    assert "set -x" not in script


def test_entra_login_on_tljh():
    entra = {"type": "entra", "clientId": "c", "tenantId": "12345678-1234-1234-1234-123456789012",
             "admins": ["lecturer@uni.example"]}
    script = tljh_spec.configure_script(cfg(auth=entra), "kv")
    assert "tljh-config set auth.type azuread" in script
    assert "auth.AzureAdOAuthenticator.tenant_id 12345678-1234-1234-1234-123456789012" in script
    assert "auth.AzureAdOAuthenticator.allow_all true" in script


def test_cloud_init_never_holds_a_secret_and_guards_metadata():
    text = tljh_spec.cloud_init(cfg(), "kv-testuni-abc123")
    assert OAUTH not in text and "client_secret \"$secret\"" in text
    doc = yaml.safe_load(text)
    guard = next(f["content"] for f in doc["write_files"] if f["path"].endswith("metadata-guard.sh"))
    assert "-d 169.254.169.254 -m owner ! --uid-owner 0 -j DROP" in guard
    assert doc["runcmd"][:2] == [["systemctl", "daemon-reload"],
                                 ["systemctl", "enable", "--now", "metadata-guard.service"]]


def test_network_rules():
    rules = {r["name"]: r for r in tljh_spec.security_rules(cfg())}
    assert rules["allow-http"]["destination_port_range"] == "80"
    assert rules["allow-https"]["destination_port_range"] == "443"
    assert rules["allow-ssh"]["source_address_prefixes"] == ["203.0.113.0/24"]
    closed = {r["name"] for r in tljh_spec.security_rules(cfg(vm={"sshPublicKey": KEY}))}
    assert closed == {"allow-http", "allow-https"}


def test_tljh_stack_under_mocks(render):
    plan = render(**TLJH)
    assert not resources_of(plan, "azure-native:containerservice:ManagedCluster")
    assert not plan["helmReleases"]
    vm = one(plan, "azure-native:compute:VirtualMachine")
    inputs = vm["inputs"]
    assert inputs["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"] is True
    assert inputs["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == KEY
    assert "adminPassword" not in inputs["osProfile"]
    assert inputs["identity"]["type"] == "SystemAssigned"
    (data_disk,) = inputs["storageProfile"]["dataDisks"]
    assert data_disk["createOption"] == "Attach" and data_disk["deleteOption"] == "Detach"
    assert data_disk["lun"] == tljh_spec.DATA_DISK_LUN
    assert inputs["storageProfile"]["imageReference"] == tljh_spec.IMAGE
    # Azure refuses a change of either on a VM: config changes go through the extension.
    assert vm["options"]["ignoreChanges"] == ["storageProfile.imageReference", "osProfile.customData"]
    home = named(plan, "tljh-home")
    assert home["protect"] is True and home["inputs"]["diskSizeGB"] == 256
    custom = base64.b64decode(inputs["osProfile"]["customData"]).decode()
    assert custom.startswith("#cloud-config") and OAUTH not in custom
    secret = named(plan, "tljh-oauth-secret")["inputs"]
    assert secret["properties"]["value"] == SECRET
    reader = named(plan, "tljh-vault-reader")["inputs"]
    assert reader["roleDefinitionId"].endswith("/4633458b-17de-408a-b874-0445c86b69e6")
    assert reader["principalId"] == "77777777-7777-7777-7777-777777777777"
    nsg = one(plan, "azure-native:network:NetworkSecurityGroup")["inputs"]
    assert {r["name"] for r in nsg["securityRules"]} == {"allow-http", "allow-https", "allow-ssh"}
    assert named(plan, "tljh-ip")["inputs"]["dnsSettings"]["domainNameLabel"] == "testuni-hub"
    assert plan["outputs"]["url"] == "https://testuni-hub.westeurope.cloudapp.azure.com/"
    assert OAUTH not in json.dumps(plan) and "mocksecret-" not in json.dumps(plan)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"vm": {}}, "binderhub-azure:vm.sshPublicKey is required when mode is tljh"),
        ({"vm": {"sshPublicKey": "-----BEGIN OPENSSH PRIVATE KEY-----"}},
         "binderhub-azure:vm.sshPublicKey must be an OpenSSH public key"),
        ({"vm": {"sshPublicKey": KEY, "adminUsername": "root"}}, "binderhub-azure:vm.adminUsername must be"),
        ({"vm": {"sshPublicKey": KEY, "size": "big"}}, "binderhub-azure:vm.size must be an Azure VM size"),
        ({"vm": {"sshPublicKey": KEY, "sshAllowedCidrs": ["10.0.0.1/8"]}},
         "binderhub-azure:vm.sshAllowedCidrs item 0 must be an IPv4 CIDR"),
        ({"vm": {"sshPublicKey": KEY, "diskSizeGb": 4}}, "binderhub-azure:vm.diskSizeGb must be >= 16"),
        ({"auth": {"type": "none"}}, "binderhub-azure:auth.type must be 'github' or 'entra' when mode is tljh"),
        ({"auth": {"type": "github", "clientId": "c", "allowAll": True}},
         "binderhub-azure:auth.admins must name at least one JupyterHub admin"),
        ({"cluster": {"userPool": {"maxCount": 3}}}, "binderhub-azure:cluster is not used when mode is tljh"),
        # TLJH's user_environment.default_app offers JupyterLab and the classic interface only.
        ({"defaultUrl": "/rstudio"}, "binderhub-azure:defaultUrl must be /lab or /tree when mode is tljh"),
        # tljh-config would store these as a number, a boolean or null (tljh_spec.reads_as_text).
        ({"auth": {**TLJH["auth"], "allowedUsers": ["bob", "1234"]}},
         "binderhub-azure:auth.allowedUsers '1234' cannot be given to TLJH"),
        ({"auth": {**TLJH["auth"], "admins": ["alice", "True"]}}, "binderhub-azure:auth.admins 'True' cannot"),
        ({"auth": {**TLJH["auth"], "allowedOrganizations": ["2024"]}},
         "binderhub-azure:auth.allowedOrganizations '2024' cannot be given to TLJH: tljh-config reads it as a number"),
        ({"auth": {**TLJH["auth"], "clientId": "0123456789"}}, "binderhub-azure:auth.clientId '0123456789' cannot"),
        ({"mode": "binderhub", "vm": {"sshPublicKey": KEY}, "auth": {"type": "none"}, "secrets": {}},
         "binderhub-azure:vm is only used when mode is tljh"),
    ],
)
def test_bad_tljh_config(overrides, expected):
    with pytest.raises(ConfigError) as info:
        cfg(**overrides)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


# --------------------------------------------------------------------------- first boot: no open window

FAKE_IPTABLES = r"""#!/bin/sh
# A stand-in for iptables/ip6tables: the rules live in $RULES (one per line).
state="$RULES.$(basename "$0")"
touch "$state"
op=$1; shift
rule="$*"
case "$op" in
  -C) grep -qxF -- "$rule" "$state" ;;
  -I) echo "$rule" >> "$state" ;;
  -D) grep -qxF -- "$rule" "$state" || exit 1
      grep -vxF -- "$rule" "$state" > "$state.new" || true; mv "$state.new" "$state" ;;
esac
"""


def test_web_ports_stay_closed_until_the_login_is_configured(tmp_path):
    """Before configure-tljh.sh has run, TLJH's installer config (FirstUseAuthenticator, the admins
    known) would let the first visitor claim an admin account: ports 80 and 443 stay closed on the
    VM until the OAuth login is in place, and at every boot until then."""
    doc = yaml.safe_load(tljh_spec.cloud_init(cfg(), "kv-testuni-abc123"))
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    unit = files["/etc/systemd/system/web-guard.service"]
    assert f"ConditionPathExists=!{tljh_spec.CONFIGURED_MARK}" in unit
    assert "Before=traefik.service jupyterhub.service" in unit
    runcmd = [" ".join(c) for c in doc["runcmd"]]
    assert runcmd.index("systemctl enable --now web-guard.service") < runcmd.index(
        f"{tljh_spec.SCRIPT_DIR}/install-tljh.sh")
    # The ports open only once the hub has reloaded with the real login, and before the proxy's
    # HTTPS (its Let's Encrypt challenge needs port 80).
    lines = tljh_spec.configure_script(cfg(), "kv").splitlines()
    mark = lines.index(f"touch {tljh_spec.CONFIGURED_MARK}")
    opened = next(i for i, line in enumerate(lines) if "iptables -D" in line)
    assert lines.index("tljh-config reload") < mark < opened < lines.index("tljh-config reload proxy")

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("iptables", "ip6tables"):
        (bin_dir / tool).write_text(FAKE_IPTABLES)
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RULES": str(tmp_path / "rules")}
    guard = tmp_path / "web-guard.sh"
    guard.write_text(files[f"{tljh_spec.SCRIPT_DIR}/web-guard.sh"])
    for _ in range(2):  # at each boot; the rule is added once
        subprocess.run(["bash", str(guard)], env=env, check=True)
    for tool in ("iptables", "ip6tables"):
        rules = (tmp_path / f"rules.{tool}").read_text().splitlines()
        assert rules == ["INPUT -p tcp -m multiport --dports 80,443 -m comment --comment tljh-unconfigured -j DROP"]
    opening = "\n".join(line for line in lines if "tables -D" in line)
    subprocess.run(["bash", "-c", opening], env=env, check=True)
    assert all((tmp_path / f"rules.{tool}").read_text() == "" for tool in ("iptables", "ip6tables"))


# ------------------------------------------------------------------ config changes on a running VM

SCHEDULE = {"timeZone": "Europe/London", "stopServersMinutesBefore": 15,
            "awake": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:30", "to": "18:00"}]}


def reconfigure_of(plan):
    """The extension of the plan's VM and the script it runs."""
    extension = one(plan, "azure-native:compute:VirtualMachineExtension")
    return extension, base64.b64decode(extension["inputs"]["protectedSettings"]["script"]).decode()


def test_config_changes_reach_the_running_vm_through_its_extension(render, program):
    plan = render(**TLJH)
    extension, script = reconfigure_of(plan)
    inputs = extension["inputs"]
    vm = one(plan, "azure-native:compute:VirtualMachine")
    assert inputs["vmName"] == vm["inputs"]["vmName"]
    assert inputs["resourceGroupName"] == vm["inputs"]["resourceGroupName"]
    assert inputs["vmExtensionName"] == tljh_spec.RECONFIGURE_EXTENSION
    assert (inputs["publisher"], inputs["type"], inputs["typeHandlerVersion"]) == (
        "Microsoft.Azure.Extensions", "CustomScript", "2.1")
    # Created after the VM, and after the VM may read the vault the script reads the secret from.
    assert extension["parent"] == "tljh" and {"tljh-vm", "tljh-vault-reader"} <= set(extension["dependsOn"])
    # Azure deletes no extension of a deallocated (sleeping) VM: a destroy leaves it to its VM.
    assert extension["options"] == {"retainOnDelete": True, "customTimeouts": {"create": "60m", "update": "30m"}}
    # Only the protected settings, which Azure never returns: no public settings, no command line.
    assert set(inputs) & {"settings", "protectedSettingsFromKeyVault"} == set()
    assert list(inputs["protectedSettings"]) == ["script"]
    vault = named(plan, "tljh-vault")["inputs"]["vaultName"]
    assert script == tljh_spec.reconfigure_script(cfg(), vault)
    # It writes the same configure-tljh.sh as the first boot, and runs it last.
    custom = yaml.safe_load(base64.b64decode(vm["inputs"]["osProfile"]["customData"]).decode())
    encoded = base64.b64encode(written(custom, "configure-tljh.sh").encode()).decode()
    assert f"echo '{encoded}' | base64 -d > \"$root{tljh_spec.SCRIPT_DIR}/configure-tljh.sh.new\"" in script
    assert script.splitlines()[-1] == f'exec "${{CONFIGURE_TLJH:-$root{tljh_spec.SCRIPT_DIR}/configure-tljh.sh}}"'
    # The client secret is in neither the shown nor the revealed inputs of the extension.
    run = program(secrets=TLJH["secrets"], **{k: v for k, v in TLJH.items() if k != "secrets"})
    (recorded,) = [r for r in run.registrations if r.type == "azure-native:compute:VirtualMachineExtension"]
    for shown in (recorded.inputs, recorded.revealed):
        outer = base64.b64decode(shown["protectedSettings"]["script"]).decode()
        files = files_written_by(outer)
        assert OAUTH not in json.dumps(shown) + outer + "".join(files.values())
        assert 'client_secret "$secret"' in files[f"{tljh_spec.SCRIPT_DIR}/configure-tljh.sh"]


def files_written_by(script):
    """{path: content} of the files the extension's script writes (each as a base64 line)."""
    found = re.findall(r"""^echo '([A-Za-z0-9+/=]+)' \| base64 -d > "\$root(\S+)\.new"$""", script, re.M)
    return {path: base64.b64decode(data).decode() for data, path in found}


def _inputs_by_name(plan):
    return {r["name"]: r["inputs"] for r in plan["resources"]}


@pytest.mark.parametrize("change", [
    {"auth": {**TLJH["auth"], "admins": ["alice", "bob"]}},
    {"auth": {**TLJH["auth"], "allowedOrganizations": [], "allowedUsers": ["carol"]}},
    {"limits": {"memory": "8G", "cpu": 4, "cullIdleMinutes": 20}},
    {"defaultUrl": "/tree"},
])
def test_a_config_change_changes_only_the_custom_data_and_the_extension(render, change):
    before, after = _inputs_by_name(render(**TLJH)), _inputs_by_name(render(**{**TLJH, **change}))
    assert before.keys() == after.keys()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"tljh-vm", "tljh-reconfigure"}
    vm_before, vm_after = before["tljh-vm"], after["tljh-vm"]
    assert vm_before["osProfile"]["customData"] != vm_after["osProfile"]["customData"]
    vm_after = {**vm_after, "osProfile": {**vm_after["osProfile"], "customData": vm_before["osProfile"]["customData"]}}
    assert vm_after == vm_before  # and the VM ignores its custom data (test_tljh_stack_under_mocks)


def test_a_schedule_change_reaches_the_extension_too(render):
    before, after = _inputs_by_name(render(**TLJH)), _inputs_by_name(render(**{**TLJH, "schedule": SCHEDULE}))
    changed = {name for name in before if before[name] != after[name]}
    assert {"tljh-vm", "tljh-reconfigure"} <= changed
    script = base64.b64decode(after["tljh-reconfigure"]["protectedSettings"]["script"]).decode()
    assert f"{tljh_spec.STOP_SERVERS_UNIT}.timer" in script and tljh_spec.SLEEP_HUB_CONFIG in script


def test_configure_script_replaces_the_keys_the_stack_owns_once_the_secret_is_read():
    lines = tljh_spec.configure_script(cfg(), "kv").splitlines()
    unsets = [i for i, line in enumerate(lines) if line.startswith("tljh-config unset ")]
    assert [lines[i].split()[2] for i in unsets] == list(tljh_spec.OWNED_KEYS)
    assert all(lines[i].endswith(" > /dev/null 2>&1 || true") for i in unsets)
    read = next(i for i, line in enumerate(lines) if line.startswith('if [ -z "$secret" ]'))
    first_set = next(i for i, line in enumerate(lines) if line.startswith(("tljh-config set", "tljh-config add-item")))
    assert read < min(unsets) and max(unsets) < first_set
    # Every key the script sets lies under a key it unset first.
    for line in lines[first_set:]:
        if line.startswith(("tljh-config set ", "tljh-config add-item ")):
            key = line.split()[2]
            assert any(key == owned or key.startswith(owned + ".") for owned in tljh_spec.OWNED_KEYS), key


def test_reconfigure_writes_the_new_files_then_runs_configure(tmp_path):
    new = cfg(auth={**TLJH["auth"], "admins": ["alice", "bob"]}, schedule=SCHEDULE)
    root = tmp_path / "vm"
    status, stderr, calls = tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(new, "kv-new"), root)
    assert status == 0, stderr
    for f in tljh_spec.config_files(new, "kv-new"):
        path = root / f["path"].lstrip("/")
        assert path.read_text() == f["content"] and oct(path.stat().st_mode & 0o777) == "0o" + f["permissions"][1:]
        assert not path.with_name(path.name + ".new").exists()
    snippet = root / tljh_spec.HUB_CONFIG_D.lstrip("/") / tljh_spec.SLEEP_HUB_CONFIG
    assert snippet.read_text() == tljh_spec.sleep_hub_config(new) and snippet.stat().st_mode & 0o777 == 0o600
    timer = f"{tljh_spec.STOP_SERVERS_UNIT}.timer"
    assert calls == ["cloud-init status --wait", "systemctl daemon-reload", f"systemctl enable {timer}",
                     f"systemctl restart {timer}", "configure-tljh.sh "]


def test_reconfigure_removes_what_the_new_config_no_longer_has(tmp_path):
    root = tmp_path / "vm"
    assert tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(cfg(schedule=SCHEDULE), "kv"), root)[0] == 0
    status, stderr, calls = tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(cfg(), "kv"), root)
    assert status == 0, stderr
    for path in (*tljh_spec.SLEEP_PATHS, f"{tljh_spec.HUB_CONFIG_D}/{tljh_spec.SLEEP_HUB_CONFIG}"):
        assert not (root / path.lstrip("/")).exists(), path
    assert (root / tljh_spec.SCRIPT_DIR.lstrip("/") / "configure-tljh.sh").read_text() == \
        tljh_spec.configure_script(cfg(), "kv")
    timer = f"{tljh_spec.STOP_SERVERS_UNIT}.timer"
    assert calls == ["cloud-init status --wait", f"systemctl disable --now {timer}", "systemctl daemon-reload",
                     "configure-tljh.sh "]
    # A schedule without the early stop keeps the announcement, and no timer.
    early_off = cfg(schedule={**SCHEDULE, "stopServersMinutesBefore": 0})
    assert tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(cfg(schedule=SCHEDULE), "kv"), root)[0] == 0
    status, stderr, calls = tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(early_off, "kv"), root)
    assert status == 0, stderr
    assert (root / tljh_spec.HUB_CONFIG_D.lstrip("/") / tljh_spec.SLEEP_HUB_CONFIG).exists()
    assert not (root / f"etc/systemd/system/{timer}").exists()
    assert f"systemctl disable --now {timer}" in calls and f"systemctl enable {timer}" not in calls


def test_reconfigure_refuses_a_vm_without_tljh(tmp_path):
    root = tmp_path / "vm"
    status, stderr, calls = tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(cfg(), "kv"), root,
                                                     configured=False, installed=False)
    assert status == 1 and "TLJH is not installed: the first boot failed" in stderr
    assert calls == ["cloud-init status --wait"]
    assert not (root / tljh_spec.SCRIPT_DIR.lstrip("/") / "configure-tljh.sh").exists()


def test_reconfigure_configures_an_installed_tljh_the_first_boot_left_unconfigured(tmp_path):
    # A first boot that could not read the secret, or a VM from before the mark: configured now.
    root = tmp_path / "vm"
    status, stderr, calls = tljh_hub.run_reconfigure(tljh_spec.reconfigure_script(cfg(), "kv"), root,
                                                     configured=False)
    assert status == 0, stderr
    assert calls[-1] == "configure-tljh.sh "
