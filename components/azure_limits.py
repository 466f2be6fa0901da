"""Azure's limits on the values a stack hands to a VM or a cluster, checked before `pulumi up`
(pure). Each rule sits next to its source, as the naming rules in azure_names.py do.

A value that breaks one of these rules is refused by Azure only when the resource is created,
minutes into `pulumi up` (or, for the data disk, not at all: /home would silently be elsewhere).
"""

from __future__ import annotations

import base64
import binascii
import re

# --------------------------------------------------------------------------- VM custom data

# Source: Azure Compute REST API, OSProfile.customData ("The base-64 encoded string is decoded to
# a binary array that is saved as a file on the Virtual Machine. The maximum length of the binary
# array is 65535 bytes."), learn.microsoft.com/rest/api/compute/virtual-machines/create-or-update,
# read 2026-12; "Custom data and cloud-init on Azure Virtual Machines" says "can't exceed 64 KB".
CUSTOM_DATA_MAX_BYTES = 65535


def custom_data_problem(document: str) -> str | None:
    """Why Azure would refuse this cloud-init document as custom data, or None."""
    size = len(document.encode())
    if size <= CUSTOM_DATA_MAX_BYTES:
        return None
    return (f"makes the VM's cloud-init {size} bytes; Azure takes at most {CUSTOM_DATA_MAX_BYTES} "
            "(64 KiB) of custom data")


# --------------------------------------------------------------------------- Linux admin user

# Source: Azure Compute REST API, OSProfile.adminUsername, "Disallowed values" (same page as
# above), read 2026-12. Azure refuses these names when it creates the VM.
ADMIN_USERNAMES_AZURE_REFUSES = frozenset({
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a",
    "actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root",
    "server", "sql", "support", "support_388945a0", "sys", "test2", "test3", "user4", "user5",
})
# Names the VM itself needs for something else: the notebook user of Jupyter images.
ADMIN_USERNAMES_RESERVED_HERE = frozenset({"jovyan"})
# A Linux user name as useradd takes it on Ubuntu (NAME_REGEX of adduser.conf, 32 characters).
_LINUX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def admin_username_problem(name: str) -> str | None:
    if not _LINUX_USER.fullmatch(name):
        return (f"must be a Linux user name: 1-32 characters of [a-z0-9_-], starting with a letter or '_' "
                f"(got {name!r})")
    if name in ADMIN_USERNAMES_AZURE_REFUSES or name in ADMIN_USERNAMES_RESERVED_HERE:
        why = "Azure refuses it" if name in ADMIN_USERNAMES_AZURE_REFUSES else "the notebook user has it"
        return (f"must be a name Azure takes for the administrator: {name!r} is reserved ({why}; Azure also refuses "
                "administrator, admin, root, user, test, guest, support and a few more), e.g. tljhadmin")
    return None


# --------------------------------------------------------------------------- SSH public keys

# Source: learn.microsoft.com/azure/virtual-machines/linux/create-ssh-keys-detailed, "Supported
# SSH key formats" (read 2026-12): SSH-2 RSA keys of at least 2048 bits and ED25519 keys (fixed
# 256 bits); "other key formats such as ECDSA are not supported". The key line is OpenSSH's
# public key format (RFC 4253 section 6.6): `<type> <base64 blob> [comment]`, the blob a
# sequence of SSH strings (uint32 length, bytes): for ssh-rsa the type, then mpint e and
# mpint n (RFC 4253 6.6); for ssh-ed25519 the type, then the 32-byte key (RFC 8709 section 4).
RSA_MIN_BITS = 2048
ED25519_KEY_BYTES = 32
_KEY_LINE = ("an OpenSSH public key line: its type (ssh-ed25519 or ssh-rsa), the key data in base64 and an "
             "optional comment, the one line of your ~/.ssh/id_ed25519.pub (the .pub file, not the private key)")
_WHOLE_LINE = "copy the whole line of your .pub file; an example's shortened key is not a key"
_NEW_KEY = "ssh-keygen -t ed25519 makes one"


class _Blob:
    """Reads SSH strings from a key blob."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def string(self) -> bytes:
        if self.at + 4 > len(self.data):
            raise ValueError("short")
        size = int.from_bytes(self.data[self.at:self.at + 4], "big")
        start, self.at = self.at + 4, self.at + 4 + size
        if self.at > len(self.data):
            raise ValueError("short")
        return self.data[start:self.at]

    @property
    def done(self) -> bool:
        return self.at == len(self.data)


def ssh_key_problem(line: str) -> str | None:
    """Why Azure would refuse this public key line, or None for an RSA key of 2048 bits or more
    or an Ed25519 key."""
    parts = line.split(None, 2)
    if len(parts) < 2:
        return f"must be {_KEY_LINE}"
    kind, encoded = parts[0], parts[1]
    if kind.startswith(("ecdsa-", "sk-ecdsa-")) or kind in ("ssh-dss", "sk-ssh-ed25519@openssh.com"):
        what = "a DSA" if kind == "ssh-dss" else "a security-key" if kind.startswith("sk-") else "an ECDSA"
        return (f"is {what} key ({kind}); Azure takes only RSA keys of at least {RSA_MIN_BITS} bits and Ed25519 keys "
                f"({_NEW_KEY})")
    if kind not in ("ssh-rsa", "ssh-ed25519"):
        return f"must be {_KEY_LINE}"
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return (f"is not a whole key: its key data (the text after {kind}) is not valid base64 of an {kind} key "
                f"({_WHOLE_LINE})")
    try:
        blob = _Blob(data)
        named = blob.string()
        if named != kind.encode():
            return f"is damaged: its key data is a {named.decode('ascii', 'replace')!r} key, not {kind}"
        if kind == "ssh-ed25519":
            key = blob.string()
            if len(key) != ED25519_KEY_BYTES or not blob.done:
                return f"is damaged: an Ed25519 key holds {ED25519_KEY_BYTES} bytes (copy the whole .pub line)"
            return None
        blob.string()  # e
        modulus = int.from_bytes(blob.string(), "big")
        if not blob.done:
            return "is damaged: its key data does not end after the RSA modulus (copy the whole .pub line)"
    except ValueError:
        return f"is damaged: its key data ends before the whole {kind} key ({_WHOLE_LINE})"
    bits = modulus.bit_length()
    if bits < RSA_MIN_BITS:
        return f"is an RSA key of {bits} bits; Azure takes RSA keys of at least {RSA_MIN_BITS} bits ({_NEW_KEY})"
    return None


def ssh_key_line(kind: str, *fields: bytes, comment: str = "") -> str:
    """An OpenSSH public key line from its fields (for examples and tests)."""
    blob = b"".join(len(part).to_bytes(4, "big") + part for part in (kind.encode(), *fields))
    return " ".join(filter(None, [kind, base64.b64encode(blob).decode(), comment]))


# --------------------------------------------------------------------------- AKS

# Source: learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges (MicrosoftDocs/azure-aks-docs
# articles/aks/api-server-authorized-ip-ranges.md, read 2026-12): "You can specify up to 200
# authorized IP ranges" (2,000 only with API Server VNet Integration, which this stack does not use).
AUTHORIZED_IP_RANGES_MAX = 200
