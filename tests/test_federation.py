"""Federation mode: its config rules, the resources it renders under mocks (Azure Container Apps,
member stacks read with StackReference), the redirector configuration it hands the app, and its
cost; the example federation of the two Binder examples is planned offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components import federation_spec
from components.config_load import parse_config
from redirector.settings import parse as redirector_settings
from tests.helpers import named, one, parsed, refusals, resources_of
from tools import cost, member_stacks
from tools.mocks import environment_domain, verification_id
from tools.plan import build_plan
from tools.stackfile import read_stack_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "Pulumi.federation.yaml"
IMAGE = "ghcr.io/myuni/binderhub-azure/redirector@sha256:" + "ab" * 32
APP = "azure-native:app:ContainerApp"
ENV = "azure-native:app:ManagedEnvironment"
CERT = "azure-native:app:ManagedCertificate"
REF = "pulumi:pulumi:StackReference"
P = "binderhub-azure"


def fed(members, **keys):
    """Config keys of a federation stack with these members."""
    return {"mode": "federation", "federation": {"image": IMAGE, "members": members, **keys.pop("federation", {})},
            **keys}


URLS = [{"url": "https://binder.one.example/", "weight": 2, "prime": True}, {"url": "https://binder.two.example"}]


# ---- config ----------------------------------------------------------------------------------------------------


def test_a_federation_of_urls_and_stacks_is_accepted_with_defaults():
    cfg = parsed(**fed([*URLS, {"stack": "organization/binderhub-azure/public-binder"}]))
    assert cfg.federated and not cfg.binder
    checks = cfg.federation.checks
    # mybinder.org's federation redirector's defaults (images/federation-redirect/app.py).
    assert (checks.period_seconds, checks.failed_period_seconds, checks.retries, checks.timeout_seconds,
            checks.pod_headroom) == (10, 300, 5, 2, 10)
    assert [m.label for m in cfg.federation.members] == ["binder-one", "binder-two", "public-binder"]
    assert federation_spec.app_name(cfg) == "testuni-binder"


@pytest.mark.parametrize(("members", "extra", "expected"), [
    ([], {}, f"{P}:federation.members must list at least one BinderHub"),
    ([{"url": "https://a.example/", "weight": 0}], {}, f"{P}:federation.members[0].weight must be > 0"),
    ([{"url": "https://a.example/", "weight": -1}], {}, f"{P}:federation.members[0].weight must be > 0"),
    ([{"url": "https://a.example/"}, {"url": "https://A.example:443", "name": "other"}], {},
     f"{P}:federation.members[1].url 'https://A.example:443' is the same BinderHub as members[0]"),
    ([{"stack": "org/binderhub-azure/one"}, {"stack": "org/binderhub-azure/one", "name": "two"}], {},
     f"{P}:federation.members[1].stack 'org/binderhub-azure/one' is already members[0]"),
    ([{"url": "https://a.example/", "prime": True}, {"url": "https://b.example/", "prime": True}], {},
     f"{P}:federation.members may mark at most one member prime: true"),
    ([{"url": "https://a.example/", "stack": "o/p/s"}], {}, f"{P}:federation.members[0] needs exactly one of"),
    ([{"weight": 1}], {}, f"{P}:federation.members[0] needs exactly one of"),
    ([{"url": "https://binder.a.example/"}, {"url": "https://binder.a.example/x/"}], {},
     f"{P}:federation.members[1].name 'binder-a' is already members[0]'s name"),
    ([{"url": "https://2i2c.binder.example/"}], {},
     f"{P}:federation.members[0].url gives the name '2i2c-binder', which must be"),
    (URLS, {"cluster": {"userPool": {"maxCount": 3}}}, f"{P}:cluster is not used when mode is federation"),
    (URLS, {"schedule": {"timeZone": "Europe/London", "awake": [{"days": ["mon"], "from": "08:00", "to": "18:00"}]}},
     f"{P}:schedule is not used when mode is federation"),
    (URLS, {"https": False}, f"{P}:https must be true when mode is federation"),
    (URLS, {"dnsLabel": "a" * 33}, f"{P}:dnsLabel gives the container app name"),
    (URLS, {"federation": {"domainBound": True}}, f"{P}:federation.domainBound needs domain"),
    (URLS, {"federation": {"checks": {"periodSeconds": 60, "failedPeriodSeconds": 30}}},
     f"{P}:federation.checks.failedPeriodSeconds must be >= periodSeconds"),
])
def test_federation_rules(members, extra, expected):
    problems = refusals(**fed(members, **extra))
    assert any(line.startswith(expected) for line in problems), problems


@pytest.mark.parametrize(("member", "expected"), [
    ({"url": "http://binder.a.example/"}, f"{P}:federation.members[0].url must be an https:// address"),
    ({"url": "https://binder.a.example/?x=1"}, f"{P}:federation.members[0].url must be a BinderHub's address"),
    ({"stack": "public-binder"}, f"{P}:federation.members[0].stack must be a fully qualified stack name"),
    ({"stack": "a/b/c/d"}, f"{P}:federation.members[0].stack must be a fully qualified stack name"),
    ({"url": "https://a.example/", "name": "Bad_Name"}, f"{P}:federation.members[0].name must be"),
])
def test_member_fields(member, expected):
    problems = refusals(**fed([member]))
    assert any(line.startswith(expected) for line in problems), problems


def test_image_is_required_and_only_by_digest():
    problems = refusals(mode="federation", federation={"members": URLS})
    assert any(line.startswith(f"{P}:federation.image is required") for line in problems)
    for image in ("ghcr.io/myuni/redirector:latest", "ghcr.io/myuni/redirector@sha256:abc"):
        problems = refusals(mode="federation", federation={"members": URLS, "image": image})
        assert any(line.startswith(f"{P}:federation.image must name the image by digest") for line in problems)


def test_federation_block_is_refused_in_the_other_modes():
    for mode in ("binderhub", "jupyterhub", "tljh"):
        problems = refusals(mode=mode, federation={"members": URLS})
        assert f"{P}:federation is only used when mode is federation (this stack is {mode})" in problems


# ---- the plan under mocks ---------------------------------------------------------------------------------------


def test_resources_parents_and_inputs(render):
    plan = render(**fed([*URLS, {"stack": "organization/binderhub-azure/public-binder", "weight": 3}]))
    types = {r["type"] for r in plan["resources"]}
    assert types == {"azure-native:resources:ResourceGroup", "binderhub-azure:federation:Federation", ENV, APP, REF}
    group = one(plan, "azure-native:resources:ResourceGroup")["inputs"]
    assert group["resourceGroupName"] == "rg-testuni-federation"

    env = one(plan, ENV)
    assert env["parent"] == "federation"
    assert env["inputs"]["environmentName"] == "cae-testuni-federation"
    assert env["inputs"]["resourceGroupName"] == "rg-testuni-federation" and env["inputs"]["location"] == "westeurope"
    assert "workloadProfiles" not in env["inputs"] and "appLogsConfiguration" not in env["inputs"]  # Consumption only

    app = one(plan, APP)
    inputs = app["inputs"]
    assert app["parent"] == "federation" and "federation-environment" in app["dependsOn"]
    assert inputs["containerAppName"] == "testuni-binder"
    assert inputs["environmentId"].endswith("/providers/Microsoft.App/managedEnvironments/cae-testuni-federation")
    assert inputs["configuration"]["ingress"] == {"external": True, "targetPort": 8080, "transport": "auto",
                                                  "allowInsecure": False}
    (container,) = inputs["template"]["containers"]
    assert container["image"] == IMAGE
    assert container["resources"] == {"cpu": 0.25, "memory": "0.5Gi"}
    assert {p["type"]: p["httpGet"]["path"] for p in container["probes"]} == {"Liveness": "/health",
                                                                              "Readiness": "/health"}
    assert inputs["template"]["scale"] == {"minReplicas": 1, "maxReplicas": 1}

    ref = one(plan, REF)
    assert ref["parent"] == "federation" and ref["options"]["read"] == "organization/binderhub-azure/public-binder"

    # The redirector's configuration: the stack member's url is its `url` output, the URL members as given
    # (normalised); the app reads it from FEDERATION_CONFIG, and the redirector accepts it.
    env_vars = {e["name"]: e["value"] for e in container["env"]}
    doc = json.loads(env_vars["FEDERATION_CONFIG"])
    assert doc["members"] == [
        {"name": "binder-one", "url": "https://binder.one.example/", "weight": 2.0, "prime": True},
        {"name": "binder-two", "url": "https://binder.two.example/", "weight": 1.0, "prime": False},
        {"name": "public-binder", "url": "https://openuni-binder.uksouth.cloudapp.azure.com/", "weight": 3.0,
         "prime": False},
    ]
    settings = redirector_settings(doc)
    assert settings.prime.url == "https://binder.one.example/"
    assert env_vars["PORT"] == "8080"

    fqdn = f"testuni-binder.{environment_domain('cae-testuni-federation', 'westeurope')}"
    outputs = plan["outputs"]
    assert outputs["url"] == f"https://{fqdn}/" and outputs["azureDnsName"] == fqdn
    assert outputs["domainVerificationId"] == verification_id("testuni-binder")
    assert outputs["mode"] == "federation" and "publicIp" not in outputs
    assert fqdn in outputs["nextStep"]


def test_member_names_come_from_the_stack_or_the_host():
    cfg = parsed(**fed([{"url": "https://binder.one.example/"}, {"url": "https://hub.two.example/"},
                        {"stack": "organization/binderhub-azure/course-hub", "name": "course"}]))
    assert [m.label for m in cfg.federation.members] == ["binder-one", "hub-two", "course"]


def test_prime_defaults_to_the_first_member_with_a_note(render):
    plan = render(**fed([{"url": "https://one.example/"}, {"url": "https://two.example/"}]))
    doc = json.loads({e["name"]: e["value"] for e in one(plan, APP)["inputs"]["template"]["containers"][0]["env"]}
                     ["FEDERATION_CONFIG"])
    assert [m["prime"] for m in doc["members"]] == [True, False]
    assert any("none is prime: true, so the first, one," in note for note in plan["notes"])


def test_health_check_settings_reach_the_redirector(render):
    plan = render(**fed(URLS, federation={"checks": {"periodSeconds": 20, "failedPeriodSeconds": 600,
                                                      "retries": 3, "timeoutSeconds": 4, "podHeadroom": 25}}))
    env = one(plan, APP)["inputs"]["template"]["containers"][0]["env"]
    checks = json.loads(next(e["value"] for e in env if e["name"] == "FEDERATION_CONFIG"))["checks"]
    assert checks == {"periodSeconds": 20, "failedPeriodSeconds": 600, "retries": 3, "timeoutSeconds": 4,
                      "podHeadroom": 25}
    assert redirector_settings(json.loads(next(e["value"] for e in env))).checks.pod_headroom == 25


def test_custom_domain_in_two_steps(render):
    # Step 1: the host name is added to the app unbound, and the managed certificate requested after it.
    plan = render(**fed(URLS), domain="binder.fed.example")
    app, cert = one(plan, APP), one(plan, CERT)
    assert app["inputs"]["configuration"]["ingress"]["customDomains"] == [{"name": "binder.fed.example",
                                                                           "bindingType": "Disabled"}]
    assert cert["parent"] == "federation" and "federation-app" in cert["dependsOn"]
    assert cert["inputs"]["properties"] == {"subjectName": "binder.fed.example", "domainControlValidation": "CNAME"}
    assert cert["inputs"]["environmentName"] == "cae-testuni-federation"
    assert "asuid.binder.fed.example" in plan["outputs"]["nextStep"]
    # Step 2 (federation.domainBound): the app binds the issued certificate; the site is the domain.
    plan = render(**fed(URLS, federation={"domainBound": True}), domain="binder.fed.example")
    app, cert = one(plan, APP), one(plan, CERT)
    (binding,) = app["inputs"]["configuration"]["ingress"]["customDomains"]
    assert binding["bindingType"] == "SniEnabled"
    assert binding["certificateId"].endswith("/managedEnvironments/cae-testuni-federation/managedCertificates/"
                                             "cert-testuni-federation")
    assert "federation-certificate" in app["dependsOn"] and "federation-app" not in cert["dependsOn"]
    assert plan["outputs"]["url"] == "https://binder.fed.example/"


def test_unknown_member_stack_is_a_visible_stand_in_with_a_note(render):
    plan = render(**fed([{"stack": "organization/binderhub-azure/nowhere"},
                         {"stack": "acme/other-project/prod"}, *URLS[:1]]))
    assert plan["outputs"]["members"]["nowhere"] == "https://nowhere.stand-in.invalid/"
    assert plan["outputs"]["members"]["prod"] == "https://prod.stand-in.invalid/"
    assert any("no Pulumi.nowhere.yaml in this repository" in note for note in plan["notes"])
    assert any("acme/other-project/prod is a stack of another project" in note for note in plan["notes"])


# ---- the example federation -------------------------------------------------------------------------------------


def test_example_federation_of_the_two_binder_examples_is_planned_offline():
    raw, secret = read_stack_file(EXAMPLE)
    plan = build_plan(raw, secret, "federation")
    refs = {r["options"]["read"] for r in resources_of(plan, REF)}
    assert refs == {"organization/binderhub-azure/public-binder", "organization/binderhub-azure/dockerhub-binder"}
    # Each member stack's url is the one its own plan computes, from its file in examples/.
    expected = {}
    for name in ("public-binder", "dockerhub-binder"):
        member_raw, member_secret = read_stack_file(ROOT / "examples" / f"Pulumi.{name}.yaml")
        for key in ("authClientSecret", "dockerHubToken"):
            member_raw.setdefault(f"{P}:{key}", "x")
            member_secret |= {f"{P}:{key}"}
        member_plan = build_plan(member_raw, member_secret, name)
        expected[name] = member_plan["outputs"]["url"]
    assert plan["outputs"]["members"] == {**expected, "partner": "https://binder.partner.example/"}
    assert plan["notes"] == []
    doc = json.loads(next(e["value"] for e in named(plan, "federation-app")["inputs"]["template"]["containers"][0]
                          ["env"] if e["name"] == "FEDERATION_CONFIG"))
    assert redirector_settings(doc).prime.name == "public-binder"
    assert plan["costEstimate"]["busyMonthly"] == pytest.approx(19.71, abs=0.02)
    assert member_stacks.member_stack_url("organization/binderhub-azure/public-binder")[1] is None


def test_cost_command_prints_the_redirector():
    proc = subprocess.run([sys.executable, "-m", "tools.cost", "--config-file", str(EXAMPLE), "--offline"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Redirector vCPU at the active rate (Container Apps" in proc.stdout
    assert "$5.91" in proc.stdout and "$19.71" in proc.stdout


def test_cost_model_prices_one_always_on_replica():
    raw, secret = read_stack_file(EXAMPLE)
    doc = cost.estimate(parse_config(raw, secret), offline=True)
    items = {item["name"].split(" (")[0]: item for item in doc["items"]}
    active = items["Redirector vCPU at the active rate"]
    assert (active["idleQuantity"], active["quantity"], active["unitPrice"]) == (0, 0.25, 0.0864)
    assert items["Redirector vCPU at the idle rate"]["idleMonthly"] == pytest.approx(0.25 * 730 * 0.0108, abs=0.01)
    assert items["Redirector memory"]["busyMonthly"] == pytest.approx(0.5 * 730 * 0.0108, abs=0.01)
    assert doc["idleMonthly"] == pytest.approx(5.91, abs=0.02) and not doc["excludesUnknown"]
    assert cost.price_unit("1 Second") == "second" and cost.price_unit("1 GiB Second") == "second"


# ---- the image ---------------------------------------------------------------------------------------------------


def test_image_is_built_from_a_pinned_base_with_the_tested_packages():
    import re

    import yaml

    dockerfile = (ROOT / "redirector" / "Dockerfile").read_text()
    (base,) = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert re.fullmatch(r"FROM python:3\.\d+-slim@sha256:[0-9a-f]{64}", base)
    modules = {p.name for p in (ROOT / "redirector").glob("*.py")}
    copied = next(line for line in dockerfile.splitlines() if line.startswith("COPY __init__.py"))
    assert set(copied.split()[1:-1]) == modules  # every module of the package, nothing else
    assert "USER 10001" in dockerfile
    pins = [line for line in (ROOT / "redirector" / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all("==" in pin for pin in pins)
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert all(pin in dev for pin in pins)  # the tests run the packages the image installs

    workflow = (ROOT / ".github" / "workflows" / "redirector-image.yml").read_text()
    doc = yaml.safe_load(workflow)
    assert doc["permissions"] == {}
    assert doc["jobs"]["image"]["needs"] == "test"
    assert doc["jobs"]["image"]["permissions"] == {"contents": "read", "packages": "write"}
    main = (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()
    for use in re.findall(r"uses: (\S+@[0-9a-f]{40})", workflow):
        assert use in main  # the same pinned commits as the main workflow
    assert not re.findall(r"uses: \S+@(?![0-9a-f]{40}\b)", workflow)
    assert "docker build" in workflow and "RepoDigests" in workflow and "redirector" in workflow


def test_image_workflow_has_no_medium_or_higher_finding_from_zizmor():
    zizmor = Path(sys.executable).parent / "zizmor"
    proc = subprocess.run([str(zizmor), "--offline", "--persona", "pedantic", "--min-severity", "medium",
                           "--format", "json", ".github/workflows/redirector-image.yml"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert json.loads(proc.stdout or "[]") == [], proc.stdout
