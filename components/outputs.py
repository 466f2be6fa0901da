"""Text of the stack outputs that guide the user after `pulumi up` (pure)."""

from __future__ import annotations

from .config import StackConfig
from .naming import site_url


def next_step(cfg: StackConfig, ip_address: str, fqdn: str) -> str:
    """One line: what to do now that the stack is up."""
    url = site_url(cfg)
    if cfg.domain:
        step = (f"Create a DNS record for {cfg.domain}: A -> {ip_address} (or CNAME -> {fqdn}); "
                f"once it resolves, open {url}")
    else:
        step = f"Open {url}"
    if cfg.tljh:
        step += " once TLJH has installed itself (about 10 minutes after the VM starts)"
    if cfg.https:
        step += " (the certificate is issued within minutes of the first request reaching the site)"
        if cfg.lets_encrypt == "staging":
            step += "; it is a Let's Encrypt *staging* certificate that browsers do not trust: set " \
                    "letsEncrypt: production and run pulumi up again when the site works"
    return step + "."
