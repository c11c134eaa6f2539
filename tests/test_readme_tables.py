"""The README's reference tables name every config key, input, output and error class there is."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import fleet_provider
from fleet_provider import exceptions, model
from fleet_provider.config import ALL_SETTINGS
from fleet_provider.enrollment_api_key import EnrollmentApiKeyArgs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def first_column(table_header: str) -> list[str]:
    """The back-quoted names in the first column of the table whose header row starts so."""
    start = README.index(table_header)
    rows = []
    for line in README[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return [name for row in rows for name in re.findall(r"^\| `([^`]+)`", row)]


def test_every_config_key_and_its_environment_variable_has_a_row() -> None:
    start = README.index("| config key | environment variable | meaning |")
    table = README[start : README.index("\n\n", start)]
    for source in ALL_SETTINGS:
        row = f"| `{source.config_key}` | " + (f"`{source.env_var}`" if source.env_var else "—")
        assert row in table, f"README's configuration table has no row {row!r}"


def test_every_input_has_a_row() -> None:
    inputs = {field.name for field in dataclasses.fields(EnrollmentApiKeyArgs)}
    assert set(first_column("| input | type | meaning |")) == inputs


def test_every_output_beyond_the_inputs_has_a_row() -> None:
    inputs = {field.name for field in dataclasses.fields(EnrollmentApiKeyArgs)}
    outputs = set(model.OUTPUT_KEYS) - inputs
    documented = set(first_column("| output | meaning |"))
    assert outputs <= documented, f"undocumented outputs: {sorted(outputs - documented)}"
    assert documented <= outputs, f"documented but not outputs: {sorted(documented - outputs)}"


def test_every_error_class_has_a_row_naming_its_parent() -> None:
    classes = {
        name: value
        for name, value in vars(exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == exceptions.__name__
    }
    start = README.index("| error | parent | cause | what to do |")
    table = README[start : README.index("\n\n", start)]
    for name, cls in classes.items():
        assert name in fleet_provider.__all__
        parent = cls.__mro__[1].__name__
        assert re.search(rf"^\| `{name}`[^|]* \| `{parent}` \|", table, re.M), (
            f"README's error table has no row for {name} under {parent}"
        )
