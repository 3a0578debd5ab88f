"""CSV and XLSX files of the monthly report and of the staff case export (openpyxl, write-only mode).

A report is a list of :class:`Section` (a title, column headers, rows). CSV puts the sections one after another
(a title line, the header, the rows, a blank line), UTF-8 with a BOM so Excel opens it in Chinese; XLSX gives each
section its own sheet. Rates are fractions in the data: CSV shows them as ``93.5%``, XLSX as numbers formatted
``0.0%``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from services.analytics.measures.service import FIGURE_NAMES


@dataclass(frozen=True)
class Percent:
    value: float | None


@dataclass
class Section:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    sheet: str = ""
    widths: Sequence[int] = ()


def pct(value: float | None) -> Percent:
    return Percent(value)


def _text(value: Any) -> Any:
    if isinstance(value, Percent):
        return "" if value.value is None else f"{value.value * 100:.1f}%"
    if value is None:
        return ""
    return value


def csv_bytes(sections: Sequence[Section]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for i, section in enumerate(sections):
        if len(sections) > 1:
            if i:
                writer.writerow([])
            writer.writerow([section.title])
        writer.writerow(section.headers)
        writer.writerows([[_text(v) for v in row] for row in section.rows])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


_HEAD_FILL = PatternFill("solid", fgColor="991B1B")
_HEAD_FONT = Font(bold=True, color="FFFFFF")
_TITLE_FONT = Font(bold=True, size=13)


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "Sheet"
    candidate, n = clean, 2
    while candidate in used:
        suffix = f"({n})"
        candidate, n = clean[: 31 - len(suffix)] + suffix, n + 1
    used.add(candidate)
    return candidate


def xlsx_bytes(sections: Sequence[Section], *, title: str = "") -> bytes:
    wb = Workbook(write_only=True)
    used: set[str] = set()
    for section in sections:
        ws = wb.create_sheet(_sheet_name(section.sheet or section.title, used))
        widths = list(section.widths) or [max(8, min(40, len(str(h)) * 2 + 4)) for h in section.headers]
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        if title:
            cell = WriteOnlyCell(ws, value=f"{title} · {section.title}")
            cell.font = _TITLE_FONT
            ws.append([cell])
        head = []
        for h in section.headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.fill, cell.font = _HEAD_FILL, _HEAD_FONT
            cell.alignment = Alignment(horizontal="center")
            head.append(cell)
        ws.append(head)
        for row in section.rows:
            out: list[Any] = []
            for value in row:
                if isinstance(value, Percent):
                    cell = WriteOnlyCell(ws, value=value.value)
                    cell.number_format = "0.0%"
                    out.append(cell)
                else:
                    out.append(value)
            ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


RATE_COLUMNS = (
    "sign_rate_24h",
    "response_rate",
    "return_rate",
    "on_time_rate",
    "reopen_rate",
    "one_time_rate",
    "solve_rate",
    "satisfaction_rate",
)


def _figure_row(item: dict[str, Any]) -> list[Any]:
    return [item["received"], item["assigned"], *[pct(item[r]) for r in RATE_COLUMNS]]


_FIGURE_HEADERS = [FIGURE_NAMES["received"], FIGURE_NAMES["assigned"], *[FIGURE_NAMES[r] for r in RATE_COLUMNS]]


def report_sections(report: dict[str, Any]) -> list[Section]:
    """The monthly report (services.analytics.measures.service.monthly_report) as sections."""
    total, prev = report["total"], report["previous"]
    summary = Section(
        "总体指标",
        ["指标", report["period"]["label"], report["previous_period"]["label"] + "（环比）", "计算口径"],
        sheet="总体指标",
        widths=[18, 16, 22, 70],
    )
    basis = {
        "received": "受理时间在本月的工单数",
        "assigned": "本月派单、改派、职责裁定的次数",
        "sign_rate_24h": "派单后24小时内签收 ÷ 应签收派单",
        "response_rate": "在签收时限内签收 ÷ 应签收派单",
        "return_rate": "被承办单位退回的派单 ÷ 派单量",
        "on_time_rate": "办理时限内办结 ÷ 本月办结",
        "reopen_rate": "结案前曾重办的结案 ÷ 本月结案",
        "one_time_rate": "未退单、未重办的结案 ÷ 本月结案",
        "solve_rate": "回访答复已解决 ÷ 有结果的回访",
        "satisfaction_rate": "（满意 + 基本满意×权重）÷ 有效评价",
    }
    for key in ("received", "assigned"):
        summary.rows.append([FIGURE_NAMES[key], total[key], prev[key], basis[key]])
    for key in RATE_COLUMNS:
        summary.rows.append([FIGURE_NAMES[key], pct(total[key]), pct(prev[key]), basis[key]])
    summary.rows.append(["本月办结", total["replied"], prev["replied"], "办结（答复）次数"])
    summary.rows.append(["本月结案", total["closed"], prev["closed"], "结案次数（并单随主单结案不计）"])
    summary.rows.append(["当前超期", total["overdue_open"], "", "生成报告时在办且已超过办理时限"])

    def ranked(title: str, items: list[dict[str, Any]], sheet: str) -> Section:
        s = Section(
            title,
            ["排名", "单位", "综合得分", *_FIGURE_HEADERS, "逆向评价均分", "逆向评价条数"],
            sheet=sheet,
            widths=[6, 28, 10, *([12] * len(_FIGURE_HEADERS)), 12, 12],
        )
        for i in items:
            s.rows.append(
                [
                    i["rank"] if i["rank"] is not None else "样本不足",
                    i["name"],
                    i["score"],
                    *_figure_row(i),
                    i["review"]["mean"],
                    i["review"]["count"],
                ]
            )
        return s

    def grouped(title: str, items: list[dict[str, Any]], label: str, sheet: str) -> Section:
        s = Section(title, [label, *_FIGURE_HEADERS], sheet=sheet, widths=[26, *([12] * len(_FIGURE_HEADERS))])
        s.rows.extend([[i["name"], *_figure_row(i)] for i in items])
        return s

    lists = Section("红黑榜", ["榜单", "单位", "综合得分", "排名"], sheet="红黑榜", widths=[10, 28, 10, 8])
    lists.rows.extend([["红榜", i["name"], i["score"], i["rank"]] for i in report["red"]])
    lists.rows.extend([["黑榜", i["name"], i["score"], i["rank"]] for i in report["black"]])
    reviews = Section(
        "逆向评价（街道评部门）",
        ["部门", "均分（1-5）", "评价条数", "5分", "4分", "3分", "2分", "1分"],
        sheet="逆向评价",
        widths=[28, 12, 10, 6, 6, 6, 6, 6],
    )
    reviews.rows.extend(
        [[r["name"], r["mean"], r["count"], *[r["scores"][str(s)] for s in (5, 4, 3, 2, 1)]] for r in report["reviews"]]
    )
    trend = Section("每日趋势", ["日期", "受理", "办结", "结案"], sheet="每日趋势", widths=[12, 8, 8, 8])
    trend.rows.extend([[d["day"], d["received"], d["replied"], d["closed"]] for d in report["trend"]])
    return [
        summary,
        ranked("职能部门考核排名", report["departments"], "部门排名"),
        ranked("街道承办考核排名", report["street_handlers"], "街道承办排名"),
        lists,
        grouped("按发生街道", report["streets"], "街道", "按街道"),
        grouped("按诉求类别", report["categories"], "类别", "按类别"),
        grouped("按受理渠道", report["channels"], "渠道", "按渠道"),
        grouped("受理量前20的网格", report["grids"], "网格", "网格前20"),
        reviews,
        trend,
    ]
