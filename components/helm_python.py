"""What a Python config snippet sets, as far as reading it can tell (pure).

z2jh runs each `hub.extraConfig` entry (and every `.py` file mounted into the hub's
`jupyterhub_config.d`) with `exec` after the chart's own config (jupyterhub 4.4.0
files/hub/jupyterhub_config.py); the BinderHub chart does the same with its `extraConfig`.
Such code can set any trait, so the gate reads it with Python's `ast` (never runs it) and
reports which `c.<Section>.<trait>` it touches, what hides that (`getattr(c, ...)`, `exec`,
passing `c` to a function), and which names it gives a literal secret.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .helm_secrets import content_secret, value_secret

# Calls whose effect on the config cannot be read from the code.
DYNAMIC_CALLS = frozenset({"getattr", "setattr", "delattr", "exec", "eval", "compile", "__import__", "vars",
                           "globals", "locals", "load_subconfig", "import_module"})
# Methods of a config section (a dict) that change several traits at once.
SECTION_METHODS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "merge", "__setitem__"})
ANY_TRAIT = "*"


@dataclass
class Snippet:
    """What `read_snippet` found."""

    error: str | None = None
    sets: set[tuple[str, str]] = field(default_factory=set)
    """(Section, trait) touched; trait `*` when a whole section is updated."""
    dynamic: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def _const(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Reader(ast.NodeVisitor):
    def __init__(self, found: Snippet) -> None:
        self.found = found
        self.roots = {"c"}            # names bound to the config object
        self.sections: dict[str, str] = {}  # names bound to one section: name -> Section

    # -- c.Section.trait, c["Section"]["trait"], aliases
    def _chain(self, node: ast.AST) -> list[str | None] | None:
        """[root-section?, ...] for an attribute/subscript chain rooted at the config, else None.
        None items are keys that are not constants."""
        parts: list[str | None] = []
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
            else:
                parts.append(_const(node.slice))
            node = node.value
        if isinstance(node, ast.Name):
            if node.id in self.roots:
                return list(reversed(parts))
            if node.id in self.sections:
                return [self.sections[node.id], *reversed(parts)]
        return None

    def _record(self, chain: list[str | None], line: int) -> None:
        if not chain or chain[0] is None:
            self.found.dynamic.append(f"line {line}: a config section chosen at run time")
            return
        section = chain[0]
        if section in SECTION_METHODS:
            self.found.dynamic.append(f"line {line}: c.{section}(...)")
            return
        trait = chain[1] if len(chain) > 1 else ANY_TRAIT
        if trait is None or trait in SECTION_METHODS:
            trait = ANY_TRAIT
        self.found.sets.add((section, trait))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = self._chain(node)
        if chain is not None:
            self._record(chain, node.lineno)
            return  # the chain's inner nodes are the same reference
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        chain = self._chain(node)
        if chain is not None:
            self._record(chain, node.lineno)
            self.visit(node.slice)
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and (node.id in self.roots or node.id in self.sections):
            # the config object used whole (passed on, returned, iterated): cannot follow it
            self.found.dynamic.append(f"line {node.lineno}: `{node.id}` used as a whole")

    def visit_Assign(self, node: ast.Assign) -> None:
        alias = self._chain(node.value) if not isinstance(node.value, ast.Name) else None
        whole = isinstance(node.value, ast.Name) and node.value.id in self.roots
        section = alias[0] if alias is not None and len(alias) == 1 and alias[0] not in SECTION_METHODS else None
        bound = False
        for target in node.targets:
            if isinstance(target, ast.Name) and (whole or section):
                if whole:
                    self.roots.add(target.id)
                else:
                    self.sections[target.id] = str(section)
                bound = True
                continue
            self._secret_target(target, node.value)
            self.visit(target)
        if not bound:
            self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._secret_target(node.target, node.value)
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._secret_target(node.target, node.value)
        self.generic_visit(node)

    def _secret_target(self, target: ast.AST, value: ast.AST) -> None:
        name = target.attr if isinstance(target, ast.Attribute) else (
            target.id if isinstance(target, ast.Name) else (
                _const(target.slice) if isinstance(target, ast.Subscript) else None))
        text = _const(value)
        if name and text is not None and value_secret(name, text):
            self.found.secrets.append(f"line {target.lineno}: {name}")

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            name = _const(key) if key is not None else None
            text = _const(value)
            if name and text is not None and value_secret(name, text):
                self.found.secrets.append(f"line {node.lineno}: {name}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else (func.attr if isinstance(func, ast.Attribute) else "")
        if called in DYNAMIC_CALLS:
            self.found.dynamic.append(f"line {node.lineno}: {called}(...)")
        for keyword in node.keywords:
            text = _const(keyword.value)
            if keyword.arg and text is not None and value_secret(keyword.arg, text):
                self.found.secrets.append(f"line {node.lineno}: {keyword.arg}")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        if any(alias.name.split(".")[0] == "importlib" for alias in node.names):
            self.found.dynamic.append(f"line {node.lineno}: import importlib")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if (node.module or "").split(".")[0] == "importlib":
            self.found.dynamic.append(f"line {node.lineno}: from importlib import ...")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and content_secret(node.value):
            self.found.secrets.append(f"line {node.lineno}: {content_secret(node.value)}")


def read_snippet(code: str) -> Snippet:
    """What a config snippet sets; `error` when it is not Python."""
    found = Snippet()
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        found.error = f"line {err.lineno}: {err.msg}"
        return found
    _Reader(found).visit(tree)
    return found
