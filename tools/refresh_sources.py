"""Where each fact the stack relies on comes from, and how to read it (used by tools/refresh.py).

Every source is a function of a `Context` (how to fetch a URL, the Azure clients if any, today's
date, the data files as read) that returns a `SourceResult`: what it found (`Finding`s, the rows
of the report) and the new text of each data file it would change. Nothing here writes a file or
prints; a source that cannot reach its authority raises `UnreachableError`, and the caller changes
nothing for it. Tests pass recorded answers through `Context.fetch`.

Sources and their authorities:
  charts    each Helm repository's index.yaml; a newer chart's values and schema from its package
  images    quay.io's and Docker Hub's tag lists
  tljh      GitHub: TLJH's newest release and main branch, and the Traefik version each installs
  python    PyPI: the newest release of each pinned requirement, and advisories against the pin
  aks       Azure (with credentials): the Kubernetes versions each stack's region offers
  regions   Azure (with credentials): the subscription's physical regions
  vm-sizes  Azure (with credentials): the Resource SKUs of the sizes in vm_sizes.json
  prices    the Azure Retail Prices API: every price of the offline table's reference region
  calendar  no network: what has fallen out of support by date (always runs)
"""

from __future__ import annotations

import calendar as month_calendar
import io
import json
import re
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from components import aks_versions, charts, vm_sizes

from . import cost_prices
from .stackfile import ROOT, read_stack_file

Fetch = Callable[[str], bytes]

PINS_FILE = charts.PINS_FILE
AKS_FILE = aks_versions.DATA_FILE
REGIONS_FILE = ROOT / "components" / "azure_regions.json"
VM_SIZES_FILE = vm_sizes.DATA_FILE
PRICES_FILE = cost_prices.PRICES_FILE
CHART_DATA = charts.DATA
# The program's, the tools' and tests', and the hub image's own pins (the hub config test installs
# those; an advisory there is an advisory against the hub the stack runs).
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt", "requirements-mutate.txt",
                "tests/hub-image-requirements.txt")
# Region asked for the Kubernetes versions and VM sizes when no stack names one.
REFERENCE_REGION = "swedencentral"
TLJH_REPO = "jupyterhub/the-littlest-jupyterhub"
# A placeholder for the Python code strings BinderHub's chart embeds in its default values
# (components/chart_data/README.md says why they are not kept).
CODE_PLACEHOLDER = "(Python code from the BinderHub chart; not kept here)"


class UnreachableError(Exception):
    """The source's authority could not be asked (network, credentials, an unreadable answer)."""


@dataclass(frozen=True)
class Finding:
    """One row of the report: a pinned fact, what is in use, the newest known, and its state.
    `failing` rows make `--check` exit 1: something supported has fallen out of support."""

    fact: str
    in_use: str
    newest: str
    status: str  # current, behind, updated, held, unsupported, advisory, note
    detail: str = ""
    failing: bool = False


@dataclass
class SourceResult:
    name: str
    findings: list[Finding] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)  # new contents of the files it changes
    todo: list[str] = field(default_factory=list)  # what a person must still do with the change


@dataclass
class Context:
    fetch: Fetch
    today: date
    azure: Any = None  # tools.preflight Clients, or None without credentials
    azure_error: str = "no Azure credentials (az login) or subscription"
    root: Path = ROOT

    def json(self, url: str) -> Any:
        try:
            return json.loads(self.fetch(url))
        except ValueError as err:
            raise UnreachableError(f"{url} did not answer JSON ({err})") from None


def dump_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def read_json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


