"""Generate the demo district map ``data/demo_district.geojson`` (run once; the output is committed).

    .venv/bin/python -m services.intake.places.build_demo

The demo district is a *schematic* 成都市成华区 (code 510108) in WGS-84, lon 104.080–104.160,
lat 30.640–30.700: five streets laid out roughly where they really are (猛追湾 south-west by the
Fu River, 府青路 north-west, 二仙桥 north-east, 双桥子 south, 万年场 south-east), each split into
4 communities (2 × 2) and each community into 10 grids (5 columns × 2 rows). All edges are built
from one set of rounded coordinates, so the polygons tile the district with no gaps or overlaps.
Grid workers are fictitious. See :mod:`services.intake.places.service` for the property schema.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DISTRICT_CODE = "510108"
OUT = Path(__file__).parent / "data" / "demo_district.geojson"

# North row lat 30.672–30.700, south row lat 30.640–30.672.
# (code, name, (lon_min, lat_min, lon_max, lat_max), community names NW, NE, SW, SE)
STREETS: list[tuple[str, str, tuple[float, float, float, float], list[str]]] = [
    ("S01", "猛追湾街道", (104.080, 30.640, 104.106, 30.672), ["望平社区", "建设路社区", "猛追湾社区", "双林社区"]),
    ("S02", "府青路街道", (104.080, 30.672, 104.115, 30.700), ["八里桥社区", "桃蹊路社区", "府青社区", "建北社区"]),
    ("S03", "二仙桥街道", (104.115, 30.672, 104.160, 30.700), ["下涧槽社区", "二仙桥社区", "踏水社区", "建材路社区"]),
    ("S04", "双桥子街道", (104.106, 30.640, 104.130, 30.672), ["双庆路社区", "东风社区", "双桥路社区", "麻石桥社区"]),
    ("S05", "万年场街道", (104.130, 30.640, 104.160, 30.672), ["杉板桥社区", "东虹路社区", "万年场社区", "槐树店社区"]),
]
GRID_COLUMNS = 5
GRID_ROWS = 2

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
_GIVEN = [
    "建国",
    "丽",
    "静",
    "伟",
    "敏",
    "磊",
    "霞",
    "勇",
    "艳",
    "军",
    "芳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "桂兰",
    "志强",
    "海燕",
    "晓东",
    "红梅",
    "小琴",
    "文斌",
    "春华",
    "德明",
    "玉兰",
    "俊",
]


def _r(x: float) -> float:
    return round(x, 6)


def _split(lo: float, hi: float, n: int) -> list[float]:
    return [_r(lo + (hi - lo) * k / n) for k in range(n + 1)]


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    # counter-clockwise exterior ring, closed
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def _feature(
    level: str, code: str, name: str, parent: str, ring: list[list[list[float]]], **extra: Any
) -> dict[str, Any]:
    props: dict[str, Any] = {"level": level, "code": code, "name": name, "parent": parent, **extra}
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": ring}}


def _workers(rng: random.Random, grid_code: str) -> list[dict[str, str]]:
    count = 1 if rng.random() < 0.6 else 2
    return [
        {"id": f"W-{grid_code}-{i}", "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN)} for i in range(1, count + 1)
    ]


def build() -> dict[str, Any]:
    rng = random.Random(510108)
    features: list[dict[str, Any]] = []
    for s_code, s_name, (x0, y0, x1, y1), communities in STREETS:
        features.append(_feature("street", s_code, s_name, DISTRICT_CODE, _rect(x0, y0, x1, y1)))
        xs, ys = _split(x0, x1, 2), _split(y0, y1, 2)
        # quadrants in order NW, NE, SW, SE
        quads = [
            (xs[0], ys[1], xs[1], ys[2]),
            (xs[1], ys[1], xs[2], ys[2]),
            (xs[0], ys[0], xs[1], ys[1]),
            (xs[1], ys[0], xs[2], ys[1]),
        ]
        for ci, (c_name, (cx0, cy0, cx1, cy1)) in enumerate(zip(communities, quads, strict=True), start=1):
            c_code = f"{s_code}C{ci:02d}"
            features.append(_feature("community", c_code, c_name, s_code, _rect(cx0, cy0, cx1, cy1)))
            gxs, gys = _split(cx0, cx1, GRID_COLUMNS), _split(cy0, cy1, GRID_ROWS)
            number = 0
            for row in reversed(range(GRID_ROWS)):  # north row first
                for col in range(GRID_COLUMNS):
                    number += 1
                    g_code = f"{c_code}G{number:02d}"
                    features.append(
                        _feature(
                            "grid",
                            g_code,
                            f"{c_name}第{number}网格",
                            c_code,
                            _rect(gxs[col], gys[row], gxs[col + 1], gys[row + 1]),
                            workers=_workers(rng, g_code),
                        )
                    )
    return {
        "type": "FeatureCollection",
        "name": "成都市成华区（演示用示意图）",
        "crs_note": "WGS-84 lon/lat; schematic demo map, not survey data",
        "district": {"code": DISTRICT_CODE, "name": "成华区"},
        "features": features,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
