"""Azure's and Let's Encrypt's rules, refused before `pulumi up` (components/azure_limits.py,
letsencrypt.py, image_ref.py, config_limits.py), and what is valid and must not be refused:
one test per class, written from the refusal line or the rendered value, and property-based
tests where the class is open-ended."""

from __future__ import annotations

import base64
import json
import re
import string
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import azure_limits, hub_spec, image_ref, letsencrypt, practices_spec, tljh_spec
from components.config_load import parse_config
from tests.helpers import TEST_SSH_KEY, parsed, refusals
from tools import plan

GITHUB = {"type": "github", "clientId": "gh", "allowedUsers": ["alice"], "admins": ["alice"]}
TLJH = {"mode": "tljh", "auth": GITHUB, "vm": {"sshPublicKey": TEST_SSH_KEY}}
SECRET = {"authClientSecret": "s"}
SECRETS = hub_spec.HubSecrets(proxy_token="p", cookie_secret="c", crypt_key="k", auth_client_secret="s")


config = parsed
refused = refusals


def one_line_naming(found: list[str], key: str) -> str:
    lines = [line for line in found if line.startswith(f"binderhub-azure:{key}")]
    assert len(lines) == 1, found
    return lines[0]


def rsa_key(bits: int) -> str:
    modulus = (1 << (bits - 1)) | 1  # exactly `bits` bits
    n = modulus.to_bytes((bits + 7) // 8 + 1, "big")  # an mpint keeps a leading zero byte
    return azure_limits.ssh_key_line("ssh-rsa", b"\x01\x00\x01", n, comment="rse@testuni")


# ------------------------------------------------------------------------- the offline tool's answer


def test_a_refusal_is_one_line_naming_the_key_and_exit_2(tmp_path, capsys):
    """What an operator sees: `./run plan` on a stack Azure would refuse."""
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(yaml.safe_dump({"config": {
        "azure-native:location": "westeurope", "binderhub-azure:institution": "testuni",
        "binderhub-azure:contactEmail": "rse@example.com", "binderhub-azure:mode": "tljh",
        "binderhub-azure:auth": GITHUB, "binderhub-azure:vm": {"sshPublicKey": "ecdsa-sha2-nistp256 AAAAE2Vj a@b"}}}))
    assert plan.main(["--config-file", str(stack)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith("binderhub-azure:vm.sshPublicKey is an ECDSA key (ecdsa-sha2-nistp256); Azure takes "
                               "only RSA keys of at least 2048 bits and Ed25519 keys") for line in lines), lines
    assert any(line.startswith("binderhub-azure:contactEmail is at example.com, which Let's Encrypt refuses")
               for line in lines), lines


# ------------------------------------------------------------------------- custom data


def test_custom_data_over_64_kib_is_refused_and_the_rendered_size_is_what_counts():
    users = [f"student{i:04d}" for i in range(1500)]
    found = refused(SECRET, **{**TLJH, "auth": {**GITHUB, "allowedUsers": users}})
    line = one_line_naming(found, "auth")
    size = int(re.search(r"cloud-init (\d+) bytes", line)[1])
    assert size > azure_limits.CUSTOM_DATA_MAX_BYTES
    assert "list fewer auth.allowedUsers or auth.admins" in line
    # Just under the limit passes, and what Azure gets (base64-decoded) is that document.
    ok = config(SECRET, **{**TLJH, "auth": {**GITHUB, "allowedUsers": users[:300]}})
    document = tljh_spec.cloud_init(ok, "kv-testuni-xxxxxxxx")
    assert len(base64.b64decode(base64.b64encode(document.encode()))) <= azure_limits.CUSTOM_DATA_MAX_BYTES


# ------------------------------------------------------------------------- authorized IP ranges


def test_more_than_200_authorized_ip_ranges_are_refused():
    ranges = [f"203.0.{i // 256}.{i % 256}/32" for i in range(201)]
    line = one_line_naming(refused(cluster={"authorizedIpRanges": ranges}), "cluster.authorizedIpRanges")
    assert "lists 201 ranges; AKS takes at most 200" in line
    assert config(cluster={"authorizedIpRanges": ranges[:200]}).cluster.authorized_ip_ranges == ranges[:200]


# ------------------------------------------------------------------------- admin user names


@pytest.mark.parametrize("name", sorted(azure_limits.ADMIN_USERNAMES_AZURE_REFUSES - {"1", "123"}))
def test_admin_names_azure_refuses(name):
    line = one_line_naming(refused(SECRET, **{**TLJH, "vm": {**TLJH["vm"], "adminUsername": name}}),
                           "vm.adminUsername")
    assert f"{name!r} is reserved (Azure refuses it" in line


@pytest.mark.parametrize("name", ["1", "123", "Admin", "a" * 33, "-x"])
def test_admin_names_that_are_no_linux_user_names(name):
    line = one_line_naming(refused(SECRET, **{**TLJH, "vm": {**TLJH["vm"], "adminUsername": name}}),
                           "vm.adminUsername")
    assert "must be a Linux user name" in line


# ------------------------------------------------------------------------- SSH keys


@pytest.mark.parametrize(("key", "expected"), [
    ("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY= a@b", "is an ECDSA key (ecdsa-sha2-nistp256); Azure takes "
     "only RSA keys of at least 2048 bits and Ed25519 keys (ssh-keygen -t ed25519 makes one)"),
    ("sk-ssh-ed25519@openssh.com AAAA a@b", "is a security-key key"),
    ("ssh-dss AAAAB3NzaC1kc3M= a@b", "is a DSA key"),
    (rsa_key(1024), "is an RSA key of 1024 bits; Azure takes RSA keys of at least 2048 bits"),
    (rsa_key(2047), "is an RSA key of 2047 bits"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm0b2NrS2V5Rm9yVGVzdHNPbmx5 a@b",
     "is damaged: its key data ends before the whole ssh-ed25519 key"),
    (azure_limits.ssh_key_line("ssh-ed25519", b"\0" * 31), "is damaged: an Ed25519 key holds 32 bytes"),
    (azure_limits.ssh_key_line("ssh-ed25519", b"\0" * 32).replace("ssh-ed25519", "ssh-rsa", 1),
     "is damaged: its key data is a 'ssh-ed25519' key, not ssh-rsa"),
    ("ssh-ed25519 not!base64 a@b", "is not a whole key: its key data (the text after ssh-ed25519) is not valid "
     "base64 of an ssh-ed25519 key"),
    ("ssh-ed25519 AAAA... alice@laptop", "is not a whole key: its key data (the text after ssh-ed25519) is not valid "
     "base64 of an ssh-ed25519 key (copy the whole line of your .pub file"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "must be an OpenSSH public key line"),
])
def test_ssh_keys_azure_refuses(key, expected):
    line = one_line_naming(refused(SECRET, **{**TLJH, "vm": {"sshPublicKey": key}}), "vm.sshPublicKey")
    assert line == f"binderhub-azure:vm.sshPublicKey {expected}" or line.startswith(
        f"binderhub-azure:vm.sshPublicKey {expected}"), line
    assert "PRIVATE" not in line  # the value is never echoed


@pytest.mark.parametrize("key", [rsa_key(2048), rsa_key(4096), TEST_SSH_KEY,
                                 azure_limits.ssh_key_line("ssh-ed25519", b"\x07" * 32)])
def test_ssh_keys_azure_takes_reach_the_vm_unchanged(key, render):
    plan_doc = render(SECRET, **{**TLJH, "vm": {"sshPublicKey": key}})
    vm = next(r for r in plan_doc["resources"] if r["type"] == "azure-native:compute:VirtualMachine")
    assert vm["inputs"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == key


# ------------------------------------------------------------------------- Arm64 and NVMe sizes


@pytest.mark.parametrize("size", ["Standard_D4ps_v5", "Standard_E4ps_v5", "Standard_D4pds_v6", "Standard_B2pts_v2"])
def test_arm64_sizes_with_the_x64_tljh_image_are_refused(size):
    line = one_line_naming(refused(SECRET, **{**TLJH, "vm": {**TLJH["vm"], "size": size}}), "vm.size")
    assert f"vm.size {size} is an Arm64 size, but the TLJH image (ubuntu-24_04-lts server) is x64" in line


@pytest.mark.parametrize("size", ["Standard_D4s_v6", "Standard_D4as_v6", "Standard_E4s_v6"])
def test_nvme_only_sizes_are_taken_for_tljh(size):
    """The first-boot script finds the NVMe data disk (tests/test_tljh.py runs it on a fake NVMe VM)."""
    assert config(SECRET, **{**TLJH, "vm": {**TLJH["vm"], "size": size}}).vm.size == size
    script = tljh_spec.HOME_DISK_SCRIPT
    assert '"$azure/data/by-lun/0"' in script and tljh_spec.NVME_REMOTE_MODEL in script


# ------------------------------------------------------------------------- datasets

DATASET = {"name": "census", "storageAccount": "myunidata", "container": "census", "mountPath": "/data/census",
           "resourceGroup": "rg-research"}


@pytest.mark.parametrize(("change", "key", "expected"), [
    ({"container": "census-"}, "datasets[0].container", "starting and ending with a letter or digit"),
    ({"container": "cen--sus"}, "datasets[0].container", "must not contain '--'"),
    ({"resourceGroup": "rg research"}, "datasets[0].resourceGroup", "must be letters, digits, underscores"),
    ({"resourceGroup": "rg-data."}, "datasets[0].resourceGroup", "not ending in a period"),
    ({"resourceGroup": "rg-dаta"}, "datasets[0].resourceGroup", "must be printable ASCII: U+0430 CYRILLIC"),
])
def test_dataset_names_azure_refuses(change, key, expected):
    line = one_line_naming(refused(datasets=[{**DATASET, **change}]), key)
    assert expected in line


@pytest.mark.parametrize(("second", "how"), [("/data/census", "the same path as"),
                                             ("/data/census/2021", "a path inside or around that of"),
                                             ("/data", "a path inside or around that of")])
def test_two_datasets_at_one_path_are_refused(second, how):
    other = {**DATASET, "name": "other", "container": "other", "mountPath": second}
    line = one_line_naming(refused(datasets=[DATASET, other]), "datasets[1].mountPath")
    assert f"is {how} datasets[0] (/data/census)" in line
    assert config(datasets=[DATASET, {**other, "mountPath": "/data/census-2021"}]).datasets[1].mount_path


# ------------------------------------------------------------------------- Let's Encrypt


@pytest.mark.parametrize("domain", ["binder.westeurope.cloudapp.azure.com", "cloudapp.azure.com"])
def test_a_domain_under_azures_dns_label_zone_is_refused(domain):
    line = one_line_naming(refused(domain=domain), "domain")
    assert "must be a name you own: cloudapp.azure.com is Azure's zone for DNS labels" in line
    assert "set dnsLabel" in line


@pytest.mark.parametrize(("email", "expected"), [
    ("rse@example.com", "is at example.com, which Let's Encrypt refuses"),
    ("rse@EXAMPLE.org", "is at example.org, which Let's Encrypt refuses"),
    ("rsé@myuni.ac.uk", "must be printable ASCII"),
    ("rse@myuni.xn--p1ai-", "must be an email address"),
    ("rse@a-.ac.uk", "has a domain Let's Encrypt refuses: 'a-.ac.uk' has the label 'a-'"),
    ("rse@" + ".".join(["a"] * 11) + ".ac", "has 12 labels; Let's Encrypt takes names of 2 to 10"),
    ("rse@" + "a" * 64 + ".ac.uk", "has the label"),
    ("rse@" + ".".join(["a" * 60] * 5) + ".uk", "characters; Let's Encrypt takes names of at most 253"),
    ("rse@ab--cd.ac.uk", "'--' in the third and fourth places is kept for punycode"),
    ("rse@[192.0.2.1]", "must be an email address"),
])
def test_contact_emails_lets_encrypt_refuses(email, expected):
    line = one_line_naming(refused(contactEmail=email), "contactEmail")
    assert expected in line


@pytest.mark.parametrize("email", ["rse@myuni.ac.uk", "it+binder@sub.example.com", "a@xn--bcher-kva.example",
                                   "rse-team@demo-university.example"])
def test_contact_emails_lets_encrypt_takes(email):
    assert config(contactEmail=email).contact_email == email


# ------------------------------------------------------------------------- invisible and look-alike characters

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066", "\u061c"]
LOOKALIKES = ["а", "е", "о", "ѕ", "ɡ", "ı", "ℓ", "ｓ", "İ"]  # Cyrillic, Latin extensions, fullwidth


@settings(max_examples=60, deadline=None)
@given(char=st.sampled_from(INVISIBLE), where=st.integers(0, 5),
       key=st.sampled_from(["institution", "dnsLabel", "contactEmail", "auth.admins", "vm.adminUsername"]))
def test_an_invisible_character_anywhere_in_a_name_is_refused(char, where, key):
    value = {"institution": "testuni", "dnsLabel": "testuni-hub", "contactEmail": "rse@testuni.example",
             "auth.admins": "alice", "vm.adminUsername": "tljhadmin"}[key]
    bad = value[:where] + char + value[where:]
    keys: dict[str, Any] = {**TLJH}
    if key == "auth.admins":
        keys["auth"] = {**GITHUB, "admins": [bad]}
    elif key == "vm.adminUsername":
        keys["vm"] = {**TLJH["vm"], "adminUsername": bad}
    else:
        keys[key] = bad
    found = refused(SECRET, **keys)
    assert any(line.startswith(f"binderhub-azure:{key}") and ("invisible character: U+" in line or
                                                              "printable ASCII" in line) for line in found), found


@settings(max_examples=60, deadline=None)
@given(char=st.sampled_from(LOOKALIKES), where=st.integers(0, 4))
def test_a_look_alike_letter_in_a_user_name_is_refused(char, where):
    bad = "alice"[:where] + char + "alice"[where + 1:]
    line = one_line_naming(refused(SECRET, **{**TLJH, "auth": {**GITHUB, "admins": [bad]}}), "auth.admins")
    assert f"item 0 must be printable ASCII: U+{ord(char):04X}" in line


def test_invisible_characters_are_refused_in_display_text_too():
    line = one_line_naming(refused(binderSite={"bannerMessage": "Help\u202e"}), "binderSite.bannerMessage")
    assert "invisible character: U+202E RIGHT-TO-LEFT OVERRIDE" in line and "&rlm;" in line


# ------------------------------------------------------------------------- not refused when valid

IMAGES = ["registry.example:5000/img:tag", "localhost:5000/team/image:1.0", "quay.io/jupyter/scipy-notebook:2025-01-06",
          "rocker/binder@sha256:" + "a" * 64, "ghcr.io/org/img:v1@sha256:" + "0" * 64, "[2001:db8::1]:5000/x:1",
          "myacr.azurecr.io/a/b/c__d.e-f:1.0_rc1"]


@pytest.mark.parametrize("image", IMAGES)
def test_image_references_containerd_takes_are_accepted_and_rendered_unchanged(image):
    cfg = config(SECRET, mode="jupyterhub", auth=GITHUB,
                 profiles=[{"displayName": "Python", "image": image, "default": True}])
    values = hub_spec.jupyterhub_values(cfg, SECRETS)
    override = values["singleuser"]["profileList"][0]["kubespawner_override"]
    assert override["image"] == image


@pytest.mark.parametrize(("image", "expected"), [
    ("quay.io/jupyter/scipy-notebook", "needs a tag (name:tag) or a digest"),
    ("Quay.io/Jupyter/Notebook:1", "must be an image reference"),
    ("img@sha256:abc", "must be an image reference"),
    ("img@sha256:" + "A" * 64, "is not 64 lowercase hex digits"),
    ("registry.example:port/img:1", "must be an image reference"),
])
def test_image_references_containerd_refuses(image, expected):
    line = one_line_naming(refused(SECRET, mode="jupyterhub", auth=GITHUB,
                                   profiles=[{"displayName": "P", "image": image}]), "profiles[0].image")
    assert expected in line


_ALNUM = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=6)
_COMPONENT = st.builds(lambda parts, seps: parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=False)),
                       st.lists(_ALNUM, min_size=1, max_size=3), st.lists(st.sampled_from([".", "_", "__", "-", "--"]),
                                                                         min_size=2, max_size=2))
