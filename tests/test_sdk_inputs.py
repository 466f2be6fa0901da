"""Every azure-native resource's inputs, in every example stack, against the installed SDK's
input types: argument names, nesting, required arguments, scalar types and enum values.

The mocks accept any input; this is what stands in for the provider's own check. Inputs are
read as the program sent them (wire names, secrets revealed) and walked along the SDK's
`*Args` input types.
"""

from __future__ import annotations

import collections.abc
import enum
import importlib
import inspect
import sys
import typing
from typing import Any

import pulumi
import pytest
from pulumi import _types

from tests.test_preview import STACKS, run
from tools.mocks import Registration


def _candidates(typ: Any) -> list[Any]:
    """The concrete types an input may take: unions flattened, None, awaitables and Outputs dropped."""
    origin = typing.get_origin(typ)
    if origin is typing.Union:
        return [c for arg in typing.get_args(typ) for c in _candidates(arg)]
    if typ is type(None) or origin is collections.abc.Awaitable or origin is pulumi.Output or typ is pulumi.Output:
        return []
    return [typ]


# Enums whose list in the SDK is knowingly incomplete: Azure's API takes any value there (the
# VM size enum stops at sizes from years ago; the config checks the size's form, and the
# pre-flight checks that the region offers it).
OPEN_ENUMS = {"VirtualMachineSizeTypes"}


def _enum_values(cls: type[enum.Enum]) -> set[str]:
    return {m.value for m in cls}


def check_value(value: Any, typ: Any, path: str, errors: list[str]) -> None:
    if value == "[unknown]":
        return
    kinds = _candidates(typ)
    if any(k is Any or k is object for k in kinds):
        return
    if isinstance(value, dict):
        objects = [k for k in kinds if inspect.isclass(k) and _types.is_input_type(k)]
        maps = [k for k in kinds if typing.get_origin(k) in (collections.abc.Mapping, dict)]
        if objects:
            # A union of input types (an ACR task's step: Docker, EncodedTask or FileTask) takes
            # the first member the value fits; when none fits, the errors of the closest are shown.
            attempts = []
            for cls in objects:
                found: list[str] = []
                check_object(value, cls, path, found)
                if not found:
                    return
                attempts.append(found)
            errors.extend(min(attempts, key=len))
        elif maps:
            for key, item in value.items():
                check_value(item, typing.get_args(maps[0])[1], f"{path}.{key}", errors)
        elif not any(k is dict for k in kinds):
            errors.append(f"{path}: an object where the SDK expects {kinds}")
        return
    if isinstance(value, list):
        seqs = [k for k in kinds if typing.get_origin(k) in (collections.abc.Sequence, list)]
        if not seqs:
            errors.append(f"{path}: a list where the SDK expects {kinds}")
            return
        for i, item in enumerate(value):
            check_value(item, typing.get_args(seqs[0])[0], f"{path}[{i}]", errors)
        return
    enums = [k for k in kinds if inspect.isclass(k) and issubclass(k, enum.Enum) and k.__name__ not in OPEN_ENUMS]
    if isinstance(value, bool):
        ok = bool in kinds
    elif isinstance(value, (int, float)):
        ok = float in kinds or (int in kinds and float(value).is_integer())
    elif isinstance(value, str):
        ok = str in kinds or bool(enums) or any(inspect.isclass(k) and issubclass(k, enum.Enum) for k in kinds)
        if ok and enums:
            allowed = set().union(*(_enum_values(e) for e in enums))
            if value not in allowed:
                errors.append(f"{path}: {value!r} is not one of {sorted(allowed)}")
                return
    else:
        ok = value is None
    if not ok:
        errors.append(f"{path}: {type(value).__name__} {value!r} where the SDK expects {kinds}")


def _required(cls: type) -> set[str]:
    names = _types.input_type_py_to_pulumi_names(cls)
    params = inspect.signature(cls.__init__).parameters
    return {names[p] for p, param in params.items()
            if p in names and param.default is inspect.Parameter.empty}


def check_object(value: dict[str, Any], cls: type, path: str, errors: list[str]) -> None:
    types = _types.input_type_types(cls)
    for key, item in value.items():
        if key not in types:
            errors.append(f"{path}.{key}: not an input of {cls.__name__}")
        else:
            check_value(item, types[key], f"{path}.{key}", errors)
    for key in sorted(_required(cls) - set(value)):
        errors.append(f"{path}.{key}: required by {cls.__name__}, missing")


def args_class(token: str) -> type:
    """The resource's own args class, from the resource's module (where a nested input type has
    the same name, as network.PublicIPAddressArgs has, the SDK calls it `*InitArgs`)."""
    _, module, name = token.split(":")
    resource = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
    home = sys.modules[resource.__module__]
    return getattr(home, f"{name}InitArgs", None) or getattr(home, f"{name}Args")


def sdk_errors(reg: Registration) -> list[str]:
    errors: list[str] = []
    check_object(reg.revealed, args_class(reg.type), f"{reg.type} {reg.name}", errors)
    return errors


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_every_azure_input_matches_the_sdk(path):
    azure = [r for r in run(path, preview=False).registrations if r.type.startswith("azure-native:")]
    assert azure
    errors = [e for r in azure for e in sdk_errors(r)]
    assert errors == []


def _reg(token: str, inputs: dict[str, Any]) -> Registration:
    return Registration(type=token, name="x", urn="", parent="", inputs=inputs, protect=False, depends_on=[],
                        revealed=inputs)


IP = "azure-native:network:PublicIPAddress"


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"resourceGroupName": "rg", "publicIPAllocationMethod": "Static"}, []),
    ({"resourceGroupName": "rg", "publicIpAllocationMethod": "Static"},
     ["azure-native:network:PublicIPAddress x.publicIpAllocationMethod: not an input of PublicIPAddressInitArgs"]),
    ({"resourceGroupName": "rg", "publicIPAllocationMethod": "static"},
     ["azure-native:network:PublicIPAddress x.publicIPAllocationMethod: 'static' is not one of ['Dynamic', 'Static']"]),
    ({"resourceGroupName": "rg", "dnsSettings": {"domainNameLable": "x"}},
     ["azure-native:network:PublicIPAddress x.dnsSettings.domainNameLable: not an input of "
      "PublicIPAddressDnsSettingsArgs"]),
    ({"resourceGroupName": "rg", "sku": ["Standard"]},
     ["azure-native:network:PublicIPAddress x.sku: a list where the SDK expects "
      "[<class 'pulumi_azure_native.network._inputs.PublicIPAddressSkuArgs'>]"]),
    ({"publicIPAllocationMethod": "Static"},
     ["azure-native:network:PublicIPAddress x.resourceGroupName: required by PublicIPAddressInitArgs, missing"]),
    ({"resourceGroupName": "rg", "idleTimeoutInMinutes": "4"},
     ["azure-native:network:PublicIPAddress x.idleTimeoutInMinutes: str '4' where the SDK expects [<class 'int'>]"]),
], ids=["valid", "misspelt-name", "enum-case", "nested-name", "wrong-nesting", "missing-required", "wrong-type"])
def test_the_check_catches_misspelt_misnested_and_mistyped_inputs(inputs, expected):
    assert sdk_errors(_reg(IP, inputs)) == expected
