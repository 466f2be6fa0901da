"""Pure Helm values builders, checked against the upstream chart schemas without Pulumi."""

from __future__ import annotations

import json

import pytest

from components import charts, hub_spec, ingress_spec
from components.config_load import parse_config
from components.hub_spec import HubSecrets
from tests.helpers import raw_config

SECRETS = HubSecrets(proxy_token="p" * 64, cookie_secret="c" * 64, crypt_key="k" * 64,
                     binder_api_token="b" * 64, build_token="t" * 64, auth_client_secret="oauth-secret")
GITHUB = {"type": "github", "clientId": "gh-client", "allowedOrganizations": ["testuni"], "admins": ["alice"]}
ENTRA = {"type": "entra", "clientId": "entra-client", "tenantId": "12345678-1234-1234-1234-123456789012"}


def cfg(secrets=None, **keys):
    raw, secret = raw_config(secrets, **keys)
    return parse_config(raw, secret)


def hub_mode_values(auth):
    return hub_spec.release_values(cfg(mode="jupyterhub", auth=auth, secrets={"authClientSecret": "s"}),
                                     SECRETS, None)


def binder_values(**keys):
    c = cfg(**keys)
    wiring = hub_spec.acr_wiring(c, "testunibinderabc123.azurecr.io", "testunibinderabc123", "pw")
    return hub_spec.release_values(c, SECRETS, wiring)


