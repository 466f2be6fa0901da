"""The `federation` block (mode federation): one launch address in front of several BinderHubs.

Each member is another stack of this project, read with a Pulumi `StackReference` (its `url`
output), or any BinderHub URL. The redirector (`redirector/` in this repository) checks every
member's `/health` and sends each launch to a healthy member chosen by weighted rendezvous
hashing of the repository; its check settings default to the values mybinder.org's
federation redirector uses (jupyterhub/mybinder.org-deploy images/federation-redirect/app.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from .config_fields import _HOST_LABEL, _Model

# `<organization>/<project>/<stack>`: Pulumi's fully qualified stack name. Each part is letters,
# digits, '-', '_' or '.' (Pulumi's stack and project name rules); the local backend's
# organization is the literal `organization`.
STACK_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
# A member's short name: a Prometheus label value and a line on the front page.
_MEMBER_NAME = re.compile(r"[a-z]([a-z0-9-]{0,30}[a-z0-9])?")
# An image by digest: `<registry>/<path>@sha256:<64 hex>`; a tag may stand before the digest.
IMAGE_BY_DIGEST = re.compile(r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}")


def normalised_url(url: str) -> str:
    """A member URL as the redirector uses it: lowercase scheme and host, no default port,
    the path with exactly one trailing '/'. Two spellings of one BinderHub compare equal."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port and parts.port != 443 else ""
    path = parts.path.rstrip("/") + "/"
    return f"{parts.scheme.lower()}://{host}{port}{path}"


class FederationMember(_Model):
    """One BinderHub of the federation: exactly one of `stack` and `url`."""

    stack: str | None = Field(
        None,
        description="Another stack of this project, as `<organization>/<project>/<stack>` (`organization` "
        "with `pulumi login --local`); its `url` output is read with a Pulumi StackReference.",
        examples=["organization/binderhub-azure/public-binder"],
    )
    url: str | None = Field(
        None, description="Any BinderHub's address, HTTPS, e.g. one run elsewhere.",
        examples=["https://binder.partner.example/"],
    )
    name: str | None = Field(
        None,
        description="Short name on the front page and in metrics; default: the stack name, or the URL's "
        "host without its last label (binder.myuni.example: binder-myuni).",
        examples=["myuni"],
    )
    weight: float = Field(
        1.0, description="Share of repositories sent here, relative to the other members' weights (> 0).",
        examples=[2],
    )
    prime: bool = Field(
        False,
        description="Where launches go when no member is healthy (at most one member; default the first).",
        examples=[True],
    )

    @field_validator("stack")
    @classmethod
    def _stack(cls, value: str | None) -> str | None:
        if value is not None and not STACK_REFERENCE.fullmatch(value):
            raise ValueError("must be a fully qualified stack name `<organization>/<project>/<stack>` such as "
                             f"'organization/binderhub-azure/public-binder' (got {value!r})")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        labels = (parts.hostname or "").split(".")
        if parts.scheme != "https":
            raise ValueError(f"must be an https:// address: the redirector sends users there and reads its "
                             f"health over the internet (got {value!r})")
        if len(labels) < 2 or not all(_HOST_LABEL.fullmatch(x) for x in labels) or parts.query or parts.fragment \
                or parts.username or parts.password:
            raise ValueError(f"must be a BinderHub's address such as 'https://binder.partner.example/', with a "
                             f"lowercase host name and no query, fragment or credentials (got {value!r})")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _MEMBER_NAME.fullmatch(value):
            raise ValueError(f"must be 1-32 characters of [a-z0-9-], starting with a letter (got {value!r})")
        return value

    @property
    def label(self) -> str:
        """The member's short name (`name`, else derived from the stack or URL)."""
        if self.name:
            return self.name
        if self.stack:
            return self.stack.rsplit("/", 1)[1].lower()
        # The host without its top-level label: binder.myuni.example -> binder-myuni.
        labels = (urlsplit(self.url or "").hostname or "member").split(".")
        return "-".join(labels[:-1] or labels)[:32].rstrip("-")

    @property
    def label_problem(self) -> str | None:
        """Why the derived name cannot name the member, or None."""
        return None if _MEMBER_NAME.fullmatch(self.label) else (
            f"gives the name {self.label!r}, which must be 1-32 characters of [a-z0-9-] starting with a letter: "
            "set name")


class HealthChecks(_Model):
    """How the redirector checks a member's BinderHub `/health`."""

    period_seconds: float = Field(
        10, ge=1, le=3600, description="Seconds between checks of a healthy member.", examples=[10])
    failed_period_seconds: float = Field(
        300, ge=1, le=86400,
        description="Seconds before an unhealthy member is checked again (longer: a member in trouble gets time).",
        examples=[300])
    retries: int = Field(
        5, ge=1, le=20,
        description="Attempts when a member does not answer (connection error, timeout, no JSON) before it "
        "counts as unhealthy; a member that answers with a failed check is unhealthy at once.",
        examples=[5])
    timeout_seconds: float = Field(
        2, gt=0, le=60, description="Seconds to wait for one answer.", examples=[2])
    pod_headroom: int = Field(
        10, ge=0, le=100000,
        description="A member whose BinderHub reports (\"Pod quota\" check) fewer free pod slots than this "
        "gets no new launches.",
        examples=[10])


class FederationConfig(_Model):
    """The federation (mode federation): its members, the redirector's image and its health checks."""

    members: list[FederationMember] = Field(
        default_factory=list, description="The BinderHubs behind the launch address, set with the keys below.",
        examples=[[{"stack": "organization/binderhub-azure/public-binder", "weight": 2, "prime": True},
                   {"url": "https://binder.partner.example/"}]],
    )
    image: str | None = Field(
        None,
        description="The redirector's container image by digest (`...@sha256:<64 hex>`), as the workflow "
        ".github/workflows/redirector-image.yml prints it. Required.",
        examples=["ghcr.io/myuni/binderhub-azure/redirector@sha256:" + "0" * 64],
    )
    checks: HealthChecks = Field(default_factory=HealthChecks, description="Health checks of the members.")
    domain_bound: bool = Field(
        False,
        description="With `domain`: bind the managed certificate to it. Set true once the certificate the "
        "previous `pulumi up` requested is issued (see README, \"A federation of Binders\").",
        examples=[True],
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not IMAGE_BY_DIGEST.fullmatch(value):
            raise ValueError("must name the image by digest, e.g. 'ghcr.io/myuni/binderhub-azure/redirector@sha256:"
                             f"<64 hex digits>' (a tag can move; a digest cannot) (got {value!r})")
        return value