_HOST = st.one_of(st.just(""), st.builds(lambda h, port: f"{h}.example{port}/", _ALNUM,
                                         st.sampled_from(["", ":5000", ":443"])),
                  st.just("localhost:5000/"))
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_DIGEST = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(host=_HOST, path=st.lists(_COMPONENT, min_size=1, max_size=3), tag=st.one_of(st.none(), _TAG),
       digest=st.one_of(st.none(), _DIGEST))
def test_every_image_reference_of_the_grammar_with_a_tag_or_digest_is_accepted(host, path, tag, digest):
    if tag is None and digest is None:
        tag = "1.0"
    image = host + "/".join(path) + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert image_ref.image_problem(image) is None, image
    cfg = config(SECRET, mode="jupyterhub", auth=GITHUB, profiles=[{"displayName": "P", "image": image}])
    assert cfg.profiles[0].image == image


BANNER = """<div class="alert">
  <strong>Binder</strong> is run by MyUni RSE.
\t<a href="https://myuni.example/help">Help</a> · Ελληνικά · 日本語
</div>"""


def test_multi_line_banner_and_about_html_reach_binderhub_unchanged():
    cfg = config(binderSite={"bannerMessage": BANNER, "aboutMessage": BANNER + "\r\n<p>Terms</p>\n"})
    values = practices_spec.binder_site_values(cfg)["config"]["BinderHub"]
    assert values == {"banner_message": BANNER, "about_message": BANNER + "\r\n<p>Terms</p>\n"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs")) | st.sampled_from(["\n", "\t"]),
                    max_size=80))
