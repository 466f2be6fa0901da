"""The README stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from tools.config_reference import document

ROOT = Path(__file__).resolve().parent.parent


def test_config_reference_is_current_and_linked():
    current = (ROOT / "docs" / "config.md").read_text()
    assert current == document(), "regenerate with ./run python -m tools.config_reference > docs/config.md"
    assert "(docs/config.md)" in (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## ")]
    assert "./run plan --stack dev" in head and "./run test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\n./run test\n" in ci
