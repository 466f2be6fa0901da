"""Container image references, as containerd (and so Kubernetes) parses them (pure).

Source: the grammar of distribution/reference (reference.go, the package containerd and the
Docker CLI use; read 2026-12):

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | \\[ IPv6address \\]
    domain-name      := domain-component ['.' domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    path-component   := alpha-numeric [separator alpha-numeric]*
    path (or "remote-name")  := path-component ['/' path-component]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := digest-algorithm ":" digest-hex
    digest-algorithm := digest-algorithm-component [ digest-algorithm-separator digest-algorithm-component ]*
    digest-algorithm-separator := /[+.-_]/   (the four characters + . - _)
    digest-algorithm-component := /[A-Za-z][A-Za-z0-9]*/
    digest-hex       := /[0-9a-fA-F]{32,}/

The first path component is the registry (domain) when it holds a '.' or a ':' or is
`localhost`; the name is at most 255 characters (NameTotalLengthMax). opencontainers/go-digest
then wants 64 lowercase hex digits for sha256 and 128 for sha512.

This project asks for a tag or a digest on every image (no implicit `latest`).
"""

from __future__ import annotations

import re

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-+._][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII)
NAME_MAX = 255
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}


def image_problem(value: str) -> str | None:
    """Why this is no image reference with a tag or digest, or None."""
    found = REFERENCE.fullmatch(value)
    if found is None:
        return ("must be an image reference such as 'quay.io/jupyter/scipy-notebook:2025-01-06', "
                "'registry.example:5000/team/image:1.0' or 'name@sha256:<64 hex digits>'")
    if len(found["name"]) > NAME_MAX:
        return f"has a name of {len(found['name'])} characters; registries take at most {NAME_MAX}"
    if not found["tag"] and not found["digest"]:
        return "needs a tag (name:tag) or a digest (name@sha256:...), so that every node runs the same image"
    if found["digest"]:
        algorithm, _, hexits = found["digest"].partition(":")
        want = _DIGEST_LENGTHS.get(algorithm)
        if want is not None and (len(hexits) != want or hexits != hexits.lower()):
            return f"has a {algorithm} digest that is not {want} lowercase hex digits"
    return None
