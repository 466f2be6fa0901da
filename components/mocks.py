"""Offline stand-ins for Azure and Kubernetes, used by the plan command and the tests.

`PlanMocks` answers resource registrations and invokes with plausible outputs (no
network, no credentials). `RecordingMonitor` keeps what Pulumi's own mock monitor
drops: each resource's parent, protect flag, dependencies and options, its inputs
with every secret leaf replaced by "[secret]", and the stack outputs.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from .stackfile import SECRET

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
KUBELET_OBJECT_ID = "22222222-2222-2222-2222-222222222222"
PUBLIC_IP = "198.51.100.10"  # documentation range: never a real address
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig


def fake_secret(name: str) -> str:
    """The mock value of a generated secret; tests assert it never shows in plain text."""
    return "mocksecret-" + hashlib.sha256(name.encode()).hexdigest()[:24]


def _arm_id(group: str, provider: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{name}"


class PlanMocks(pulumi.runtime.Mocks):
    """Outputs for the resource types the program creates."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        group = str(inputs.get("resourceGroupName", "rg"))
        if typ == "azure-native:resources:ResourceGroup":
            rg = inputs.get("resourceGroupName", name)
            return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}", {**inputs, "name": rg}
        if typ == "azure-native:containerservice:ManagedCluster":
            cname = inputs.get("resourceName", name)
            return _arm_id(group, "Microsoft.ContainerService/managedClusters", cname), {
                **inputs,
                "name": cname,
                "fqdn": f"{cname}.hcp.{inputs.get('location', 'region')}.azmk8s.io",
                "identity": {**inputs.get("identity", {}), "principalId": "33333333-3333-3333-3333-333333333333"},
                "identityProfile": {"kubeletidentity": {
                    "objectId": KUBELET_OBJECT_ID,
                    "clientId": "44444444-4444-4444-4444-444444444444",
                    "resourceId": _arm_id(group, "Microsoft.ManagedIdentity/userAssignedIdentities", "kubelet"),
                }},
            }
        if typ == "azure-native:containerregistry:Registry":
            rname = inputs.get("registryName", name)
            return _arm_id(group, "Microsoft.ContainerRegistry/registries", rname), {
                **inputs, "name": rname, "loginServer": f"{rname}.azurecr.io"}
        if typ == "azure-native:network:PublicIPAddress":
            pname = inputs.get("publicIpAddressName", name)
            dns = dict(inputs.get("dnsSettings") or {})
            if dns.get("domainNameLabel"):
                dns["fqdn"] = f"{dns['domainNameLabel']}.{inputs.get('location', 'region')}.cloudapp.azure.com"
            return _arm_id(group, "Microsoft.Network/publicIPAddresses", pname), {
                **inputs, "name": pname, "ipAddress": PUBLIC_IP, "dnsSettings": dns}
        if typ == "azure-native:compute:VirtualMachine":
            vname = inputs.get("vmName", name)
            return _arm_id(group, "Microsoft.Compute/virtualMachines", vname), {
                **inputs, "name": vname,
                "identity": {**(inputs.get("identity") or {}), "principalId": "77777777-7777-7777-7777-777777777777"}}
        if typ.startswith("azure-native:"):
            return _arm_id(group, typ.split(":")[1], name), {**inputs, "name": inputs.get("name", name)}
        if typ == "random:index/randomString:RandomString":
            length = int(inputs.get("length", 8))
            return name, {**inputs, "result": hashlib.sha256(name.encode()).hexdigest()[:length]}
        if typ in ("random:index/randomPassword:RandomPassword", "random:index/randomBytes:RandomBytes",
                   "random:index/randomId:RandomId"):
            value = fake_secret(name)
            return name, {**inputs, "result": value, "hex": value, "base64": value}
        return f"{name}-id", inputs

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        token = args.token
        if token == "azure-native:authorization:getClientConfig":
            return {"clientId": "55555555-5555-5555-5555-555555555555",
                    "objectId": "66666666-6666-6666-6666-666666666666",
                    "subscriptionId": SUBSCRIPTION, "tenantId": TENANT}
        if token in ("azure-native:containerservice:listManagedClusterUserCredentials",
                     "azure-native:containerservice:listManagedClusterAdminCredentials"):
            kubeconfig = (
                "apiVersion: v1\nkind: Config\nclusters:\n- name: offline\n  cluster:\n"
                "    server: https://offline.invalid:443\ncontexts:\n- name: offline\n  context:\n"
                "    cluster: offline\n    user: offline\ncurrent-context: offline\nusers:\n"
                f"- name: offline\n  user:\n    token: {fake_secret('kubeconfig')}\n"
            )
            return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}
        if token == "azure-native:containerregistry:listRegistryCredentials":
            return {"username": args.args.get("registryName", "registry"),
                    "passwords": [{"name": "password", "value": fake_secret("acr-password")},
                                  {"name": "password2", "value": fake_secret("acr-password2")}]}
        if token == "azure-native:storage:listStorageAccountKeys":
            account = args.args.get("accountName", "account")
            return {"keys": [{"keyName": "key1", "permissions": "FULL", "value": fake_secret(f"{account}-key1")},
                             {"keyName": "key2", "permissions": "FULL", "value": fake_secret(f"{account}-key2")}]}
        return {}


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def shown(value: Any) -> Any:
    """A serialized property value as plain JSON data, each secret leaf as "[secret]"."""
    if isinstance(value, struct_pb2.Struct):
        sig = value.fields.get(_SIG)
        if sig is not None:
            if sig.string_value == _SECRET_SIG:
                return SECRET
            if sig.string_value == _RESOURCE_SIG:
                return value.fields["urn"].string_value
        return {k: shown(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [shown(v) for v in value]
    if value == rpc.UNKNOWN:
        return "[unknown]"
    if isinstance(value, float):
        return _number(value)
    return value


@dataclass
class Registration:
    """One resource as the plan shows it."""

    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    protect: bool
    depends_on: list[str]
    options: dict[str, Any] = field(default_factory=dict)


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, plus a record of everything the plan needs to show."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            options: dict[str, Any] = {}
            if request.ignoreChanges:
                options["ignoreChanges"] = list(request.ignoreChanges)
            if request.deleteBeforeReplace:
                options["deleteBeforeReplace"] = True
            if request.HasField("customTimeouts"):
                t = request.customTimeouts
                options["customTimeouts"] = {k: v for k, v in
                                             (("create", t.create), ("update", t.update), ("delete", t.delete)) if v}
            if request.provider:  # "<provider urn>::<provider id>"
                options["provider"] = request.provider.rsplit("::", 1)[0].split("::")[-1]
            self.registrations.append(Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                inputs=shown(request.object),
                protect=bool(request.protect),
                depends_on=sorted(set(request.dependencies)),
                options=options,
            ))
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = shown(request.outputs)
        return super().RegisterResourceOutputs(request)
