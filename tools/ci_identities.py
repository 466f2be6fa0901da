"""The Azure CLI commands that create the deploy workflow's two identities, their federated
credentials and their roles: printed here, never run. The README holds them for a fresh clone
(no deploy stacks) between the `ci-identities` markers (a test keeps the two the same).

    ./run python -m tools.ci_identities                      the identities (first setup)
    ./run python -m tools.ci_identities sleep-role --stack NAME
                                the custom role of a stack's sleep schedule, created once by an Owner
    ./run python -m tools.ci_identities condition             the deploy identity's role-assignment
                                condition again, with the sleep roles of the listed stacks

The identity commands use shell variables the README sets first: REPO (the subject's repository
part), SUB (subscription ID), STATE_CONTAINER_ID and KEY_ID (the state container and the secrets key).

The deploy identity may assign only the roles the stacks assign (`roles.delegation_condition`): the
built-in ones, and each sleep role named by `schedule.roleDefinitionId` in a stack listed in
.github/deploy-stacks.txt. It may never write a role definition (Contributor excludes
`Microsoft.Authorization/*/Write`), so the roles it may assign stay what their Owner made them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from components import naming, roles, sleep_spec
from components import schedule as sched
from components.config_fields import ConfigError
from tools import deploy_stacks
from tools.stackfile import (
    PlanError,
    parse_stack_text,
    read_stack_file,
    stack_name_argument,
    stand_in_secrets,
)

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


def _sleep_roles_comment(sleep_roles: dict[str, str]) -> list[str]:
    if not sleep_roles:
        return ["# A stack with a sleep schedule: an Owner creates its role once (tools.ci_identities sleep-role),",
                "# and `./run python -m tools.ci_identities condition` prints this condition again with that role."]
    listed = ", ".join(f"{guid} ({stack})" for stack, guid in sorted(sleep_roles.items()))
    return ["# And the sleep schedules' custom roles an Owner created once (schedule.roleDefinitionId of the",
            f"# stacks in .github/deploy-stacks.txt): {listed}.",
            "# Never a role definition: Contributor may not write one, so these roles stay as their Owner made them."]


def _condition_lines(sleep_roles: dict[str, str]) -> list[str]:
    # A quoted here-document: the shell expands nothing in it (not even `!`).
    return ["CONDITION=$(cat <<'EOF'", roles.delegation_condition(sleep_roles.values()), "EOF", ")"]


RBAC_ADMIN_ROLE = "Role Based Access Control Administrator"
CONDITION_FLAGS = ' \\\n  --condition-version 2.0 --condition "$CONDITION"'


def commands(sleep_roles: dict[str, str] | None = None) -> str:
    """The shell commands, one block; `sleep_roles` (stack -> role GUID) are the deploy stacks'
    `schedule.roleDefinitionId`, which the deploy identity may assign too."""
    sleep_roles = sleep_roles or {}
    definition = json.dumps(roles.preview_role_definition()).replace(
        '"/subscriptions/<subscription-id>"', "\"/subscriptions/'\"$SUB\"'\"")
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
        *_sleep_roles_comment(sleep_roles),
        _assign("DEPLOY_SP", "Contributor", "/subscriptions/$SUB"),
        *_condition_lines(sleep_roles),
        _assign("DEPLOY_SP", RBAC_ADMIN_ROLE, "/subscriptions/$SUB", CONDITION_FLAGS),
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
    """The README's copy: a fresh clone's, with no deploy stacks and so no sleep roles."""
    return f"```bash\n{commands()}\n```"


def condition_commands(sleep_roles: dict[str, str]) -> str:
    """Replace the deploy identity's Role Based Access Control Administrator assignment by one with
    the condition for these sleep roles (`az role assignment create` answers an existing assignment
    of the same principal, role and scope with that assignment, its condition unchanged)."""
    lines = [
        "# As an Owner: the deploy identity's right to assign roles, with the condition for the stacks",
        "# in .github/deploy-stacks.txt.",
        *_sleep_roles_comment(sleep_roles),
        "SUB=$(az account show --query id -o tsv)",
        'DEPLOY_SP=$(az ad sp list --display-name binderhub-azure-deploy --query "[0].id" -o tsv)',
        *_condition_lines(sleep_roles),
        f'az role assignment delete --assignee "$DEPLOY_SP" --role "{RBAC_ADMIN_ROLE}" --scope "/subscriptions/$SUB"',
        _assign("DEPLOY_SP", RBAC_ADMIN_ROLE, "/subscriptions/$SUB", CONDITION_FLAGS),
    ]
    return "\n".join(lines)


def sleep_role_commands(stack: str, kind: str, resource_group: str) -> str:
    """What an Owner runs once so that a stack with a sleep schedule can be deployed by CI: the
    custom role on the stack's resource group, then the stack's `schedule.roleDefinitionId`."""
    group_id = f"/subscriptions/$SUB/resourceGroups/{resource_group}"
    definition = json.dumps(sleep_spec.owner_role_definition(kind, resource_group, "<group-id>")).replace(
        '"<group-id>"', "\"/subscriptions/'\"$SUB\"'/resourceGroups/" + resource_group + "\"")
    name = sleep_spec.owner_role_name(resource_group)
    what = "read, start and stop its AKS cluster" if kind == "cluster" else "read, start and deallocate its VM"
    lines = [
        "# Once, as an Owner (or User Access Administrator) of the subscription: the custom role that lets",
        f"# the sleep schedule's Logic Apps of stack {stack} {what},",
        f"# assignable on its resource group {resource_group} only. The stack then assigns it and creates no",
        "# role, which the CI deploy identity may do. The group must exist: the stack's first `pulumi up`",
        "# makes it (deploy the stack without its schedule first).",
        "SUB=$(az account show --query id -o tsv)",
        f"az group show --name {resource_group} --query id -o tsv   # must print the group's ID",
        "# The role's name is fixed for the group: run twice, this finds the role made the first time.",
        f'GUID=$(az role definition list --custom-role-only true --scope "{group_id}" --name {shlex.quote(name)} '
        '--query "[0].name" -o tsv)',
        'if [ -n "$GUID" ]; then echo "the role exists already: $GUID"; else',
        f"  GUID=$(az role definition create --role-definition '{definition}' --query name -o tsv); fi",
        f'[ -n "$GUID" ] && pulumi config set --path schedule.roleDefinitionId "$GUID" --stack {stack}',
        f"# Then list {stack} in .github/deploy-stacks.txt, and let the deploy identity assign this role: run",
        "# what `./run python -m tools.ci_identities condition` prints, as an Owner.",
    ]
    return "\n".join(lines)


def listed_sleep_roles(root: Path) -> dict[str, str]:
    """stack -> `schedule.roleDefinitionId` of every stack in .github/deploy-stacks.txt that sets one.
    PlanError with the list's problems (one a line) when the list is not one CI would take."""
    path = root / deploy_stacks.LIST_FILE
    names, externals = deploy_stacks.parse_list(path.read_text()) if path.is_file() else ([], [])
    found = deploy_stacks.problems(names, root, externals)
    if found:
        raise PlanError("\n".join(found))
    result = {}
    for name in names:
        config, _ = read_stack_file(root / f"Pulumi.{name}.yaml")
        guid = deploy_stacks.sleep_role_id(config)
        if guid:
            result[name] = guid.lower()
    return result


