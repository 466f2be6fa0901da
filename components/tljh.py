"""mode: tljh — The Littlest JupyterHub on one Azure VM, for a workshop or a small class."""

from __future__ import annotations

import base64
from typing import TypedDict

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, compute, keyvault, network

from . import naming, roles, tljh_spec
from .config import StackConfig
from .naming import tags


class TljhServerArgs(TypedDict):
    config: StackConfig
    """The validated stack config (mode tljh)."""
    resource_group_name: pulumi.Input[str]
    """Resource group for everything."""
    auth_client_secret: pulumi.Input[str]
    """The OAuth client secret (a Pulumi secret), stored in Key Vault for the VM."""


class TljhServer(pulumi.ComponentResource):
    """Network, firewall, static IP, Key Vault, /home data disk and the TLJH VM."""

    ip_address: pulumi.Output[str]
    fqdn: pulumi.Output[str]
    vm_name: pulumi.Output[str]

    def __init__(self, name: str, args: TljhServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("binderhub-azure:tljh:TljhServer", name, None, opts)
        cfg = args["config"]
        group = args["resource_group_name"]
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=cfg.protect_resources)
        common = {"resource_group_name": group, "location": cfg.location, "tags": tags(cfg)}

        nsg = network.NetworkSecurityGroup(
            f"{name}-nsg", network_security_group_name=naming.network_security_group(cfg),
            security_rules=tljh_spec.security_rules(cfg), **common, opts=child)
        vnet = network.VirtualNetwork(
            f"{name}-vnet", virtual_network_name=naming.virtual_network(cfg),
            address_space={"address_prefixes": ["10.10.0.0/16"]}, **common, opts=child)
        subnet = network.Subnet(
            f"{name}-subnet", subnet_name="tljh", resource_group_name=group, virtual_network_name=vnet.name,
            address_prefix="10.10.1.0/24", network_security_group={"id": nsg.id}, opts=child)
        ip = network.PublicIPAddress(
            f"{name}-ip", public_ip_address_name=naming.public_ip(cfg), sku={"name": "Standard"},
            public_ip_allocation_method="Static", dns_settings={"domain_name_label": cfg.effective_dns_label},
            **common, opts=kept)
        nic = network.NetworkInterface(
            f"{name}-nic", network_interface_name=naming.network_interface(cfg),
            ip_configurations=[{"name": "primary", "primary": True, "subnet": {"id": subnet.id},
                                "public_ip_address": {"id": ip.id}, "private_ip_allocation_method": "Dynamic"}],
            **common, opts=child)

        # Key Vault names are global: a random suffix avoids collisions.
        suffix = random.RandomString(f"{name}-vault-suffix", length=naming.RANDOM_SUFFIX_LENGTH, upper=False,
                                     special=False, opts=child)
        vault_name = pulumi.Output.concat(naming.key_vault_prefix(cfg), suffix.result)
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        # Access goes through Azure RBAC (the VM's Key Vault Secrets User role below), so there are
        # no access policies; the list is still sent, empty: the Key Vault API wants it unless the
        # vault is recovered (VaultProperties.accessPolicies), and creation has failed without it
        # even in RBAC mode (pulumi/pulumi-azure-native#1478).
        vault = keyvault.Vault(
            f"{name}-vault", vault_name=vault_name,
            properties={"tenant_id": client.tenant_id, "sku": {"family": "A", "name": "standard"},
                        "enable_rbac_authorization": True, "access_policies": [],
                        "soft_delete_retention_in_days": 7},
            **common, opts=child)
        secret = keyvault.Secret(
            f"{name}-oauth-secret", resource_group_name=group, vault_name=vault.name,
            secret_name=tljh_spec.SECRET_NAME, properties={"value": args["auth_client_secret"]}, opts=child)

        home = compute.Disk(
            f"{name}-home", disk_name=naming.home_disk(cfg), sku={"name": "StandardSSD_LRS"},
            creation_data={"create_option": "Empty"}, disk_size_gb=cfg.vm.disk_size_gb, **common, opts=kept)
        custom_data = vault.name.apply(
            lambda v: base64.b64encode(tljh_spec.cloud_init(cfg, v).encode()).decode())
        vm = compute.VirtualMachine(
            f"{name}-vm",
            vm_name=naming.vm(cfg),
            hardware_profile={"vm_size": cfg.vm.size},
            identity={"type": "SystemAssigned"},
            os_profile={
                "computer_name": naming.computer_name(cfg),
                "admin_username": cfg.vm.admin_username,
                "custom_data": custom_data,
                "linux_configuration": {
                    "disable_password_authentication": True,
                    "ssh": {"public_keys": [{"path": f"/home/{cfg.vm.admin_username}/.ssh/authorized_keys",
                                             "key_data": cfg.vm.ssh_public_key}]},
                },
            },
            storage_profile={
                "image_reference": tljh_spec.IMAGE,
                "os_disk": {"create_option": "FromImage", "disk_size_gb": 64, "delete_option": "Delete",
                            "managed_disk": {"storage_account_type": "Premium_LRS"}},
                # Detached, not deleted, with the VM: users' files outlive a replacement.
                "data_disks": [{"lun": tljh_spec.DATA_DISK_LUN, "create_option": "Attach", "delete_option": "Detach",
                                "managed_disk": {"id": home.id}}],
            },
            network_profile={"network_interfaces": [{"id": nic.id, "primary": True}]},
            **common,
            # Azure cannot change a VM's image or custom data in place (PropertyChangeNotAllowed;
            # Microsoft's custom data FAQ: "For single VMs, you can't update custom data in the VM
            # model"), and the provider does not replace the VM for either: a new image pin or
            # cloud-init reaches a new VM only, and an update of a running one must not fail over
            # them. Config changes reach a running VM through the extension below instead.
            opts=child.merge(pulumi.ResourceOptions(
                depends_on=[secret], ignore_changes=["storageProfile.imageReference", "osProfile.customData"])),
        )
        # The VM reads the client secret with its own identity, and only that secret's vault.
        reader = roles.assign_role(f"{name}-vault-reader", role=roles.KEY_VAULT_SECRETS_USER,
                                   principal_id=vm.identity.apply(lambda i: i.principal_id if i else ""),
                                   scope=vault.id, parent=self)
        # The stack config on the running VM: Azure runs the script again whenever it changes
        # (Azure/custom-script-extension-linux README: a changed configuration runs the command
        # again). It is in the protected settings, which Azure never returns, though it holds no
        # secret (the script reads the client secret from Key Vault, as the first boot does).
        # Azure changes no extension of a deallocated VM, nor deletes one ("Cannot modify
        # extensions in the VM when the VM is not running", 409 OperationNotAllowed): a sleeping VM
        # must be woken for a config change, and a destroy leaves the extension to go with its VM.
        # At creation the script waits for the first boot (TLJH's installation, about 10 minutes).
        script = vault.name.apply(
            lambda v: base64.b64encode(tljh_spec.reconfigure_script(cfg, v).encode()).decode())
        compute.VirtualMachineExtension(
            f"{name}-reconfigure", vm_extension_name=tljh_spec.RECONFIGURE_EXTENSION, vm_name=vm.name,
            publisher="Microsoft.Azure.Extensions", type="CustomScript", type_handler_version="2.1",
            auto_upgrade_minor_version=True, protected_settings={"script": script},
            **common, opts=child.merge(pulumi.ResourceOptions(
                depends_on=[vm, reader], retain_on_delete=True,
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="30m"))))

        self.ip_address = ip.ip_address.apply(lambda a: a or "")
        self.fqdn = ip.dns_settings.apply(lambda d: (d.fqdn if d else None) or "")
        self.vm_name = vm.name
        self.vm_id = vm.id  # what a sleep schedule starts and deallocates
        self.register_outputs({"ipAddress": self.ip_address, "fqdn": self.fqdn, "vmName": self.vm_name})