# --------------------------------------------------------------------------- versions (pure)


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic-version order: numeric parts compare as numbers, a release sorts after its
    pre-releases ('1.0.0-0.dev.git.3983.h…' > '…git.3958.h…'; '4.4.0' > '4.4.0-0.dev…')."""
    text = version.lstrip("v").split("+")[0]
    main, _, pre = text.partition("-")
    numbers = tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.]", main))
    if not pre:
        return (numbers, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, ids)


def is_stable(version: str) -> bool:
    return "-" not in version.lstrip("v").split("+")[0]


def newest(versions: Iterable[str], *, stable_only: bool) -> str | None:
    found = [v for v in versions if is_stable(v) or not stable_only]
    return max(found, key=version_key) if found else None


def month_end(year: int, month: int) -> date:
    return date(year, month, month_calendar.monthrange(year, month)[1])


# --------------------------------------------------------------------------- charts


def _index(ctx: Context, repo: str, cache: dict[str, Any]) -> dict[str, Any]:
    if repo not in cache:
        try:
            doc = yaml.safe_load(ctx.fetch(urljoin(repo.rstrip("/") + "/", "index.yaml")))
        except yaml.YAMLError as err:
            raise UnreachableError(f"{repo}index.yaml is not YAML ({err})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
            raise UnreachableError(f"{repo}index.yaml has no entries")
        cache[repo] = doc
    return cache[repo]


def _entry(index: Mapping[str, Any], name: str, version: str) -> dict[str, Any] | None:
    return next((e for e in index["entries"].get(name) or [] if str(e.get("version")) == version), None)


def chart_files(package: bytes, name: str) -> dict[str, Any]:
    """values.yaml and values.schema.json of a chart package (.tgz), as parsed documents."""
    found: dict[str, Any] = {}
    with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name == f"{name}/values.yaml":
                found["values"] = yaml.safe_load(tar.extractfile(member).read()) or {}  # type: ignore[union-attr]
            elif member.name == f"{name}/values.schema.json":
                found["values.schema"] = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    return found


def _strip_code(values: dict[str, Any]) -> dict[str, Any]:
    """BinderHub's defaults without the Python code strings (as chart_data keeps them)."""
    hub = values.get("jupyterhub", {}).get("hub", {})
    for key in hub.get("extraConfig") or {}:
        hub["extraConfig"][key] = CODE_PLACEHOLDER
    cmd = values.get("jupyterhub", {}).get("singleuser", {}).get("cmd")
    if isinstance(cmd, list) and len(cmd) > 2:
        cmd[2] = CODE_PLACEHOLDER
    return values


def _vendor_chart(ctx: Context, result: SourceResult, repo: str, entry: Mapping[str, Any], name: str,
                  old_version: str | None) -> None:
    """The new version's values and schema into chart_data, replacing the old version's files."""
    url = urljoin(repo.rstrip("/") + "/", str((entry.get("urls") or [""])[0]))
    files = chart_files(ctx.fetch(url), name)
    version = str(entry["version"])
    for kind, doc in files.items():
        if kind == "values" and name == "binderhub":
            doc = _strip_code(doc)
        result.files[CHART_DATA / f"{name}-{version}.{kind}.json"] = dump_json(doc)
        if old_version and old_version != version:
            result.files[CHART_DATA / f"{name}-{old_version}.{kind}.json"] = ""  # "" = delete
    result.todo.append(f"components/chart_data/README.md: the source row of {name} {version} ({url})")


def charts_source(ctx: Context) -> SourceResult:
    pins = read_json(PINS_FILE)
    result = SourceResult("charts")
    cache: dict[str, Any] = {}
    changed = False
    for key, pin in pins["charts"].items():
        name, current, follow = pin.get("name", key), pin["version"], pin.get("follow", "stable")
        index = _index(ctx, pin["repo"], cache)
        versions = [str(e.get("version")) for e in index["entries"].get(name) or []]
        best = newest(versions, stable_only=follow != "dev") or current
        fact = f"chart {key}"
        if version_key(best) <= version_key(current):
            result.findings.append(Finding(fact, current, best, "current"))
            continue
        if follow == "held":
            result.findings.append(Finding(fact, current, best, "held", pin.get("hold", "")))
            continue
        entry = _entry(index, name, best)
        assert entry is not None
        pin.update(version=best, date=ctx.today.isoformat(),
                   source=f"{pin['repo']}index.yaml (created {str(entry.get('created', ''))[:10]})")
        changed = True
        if (CHART_DATA / f"{name}-{current}.values.json").exists():
            _vendor_chart(ctx, result, pin["repo"], entry, name, current)
        result.findings.append(Finding(fact, current, best, "updated", "pins.json; run ./run test"))
        if key == "binderhub":
            changed |= _follow_bundled_jupyterhub(ctx, result, pins, entry, cache)
    if changed:
        result.files[PINS_FILE] = dump_json(pins)
    return result


