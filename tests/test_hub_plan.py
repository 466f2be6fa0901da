"""The hub releases as the whole program renders them under mocks, for each kind of stack."""

from __future__ import annotations

import json

import pytest

from components import charts
from tests.helpers import SECRET, named, one, raw_config, release, resources_of
from tools.mocks import CLUSTER_PRINCIPAL_ID, PUBLIC_IP, fake_secret, kubeconfig, registry_password
from tools.plan import build_plan

PINNED = {c.name: c for c in (charts.TRAEFIK, charts.CERT_MANAGER)}

GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"]}
ENTRA = {"type": "entra", "clientId": "entra-client", "tenantId": "12345678-1234-1234-1234-123456789012"}
OAUTH_SECRET = "plaintext-oauth-secret-must-not-leak"
DOCKER_TOKEN = "plaintext-dockerhub-token-must-not-leak"

STACKS = {
    "binder-acr": {},
    "binder-acr-domain-github": {"domain": "binder.testuni.example", "auth": GITHUB,
                                 "secrets": {"authClientSecret": OAUTH_SECRET}},
    "binder-dockerhub-entra": {"registry": {"type": "dockerhub", "username": "testuni"}, "auth": ENTRA,
                               "secrets": {"authClientSecret": OAUTH_SECRET, "dockerHubToken": DOCKER_TOKEN}},
    "hub-github": {"mode": "jupyterhub", "auth": GITHUB, "secrets": {"authClientSecret": OAUTH_SECRET}},
    "hub-entra-domain": {"mode": "jupyterhub", "auth": ENTRA, "domain": "hub.testuni.example",
                         "secrets": {"authClientSecret": OAUTH_SECRET}},
    "binder-http": {"https": False, "contactEmail": None},
}


@pytest.fixture(params=sorted(STACKS))
def stack(request, render):
    keys = dict(STACKS[request.param])
    return request.param, render(**keys)


def test_every_rendered_values_document_passes_its_schema(stack):
    name, plan = stack
    hub_release = release(plan, "binderhub" if name.startswith("binder") else "jupyterhub")
    chart = charts.BINDERHUB if name.startswith("binder") else charts.JUPYTERHUB
    assert (hub_release["chart"], hub_release["version"]) == (chart.name, chart.version)
    assert hub_release["repository"] == "https://jupyterhub.github.io/helm-chart/"
    assert charts.schema_errors(chart, hub_release["values"]) == []


def test_releases_are_pinned_atomic_and_on_the_cluster(stack):
    name, plan = stack
    releases = resources_of(plan, "kubernetes:helm.sh/v3:Release")
    expected = {"traefik", "binderhub" if name.startswith("binder") else "jupyterhub"}
    if not name.endswith("http"):
        expected.add("cert-manager")
    assert {r["inputs"]["name"] for r in releases} == expected
    hub_chart = charts.BINDERHUB if name.startswith("binder") else charts.JUPYTERHUB
    for res in releases:
        inputs = res["inputs"]
        chart = PINNED.get(inputs["name"], hub_chart)
        assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (
            chart.name, chart.version, chart.repo)
        assert inputs["atomic"] is True and inputs["timeout"] >= 600
        assert inputs["namespace"] == inputs["name"] and inputs["createNamespace"] is True
        assert res["options"]["provider"] == "cluster-k8s"


def test_no_secret_in_plain_text(stack):
    _, plan = stack
    text = json.dumps(plan)
    registry = resources_of(plan, "azure-native:containerregistry:Registry")
    credentials = [registry_password(r["inputs"]["registryName"], 0) for r in registry]
    for leaked in (OAUTH_SECRET, DOCKER_TOKEN, "mocksecret-", *credentials,
                   fake_secret("kubeconfig-user-aks-testuni")):
        assert leaked not in text
    assert kubeconfig("aks-testuni", "user").split("token: ")[1].strip() == fake_secret("kubeconfig-user-aks-testuni")
    assert plan["outputs"]["kubeconfig"] == SECRET


def test_no_host_docker_socket(stack):
    _, plan = stack
    for rel in plan["helmReleases"]:
        chart = {"binderhub": charts.BINDERHUB, "jupyterhub": charts.JUPYTERHUB}.get(rel["name"])
        document = charts.coalesce(chart, rel["values"]) if chart else rel["values"]
        assert "/var/run/docker.sock" not in json.dumps(document)
        if rel["name"] == "binderhub":
            assert document["imageBuilderType"] == "dind" and document["dind"]["hostSocketDir"] == "/var/run/dind"


def test_generated_chart_secrets_are_secret_and_stable(render):
    plan = render()
    values = release(plan, "binderhub")["values"]
    jh = values["jupyterhub"]
    assert jh["proxy"]["secretToken"] == SECRET
    assert jh["hub"]["cookieSecret"] == SECRET
    assert jh["hub"]["config"]["CryptKeeper"]["keys"] == [SECRET]
    assert jh["hub"]["services"]["binder"]["apiToken"] == SECRET
    assert values["config"]["BinderHub"]["build_token_secret"] == SECRET
    assert values["registry"]["password"] == SECRET
    randoms = {r["name"] for r in resources_of(plan, "random:index/randomBytes:RandomBytes")}
    assert randoms == {"hub-proxy-token", "hub-cookie-secret", "hub-crypt-key", "hub-binder-api-token",
                       "hub-build-token"}
    # Nothing rotates them: no keepers, so an update keeps each value (the state holds it).
    for res in resources_of(plan, "random:index/randomBytes:RandomBytes"):
        assert res["inputs"] == {"length": 32}, res["name"]
    # Same config, same plan: a fresh run of the program (not the fixture's cache) renders it again.
    fresh = build_plan(*raw_config(), "test", mask_secrets=False)
    assert json.dumps(fresh, sort_keys=True) == json.dumps(plan, sort_keys=True)


