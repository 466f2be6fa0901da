"""Azure built-in role assignments the stack makes (one helper, used by every component), and
what the deploy identity needs to be allowed to make them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pulumi
from pulumi_azure_native import authorization

# Built-in role definitions: the same GUID in every tenant.
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

# Every role this stack assigns, by its built-in name. The deploy identity is allowed to assign
# these and no others (`delegation_condition`); tests check that the program assigns nothing else.
ASSIGNED_BY_STACK = {
    "AcrPull": ACR_PULL,
    "Network Contributor": NETWORK_CONTRIBUTOR,
    "Azure Kubernetes Service RBAC Cluster Admin": AKS_RBAC_CLUSTER_ADMIN,
    "Azure Kubernetes Service RBAC Reader": AKS_RBAC_READER,
    "Key Vault Secrets User": KEY_VAULT_SECRETS_USER,
}
# "Role Based Access Control Administrator": assigns roles, and takes a condition that limits which.
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
# What the CI preview identity may do beyond reading: the list-credential actions behind the
# invokes the program makes (cluster kubeconfig, registry password, dataset storage keys).
# `pulumi preview` calls them for resources that exist; they return what the stack's state
# already holds as secrets, which the preview identity can decrypt anyway.
PREVIEW_ACTIONS = (
    "*/read",
    "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
    "Microsoft.ContainerRegistry/registries/listCredentials/action",
    "Microsoft.Storage/storageAccounts/listKeys/action",
)
# Azure RBAC for Kubernetes: "New role assignments can take up to five minutes to propagate and
# be updated by the authorization server" (learn.microsoft.com, AKS "Use Azure RBAC for
# Kubernetes Authorization"). Before that the API server answers 403.
RBAC_SETTLE = timedelta(minutes=5)


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def delegation_condition(sleep_roles: Iterable[str] = ()) -> str:
    """The Azure ABAC condition that limits "Role Based Access Control Administrator" to adding
    and removing assignments of the roles this stack assigns (Azure's "Constrain roles" example:
    one clause for writes, matched on the request, one for deletes, matched on the resource),
    and of the deploy stacks' sleep roles (`schedule.roleDefinitionId`, custom roles an Owner
    created once). The condition names no scope: it holds wherever below the assignment's scope
    (the subscription) an assignment is made, e.g. on one cluster."""
    guids = ", ".join(sorted(set(ASSIGNED_BY_STACK.values()) | {g.lower() for g in sleep_roles}))
    attribute = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
    return (
        f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR "
        f"(@Request[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}})) AND "
        f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/delete'}})) OR "
        f"(@Resource[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
    )


def preview_role_definition() -> dict[str, object]:
    """The custom role of the CI preview identity (`az role definition create --role-definition`);
    `assignableScopes` names the subscription."""
    return {
        "Name": "binderhub-azure preview",
        "Description": "Reads what `pulumi preview` of a binderhub-azure stack reads; changes nothing.",
        "Actions": list(PREVIEW_ACTIONS),
        "NotActions": [],
        "AssignableScopes": ["/subscriptions/<subscription-id>"],
    }


def settle_seconds(created_on: str | None, now: datetime) -> float:
    """How long to wait before using a role assignment created at `created_on` (ARM's ISO 8601
    time): zero for one older than RBAC_SETTLE, or when the time is unknown."""
    if not created_on:
        return 0.0
    try:
        created = datetime.fromisoformat(created_on.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if created.tzinfo is None or now.tzinfo is None:
        return 0.0
    return max(0.0, (created + RBAC_SETTLE - now).total_seconds())


def assign_role(
    name: str, *, role: str, principal_id: pulumi.Input[str], scope: pulumi.Input[str], parent: pulumi.Resource,
    principal_type: pulumi.Input[str] = "ServicePrincipal",
) -> authorization.RoleAssignment:
    """Grant a principal (by default a managed identity) a built-in role at `scope`."""
    if role not in ASSIGNED_BY_STACK.values():
        raise ValueError(f"role {role} is not in roles.ASSIGNED_BY_STACK: the deploy identity may not assign it")
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
