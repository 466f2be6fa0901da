"""What Let's Encrypt refuses, checked before `pulumi up` (pure), and how its refusals read
when cert-manager reports them (for `ops status` and the smoke test).

Sources (letsencrypt/boulder, read 2026-12):
- policy/pa.go `ValidEmail`: the contact address must parse, its domain must pass
  `validDomain` (ASCII letters, digits, '-' and '.'; at most 253 bytes and 10 labels, at least
  2; labels of 1-63 bytes, not starting or ending with '-'; a label with '--' in its third and
  fourth places only as punycode 'xn--'; not an IP address) and must not be one of
  `forbiddenMailDomains`: example.com, example.net, example.org (RFC 2606). validDomain also
  requires an ICANN top-level domain, which needs the IANA list; only its shape is checked here
  (letters, or punycode), so the reserved `.example` of this project's examples passes.
- ratelimits/limiter.go `Decision.Result`: a refused order says, e.g., `too many certificates
  (50) already issued for "uksouth.cloudapp.azure.com" in the last 168h0m0s, retry after
  2026-12-14 09:12:00 UTC` (time format "2006-01-02 15:04:05 MST"), with the ACME problem type
  `urn:ietf:params:acme:error:rateLimited` (RFC 8555 section 6.7).
- Azure DNS labels: Let's Encrypt counts every `<label>.<region>.cloudapp.azure.com` against the
  one registered domain `<region>.cloudapp.azure.com` (letsencrypt/boulder#7447, #7479;
  publicsuffix/list#1944): certificates have been refused there in eastus, uksouth and
  swedencentral.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

FORBIDDEN_MAIL_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
MAX_NAME_BYTES = 253
MAX_LABEL_BYTES = 63
MAX_LABELS = 10
_LABEL = re.compile(r"[a-z0-9-]+")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
AZURE_DNS_LABEL_ZONE = "cloudapp.azure.com"


def domain_problem(domain: str) -> str | None:
    """Why Let's Encrypt would refuse a certificate (or a contact address) for this name, or None."""
    name = domain.lower()
    if not name.isascii():
        return "has a non-ASCII character (write an internationalised name as punycode, xn--...)"
    if len(name) > MAX_NAME_BYTES:
        return f"is {len(name)} characters; Let's Encrypt takes names of at most {MAX_NAME_BYTES}"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return "is an IP address; Let's Encrypt needs a DNS name"
    labels = name.split(".")
    if len(labels) < 2 or len(labels) > MAX_LABELS:
        return f"has {len(labels)} labels; Let's Encrypt takes names of 2 to {MAX_LABELS}"
    for label in labels:
        if not label or len(label) > MAX_LABEL_BYTES or not _LABEL.fullmatch(label) \
                or label.startswith("-") or label.endswith("-"):
            return (f"has the label {label!r}; a label is 1-{MAX_LABEL_BYTES} letters, digits and hyphens, "
                    "not starting or ending with a hyphen")
        if label[2:4] == "--" and not label.startswith("xn"):
            return f"has the label {label!r}; '--' in the third and fourth places is kept for punycode (xn--)"
    if not _TLD.fullmatch(labels[-1]):
        return f"ends in {labels[-1]!r}, which is no top-level domain"
    return None


def contact_email_problem(address: str) -> str | None:
    """Why Let's Encrypt would refuse this account contact address, or None."""
    local, at, domain = address.rpartition("@")
    if not at or not local or any(c.isspace() for c in address):
        return "is not an email address"
    if not address.isascii():
        return "has a non-ASCII character; Let's Encrypt takes ASCII addresses only"
    why = domain_problem(domain)
    if why:
        return f"has a domain Let's Encrypt refuses: {domain!r} {why}"
    if domain.lower() in FORBIDDEN_MAIL_DOMAINS:
        return f"is at {domain.lower()}, which Let's Encrypt refuses (an example domain): use an address you read"
    return None


def under_azure_dns_label_zone(host: str) -> bool:
    return host.lower() == AZURE_DNS_LABEL_ZONE or host.lower().endswith("." + AZURE_DNS_LABEL_ZONE)


# --------------------------------------------------------------------------- refusals

RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"
_RETRY_AFTER = re.compile(r"retry after (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [A-Z]+)")
_TOO_MANY = re.compile(r"too many [a-z ]+\(\d+\)[^,]*")


@dataclass(frozen=True)
class RateLimit:
    """A refusal for a rate limit: which limit (Boulder's words) and when to try again."""

    limit: str
    retry_after: str | None


def rate_limit_in(message: str) -> RateLimit | None:
    """The rate limit a cert-manager message (a Certificate's condition, an Order's reason)
    reports, or None when it reports none."""
    if RATE_LIMITED not in message and "too many" not in message:
        return None
    found = _TOO_MANY.search(message)
    if found is None and RATE_LIMITED not in message:
        return None
    retry = _RETRY_AFTER.search(message)
    return RateLimit(found.group(0).strip() if found else "rate limited",
                     retry.group(1) if retry else None)


def rate_limit_advice(limit: RateLimit, host: str | None) -> str:
    """What to do about a rate limit: for an Azure DNS label, an own domain; always, the date."""
    when = f"cert-manager retries by itself; it cannot succeed before {limit.retry_after}" if limit.retry_after \
        else "cert-manager retries by itself, with growing pauses"
    if host and under_azure_dns_label_zone(host):
        zone = host.split(".", 1)[1] if host.count(".") >= 3 else AZURE_DNS_LABEL_ZONE
        return (f"Let's Encrypt counts every Azure DNS label in {zone} as one domain, shared with everyone in the "
                f"region: set binderhub-azure:domain to a name you own (and its DNS record), then pulumi up; "
                f"or wait: {when}")
    return f"wait: {when}"