def _stack_sleep_target(root: Path, stack: str) -> tuple[str, str]:
    """(kind, resource group) of a stack with a sleep schedule and no roleDefinitionId yet."""
    from components.config_load import parse_config

    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise PlanError(f"--stack {stack}: there is no Pulumi.{stack}.yaml beside Pulumi.yaml")
    raw, secret, _ = stand_in_secrets(*parse_stack_text(path.read_text(), path))
    cfg = parse_config(raw, secret)
    if cfg.schedule is None:
        raise PlanError(f"{stack} has no schedule: a sleep role is for a stack with a `schedule` "
                        "(README, \"Sleeping outside teaching hours\")")
    if cfg.schedule.role_definition_id:
        raise PlanError(f"{stack} already sets schedule.roleDefinitionId ({cfg.schedule.role_definition_id}): its "
                        f"role exists (az role definition list --name {cfg.schedule.role_definition_id})")
    return sched.target(cfg.tljh), naming.resource_group(cfg)


def main(argv: list[str] | None = None, root: Path = deploy_stacks.ROOT) -> int:
    parser = argparse.ArgumentParser(prog="./run python -m tools.ci_identities", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    role = sub.add_parser("sleep-role", help="the one-time commands an Owner runs for a stack's sleep schedule role")
    role.add_argument("--stack", required=True, type=stack_name_argument,
                      help="stack name: reads Pulumi.<stack>.yaml at the repository root")
    sub.add_parser("condition", help="the deploy identity's role-assignment condition for the listed stacks")
    args = parser.parse_args(argv)
    try:
        if args.command == "sleep-role":
            kind, group = _stack_sleep_target(root, args.stack)
            print(sleep_role_commands(args.stack, kind, group))
        elif args.command == "condition":
            print(condition_commands(listed_sleep_roles(root)))
        else:
            print(commands(listed_sleep_roles(root)))
    except (PlanError, ConfigError) as err:
        print(str(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