def test_any_display_text_without_controls_reaches_binderhub_unchanged(text):
    cfg = config(binderSite={"bannerMessage": text, "aboutMessage": text})
    config_values = practices_spec.binder_site_values(cfg)["config"]
    if text:
        assert config_values["BinderHub"] == {"banner_message": text, "about_message": text}
    else:
        assert "BinderHub" not in config_values


@settings(max_examples=80, deadline=None)
@given(users=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), min_size=1, max_size=5, unique=True))
def test_every_accepted_user_name_reaches_the_hub_and_the_vm_unchanged(users):
    """Names keep their meaning: what was accepted is what the hub admits and makes admin."""
    cfg = config(SECRET, mode="jupyterhub", auth={**GITHUB, "allowedUsers": users, "admins": users[:1]})
    hub = hub_spec.jupyterhub_values(cfg, SECRETS)["hub"]["config"]
    assert hub["Authenticator"]["allowed_users"] == users
    assert hub["Authenticator"]["admin_users"] == users[:1]
    tljh = config(SECRET, **{**TLJH, "auth": {**GITHUB, "allowedUsers": users, "admins": users[:1]}})
    script = tljh_spec.configure_script(tljh, "kv")
    for user in users:
        assert f"tljh-config add-item users.allowed {user}\n" in script


