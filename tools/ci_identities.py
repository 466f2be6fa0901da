"""The Azure CLI commands that create the deploy workflow's two identities, their federated
credentials and their roles: printed here, and copied into the README between the
`ci-identities` markers (a test keeps the two the same).

    ./run python -m tools.ci_identities

The commands use shell variables the README sets first: REPO (the subject's repository part),
SUB (subscription ID), STATE_CONTAINER_ID and KEY_ID (the state container and the secrets key).
"""

from __future__ import annotations

import json

from components import roles

ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "api://AzureADTokenExchange"
# GitHub's OIDC subjects (docs "OpenID Connect reference", "Example subject claims"): a job that
# names an environment carries it; a pull_request job without one carries `pull_request`.
SUBJECTS = {"preview": "pull_request", "deploy": "environment:production"}


def _federated(app: str, name: str, subject: str) -> str:
    body = json.dumps({"name": name, "issuer": ISSUER, "subject": "SUBJECT", "audiences": [AUDIENCE]})
    # The subject holds $REPO: close the single quotes around it so the shell expands it.
    body = body.replace('"SUBJECT"', f"\"repo:'\"$REPO\"':{subject}\"")
    return f"az ad app federated-credential create --id \"${app}\" --parameters '{body}'"


def _assign(principal: str, role: str, scope: str, extra: str = "") -> str:
    return (f"az role assignment create --assignee-object-id \"${principal}\" --assignee-principal-type "
            f"ServicePrincipal \\\n  --role \"{role}\" --scope \"{scope}\"{extra}")


def commands() -> str:
    """The shell commands, one block."""
    definition = json.dumps(roles.preview_role_definition()).replace(
        '"/subscriptions/<subscription-id>"', "\"/subscriptions/'\"$SUB\"'\"")
    condition = roles.delegation_condition()
    lines = [
        "# Two app registrations; their service principals are the identities.",
        "PREVIEW_APP=$(az ad app create --display-name binderhub-azure-preview --query appId -o tsv)",
        "DEPLOY_APP=$(az ad app create --display-name binderhub-azure-deploy --query appId -o tsv)",
        'PREVIEW_SP=$(az ad sp create --id "$PREVIEW_APP" --query id -o tsv)',
        'DEPLOY_SP=$(az ad sp create --id "$DEPLOY_APP" --query id -o tsv)',
        "",
        "# Which jobs may log in as which: pull requests as the preview identity, the production",
        "# environment as the deploy identity.",
        _federated("PREVIEW_APP", "pull-requests", SUBJECTS["preview"]),
        _federated("DEPLOY_APP", "production", SUBJECTS["deploy"]),
        "",
        "# Preview: reads, and lists the credentials a preview reads (a custom role), on the subscription.",
        f"az role definition create --role-definition '{definition}'",
        _assign("PREVIEW_SP", "binderhub-azure preview", "/subscriptions/$SUB"),
        "",
        "# Deploy: creates the resources, and assigns only the roles the stack assigns",
        "# (" + ", ".join(sorted(roles.ASSIGNED_BY_STACK)) + ").",
        "# Not a stack with a sleep schedule: its custom role needs roleDefinitions/write, which with",
        "# the right to assign that role would let this identity give itself any right. An Owner",
        "# deploys such a stack; tools.deploy_stacks refuses it in .github/deploy-stacks.txt.",
        _assign("DEPLOY_SP", "Contributor", "/subscriptions/$SUB"),
        # A quoted here-document: the shell expands nothing in it (not even `!`).
        "CONDITION=$(cat <<'EOF'",
        condition,
        "EOF",
        ")",
        _assign("DEPLOY_SP", "Role Based Access Control Administrator", "/subscriptions/$SUB",
                ' \\\n  --condition-version 2.0 --condition "$CONDITION"'),
        "",
        "# The state (preview reads it, deploy writes it) and the secrets key (both decrypt).",
        _assign("PREVIEW_SP", "Storage Blob Data Reader", "$STATE_CONTAINER_ID"),
        _assign("DEPLOY_SP", "Storage Blob Data Contributor", "$STATE_CONTAINER_ID"),
        _assign("PREVIEW_SP", "Key Vault Crypto User", "$KEY_ID"),
        _assign("DEPLOY_SP", "Key Vault Crypto User", "$KEY_ID"),
        "",
        "# What the workflow reads (GitHub CLI; or Settings -> Secrets and variables -> Actions -> Variables).",
        'gh variable set AZURE_PREVIEW_CLIENT_ID --body "$PREVIEW_APP"',
        'gh variable set AZURE_DEPLOY_CLIENT_ID --body "$DEPLOY_APP"',
        'gh variable set AZURE_TENANT_ID --body "$(az account show --query tenantId -o tsv)"',
        'gh variable set AZURE_SUBSCRIPTION_ID --body "$SUB"',
        "gh variable set PULUMI_BACKEND_URL --body 'azblob://pulumi-state?storage_account=myunipulumistate'",
        'echo "cluster.adminPrincipals: objectId $DEPLOY_SP; cluster.readerPrincipals: objectId $PREVIEW_SP"',
    ]
    return "\n".join(lines)


def readme_block() -> str:
    return f"```bash\n{commands()}\n```"


if __name__ == "__main__":
    print(commands())
