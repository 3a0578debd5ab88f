from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shared.calendar.cli import app

pytestmark = pytest.mark.unit

runner = CliRunner()


def test_add_workdays_over_national_day_2026() -> None:
    result = runner.invoke(app, ["add-workdays", "2026-09-30", "5"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2026-10-13"


def test_add_workdays_negative_and_provisional_note() -> None:
    result = runner.invoke(app, ["add-workdays", "2026-10-08", "--", "-1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2026-09-30"

    result = runner.invoke(app, ["add-workdays", "2026-12-20", "15"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("2027-")
    assert "推算" in result.stderr


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2026-10-01", "否 法定节假日（国庆节）"),
        ("2026-10-03", "否 法定节假日"),
        ("2025-10-11", "是 调休上班"),
        ("2026-03-07", "否 周末"),
        ("2026-03-09", "是 工作日"),
    ],
)
def test_is_workday(date: str, expected: str) -> None:
    result = runner.invoke(app, ["is-workday", date])
    assert result.exit_code == 0, result.output
    assert expected in result.stdout
    assert result.stdout.startswith(date)


def test_is_workday_unknown_year_is_marked() -> None:
    result = runner.invoke(app, ["is-workday", "2031-10-01"])
    assert result.exit_code == 0, result.output
    assert "否" in result.stdout and "仅供参考" in result.stdout


def test_years_table() -> None:
    result = runner.invoke(app, ["years"])
    assert result.exit_code == 0, result.output
    for text in ("2004", "2026", "2027", "official", "provisional"):
        assert text in result.stdout


def test_deadline() -> None:
    result = runner.invoke(app, ["deadline", "2026-09-30T10:00", "5"])
    assert result.exit_code == 0, result.output
    assert "2026-10-13 17:30" in result.stdout
    assert "2026-10-13T09:30:00+00:00" in result.stdout
    result = runner.invoke(app, ["deadline", "2026-09-30T23:00+00:00", "1"])
    assert result.exit_code == 0, result.output
    assert "2026-10-08 17:30" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["add-workdays", "2026-13-01", "5"],
        ["add-workdays", "yesterday", "5"],
        ["add-workdays", "2026-10-01", "five"],
        ["add-workdays", "9999-12-30", "5"],
        ["is-workday", "2026/10/01"],
        ["is-workday", ""],
        ["deadline", "not-a-time", "3"],
        ["add-workdays"],
    ],
)
def test_bad_input_exit_code_2_without_traceback(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
