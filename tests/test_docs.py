"""The README stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from components.config import reference_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_readme_config_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    assert reference_markdown() in readme, "regenerate with ./run python -m components.config --markdown"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## ")]
    assert "./run plan --stack dev" in head and "./run test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\n./run test\n" in ci