def test_every_readme_and_docs_example_passes_the_checks_it_illustrates():
    """The README's YAML examples and every field's example are real-shaped: they pass."""
    from pathlib import Path

    from components.config import VmConfig

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme, re.S)]
    stacks = [b["config"] for b in blocks if isinstance(b, dict) and "config" in b]
    assert stacks, "the README's stack examples"
    for stack in stacks:
        raw = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in stack.items()}
        raw["binderhub-azure:authClientSecret"] = "s"  # set with pulumi config set --secret, as the README says
        parse_config(raw, {"binderhub-azure:authClientSecret"})
    key = VmConfig.model_fields["ssh_public_key"].examples[0]
    assert azure_limits.ssh_key_problem(key) is None
    for line in re.findall(r"sshPublicKey: (ssh-\S+ \S+ \S+)", readme):
        assert azure_limits.ssh_key_problem(line) is None, line
    assert letsencrypt.contact_email_problem("rse-team@myuni.example") is None


# ------------------------------------------------------------------------- shared homes


def test_shared_homes_are_given_to_the_users_uid_before_the_server_starts(render):
    """The rendered JupyterHub values: an init container mounts the user's own directory of the
    share where the server will have its home, and chowns it to z2jh's singleuser.uid/fsGid;
    tests/test_hub_config_loads.py checks the same after KubeSpawner's expansion."""
    plan_doc = render(SECRET, mode="jupyterhub", auth=GITHUB)
    values = next(r for r in plan_doc["helmReleases"] if r["name"] == "jupyterhub")["values"]
    single = values["singleuser"]
    owner = next(c for c in single["initContainers"] if c["name"] == "home-owner")
    (mount,) = owner["volumeMounts"]
    assert mount == {"name": "home", "mountPath": "/home/jovyan", "subPath": single["storage"]["static"]["subPath"]}
    assert owner["command"] == ["/bin/sh", "-c", "chmod go-w /home/jovyan && chown 1000:100 /home/jovyan"]
    assert owner["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
    assert practices_spec.home_owner(charts_jupyterhub()) == (1000, 100, "/home/jovyan")
    # Not in the other home storages: a per-user disk is made for the user by the kubelet's fsGroup.
    disk = render(SECRET, mode="jupyterhub", auth=GITHUB, storage={"type": "perUserDisk"})
    values = next(r for r in disk["helmReleases"] if r["name"] == "jupyterhub")["values"]
    assert "initContainers" not in values["singleuser"]


def charts_jupyterhub() -> Any:
    from components import charts

    return charts.JUPYTERHUB


# ------------------------------------------------------------------------- TLJH Key Vault


def test_the_tljh_key_vault_is_created_with_an_empty_access_policy_list(render):
    """RBAC mode, and `accessPolicies` sent all the same (pulumi/pulumi-azure-native#1478: creation
    failed without it); the VM reads the secret through its role, not a policy."""
    plan_doc = render(SECRET, **TLJH)
    vault = next(r for r in plan_doc["resources"] if r["type"] == "azure-native:keyvault:Vault")
    props = vault["inputs"]["properties"]
    assert props["accessPolicies"] == [] and props["enableRbacAuthorization"] is True
    reader = next(r for r in plan_doc["resources"] if r["name"] == "tljh-vault-reader")
    assert reader["inputs"]["roleDefinitionId"].endswith("/4633458b-17de-408a-b874-0445c86b69e6")


_BLOB = st.from_regex(r"[a-z0-9]([a-z0-9]|-(?=[a-z0-9])){2,40}", fullmatch=True)


@settings(max_examples=80, deadline=None)
@given(container=_BLOB, name=st.from_regex(r"[a-z][a-z0-9]{1,20}", fullmatch=True),
       path=st.from_regex(r"/data/[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True))
def test_every_accepted_dataset_reaches_azure_and_the_pod_unchanged(container, name, path):
    """A container name Azure takes is accepted, and the volume, claim and mount carry it as given."""
    from components import dataset_spec

    cfg = config(datasets=[{**DATASET, "name": name, "container": container, "mountPath": path}])
    data = cfg.datasets[0]
    volume = dataset_spec.persistent_volume(cfg, data, "binderhub")
    assert volume["spec"]["csi"]["volume_attributes"]["containerName"] == container
    mounts = dataset_spec.user_pod_storage(cfg)["extraVolumeMounts"]
    assert mounts == [{"name": f"dataset-{name}", "mountPath": path, "readOnly": True}]
