"""``linkage calendar ...``: inspect the working-day calendar from the command line."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from shared.calendar.calendar import SHANGHAI, STATUS_LABELS, default_calendar

app = typer.Typer(help="中国政府工作日历（法定节假日、调休）与期限计算。", no_args_is_help=True)


def _parse_date(value: str, param: str = "DATE") -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"无效日期 {value!r}，格式应为 YYYY-MM-DD（invalid date, expected YYYY-MM-DD）",
            param_hint=param,
        ) from None


def _parse_datetime(value: str, param: str = "DATETIME") -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"无效时间 {value!r}，格式应为 ISO 8601，如 2026-09-30T10:00 或 2026-09-30T02:00+00:00"
            "（无时区时按北京时间）",
            param_hint=param,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment


def _provisional_note(start: dt.date, end: dt.date) -> None:
    if default_calendar().deadline_is_provisional(start, end):
        typer.echo("注意：涉及的年份节假日安排未正式发布，结果为推算，仅供参考。", err=True)


@app.command("add-workdays")
def add_workdays(
    date: str = typer.Argument(..., metavar="DATE", help="起始日期 YYYY-MM-DD（不计入）"),
    n: int = typer.Argument(..., metavar="N", help="工作日数（可为负数）"),
) -> None:
    """打印 DATE 之后第 N 个工作日的日期。"""
    start = _parse_date(date)
    try:
        result = default_calendar().add_working_days(start, n)
    except OverflowError:
        raise typer.BadParameter("结果超出可表示的日期范围", param_hint="N") from None
    typer.echo(result.isoformat())
    _provisional_note(start, result)


@app.command("is-workday")
def is_workday_cmd(date: str = typer.Argument(..., metavar="DATE", help="日期 YYYY-MM-DD")) -> None:
    """打印 是/否 及原因（工作日/周末/法定节假日/调休上班）。"""
    info = default_calendar().describe(_parse_date(date))
    reason = info.label + (f"（{info.name}）" if info.name else "")
    suffix = "  [推算，仅供参考]" if info.provisional else ""
    typer.echo(f"{info.date.isoformat()} {'是' if info.is_workday else '否'} {reason}{suffix}")


@app.command("years")
def years() -> None:
    """列出已收录的年份及数据状态。"""
    cal = default_calendar()
    report = cal.coverage_report()  # makes sure the current and next year are listed
    table = Table(title="节假日数据覆盖")
    table.add_column("年份", justify="right")
    table.add_column("状态")
    table.add_column("来源", overflow="fold")
    for cov in cal.covered_years():
        style = "green" if cov.status == "official" else ("yellow" if cov.status == "provisional" else "red")
        table.add_row(str(cov.year), f"[{style}]{cov.status} {STATUS_LABELS[cov.status]}[/]", cov.source)
    console = Console()
    console.print(table)
    if report["warning"]:
        console.print(f"[bold yellow]{report['warning']}[/]")


@app.command("deadline")
def deadline(
    start: str = typer.Argument(..., metavar="DATETIME", help="起始时间 ISO 8601（无时区时按北京时间）"),
    n: int = typer.Argument(..., metavar="N", help="工作日数"),
) -> None:
    """打印第 N 个工作日 17:30（北京时间）的截止时间。"""
    moment = _parse_datetime(start)
    cal = default_calendar()
    try:
        result = cal.working_deadline(moment, n)
    except OverflowError:
        raise typer.BadParameter("结果超出可表示的日期范围", param_hint="N") from None
    local = result.astimezone(SHANGHAI)
    typer.echo(f"{local.strftime('%Y-%m-%d %H:%M')} 北京时间  ({result.isoformat()})")
    _provisional_note(moment.astimezone(SHANGHAI).date(), local.date())


if __name__ == "__main__":  # pragma: no cover
    app()