def _follow_bundled_jupyterhub(ctx: Context, result: SourceResult, pins: dict[str, Any], entry: Mapping[str, Any],
                               cache: dict[str, Any]) -> bool:
    """A new BinderHub chart may bundle another JupyterHub chart: its pin and schema follow."""
    dep = next((d for d in entry.get("dependencies") or [] if d.get("name") == "jupyterhub"), None)
    pin = pins["charts"]["binderhub-jupyterhub"]
    if dep is None or str(dep.get("version")) == pin["version"]:
        return False
    old, new = pin["version"], str(dep["version"])
    pin.update(version=new, date=ctx.today.isoformat(),
               source=f"the jupyterhub dependency of binderhub {entry['version']}")
    jupyterhub = _entry(_index(ctx, pin["repo"], cache), "jupyterhub", new)
    still_used = pins["charts"]["jupyterhub"]["version"] == old
    if jupyterhub is not None and not (CHART_DATA / f"jupyterhub-{new}.values.json").exists():
        _vendor_chart(ctx, result, pin["repo"], jupyterhub, "jupyterhub", None if still_used else old)
    result.findings.append(Finding("chart binderhub-jupyterhub", old, new, "updated",
                                   "bundled by the new BinderHub chart; check the Binder hub image pin"))
    return True


# --------------------------------------------------------------------------- images


def _tags(ctx: Context, image: str) -> list[str]:
    host, _, path = image.partition("/")
    if host == "quay.io":
        tags: list[str] = []
        for page in range(1, 6):
            doc = ctx.json(f"https://quay.io/api/v1/repository/{path}/tag/?onlyActiveTags=true&limit=100&page={page}")
            tags += [str(t.get("name")) for t in doc.get("tags") or []]
            if not doc.get("has_additional"):
                break
        return tags
    if host == "docker.io":
        namespace, _, repo = path.partition("/")
        url: str | None = f"https://hub.docker.com/v2/namespaces/{namespace}/repositories/{repo}/tags?page_size=100"
        tags = []
        for _ in range(5):
            if not url:
                break
            doc = ctx.json(url)
            tags += [str(t.get("name")) for t in doc.get("results") or []]
            url = doc.get("next")
        return tags
    raise UnreachableError(f"no tag list is known for the registry of {image}")


def images_source(ctx: Context) -> SourceResult:
    pins = read_json(PINS_FILE)
    result = SourceResult("images")
    changed = False
    for key, pin in pins["images"].items():
        pattern = re.compile(pin.get("tagPattern", r"\d+\.\d+\.\d+"))
        tags = [t for t in _tags(ctx, pin["image"]) if pattern.fullmatch(t)]
        best = max([*tags, pin["tag"]], key=version_key)
        fact, current = f"image {key}", pin["tag"]
        if best == current:
            result.findings.append(Finding(fact, current, best, "current"))
        elif pin.get("follow") != "stable":
            result.findings.append(Finding(fact, current, best, "held", pin.get("hold", "")))
        else:
            pin.update(tag=best, date=ctx.today.isoformat())
            changed = True
            result.findings.append(Finding(fact, current, best, "updated", "pins.json; run ./run test"))
    if changed:
        result.files[PINS_FILE] = dump_json(pins)
    return result


# --------------------------------------------------------------------------- TLJH


TRAEFIK_VERSION = re.compile(r'^traefik_version\s*=\s*"([0-9.]+)"', re.MULTILINE)


def traefik_of(ctx: Context, ref: str) -> str:
    """The Traefik version TLJH installs at `ref` (its tljh/traefik.py)."""
    text = ctx.fetch(f"https://raw.githubusercontent.com/{TLJH_REPO}/{ref}/tljh/traefik.py").decode()
    match = TRAEFIK_VERSION.search(text)
    if not match:
        raise UnreachableError(f"no traefik_version in tljh/traefik.py at {ref}")
    return match.group(1)


def tljh_source(ctx: Context) -> SourceResult:
    """The pin moves to TLJH's newest release once that release installs a Traefik at or above the
    pin's minimum; until then it stays on its main-branch commit, and the newest main is reported."""
    pins = read_json(PINS_FILE)
    result = SourceResult("tljh")
    pin = pins.get("tljh")
    if not pin:
        return result
    release = str(ctx.json(f"https://api.github.com/repos/{TLJH_REPO}/releases/latest").get("tag_name", ""))
    main = str(ctx.json(f"https://api.github.com/repos/{TLJH_REPO}/commits/main").get("sha", ""))
    minimum = (pin.get("minimum") or {}).get("traefik", "0")
    release_traefik = traefik_of(ctx, release) if release else "0"
    current = pin.get("describe") or pin["ref"]
    if release and pin["ref"] != release and version_key(release_traefik) >= version_key(minimum):
        pin.update(ref=release, describe=release, traefik=release_traefik, follow="stable",
                   date=ctx.today.isoformat(), source=f"{TLJH_REPO} release {release} (tljh/traefik.py)")
        result.files[PINS_FILE] = dump_json(pins)
        result.findings.append(Finding("tljh", current, release, "updated",
                                       f"release {release} installs Traefik {release_traefik}"))
        result.todo.append("components/tljh_spec.py: read the TLJH changelog for config changes since the pin")
        return result
    status = "current" if main[:12] in (pin["ref"][:12], "") else "behind"
    detail = (f"newest release {release or 'none'} installs Traefik {release_traefik} (< {minimum}); "
              f"main is at {main[:12]}") if release != pin["ref"] else ""
    result.findings.append(Finding("tljh", current, release or main[:12], status, detail))
    return result


