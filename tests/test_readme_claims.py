"""Claims the README makes about the code, checked against the code (issue 22): commands and
options it shows exist, prices it says the offline table holds are there, figures given in two
places agree, and what it says `./run test` does is what `run` does."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FLAT = " ".join(README.split())
RUN = (ROOT / "run").read_text()
PRICES = json.loads((ROOT / "tools" / "prices.json").read_text())


def offline_keys() -> set[str]:
    return {key for region in PRICES["regions"].values() for table in region.values() for key in table}


# --------------------------------------------------------------------------- commands and options


def readme_commands() -> list[tuple[str, tuple[str, ...]]]:
    """(tool, options) of every `./run plan ...` and `./run python -m tools.X [sub] ...` the README
    shows, in code blocks or inline (a command wrapped over two lines too)."""
    found = set()
    pattern = (r"\./run (plan|python -m tools\.[a-z_]+(?: (?!-)[a-z]+)?)"
               r"((?:\s+(?:--[a-z][a-z-]*|[\w<>./:@-]+|\[[^\]]*\]))*)")
    for tool, rest in re.findall(pattern, FLAT):
        tool = tool.removeprefix("python -m ")
        found.add((tool, tuple(sorted(set(re.findall(r"--[a-z][a-z-]*", rest))))))
    return sorted(found)


def help_text(tool: str, capsys) -> str:
    module, _, sub = tool.partition(" ")
    module = "tools.plan" if module == "plan" else module
    main = importlib.import_module(module).main
    try:
        code = main([*([sub] if sub else []), "--help"])
    except SystemExit as exit_:  # argparse's --help; some commands return its status instead
        code = exit_.code
    assert code == 0
    return capsys.readouterr().out


def test_the_readme_shows_commands():
    tools = {tool.split()[0] for tool, _ in readme_commands()}
    assert {"plan", "tools.cost", "tools.preflight", "tools.ops", "tools.refresh"} <= tools


@pytest.mark.parametrize(("tool", "options"), [c for c in readme_commands() if c[1]],
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_every_option_the_readme_shows_exists(tool, options, capsys):
    text = help_text(tool, capsys)
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), f"./run {tool} has no {option}"


@pytest.mark.parametrize(("tool", "options"), [
    ("tools.ops status", ("--stack", "--kubeconfig")),  # "`--stack NAME` picks a stack, `--kubeconfig PATH` ..."
    ("tools.ops launches", ("--days",)),
    ("tools.ops logs", ("--follow",)),
    ("tools.ops check", ("--repo",)),
    ("tools.preflight", ("--subscription", "--config-file", "--json")),
    ("tools.cost", ("--config-file", "--json", "--offline", "--weeks")),
])
def test_options_the_readme_names_in_its_text_exist(tool, options, capsys):
    for option in options:
        assert re.search(rf"[`(]{option}\b", README), option
    text = help_text(tool, capsys)
    for option in options:
        assert option in text, f"./run python -m {tool} has no {option}"


# --------------------------------------------------------------------------- prices


def test_the_sizes_and_services_the_cost_section_prices_are_in_the_offline_table():
    """Every VM size of a README cost figure (any sentence or table row with a $ amount), of the
    example stacks and of the defaults, as the README says the table does."""
    from components.config import StackConfig
    from components.config_fields import _VM_SIZE

    cost = FLAT[FLAT.index("## Cost"):FLAT.index("## State and secrets on Azure")]
    keys = offline_keys()
    priced = [part for part in re.split(r"(?<=\.) |\|", FLAT) if "$" in part]
    sizes = {size for part in priced for size in re.findall(r"\b(Standard_[A-Z]\w+)", part)}
    sizes |= {f"Standard_{short}" for short in re.findall(r"\d+[–-]\d+ ([A-Z]\d+[a-z]*_v\d)", cost)}
    sizes |= {f"Standard_{short}" for short in re.findall(r"one ([A-Z]\d+[a-z]*_v\d)", cost)}
    for path in [ROOT / "Pulumi.dev.yaml", *(ROOT / "examples").glob("Pulumi.*.yaml")]:
        sizes |= set(re.findall(r"\b(Standard_[A-Z]\w+)", path.read_text()))
    defaults = StackConfig.model_fields["cluster"].get_default(call_default_factory=True)
    sizes |= {defaults.system_pool.vm_size, defaults.user_pool.vm_size}
    assert "covers every VM size, disk and service the defaults, the examples and this README's cost figures use" \
        in FLAT
    assert {"Standard_D2as_v5", "Standard_D4s_v5", "Standard_E4s_v5", "Standard_E2s_v5"} <= sizes
    for size in sizes:
        if _VM_SIZE.fullmatch(size):  # not Standard_LRS and the like
            assert f"vm/{size}" in keys, size
    for disk in set(re.findall(r"\(([PE]\d+)\)", cost)):
        assert f"disk/{disk}" in keys, disk
    assert {"files-premium/GiB", "disk/E1", "load-balancer/Standard", "public-ip/Standard", "acr/Basic"} <= keys


def test_the_readme_says_the_offline_table_holds_files_premium_and_small_standard_ssds():
    keys = offline_keys()
    assert "files-premium/GiB" in keys and "disk/E1" in keys
    assert "has no Azure Files Premium" not in FLAT
    assert "The offline table holds both prices (Azure Files Premium per provisioned GiB, and the Standard SSD " \
           "disks from E1, 4 GiB, up)" in FLAT


# --------------------------------------------------------------------------- figures said twice


def test_the_mutation_testing_time_is_one_figure():
    in_run = re.findall(r"mutate .*?about (\d+) minutes", RUN)
    in_readme = re.findall(r"all of them take about (\d+) minutes", FLAT)
    assert in_run and in_readme and set(in_run) == set(in_readme), (in_run, in_readme)
    assert "~" not in RUN.split("mutate [module ...]")[1].splitlines()[0]


def test_the_test_command_is_what_the_readme_says():
    assert "ruff check ." in RUN and "pytest -n auto" in RUN
    assert "`./run test` runs `ruff check .` and `pytest` with one worker per core (pytest-xdist;" in FLAT
    assert "add `-n 0` to run in one process" in FLAT