def test_acr_registry_wiring(render):
    plan = render()
    login = one(plan, "azure-native:containerregistry:Registry")["inputs"]["registryName"] + ".azurecr.io"
    values = release(plan, "binderhub")["values"]
    assert values["registry"]["url"] == f"https://{login}"
    assert values["registry"]["username"] == login.removesuffix(".azurecr.io")  # ACR's admin user
    assert values["registry"]["password"] == SECRET
    assert values["config"]["BinderHub"]["image_prefix"] == f"{login}/binder/testuni-"
    # No token URL: BinderHub follows ACR's challenge (jupyterhub/binderhub#1620).
    assert "DockerRegistry" not in values["config"]
    assert plan["outputs"]["registryLoginServer"] == login


def test_dockerhub_wiring(render):
    plan = render(**{k: v for k, v in STACKS["binder-dockerhub-entra"].items()})
    values = release(plan, "binderhub")["values"]
    assert values["registry"] == {"username": "testuni", "password": SECRET}
    assert values["config"]["BinderHub"]["image_prefix"] == "testuni/binder-"


def test_client_secret_reaches_the_authenticator_as_a_secret(render):
    plan = render(**STACKS["hub-github"])
    config = release(plan, "jupyterhub")["values"]["hub"]["config"]
    assert config["GitHubOAuthenticator"]["client_secret"] == SECRET
    plan = render(**STACKS["binder-dockerhub-entra"])
    config = release(plan, "binderhub")["values"]["jupyterhub"]["hub"]["config"]
    assert config["AzureAdOAuthenticator"]["client_secret"] == SECRET


def test_public_address_without_domain(render):
    plan = render()
    ip = named(plan, "ingress-ip")
    assert ip["protect"] is True
    inputs = ip["inputs"]
    assert inputs["sku"]["name"] == "Standard" and inputs["publicIPAllocationMethod"] == "Static"
    assert inputs["dnsSettings"]["domainNameLabel"] == "testuni-binder"
    host = "testuni-binder.westeurope.cloudapp.azure.com"
    assert plan["outputs"]["url"] == f"https://{host}/"
    assert plan["outputs"]["hubUrl"] == f"https://{host}/jupyter/"
    assert plan["outputs"]["azureDnsName"] == host
    assert plan["outputs"]["publicIp"] == PUBLIC_IP  # the ingress IP's address, as Azure reports it
    traefik = release(plan, "traefik")["values"]
    assert traefik["service"]["annotations"]["service.beta.kubernetes.io/azure-pip-name"] == inputs[
        "publicIpAddressName"]
    role = named(plan, "ingress-network-contributor")["inputs"]
    assert role["roleDefinitionId"].endswith("/4d97b98b-1d4f-4787-a291-c67834d212e7")
    assert role["principalId"] == CLUSTER_PRINCIPAL_ID  # the cluster's identity, not the kubelet's


def test_public_address_with_domain(render):
    plan = render(**STACKS["hub-entra-domain"])
    assert plan["outputs"]["url"] == "https://hub.testuni.example/"
    assert plan["outputs"]["hubUrl"] == "https://hub.testuni.example/"
    assert "A -> " in plan["outputs"]["nextStep"] and "hub.testuni.example" in plan["outputs"]["nextStep"]
    values = release(plan, "jupyterhub")["values"]
    assert values["ingress"]["hosts"] == ["hub.testuni.example"]


def test_cluster_issuers(render):
    plan = render()
    issuers = resources_of(plan, "kubernetes:cert-manager.io/v1:ClusterIssuer")
    assert {i["name"] for i in issuers} == {"ingress-letsencrypt-production", "ingress-letsencrypt-staging"}
    for issuer in issuers:
        assert "ingress-cert-manager" in issuer["dependsOn"]
        assert issuer["inputs"]["spec"]["acme"]["email"] == "rse@testuni.example"
    hub = named(plan, "hub-release")
    assert {"ingress-traefik", "ingress-letsencrypt-production", "ingress-letsencrypt-staging"} <= set(hub["dependsOn"])
    assert not resources_of(render(**STACKS["binder-http"]), "kubernetes:cert-manager.io/v1:ClusterIssuer")


def test_ingress_and_cert_manager_values_pass_their_chart_schemas(stack):
    _, plan = stack
    for rel in plan["helmReleases"]:
        chart = {"traefik": charts.TRAEFIK, "cert-manager": charts.CERT_MANAGER}.get(rel["name"])
        if chart:
            assert (rel["chart"], rel["version"], rel["repository"]) == (chart.name, chart.version, chart.repo)
            assert charts.schema_errors(chart, rel["values"]) == []