# --------------------------------------------------------------------------- Python requirements


REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def pinned_requirements(root: Path) -> dict[str, str]:
    """name -> version of every `name==version` line in the requirements files."""
    pinned: dict[str, str] = {}
    for name in REQUIREMENTS:
        path = root / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            match = REQUIREMENT.fullmatch(line.split("#")[0].strip())
            if match:
                pinned[match.group(1)] = match.group(2)
    return pinned


def python_source(ctx: Context) -> SourceResult:
    """Routine upgrades come from Dependabot (a pull request per package, with its changelog);
    here: the newest release of each pin, and the advisories PyPI lists for the pinned version
    (the database pip-audit reads), which fail `--check`."""
    result = SourceResult("python")
    for name, version in sorted(pinned_requirements(ctx.root).items()):
        latest = str(ctx.json(f"https://pypi.org/pypi/{name}/json").get("info", {}).get("version", version))
        vulns = ctx.json(f"https://pypi.org/pypi/{name}/{version}/json").get("vulnerabilities") or []
        fact = f"python {name}"
        if vulns:
            ids = ", ".join(f"{v.get('id')} (fixed in {', '.join(v.get('fixed_in') or ['no release'])})"
                            for v in vulns)
            result.findings.append(Finding(fact, version, latest, "advisory", ids, failing=True))
        else:
            result.findings.append(Finding(fact, version, latest, "current" if latest == version else "behind"))
    return result


# --------------------------------------------------------------------------- Azure: AKS, regions, VM sizes


def stack_settings(root: Path) -> list[tuple[str, str, str]]:
    """(stack file, region, kubernetesVersion) of every stack file in the repository (raw keys,
    so a stack the config would now refuse is still reported)."""
    found = []
    for path in sorted([*root.glob("Pulumi.*.yaml"), *(root / "examples").glob("Pulumi.*.yaml")]):
        raw, _ = read_stack_file(path)
        cluster = json.loads(raw.get("binderhub-azure:cluster", "{}") or "{}")
        mode = raw.get("binderhub-azure:mode", "binderhub")
        version = (cluster.get("kubernetesVersion") if isinstance(cluster, dict) else None) or aks_versions.DEFAULT
        found.append((str(path.relative_to(root)), raw.get("azure-native:location", ""), "" if mode == "tljh"
                      else str(version)))
    return found


def _azure(ctx: Context) -> Any:
    if ctx.azure is None:
        raise UnreachableError(ctx.azure_error)
    return ctx.azure


def aks_source(ctx: Context) -> SourceResult:
    """Adds a minor version the regions offer that the file lacks (its end of life estimated as
    12 months after this month, AKS's policy, and marked so) and records what each region offers."""
    from .preflight_checks import parse_kubernetes_versions

    clients = _azure(ctx)
    doc = read_json(AKS_FILE)
    result = SourceResult("aks")
    regions = sorted({region for _, region, version in stack_settings(ctx.root) if region and version}
                     | {REFERENCE_REGION})
    offered: dict[str, list[str]] = {}
    for region in regions:
        versions = parse_kubernetes_versions(clients.aks.kubernetes_versions(region))
        offered[region] = sorted((v.minor for v in versions.values() if not v.preview and v.official),
                                 key=version_key)
    before = json.dumps(doc, sort_keys=True)
    for minor in sorted({m for ms in offered.values() for m in ms}, key=version_key):
        if minor not in doc["versions"]:
            month = ctx.today
            end = month_end(month.year + 1, month.month)
            doc["versions"][minor] = {"aksGa": month.strftime("%Y-%m"), "endOfLife": end.isoformat(),
                                      "note": "first seen in a region on this refresh; end of life estimated "
                                              "(12 months, AKS's policy): check the calendar"}
            result.findings.append(Finding(f"aks {minor}", "-", minor, "updated", "new minor version offered"))
            result.todo.append(f"components/aks_versions.json: {minor}'s dates from the AKS release calendar")
    doc["offered"] = {region: {"date": ctx.today.isoformat(), "versions": ms} for region, ms in offered.items()}
    for name, version in doc["versions"].items():
        where = [r for r, ms in offered.items() if name not in ms]
        if where and date.fromisoformat(version["endOfLife"]) >= ctx.today and len(where) == len(offered):
            result.findings.append(Finding(f"aks {name}", name, "-", "note", "listed as supported but not offered "
                                           f"for new clusters in {', '.join(where)}"))
    if json.dumps(doc, sort_keys=True) != before:
        doc["date"] = ctx.today.isoformat()
        result.files[AKS_FILE] = dump_json(doc)
    return result