CASES = {
    "binder-acr-anonymous": lambda: binder_values(),
    "binder-github": lambda: binder_values(auth=GITHUB, secrets={"authClientSecret": "s"}),
    "binder-entra-domain": lambda: binder_values(auth=ENTRA, domain="binder.testuni.example",
                                                 secrets={"authClientSecret": "s"}),
    "binder-dockerhub-spot": lambda: hub_spec.release_values(
        c := cfg(registry={"type": "dockerhub", "username": "testuni"}, secrets={"dockerHubToken": "t"},
                 cluster={"userPool": {"spot": True}}),
        SECRETS, hub_spec.dockerhub_wiring(c, "dckr-token")),
    "binder-http-only": lambda: binder_values(https=False, contactEmail=None),
    "hub-github": lambda: hub_mode_values(GITHUB),
    "hub-entra": lambda: hub_mode_values(ENTRA),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_pass_the_chart_schema(case):
    values = CASES[case]()
    chart = charts.JUPYTERHUB if case.startswith("hub-") else charts.BINDERHUB
    assert charts.schema_errors(chart, values) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_host_docker_socket(case):
    values = CASES[case]()
    text = json.dumps(charts.coalesce(charts.BINDERHUB if "binder" in case else charts.JUPYTERHUB, values))
    assert "/var/run/docker.sock" not in text
    if "binder" in case:
        # In dind mode the build pods and the image cleaner use dind.hostSocketDir/hostLibDir
        # (templates at af9ca8b1); imageCleaner.host.* is read only in host mode, so not set.
        assert values["imageBuilderType"] == "dind"
        assert (values["dind"]["hostSocketDir"], values["dind"]["hostLibDir"]) == ("/var/run/dind", "/var/lib/dind")
        assert "host" not in values.get("imageCleaner", {})


def test_binderhub_acr_wiring_and_routing():
    values = binder_values()
    host = "testuni-binder.westeurope.cloudapp.azure.com"
    assert values["registry"] == {"url": "https://testunibinderabc123.azurecr.io",
                                  "username": "testunibinderabc123", "password": "pw"}
    binder = values["config"]["BinderHub"]
    assert binder["image_prefix"] == "testunibinderabc123.azurecr.io/binder/testuni-"
    # No token URL: BinderHub follows ACR's challenge (jupyterhub/binderhub#1620).
    assert "DockerRegistry" not in values["config"]
    assert binder["hub_url"] == f"https://{host}/jupyter/"
    assert binder["hub_url_local"] == "http://proxy-public/jupyter/"
    assert binder["use_registry"] is True and binder["auth_enabled"] is False
    assert binder["build_token_secret"] == SECRETS.build_token
    jh = values["jupyterhub"]
    assert jh["hub"]["baseUrl"] == "/jupyter/"
    assert jh["hub"]["services"]["binder"]["apiToken"] == SECRETS.binder_api_token
    assert values["service"]["type"] == "ClusterIP" and jh["proxy"]["service"]["type"] == "ClusterIP"
    # One host: BinderHub's ingress asks for the certificate, JupyterHub's serves the same Secret.
    assert values["ingress"]["hosts"] == [host] and jh["ingress"]["hosts"] == [host]
    assert values["ingress"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-production"}
    assert "annotations" not in jh["ingress"]
    assert values["ingress"]["tls"] == jh["ingress"]["tls"] == [{"hosts": [host], "secretName": "testuni-tls"}]


def test_chart_secrets_are_all_set_explicitly():
    jh = binder_values()["jupyterhub"]
    assert jh["proxy"]["secretToken"] == SECRETS.proxy_token
    assert jh["hub"]["cookieSecret"] == SECRETS.cookie_secret
    assert jh["hub"]["config"]["CryptKeeper"]["keys"] == [SECRETS.crypt_key]


def test_dockerhub_wiring_leaves_the_url_to_the_chart():
    values = CASES["binder-dockerhub-spot"]()
    assert values["registry"] == {"username": "testuni", "password": "dckr-token"}
    assert values["config"]["BinderHub"]["image_prefix"] == "testuni/binder-"
    assert "DockerRegistry" not in values["config"]
    assert charts.coalesce(charts.BINDERHUB, values)["registry"]["url"] is None


def test_spot_pool_is_tolerated_by_user_pods_and_builds_stay_on_demand():
    values = CASES["binder-dockerhub-spot"]()
    # Never the system node ("core"): the build pool, which a spot user pool always gets.
    assert values["config"]["BinderHub"]["build_node_selector"] == {"hub.jupyter.org/node-purpose": "build"}
    assert binder_values()["config"]["BinderHub"]["build_node_selector"] == {"hub.jupyter.org/node-purpose": "user"}
    opted_in = binder_values(cluster={"buildPool": {"maxCount": 3}})
    assert opted_in["config"]["BinderHub"]["build_node_selector"] == {"hub.jupyter.org/node-purpose": "build"}
    jh = values["jupyterhub"]
    assert {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"} in jh["singleuser"]["extraTolerations"]


def test_github_login():
    values = hub_mode_values(GITHUB)
    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "github"
    gh = config["GitHubOAuthenticator"]
    assert gh["client_id"] == "gh-client" and gh["client_secret"] == "oauth-secret"
    assert gh["oauth_callback_url"] == "https://testuni-hub.westeurope.cloudapp.azure.com/hub/oauth_callback"
    assert gh["allowed_organizations"] == ["testuni"]
    assert config["Authenticator"]["admin_users"] == ["alice"]
    assert "allow_all" not in config["Authenticator"]
    assert values["hub"]["baseUrl"] == "/"
    assert values["ingress"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-production"}


def test_entra_login():
    config = hub_mode_values(ENTRA)["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "azuread"
    entra = config["AzureAdOAuthenticator"]
    assert entra["tenant_id"] == ENTRA["tenantId"] and entra["client_secret"] == "oauth-secret"
    assert config["Authenticator"]["allow_all"] is True


def test_authenticated_binder():
    values = CASES["binder-github"]()
    assert values["config"]["BinderHub"]["auth_enabled"] is True
    hub = values["jupyterhub"]["hub"]
    assert hub["config"]["BinderSpawner"]["auth_enabled"] is True
    assert hub["services"]["binder"]["oauth_redirect_uri"] == (
        "https://testuni-binder.westeurope.cloudapp.azure.com/oauth_callback")
    assert hub["services"]["binder"]["apiToken"] == SECRETS.binder_api_token
    assert "access:services!service=binder" in hub["loadRoles"]["user"]["scopes"]
    assert hub["config"]["GitHubOAuthenticator"]["oauth_callback_url"] == (
        "https://testuni-binder.westeurope.cloudapp.azure.com/jupyter/hub/oauth_callback")


def test_limits_and_culling():
    jh = binder_values(limits={"memory": "4G", "cpu": 2, "cullIdleMinutes": 15, "maxAgeHours": 2,
                               "perRepoQuota": 7})
    assert jh["config"]["BinderHub"]["per_repo_quota"] == 7
    single = jh["jupyterhub"]["singleuser"]
    assert single["memory"] == {"limit": "4G", "guarantee": "4G"}
    assert single["cpu"]["limit"] == 2
    assert single["cloudMetadata"]["blockWithIptables"] is True
    cull = jh["jupyterhub"]["cull"]
    assert (cull["timeout"], cull["maxAge"], cull["enabled"]) == (900, 7200, True)


def test_http_only_has_no_tls():
    values = CASES["binder-http-only"]()
    assert "tls" not in values["ingress"] and "annotations" not in values["ingress"]
    assert values["config"]["BinderHub"]["hub_url"].startswith("http://")


def test_helm_values_are_merged_last():
    values = binder_values(helmValues={
        "binderhub": {"config": {"BinderHub": {"per_repo_quota": 3}}},
        "jupyterhub": {"singleuser": {"image": {"name": "quay.io/jupyter/scipy-notebook", "tag": "latest"},
                                      "defaultUrl": None}},
        "uncheckedPaths": ["jupyterhub.singleuser.defaultUrl"],  # a null on a rendered key must be listed
    })
    assert values["config"]["BinderHub"]["per_repo_quota"] == 3
    assert values["config"]["BinderHub"]["use_registry"] is True  # merged, not replaced
    assert values["jupyterhub"]["singleuser"]["image"]["name"] == "quay.io/jupyter/scipy-notebook"
    assert "defaultUrl" not in values["jupyterhub"]["singleuser"]  # null removes a key, as in Helm
    assert charts.schema_errors(charts.BINDERHUB, values) == []


def test_schema_errors_name_the_path():
    values = charts.merge(binder_values(), {"jupyterhub": {"hub": {"baseURL": "/x/"}}})
    errors = charts.schema_errors(charts.BINDERHUB, values)
    assert any(e.startswith("jupyterhub.hub:") and "baseURL" in e for e in errors)


def test_merge_follows_helm():
    assert charts.merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "d": None}) == {"a": {"b": 1, "c": [3]}}


def test_ingress_values():
    c = cfg()
    traefik = ingress_spec.traefik_values(c, "pip-testuni-ingress", "rg-testuni-binderhub")
    annotations = traefik["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/azure-pip-name"] == "pip-testuni-ingress"
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-resource-group"] == "rg-testuni-binderhub"
    assert traefik["ingressClass"]["name"] == ingress_spec.INGRESS_CLASS
    assert traefik["ports"]["web"]["http"]["redirections"]["entryPoint"]["to"] == "websecure"
    assert traefik["ports"]["web"]["allowACMEByPass"] is True
    plain_http = ingress_spec.traefik_values(cfg(https=False, contactEmail=None), "p", "g")
    assert "redirections" not in json.dumps(plain_http["ports"])  # no redirect to HTTPS without HTTPS
    assert ingress_spec.cert_manager_values()["crds"]["enabled"] is True
    issuer = ingress_spec.cluster_issuer_spec(c, "staging")["acme"]
    assert issuer["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert issuer["email"] == "rse@testuni.example"
    assert issuer["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
