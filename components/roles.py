"""Azure built-in role assignments the stack makes (one helper, used by every component)."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization

# Built-in role definitions: the same GUID in every tenant.
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
# The Azure CLI's application ID: a client config with it means a user signed in with `az login`.
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def assign_role(
    name: str, *, role: str, principal_id: pulumi.Input[str], scope: pulumi.Input[str], parent: pulumi.Resource,
    principal_type: pulumi.Input[str] = "ServicePrincipal",
) -> authorization.RoleAssignment:
    """Grant a principal (by default a managed identity) a built-in role at `scope`."""
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=client.subscription_id.apply(lambda sub: role_definition_id(sub, role)),
        scope=scope,
        # Assignment names are GUIDs: a replacement must delete the old one first.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )


def assign_role_to_deployer(name: str, *, role: str, scope: pulumi.Input[str],
                            parent: pulumi.Resource) -> authorization.RoleAssignment:
    """Grant whoever runs `pulumi up` a role: a user after `az login`, or a service principal
    (CI with OpenID Connect, or `az login --service-principal`)."""
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return assign_role(
        name, role=role, principal_id=client.object_id, scope=scope, parent=parent,
        principal_type=client.client_id.apply(lambda c: "User" if c == AZURE_CLI_APP_ID else "ServicePrincipal"),
    )