def regions_source(ctx: Context) -> SourceResult:
    from azure.core.rest import HttpRequest

    clients = _azure(ctx)
    response = clients.resources.send_request(HttpRequest(
        "GET", f"/subscriptions/{clients.subscription_id}/locations", params={"api-version": "2022-12-01"}))
    response.raise_for_status()
    live = sorted({str(loc["name"]) for loc in response.json().get("value") or []
                   if (loc.get("metadata") or {}).get("regionType") == "Physical"})
    doc = read_json(REGIONS_FILE)
    result = SourceResult("regions")
    added, gone = sorted(set(live) - set(doc["regions"])), sorted(set(doc["regions"]) - set(live))
    if added:
        doc["regions"] = sorted(set(doc["regions"]) | set(added))
        doc["date"] = ctx.today.isoformat()
        result.files[REGIONS_FILE] = dump_json(doc)
    result.findings.append(Finding("azure regions", str(len(doc["regions"]) - len(added)), str(len(live)),
                                   "updated" if added else "current",
                                   "; ".join(filter(None, [added and f"added {', '.join(added)}",
                                                           gone and f"not visible to this subscription: "
                                                                    f"{', '.join(gone)} (kept)"]))))
    return result


def _sku_numbers(item: Mapping[str, Any]) -> tuple[int, float, int, str, int] | None:
    """(vCPUs, memory GiB, local disk GiB, architecture, GPUs) from a Resource SKU's capabilities."""
    caps = {c.get("name"): c.get("value") for c in item.get("capabilities") or []}
    try:
        vcpus, memory = int(caps["vCPUs"]), float(caps["MemoryGB"])
    except (KeyError, TypeError, ValueError):
        return None
    cache = int(caps.get("CachedDiskBytes") or 0) // 1024**3
    temp = int(caps.get("MaxResourceVolumeMB") or 0) // 1024
    return vcpus, memory, max(cache, temp), str(caps.get("CpuArchitectureType") or "x64"), int(caps.get("GPUs") or 0)


def vm_sizes_source(ctx: Context) -> SourceResult:
    clients = _azure(ctx)
    doc = read_json(VM_SIZES_FILE)
    result = SourceResult("vm-sizes")
    # The SDK's models read like the REST JSON (mappings), as tools/preflight_checks.py relies on.
    listed = clients.compute.resource_skus.list(filter=f"location eq '{REFERENCE_REGION}'")
    skus = {str(s.get("name")): s for s in listed if str(s.get("resourceType", "")).lower() == "virtualmachines"}
    changed = False
    for name, size in doc["sizes"].items():
        sku = skus.get(name)
        numbers = _sku_numbers(sku) if sku else None
        recorded = (size["vcpus"], float(size["memoryGiB"]), size["localDiskGiB"], size.get("architecture", "x64"),
                    size.get("gpus", 0))
        if numbers is None:
            result.findings.append(Finding(f"vm size {name}", "listed", "-", "note",
                                           f"not offered in {REFERENCE_REGION}"))
        elif numbers != recorded:
            size.update(vcpus=numbers[0], memoryGiB=numbers[1], localDiskGiB=numbers[2], architecture=numbers[3],
                        gpus=numbers[4])
            changed = True
            result.findings.append(Finding(f"vm size {name}", str(recorded), str(numbers), "updated"))
    result.findings.append(Finding("vm sizes", str(len(doc["sizes"])), str(len(doc["sizes"])),
                                   "updated" if changed else "current", f"checked in {REFERENCE_REGION}"))
    if changed:
        doc["date"] = ctx.today.isoformat()
        result.files[VM_SIZES_FILE] = dump_json(doc)
    return result


