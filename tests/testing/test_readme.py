"""The README's first screen and its "Testing your own stacks" section say what the code does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fleet_provider.lookups import GET_TOKEN, LIST_TOKEN
from fleet_provider.testing.emulator import DEFAULT_POLICIES, NEWEST_KIBANA_VERSION
from fleet_provider.testing.plugin import _OPTIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README.split("## Testing your own stacks", 1)[1].split("\n## ", 1)[0]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_first_screens_unit_test_passes(tmp_path: Path) -> None:
    program, unit_test = python_blocks(README)[:2]
    lines = [line for line in unit_test.splitlines() if line.strip()]
    assert lines[0].startswith("# test_infra.py") and len(lines) <= 13  # about a dozen
    (tmp_path / "infra.py").write_text(program)
    (tmp_path / "test_infra.py").write_text(unit_test)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_infra.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout


def test_the_options_table_names_every_option() -> None:
    for flag, ini, _, several in _OPTIONS:
        [row] = [line for line in SECTION.splitlines() if line.startswith(f"| `{flag}")]
        assert f"`{ini}`" in row and ("repeatable" in row) == several
    assert f"({NEWEST_KIBANA_VERSION})" in SECTION
    assert all(f"`{policy}`" in SECTION for policy in DEFAULT_POLICIES)


def test_the_look_up_tokens_are_the_codes() -> None:
    assert f"`{LIST_TOKEN}`" in SECTION and f"`{GET_TOKEN}`" in SECTION
    assert "`fleet_provider_mocked = False`" in SECTION


def test_the_entry_point_is_the_one_in_pyproject() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\nfleet_provider = "fleet_provider.testing.plugin"' in (
        pyproject
    )
    assert "entry point `fleet_provider` in the group `pytest11`" in " ".join(SECTION.split())
