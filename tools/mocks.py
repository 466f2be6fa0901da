"""Offline stand-ins for Azure and Kubernetes, used by the plan command and the tests.

`PlanMocks` answers resource registrations and invokes with outputs shaped like Azure's:
a resource's `name` is the explicit `*Name` input it was given (what Azure calls it), ARM
IDs nest child resources under their parents, and every credential, identity and key has
its own recognisable value, so a test can tell which one reached which input. Invokes
answer per argument (admin vs user credentials, the kubeconfig `format`). With
`preview=True` every computed output is unknown, as `pulumi preview` sees it.

`RecordingMonitor` keeps what Pulumi's own mock monitor drops: each resource's parent,
protect flag, dependencies and options, its inputs with every secret leaf replaced by
"[secret]" (and, for tests only, with secrets revealed), and the stack outputs.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from components.cluster_spec import AKS_ENTRA_SERVER_ID

from .member_stacks import member_stack_url
from .stackfile import SECRET

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
# Each identity its own object ID, so a test sees which principal got a role.
KUBELET_OBJECT_ID = "22222222-2222-2222-2222-222222222222"
KUBELET_CLIENT_ID = "44444444-4444-4444-4444-444444444444"
CLUSTER_PRINCIPAL_ID = "33333333-3333-3333-3333-333333333333"
DEPLOYER_CLIENT_ID = "55555555-5555-5555-5555-555555555555"
DEPLOYER_OBJECT_ID = "66666666-6666-6666-6666-666666666666"
VM_PRINCIPAL_ID = "77777777-7777-7777-7777-777777777777"
# A Logic App's system-assigned identity: this prefix and a number per workflow (sleep schedule).
WORKFLOW_PRINCIPAL_PREFIX = "88888888-8888-8888-8888-"
PUBLIC_IP = "198.51.100.10"  # documentation range: never a real address
UNKNOWN = rpc.UNKNOWN
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig

# The input that Azure takes as the resource's name, per resource type.
NAME_INPUTS = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:containerservice:ManagedCluster": "resourceName",
    "azure-native:containerservice:AgentPool": "agentPoolName",
    "azure-native:containerregistry:Registry": "registryName",
    "azure-native:network:PublicIPAddress": "publicIpAddressName",
    "azure-native:network:NetworkSecurityGroup": "networkSecurityGroupName",
    "azure-native:network:VirtualNetwork": "virtualNetworkName",
    "azure-native:network:Subnet": "subnetName",
    "azure-native:network:NetworkInterface": "networkInterfaceName",
    "azure-native:compute:VirtualMachine": "vmName",
    "azure-native:compute:VirtualMachineExtension": "vmExtensionName",
    "azure-native:compute:Disk": "diskName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:keyvault:Secret": "secretName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:storage:FileShare": "shareName",
    "azure-native:authorization:RoleAssignment": "roleAssignmentName",
    "azure-native:consumption:Budget": "budgetName",
    "azure-native:logic:Workflow": "workflowName",
    "azure-native:app:ManagedEnvironment": "environmentName",
    "azure-native:app:ContainerApp": "containerAppName",
    "azure-native:app:ManagedCertificate": "managedCertificateName",
}
# ARM path of each type below its resource group: (provider/type, parent input, child type).
_ARM_PATHS = {
    "azure-native:containerservice:ManagedCluster": ("Microsoft.ContainerService/managedClusters", None, None),
    "azure-native:containerservice:AgentPool": ("Microsoft.ContainerService/managedClusters", "resourceName",
                                                "agentPools"),
    "azure-native:containerregistry:Registry": ("Microsoft.ContainerRegistry/registries", None, None),
    "azure-native:network:PublicIPAddress": ("Microsoft.Network/publicIPAddresses", None, None),
    "azure-native:network:NetworkSecurityGroup": ("Microsoft.Network/networkSecurityGroups", None, None),
    "azure-native:network:VirtualNetwork": ("Microsoft.Network/virtualNetworks", None, None),
    "azure-native:network:Subnet": ("Microsoft.Network/virtualNetworks", "virtualNetworkName", "subnets"),
    "azure-native:network:NetworkInterface": ("Microsoft.Network/networkInterfaces", None, None),
    "azure-native:compute:VirtualMachine": ("Microsoft.Compute/virtualMachines", None, None),
    "azure-native:compute:VirtualMachineExtension": ("Microsoft.Compute/virtualMachines", "vmName", "extensions"),
    "azure-native:compute:Disk": ("Microsoft.Compute/disks", None, None),
    "azure-native:logic:Workflow": ("Microsoft.Logic/workflows", None, None),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", None, None),
    "azure-native:keyvault:Secret": ("Microsoft.KeyVault/vaults", "vaultName", "secrets"),
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", None, None),
    "azure-native:storage:BlobContainer": ("Microsoft.Storage/storageAccounts", "accountName",
                                           "blobServices/default/containers"),
    "azure-native:storage:FileShare": ("Microsoft.Storage/storageAccounts", "accountName",
                                       "fileServices/default/shares"),
    "azure-native:app:ManagedEnvironment": ("Microsoft.App/managedEnvironments", None, None),
    "azure-native:app:ContainerApp": ("Microsoft.App/containerApps", None, None),
    "azure-native:app:ManagedCertificate": ("Microsoft.App/managedEnvironments", "environmentName",
                                            "managedCertificates"),
}
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def environment_domain(environment: str, location: str) -> str:
    """The mock default domain of a Container Apps environment (Azure makes up a unique label)."""
    return f"mock{hashlib.sha256(environment.encode()).hexdigest()[:8]}.{location}.azurecontainerapps.io"


def verification_id(app_name: str) -> str:
    """The mock `customDomainVerificationId` of a container app (Azure's is 64 hex digits)."""
    return hashlib.sha256(f"asuid-{app_name}".encode()).hexdigest().upper()


def fake_secret(name: str) -> str:
    """The mock value of a generated secret or credential, one per `name`; tests assert it never
    shows in plain text, and which input it reaches."""
    return "mocksecret-" + hashlib.sha256(name.encode()).hexdigest()[:24]


def _guid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _arm_id(group: str, provider: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{name}"


def kubeconfig(cluster: str, kind: str) -> str:
    """The mock kubeconfig of `listManagedCluster{Admin,User}Credentials`: `kind` is "admin",
    "user", or "user-exec"/"user-azure" for the user credential in that `format`."""
    if kind == "user-exec":
        user: dict[str, Any] = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
            "args": ["get-token", "--login", "devicecode", "--server-id", AKS_ENTRA_SERVER_ID],
            "env": None, "interactiveMode": "IfAvailable", "provideClusterInfo": False}}
    elif kind == "user-azure":
        user = {"auth-provider": {"name": "azure", "config": {"apiserver-id": AKS_ENTRA_SERVER_ID}}}
    else:
        user = {"token": fake_secret(f"kubeconfig-{kind}-{cluster}")}
    user_name = f"clusterAdmin_{cluster}" if kind == "admin" else f"clusterUser_{cluster}"
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": f"https://{cluster}.hcp.offline.invalid:443"}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user_name}}],
        "current-context": cluster,
        "users": [{"name": user_name, "user": user}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def registry_password(registry: str, index: int) -> str:
    """The mock value of an ACR admin password (`index` 0 or 1)."""
    return fake_secret(f"acr-{registry}-password{index + 1}")


def storage_key(group: str, account: str, index: int) -> str:
    """The mock value of a storage account key (`index` 0 or 1) of `account` in resource group
    `group`: the key read from the wrong group is a different value."""
    return fake_secret(f"storage-{group}/{account}-key{index + 1}")


class PlanMocks(pulumi.runtime.Mocks):
    """Outputs for the resource types the program creates.

    `client_id`/`object_id` stand for whoever runs `pulumi up` (a service principal unless
    `client_id` is the Azure CLI's application ID). With `preview=True`, the outputs Azure
    computes are unknown, as during `pulumi preview`.
    """

    def __init__(self, *, client_id: str = DEPLOYER_CLIENT_ID, object_id: str = DEPLOYER_OBJECT_ID,
                 preview: bool = False):
        self.client_id = client_id
        self.object_id = object_id
        self.preview = preview

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            # A read of another stack's outputs: known in a preview too.
            stack = str(args.inputs.get("name") or args.resource_id)
            return stack, {"name": stack, "outputs": {"url": member_stack_url(stack)[0]}, "secretOutputNames": []}
        rid, outputs = self._outputs(args)
        if self.preview:
            # A resource about to be created: its inputs are known, whatever Azure computes is not.
            inputs = dict(args.inputs)
            return "", {k: (v if k in inputs and inputs[k] == v else UNKNOWN) for k, v in outputs.items()}
        return rid, outputs

    def _outputs(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        if typ.startswith("azure-native:"):
            return self._azure(typ, name, inputs)
        if typ == "random:index/randomString:RandomString":
            length = int(inputs.get("length", 8))
            return name, {**inputs, "result": hashlib.sha256(name.encode()).hexdigest()[:length]}
        if typ == "random:index/randomUuid:RandomUuid":
            return name, {**inputs, "result": _guid(f"uuid-{name}")}
        if typ in ("random:index/randomPassword:RandomPassword", "random:index/randomBytes:RandomBytes",
                   "random:index/randomId:RandomId"):
            value = fake_secret(name)
            return name, {**inputs, "result": value, "hex": value, "base64": value}
        return f"{name}-id", inputs

    def _azure(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Azure calls a resource by its explicit `*Name` input; without one, the provider
        # auto-names it from the Pulumi name (the mock skips the random suffix it adds).
        key = NAME_INPUTS.get(typ)
        azure_name = str(inputs[key]) if key and inputs.get(key) else name
        group = str(inputs.get("resourceGroupName", "rg"))
        location = inputs.get("location", "region")
        out: dict[str, Any] = {**inputs, "name": azure_name}
        if typ == "azure-native:resources:ResourceGroup":
            return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{azure_name}", out
        if typ == "azure-native:authorization:RoleAssignment":
            guid = _guid(f"role-assignment-{name}")
            out["name"] = inputs.get("roleAssignmentName") or guid
            return f"{inputs.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{out['name']}", out
        if typ == "azure-native:authorization:RoleDefinition":
            guid = str(inputs.get("roleDefinitionId") or _guid(f"role-definition-{name}"))
            return f"{inputs.get('scope', '')}/providers/Microsoft.Authorization/roleDefinitions/{guid}", out
        if typ == "azure-native:logic:Workflow":
            number = int(hashlib.sha256(azure_name.encode()).hexdigest()[:12], 16) % 10**12
            out["identity"] = {**(inputs.get("identity") or {}), "tenantId": TENANT,
                               "principalId": f"{WORKFLOW_PRINCIPAL_PREFIX}{number:012d}"}
        if typ == "azure-native:consumption:Budget":
            return f"{inputs.get('scope', '')}/providers/Microsoft.Consumption/budgets/{azure_name}", out
        if typ == "azure-native:containerservice:ManagedCluster":
            out["fqdn"] = f"{azure_name}-dns.hcp.{location}.azmk8s.io"
            out["identity"] = {**(inputs.get("identity") or {}), "principalId": CLUSTER_PRINCIPAL_ID,
                               "tenantId": TENANT}
            out["identityProfile"] = {"kubeletidentity": {
                "objectId": KUBELET_OBJECT_ID, "clientId": KUBELET_CLIENT_ID,
                "resourceId": _arm_id(f"MC_{group}_{azure_name}_{location}",
                                      "Microsoft.ManagedIdentity/userAssignedIdentities", f"{azure_name}-agentpool"),
            }}
        elif typ == "azure-native:containerregistry:Registry":
            out["loginServer"] = f"{azure_name}.azurecr.io"
        elif typ == "azure-native:network:PublicIPAddress":
            dns = dict(inputs.get("dnsSettings") or {})
            if dns.get("domainNameLabel"):
                dns["fqdn"] = f"{dns['domainNameLabel']}.{location}.cloudapp.azure.com"
            out |= {"ipAddress": PUBLIC_IP, "dnsSettings": dns}
        elif typ == "azure-native:app:ManagedEnvironment":
            out |= {"defaultDomain": environment_domain(azure_name, str(location)), "staticIp": "198.51.100.20",
                    "customDomainConfiguration": {"customDomainVerificationId": verification_id(azure_name)}}
        elif typ == "azure-native:app:ContainerApp":
            environment = str(inputs.get("environmentId", "")).rsplit("/", 1)[-1]
            fqdn = f"{azure_name}.{environment_domain(environment, str(location))}"
            configuration = dict(inputs.get("configuration") or {})
            configuration["ingress"] = {**(configuration.get("ingress") or {}), "fqdn": fqdn}
            out |= {"configuration": configuration, "latestRevisionFqdn": fqdn,
                    "customDomainVerificationId": verification_id(azure_name), "outboundIpAddresses": [PUBLIC_IP]}
        elif typ == "azure-native:compute:VirtualMachine":
            out["identity"] = {**(inputs.get("identity") or {}), "principalId": VM_PRINCIPAL_ID, "tenantId": TENANT}
        elif typ == "azure-native:keyvault:Vault":
            out["properties"] = {**(inputs.get("properties") or {}), "vaultUri": f"https://{azure_name}.vault.azure.net/"}
        elif typ == "azure-native:keyvault:Secret":
            props = dict(inputs.get("properties") or {})
            if _SIG not in props:  # (a properties object holding a secret stays as given)
                props.pop("value", None)  # Azure never returns a secret's value
                vault = inputs.get("vaultName", "vault")
                out["properties"] = {**props, "secretUri": f"https://{vault}.vault.azure.net/secrets/{azure_name}"}
        path = _ARM_PATHS.get(typ)
        if path is None:
            return _arm_id(group, typ.split(":")[1], azure_name), out
        provider, parent_key, child = path
        if parent_key:
            return _arm_id(group, provider, f"{inputs.get(parent_key, 'parent')}/{child}/{azure_name}"), out
        return _arm_id(group, provider, azure_name), out

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        token, given = args.token, dict(args.args)
        if token == "azure-native:authorization:getClientConfig":
            return {"clientId": self.client_id, "objectId": self.object_id,
                    "subscriptionId": SUBSCRIPTION, "tenantId": TENANT}
        cluster = str(given.get("resourceName", "cluster"))
        if token == "azure-native:containerservice:listManagedClusterAdminCredentials":
            return _kubeconfigs("clusterAdmin", kubeconfig(cluster, "admin"))
        if token == "azure-native:containerservice:listManagedClusterUserCredentials":
            kind = {"exec": "user-exec", "azure": "user-azure"}.get(str(given.get("format") or ""), "user")
            return _kubeconfigs("clusterUser", kubeconfig(cluster, kind))
        if token == "azure-native:containerregistry:listRegistryCredentials":
            registry = str(given.get("registryName", "registry"))
            # The admin user's name is the registry's name.
            return {"username": registry,
                    "passwords": [{"name": "password", "value": registry_password(registry, 0)},
                                  {"name": "password2", "value": registry_password(registry, 1)}]}
        if token == "azure-native:storage:listStorageAccountKeys":
            account, group = str(given.get("accountName", "account")), str(given.get("resourceGroupName", "rg"))
            return {"keys": [{"keyName": f"key{i + 1}", "permissions": "FULL",
                              "value": storage_key(group, account, i)} for i in range(2)]}
        return {}


def _kubeconfigs(name: str, text: str) -> dict[str, Any]:
    return {"kubeconfigs": [{"name": name, "value": base64.b64encode(text.encode()).decode()}]}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "struct_value":
        return value.struct_value
    if kind == "list_value":
        return value.list_value
    return getattr(value, kind)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def shown(value: Any, *, reveal: bool = False) -> Any:
    """A serialized property value as plain JSON data, each secret leaf as "[secret]" (or, with
    `reveal`, as its plaintext: for tests that check which secret reaches which input)."""
    if isinstance(value, struct_pb2.Struct):
        sig = value.fields.get(_SIG)
        if sig is not None:
            if sig.string_value == _SECRET_SIG:
                return shown(value.fields["value"], reveal=True) if reveal else SECRET
            if sig.string_value == _RESOURCE_SIG:
                return value.fields["urn"].string_value
        # Sorted: a protobuf map's iteration order is seeded anew in every process, so the
        # plan's text (its outputs, above all) would come out in a different order on each run.
        return {k: shown(value.fields[k], reveal=reveal) for k in sorted(value.fields)}
    if isinstance(value, struct_pb2.ListValue):
        return [shown(v, reveal=reveal) for v in value.values]
    if isinstance(value, struct_pb2.Value):
        return shown(_value(value), reveal=reveal)
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
    revealed: dict[str, Any] = field(default_factory=dict)
    """The inputs with every secret in plaintext: never shown by the plan, for tests only."""
    id: str = ""
    """The ID the mock gave the resource (an ARM ID for Azure resources)."""


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
            if request.HasField("retainOnDelete") and request.retainOnDelete:
                options["retainOnDelete"] = True
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
                revealed=shown(request.object, reveal=True),
                id=response.id,
            ))
        return response

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        """A read (a StackReference): recorded like a registration, its options say `read`."""
        response = super().ReadResource(request)
        self.registrations.append(Registration(
            type=request.type, name=request.name, urn=response.urn, parent=request.parent,
            inputs=shown(request.properties), protect=False, depends_on=sorted(set(request.dependencies)),
            options={"read": request.id}, revealed=shown(request.properties, reveal=True), id=request.id))
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = shown(request.outputs)
        return super().RegisterResourceOutputs(request)