# --------------------------------------------------------------------------- prices


def prices_source(ctx: Context) -> SourceResult:
    table = read_json(PRICES_FILE)
    region = str(table.get("referenceRegion", "eastus"))
    live = cost_prices.live_prices(region, lambda url: json.loads(ctx.fetch(url)))
    result = SourceResult("prices")
    source_key = f"retail-prices-api-{ctx.today.isoformat()}"
    changed = []
    try:
        for key, entry in table["regions"][region]["prices"].items():
            meter = cost_prices.meter_for_key(key)
            price = live.price(meter) if meter else None
            if price is None or (price.unit_price, price.unit) == (entry["unitPrice"], entry["unit"]):
                continue
            entry.update(unitPrice=round(price.unit_price, 6), unit=price.unit, ref=source_key)
            entry.pop("basis", None)
            changed.append(key)
    except cost_prices.PriceFetchError as err:
        raise UnreachableError(f"Azure Retail Prices API: {err}") from None
    if changed:
        table["sources"][source_key] = {"date": ctx.today.isoformat(),
                                        "text": f"Azure Retail Prices API, {region}, read by tools.refresh"}
        table["date"] = ctx.today.isoformat()
        result.files[PRICES_FILE] = dump_json(table)
    result.findings.append(Finding(f"prices {region}", "table", "API", "updated" if changed else "current",
                                   f"{len(changed)} prices changed" if changed else ""))
    return result


# --------------------------------------------------------------------------- by date alone (no network)


def calendar_source(ctx: Context) -> SourceResult:
    """What the recorded facts say has fallen out of support by today: Kubernetes versions (the
    default and each stack's), pinned images and TLJH's Traefik below their minimum, the TLJH
    VM image past its support end."""
    result = SourceResult("calendar")
    default = aks_versions.DEFAULT
    for where, _, version in [("default", "", default), *stack_settings(ctx.root)]:
        if not version:
            continue
        problem = aks_versions.problem(version, ctx.today)
        note = aks_versions.note(version, ctx.today)
        known = aks_versions.VERSIONS.get(version)
        eol = known.end_of_life.isoformat() if known else "?"
        status = "unsupported" if problem else "note" if note else "current"
        result.findings.append(Finding(f"kubernetes {where}", version, f"end of life {eol}", status,
                                       (problem or note or "").removeprefix("is "), failing=bool(problem)))
    pins = read_json(PINS_FILE)
    pinned = [(f"chart {key}", pin["version"], pin) for key, pin in pins["charts"].items()]
    pinned += [(f"image {key}", pin["tag"], pin) for key, pin in pins["images"].items()]
    for fact, version, pin in pinned:
        minimum = pin.get("minimum")
        if isinstance(minimum, str):
            low = version_key(version) < version_key(minimum)
            ids = ", ".join(a.get("id", "") if isinstance(a, dict) else str(a) for a in pin.get("advisories") or [])
            result.findings.append(Finding(f"{fact} minimum", version, f">= {minimum}",
                                           "unsupported" if low else "current", ids, failing=low))
    tljh = pins.get("tljh")
    if tljh and (tljh.get("minimum") or {}).get("traefik"):
        minimum = tljh["minimum"]["traefik"]
        low = version_key(str(tljh.get("traefik", "0"))) < version_key(minimum)
        result.findings.append(Finding("tljh traefik minimum", str(tljh.get("traefik")), f">= {minimum}",
                                       "unsupported" if low else "current", failing=low))
    for key, image in (pins.get("vmImages") or {}).items():
        ends = str(image.get("supportEnds") or "")
        if ends:
            year, month, *day = (int(part) for part in ends.split("-"))
            over = (date(year, month, day[0]) if day else month_end(year, month)) < ctx.today
            result.findings.append(Finding(f"vm image {key}", f"{image.get('offer')} {image.get('sku')}",
                                           f"support ends {ends}", "unsupported" if over else "current",
                                           failing=over))
    return result


SOURCES: dict[str, Callable[[Context], SourceResult]] = {
    "calendar": calendar_source,
    "charts": charts_source,
    "images": images_source,
    "tljh": tljh_source,
    "python": python_source,
    "aks": aks_source,
    "regions": regions_source,
    "vm-sizes": vm_sizes_source,
    "prices": prices_source,
}
NETWORK_FREE = ("calendar",)
