"""`linkage bench`: the pipeline's figures next to the raw limits of this machine, measured in the same run.

Raw limits: a minimal FastAPI POST endpoint under the bench's own asyncio load generator, PostgreSQL
single-row commits/s, Kafka produce/consume msg/s. Figures (each printed with its raw limit and the ratio):
pipeline rate for operator-classified and free-text tickets ("done" = case dispatched, receipt recorded by
notify, complaint counted by analytics — counted from PostgreSQL like :mod:`linkage.ledger`), latency at half
that rate, SLA timers (claim cost with its plan, fire lag at 1,000/s, backlog drain and dispatch's CPU per timer,
with 10 k and, full mode, 1 M open timers), replay (the cases topic copied into a 100 k / 300 k record scratch
topic and read raw, decoded and with a fast-decode sketch; `linkage analytics rebuild --check`), RSS per service
idle and loaded, and (full mode or ``--linkage-up``) `linkage up` first and second start. ``--replicas 2`` runs
two processes of every service. The load generator runs on the same cores as the services, so ratios are
conservative; docs/benchmarks.md has the latest figures."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from linkage.loadgen import LoadResult, get_many, post_json, post_json_paced
from shared.db import sync_url
from shared.kafka import ensure_topics, make_producer
from shared.settings import Settings

console = Console()
REPO = Path(__file__).resolve().parent.parent
#: Free-text cores (catalog-style complaints the model classifies with a matter confidence ≥ 0.5 even with a place
#: in front; dispatch sends anything less sure to triage); operator-classified tickets: OPERATOR_MATTERS.
FREE_TEXTS = (
    "附近的汽修厂喷漆，味道刺鼻，家里窗户都不敢开",
    "小区广场舞音响开得很大，一直跳到晚上十点",
    "出租车司机不打表，一口价要五十",
    "小区消防通道上停满了车，消防车根本进不来",
    "网约车司机故意绕路，多收了二十块",
    "邻居在公共走廊堆东西，一说就吵架",
    "办了三千块的健身卡，健身房突然关门了",
    "养老院护工对老人态度很差",
    "培训机构收了一年学费后关门了",
    "楼道里的灭火器都过期了",
)
STREET_LIGHT = ("路灯不亮", "路灯坏了", "灯杆上的灯一闪一闪", "整排路灯都黑了", "路灯白天亮晚上不亮", "照明灯全灭了")
LIGHT_EFFECT = ("晚上走路很害怕", "老人孩子出门不方便", "骑车差点摔跤", "黑灯瞎火的不安全", "下夜班回家提心吊胆")
#: Operator-classified tickets rotate over twelve matters of nine categories (texts per matter: cores, effects).
#: 并单 merges the same matter within 200 m when the words mean the same: each matter's tickets are 250 m apart.
OPERATOR_MATTERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "SZ003": (STREET_LIGHT, LIGHT_EFFECT),
    "HB002": (
        ("楼下饭馆油烟直接往楼上排", "烧烤店油烟熏得家里全是味", "餐馆排烟管对着窗户"),
        ("衣服都不敢晾", "窗户一直不敢开", "老人咳嗽得厉害"),
    ),
    "CG001": (
        ("人行道上摆满了流动摊贩", "早市占道摆摊把路堵了", "小摊贩在路边占道经营"),
        ("行人只能走机动车道", "每天早上堵得走不动", "垃圾扔了一地"),
    ),
    "JT007": (
        ("路边违法停车占了一条车道", "车辆乱停在人行道上", "有车长期停在公交站台前"),
        ("公交车进不了站", "轮椅和婴儿车过不去", "早晚高峰堵得厉害"),
    ),
    "SC001": (
        ("超市在卖过期的牛奶", "小卖部卖的面包发霉了", "买到的熟食已经变质"),
        ("孩子吃了肚子疼", "找商家也不给退", "怕还有别人买到"),
    ),
    "HB003": (
        ("楼下商铺音响放得震天响", "半夜有人在小区里大声喧哗", "酒吧音乐吵到凌晨"),
        ("晚上根本睡不着", "孩子没法写作业", "老人心脏受不了"),
    ),
    "CG009": (
        ("店招牌歪了快掉下来", "楼顶广告牌松动了", "违规户外广告挡住了窗户"),
        ("刮风的时候很危险", "下面经常有人走", "晚上灯箱刺眼"),
    ),
    "JT002": (
        ("公交司机不等人就关门", "公交车经常甩站", "公交司机态度很差"),
        ("等了半小时才来一趟", "老人上车差点摔倒", "投诉过没人管"),
    ),
    "SZ013": (
        ("网线电线乱拉在树上", "楼道里通信线缆缠成一团", "光纤线垂下来挡路"),
        ("担心触电", "车辆经过会挂到", "很不美观"),
    ),
    "WJ001": (
        ("医院挂号排队太久", "医生看病态度很差", "社区医院开药乱收费"),
        ("老人等了一上午", "问什么都不耐烦", "多收了好几十"),
    ),
    "JY006": (
        ("学校门口摊贩很多", "校门口小卖部向学生卖烟", "学校附近有网吧让未成年人进"),
        ("孩子过马路很危险", "家长很担心", "每天都这样"),
    ),
    "JF005": (
        ("物业乱收停车费", "物业不修电梯还涨物业费", "物业把公共区域租出去了"),
        ("业主们意见很大", "找物业没人理", "已经好几个月了"),
    ),
}
ROADS = (
    "建设路", "双林路", "猛追湾街", "府青路", "二环路", "一环路", "万年场", "东风路",
    "水碾河路", "杉板桥路", "驷马桥街", "踏水桥", "新鸿路", "培华东路", "跳蹬河路", "建设南路",
)  # fmt: skip
SPOTS = ("小区门口", "公交站旁", "菜市场边上", "学校对面", "十字路口", "巷子里", "天桥下", "停车场入口", "药店门口")
SINCE = ("已经好几天了", "快一个月了", "从上周开始", "昨天晚上起", "这两个星期", "春节后一直这样")
EXTRA = ("物业说不归他们管", "打过电话没人来", "附近住户都有意见", "居委会也知道这事", "上次修过又坏了", "")
ASK = ("请尽快派人修", "希望有关部门处理", "麻烦安排处理", "请帮忙协调", "盼早日解决", "请给个答复")


@dataclass(frozen=True)
class Mode:
    name: str
    complaints: int  # per pipeline run (operator-classified, free-text)
    latency_s: float  # paced run at half the operator-classified rate
    raw_s: float  # each raw-limit measurement
    kafka_messages: int
    open_timers: tuple[int, ...]
    due_timers: int  # falling due at 1,000/s
    settle_s: float
    replay_records: int  # the cases topic copied into a scratch topic until it holds this many
    replay_decode_s: float  # each decoding read stops after this long (its rate is that of what it read)
    linkage_up: bool  # time `linkage up` (first and second start) after the bench's own stack stopped


QUICK = Mode("quick", 500, 8.0, 2.0, 20_000, (10_000,), 1_000, 90.0, 100_000, 10.0, False)
FULL = Mode("full", 3_000, 30.0, 5.0, 100_000, (10_000, 1_000_000), 5_000, 300.0, 300_000, 30.0, True)


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    limit_name: str = ""
    limit: float | None = None
    target: str = ""  # e.g. "≥ 0.25 × raw POST"; met is judged against it when known
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.limit:
            return None
        return self.value / self.limit


@dataclass
class Results:
    mode: str
    replicas: int
    started_at: str
    machine: dict[str, Any]
    raw: dict[str, float] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        ratio = f" ({figure.ratio:.3f} × {figure.limit_name})" if figure.ratio is not None else ""
        value = "n/a" if figure.value is None else f"{figure.value:,.3g}"
        console.print(f"  {figure.name}: {value} {figure.unit}{ratio} {figure.note}")
        return figure

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["figures"] = [{**asdict(f), "ratio": f.ratio} for f in self.figures]
        return body


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        info["memory_gb"] = round(total_kb / 1024 / 1024, 1)
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = os.getloadavg()
    return info


# ---------------------------------------------------------------------------------------- raw limits
async def raw_postgres_commits(url: str, connections: int, seconds: float) -> float:
    setup = await asyncpg.connect(sync_url(url))
    await setup.execute("CREATE TABLE IF NOT EXISTS bench_commits (id bigserial primary key, v text)")
    await setup.close()
    stop = time.perf_counter() + seconds
    counts = [0] * connections

    async def worker(i: int) -> None:
        conn = await asyncpg.connect(sync_url(url))
        try:
            while time.perf_counter() < stop:
                await conn.execute("INSERT INTO bench_commits (v) VALUES ('x')")  # autocommit: one commit
                counts[i] += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - started)


async def raw_kafka(settings: Settings, messages: int) -> tuple[float, float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic], partitions=settings.partitions, exact=True)
    producer = make_producer(settings)
    await producer.start()
    payload = b"x" * 400
    started = time.perf_counter()
    futures = [await producer.send(topic, payload, key=str(i).encode()) for i in range(messages)]
    await asyncio.gather(*futures)
    produce_rate = messages / (time.perf_counter() - started)
    await producer.stop()
    seen, elapsed = await read_topic_from_start(settings, topic, messages)
    return produce_rate, seen / elapsed if elapsed else 0.0


#: Consumer fetch settings of every read in the bench (raw and decoding alike): large fetches, so a read from the
#: start is not bound by fetch round trips.
FETCH = {"fetch_max_bytes": 64 << 20, "max_partition_fetch_bytes": 16 << 20, "fetch_max_wait_ms": 100}
READ_BATCH = 20_000


def _decode_fast(headers: Any, value: bytes) -> Any:
    """A sketch of a fast decode, for comparison only (what a consumer could do): the payload model validated
    straight from the record's JSON bytes, its type taken from the ``ce_type`` header, no CloudEvents SDK."""
    from shared.events.registry import model_for

    event_type = dict(headers)["ce_type"].decode()
    model = model_for(event_type)
    assert model is not None, event_type
    return model.model_validate_json(value)


async def read_topic_from_start(
    settings: Settings,
    topic: str,
    expected: int | None,
    *,
    decode: str | bool = False,
    idle_s: float = 2.0,
    max_s: float | None = None,
) -> tuple[int, float]:
    """A fresh consumer group reads ``topic`` from the start with the bench's fetch settings (``decode``: ``"full"``
    or True = parse every CloudEvent and validate its payload the way the services' consumers do; ``"fast"`` =
    :func:`_decode_fast`); returns (records, seconds from the first fetch request to the last record). ``max_s``:
    stop after that long (the rate is then that of the records read so far)."""
    from shared.events.envelope import decode_message

    mode = "full" if decode is True else (decode or "")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-replay-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        **FETCH,
    )
    await consumer.start()
    seen, last = 0, 0.0
    try:
        first = idle_since = time.perf_counter()
        while (expected is None or seen < expected) and time.perf_counter() - idle_since < idle_s:
            if max_s is not None and time.perf_counter() - first > max_s:
                break
            batch = await consumer.getmany(timeout_ms=500, max_records=READ_BATCH)
            records = [r for part in batch.values() for r in part]
            if not records:
                continue
            if mode == "full":
                for record in records:
                    decode_message(record.headers, record.value).payload()
            elif mode == "fast":
                for record in records:
                    _decode_fast(record.headers, record.value)
            seen += len(records)
            last = idle_since = time.perf_counter()
    finally:
        await consumer.stop()
    return seen, last - first if seen else 0.0


TRIVIAL_APP = """
import sys, uvicorn
from typing import Any
from fastapi import FastAPI
app = FastAPI()
@app.post("/echo")
async def echo(body: dict[str, Any]) -> dict[str, str]:
    return {"id": "x"}
@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
"""


async def raw_post_rate(documents: list[dict[str, Any]], concurrency: int) -> float:
    """A minimal FastAPI POST endpoint (JSON body parsed, same uvicorn settings as the services) under the bench's
    own load generator: the ceiling of any HTTP-in figure on this machine."""
    from linkage.infra import free_port

    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [sys.executable, "-c", TRIVIAL_APP, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                await get_many(f"http://127.0.0.1:{port}/healthz", 1, 1)
                break
            await asyncio.sleep(0.1)
        await post_json(f"http://127.0.0.1:{port}/echo", documents[:200], concurrency)  # warm-up
        return (await post_json(f"http://127.0.0.1:{port}/echo", documents, concurrency)).rate
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------------------------------- pipeline
def district_spot(rng: random.Random) -> dict[str, float]:
    """A random point inside the demo district (``{"lon", "lat"}``), like the tests' ``distinct_spot``."""
    from services.intake.places import default_places

    lon, lat = default_places().index.random_point(rng)
    return {"lon": lon, "lat": lat}


def spot_apart(rng: random.Random, taken: list[dict[str, float]], metres: float = 250.0) -> dict[str, float]:
    """A random district point at least ``metres`` from every point in ``taken`` (same-text tickets: duplicate
    detection merges similar texts within 200 m); after 50 tries, the last one drawn. Appended to ``taken``."""
    for _ in range(50):
        spot = district_spot(rng)
        dy = 111_000.0
        dx = dy * math.cos(math.radians(spot["lat"]))
        if all(math.hypot((spot["lon"] - t["lon"]) * dx, (spot["lat"] - t["lat"]) * dy) >= metres for t in taken):
            break
    taken.append(spot)
    return spot


def complaint_text(rng: random.Random, core: str, effect: str = "") -> str:
    """A varied citizen's text around ``core``: two of them at the same spot are rarely similar enough to merge
    (pairs scoring ≥ 0.6 on duplicate detection's text similarity: about 2 in 10,000)."""
    middle = [part for part in (rng.choice(SINCE), effect, rng.choice(EXTRA)) if part]
    rng.shuffle(middle)
    where = f"{rng.choice(ROADS)}{rng.randint(1, 300)}号{rng.choice(SPOTS)}"
    return "，".join([where, core, *middle]) + "。" + rng.choice(ASK)


def hotline_documents(
    tag: str,
    count: int,
    *,
    free_text: bool,
    apart: bool = True,
    placed: dict[str, list[dict[str, float]]] | None = None,
) -> list[dict[str, Any]]:
    """``count`` hotline tickets, each at its own random point of the district with a varied text, the tickets of one
    matter (or one free-text core) 250 m apart — also from those in ``placed`` (earlier runs of the same bench; the
    new points are added to it) — so duplicate detection leaves them alone and each one is dispatched (seeded by
    ``tag``: the same tag, the same tickets). ``apart=False``: anywhere (for the raw POST endpoint)."""
    rng = random.Random(tag)
    taken: dict[str, list[dict[str, float]]] = {} if placed is None else placed
    matters = list(OPERATOR_MATTERS)
    documents = []
    for i in range(count):
        if free_text:  # the core alone (the model needs it to dominate), at a place of its own
            group = FREE_TEXTS[i % len(FREE_TEXTS)]
            text = f"{rng.choice(ROADS)}{rng.randint(1, 300)}号{rng.choice(SPOTS)}，{group}。"
        else:
            group = matters[i % len(matters)]
            cores, effects = OPERATOR_MATTERS[group]
            text = complaint_text(rng, rng.choice(cores), rng.choice(effects))
        spot = spot_apart(rng, taken.setdefault(group, [])) if apart else district_spot(rng)
        doc: dict[str, Any] = {
            "call_id": f"{tag}-{i}",
            "caller_phone": f"139{rng.randrange(100_000_000):08d}",
            "kind": "投诉",
            "text": text,
            **spot,
        }
        if not free_text:
            doc["matter_code"] = group
        documents.append(doc)
    return documents


_DONE = """
SELECT c.complaint_id, extract(epoch FROM i.received_at) AS received,
       extract(epoch FROM c.dispatched_at) AS dispatched
FROM dispatch.cases c JOIN intake.complaints i ON i.id = c.complaint_id
WHERE i.channel_key LIKE $1 AND NOT (c.complaint_id = ANY($2::text[])) AND c.dispatched_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM notify.messages m WHERE m.case_id = c.id AND m.template = 'receipt')
  AND EXISTS (SELECT 1 FROM analytics.case_status s WHERE s.case_id = c.id)
"""
#: Cases that will not be dispatched without a person: merged into another case, or left in triage.
_STOPPED = """
SELECT c.complaint_id FROM dispatch.cases c JOIN intake.complaints i ON i.id = c.complaint_id
WHERE i.channel_key LIKE $1 AND c.state IN ('merged', 'triage')
"""


@dataclass
class Tracked:
    """When each accepted complaint was received, dispatched and first seen counted (polled every 0.1 s)."""

    received: dict[str, float] = field(default_factory=dict)
    dispatched: dict[str, float] = field(default_factory=dict)
    counted: dict[str, float] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)  # merged or in triage: not done, no longer waited for
    last_done: float = 0.0


async def track_done(
    db_url: str, tag: str, ids: list[str], sending: asyncio.Task[Any], settle_s: float, progress: Progress, task: Any
) -> Tracked:
    """Poll PostgreSQL for complaints whose call id carries ``tag`` until all accepted ones (``ids``, filled when
    the answers are in) are done, or ``settle_s`` after the last answer."""
    tracked = Tracked()
    conn = await asyncpg.connect(sync_url(db_url))
    try:
        deadline = None
        while True:
            now = time.time()
            for row in await conn.fetch(_DONE, f"{tag}-%", list(tracked.counted)):
                cid = row["complaint_id"]
                tracked.received[cid] = float(row["received"])
                tracked.dispatched[cid] = float(row["dispatched"])
                tracked.counted[cid] = now
                tracked.last_done = time.perf_counter()
            progress.update(task, completed=len(tracked.counted))
            if sending.done():
                deadline = deadline or time.perf_counter() + settle_s
                tracked.stopped = {r[0] for r in await conn.fetch(_STOPPED, f"{tag}-%")}
                if set(ids) <= set(tracked.counted) | tracked.stopped or time.perf_counter() > deadline:
                    return tracked
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


def accepted_ids(load: LoadResult) -> list[str]:
    ids = []
    for status, body in zip(load.statuses, load.bodies, strict=True):
        if status in (200, 201):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                ids.append(str(json.loads(body)["id"]))
    return ids


async def run_pipeline(
    intake_urls: list[str],
    db_url: str,
    tag: str,
    documents: list[dict[str, Any]],
    headers: dict[str, str],
    *,
    concurrency: int,
    rate: float | None,
    settle_s: float,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    """Send ``documents`` (closed loop, or paced at ``rate``/s) spread over the intake replicas; wait until done."""
    task = progress.add_task(label, total=len(documents))
    ids: list[str] = []
    loads: list[LoadResult] = []
    n = len(intake_urls)

    async def send() -> None:
        async def one(url: str, docs: list[dict[str, Any]]) -> None:
            path = f"{url}/api/v1/complaints"
            if rate is None:
                load = await post_json(path, docs, max(1, concurrency // n), headers)
            else:
                load = await post_json_paced(path, docs, rate / n, max(1, concurrency // n), headers)
            loads.append(load)
            ids.extend(accepted_ids(load))

        await asyncio.gather(*(one(url, documents[i::n]) for i, url in enumerate(intake_urls)))

    started = time.perf_counter()
    sending = asyncio.create_task(send())
    tracked = await track_done(db_url, tag, ids, sending, settle_s, progress, task)
    await sending
    progress.update(task, completed=len(tracked.counted), visible=False)
    latencies = [x for load in loads for x in load.latencies]
    statuses = [s for load in loads for s in load.statuses]
    http_elapsed = max((load.elapsed for load in loads), default=0.0)
    to_dispatched = [tracked.dispatched[c] - tracked.received[c] for c in tracked.counted]
    to_counted = [tracked.counted[c] - tracked.received[c] for c in tracked.counted]
    done = len(set(ids) & set(tracked.counted))
    return {
        "sent": len(documents),
        "accepted": len(ids),
        "done": done,
        "errors": sum(1 for s in statuses if s not in (200, 201)),
        "lost": len(ids) - done,  # not done, including merged/triage ones
        "merged_or_triage": len(set(ids) & tracked.stopped),
        "http_rate": len(statuses) / http_elapsed if http_elapsed else 0.0,
        "pipeline_rate": done / (tracked.last_done - started) if done else 0.0,
        "post_p50": percentile(latencies, 0.50),
        "post_p95": percentile(latencies, 0.95),
        "post_p99": percentile(latencies, 0.99),
        "dispatched_p50": percentile(to_dispatched, 0.50),
        "dispatched_p99": percentile(to_dispatched, 0.99),
        "counted_p50": percentile(to_counted, 0.50),
        "counted_p99": percentile(to_counted, 0.99),
    }


# ---------------------------------------------------------------------------------------- RSS
class RssSampler:
    """Resident memory of every service process: idle now, the maximum while :meth:`sampling` runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak: dict[str, float] = {}

    def now(self) -> dict[str, float]:
        out = {}
        for name, proc in self.processes.items():
            with contextlib.suppress(Exception):
                out[name] = proc.memory_info().rss / 1024 / 1024
        return out

    @contextlib.asynccontextmanager
    async def sampling(self) -> Any:
        async def loop() -> None:
            while True:
                for name, mb in self.now().items():
                    self.peak[name] = max(self.peak.get(name, 0.0), mb)
                await asyncio.sleep(0.5)

        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# ---------------------------------------------------------------------------------------- SLA timers
#: The scanner's claim (services/dispatch/sla/service.py ``_CLAIM``, default batch), schema-qualified.
_CLAIM = (
    "SELECT id, case_id, kind, due_at FROM dispatch.case_timers WHERE fired_at IS NULL AND due_at <= now() "
    "ORDER BY due_at, id LIMIT 500 FOR UPDATE SKIP LOCKED"
)


async def fill_open_timers(conn: asyncpg.Connection, total: int) -> float:
    """Top up to ``total`` open timers due in 30+ days (synthetic case ids: they never fire during the bench), with
    ``generate_series`` in one statement, then VACUUM (ANALYZE) the table; returns the seconds it took."""
    started = time.perf_counter()
    have = int(await conn.fetchval("SELECT count(*) FROM dispatch.case_timers WHERE fired_at IS NULL"))
    if total > have:
        await conn.execute(
            "INSERT INTO dispatch.case_timers (case_id, kind, due_at, attempts) "
            "SELECT 'BENCH' || lpad(g::text, 21, '0'), (ARRAY['sign_due','yellow','red','survey_due'])[1 + g % 4], "
            "now() + interval '30 days' + g * interval '1 second', 0 FROM generate_series($1::bigint, $2::bigint) g",
            have + 1,
            total,
        )
    # settle what the insert leaves behind (autovacuum of a million new rows, dead index entries of the timers fired
    # so far), so the figures that follow measure the scanner with that many open timers, not a vacuum in flight
    await conn.execute("VACUUM (ANALYZE) dispatch.case_timers")
    return time.perf_counter() - started


async def claim_cost_ms(conn: asyncpg.Connection, repeats: int = 30) -> tuple[float, list[str]]:
    """Median time of the scanner's claim query (nothing due), rolled back: the per-scan cost of open timers;
    and its plan (EXPLAIN ANALYZE, BUFFERS: the pages it touched)."""
    samples = []
    for _ in range(repeats):
        tx = conn.transaction()
        await tx.start()
        try:
            started = time.perf_counter()
            await conn.fetch(_CLAIM)
            samples.append((time.perf_counter() - started) * 1000)
        finally:
            await tx.rollback()
    tx = conn.transaction()
    await tx.start()
    try:
        plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {_CLAIM}")]
    finally:
        await tx.rollback()
    return float(percentile(samples, 0.5) or 0.0), plan


async def _due_timers(conn: asyncpg.Connection, count: int, tag: str, *, spread_s: float) -> int:
    """``count`` sign-for timers on real dispatched cases (``warn`` leaves the case dispatched, so the same cases
    serve every run), falling due from 2 s from now, ``spread_s`` apart (0: all at once), tagged in ``last_error``."""
    cases = [
        r[0]
        for r in await conn.fetch(
            "SELECT id FROM dispatch.cases WHERE state = 'dispatched' ORDER BY id LIMIT $1", count
        )
    ]
    if cases:
        await conn.execute(
            "INSERT INTO dispatch.case_timers (case_id, kind, due_at, attempts, last_error) "
            "SELECT c, 'sign_due', now() + interval '2 seconds' + (n - 1) * $3::float8 * interval '1 second', 0, $2 "
            "FROM unnest($1::text[]) WITH ORDINALITY AS u(c, n)",
            cases,
            tag,
            spread_s,
        )
    return len(cases)


async def _wait_fired(conn: asyncpg.Connection, tag: str, timeout_s: float) -> list[asyncpg.Record]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = await conn.fetchval(
            "SELECT count(*) FROM dispatch.case_timers WHERE last_error = $1 AND fired_at IS NULL", tag
        )
        if left == 0:
            break
        await asyncio.sleep(0.2)
    return list(
        await conn.fetch(
            "SELECT extract(epoch FROM fired_at - due_at) AS lag, extract(epoch FROM fired_at) AS fired, "
            "extract(epoch FROM due_at) AS due, outcome FROM dispatch.case_timers "
            "WHERE last_error = $1 AND fired_at IS NOT NULL",
            tag,
        )
    )


async def timer_lag(db_url: str, due: int, timeout_s: float) -> dict[str, Any]:
    """``due`` sign-for timers of real dispatched cases fall due at 1,000/s starting in 2 s; the running dispatch
    service(s) fire them. Lag = fired_at − due_at, where fired_at is taken by the statement that marks the batch,
    the last before its commit. Then a backlog: ``due`` timers all due at the same moment, drained at what rate."""
    conn = await asyncpg.connect(sync_url(db_url))
    try:
        tag = f"bench-{uuid.uuid4().hex[:6]}"
        timers = await _due_timers(conn, due, tag, spread_s=0.001)
        if not timers:
            return {"timers": 0}
        rows = await _wait_fired(conn, tag, timeout_s)
        backlog_tag = f"{tag}-b"
        await _due_timers(conn, due, backlog_tag, spread_s=0.0)
        backlog = await _wait_fired(conn, backlog_tag, timeout_s)
    finally:
        await conn.close()
    lags = [float(r["lag"]) for r in rows]
    outcomes: dict[str, int] = {}
    for r in rows:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    drain_s = max(float(r["fired"]) for r in backlog) - float(backlog[0]["due"]) if backlog else None
    return {
        "timers": timers,
        "fired": len(rows),
        "outcomes": outcomes,
        "lag_p50": percentile(lags, 0.5),
        "lag_p99": percentile(lags, 0.99),
        "lag_max": max(lags) if lags else None,
        "backlog": len(backlog),
        "backlog_drain_s": drain_s,
        "backlog_rate": len(backlog) / drain_s if drain_s else None,
    }


# ---------------------------------------------------------------------------------------- linkage up
def _up_port_base(rng: random.Random) -> int:
    """A port base whose four service ports and broker port (base + 1092) are free now."""
    from linkage.infra import port_is_free

    for _ in range(200):
        base = rng.randrange(20_000, 50_000, 10)
        if all(port_is_free(base + i) for i in (1, 2, 3, 4, 1092)):
            return base
    raise RuntimeError("no free port range for linkage up")


def time_linkage_up(var_dir: Path, port_base: int, timeout_s: float = 180.0) -> dict[str, Any]:
    """Start `linkage up` on ``var_dir`` as a user would (its own embedded PostgreSQL and broker, demo data), time
    until every service answers /readyz 200 (polled every 0.1 s), then stop it with SIGTERM like Ctrl-C.

    Phases, seen from outside: ``broker`` = the broker port accepts (PostgreSQL is up and the database exists
    before the broker starts); ``spawned`` = the first service process exists (topics, migrations and demo data
    done); per service ``healthz`` (imports done, app serving) and ``readyz`` (database, broker, consumers)."""
    import signal
    import socket

    import httpx
    import psutil

    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_")}
    var_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = var_dir.parent / f"{var_dir.name}-up.log"
    names = ("intake", "dispatch", "notify", "analytics")
    ports = {name: port_base + i + 1 for i, name in enumerate(names)}
    broker_port = port_base + 1092
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "linkage.cli", "up", "--var-dir", str(var_dir), "--port-base", str(port_base)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    marks: dict[str, float] = {}

    def mark(key: str) -> None:
        marks.setdefault(key, round(time.perf_counter() - started, 2))

    cpu: dict[str, float] = {}
    try:
        parent = psutil.Process(proc.pid)
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() - started < timeout_s and proc.poll() is None:
                if "broker" not in marks:
                    with socket.socket() as sock:
                        sock.settimeout(0.1)
                        if sock.connect_ex(("127.0.0.1", broker_port)) == 0:
                            mark("broker")
                if "spawned" not in marks:
                    with contextlib.suppress(psutil.Error):
                        if any("serve" in child.cmdline() for child in parent.children()):
                            mark("spawned")
                for name, port in ports.items():
                    for probe in ("healthz", "readyz"):
                        if f"{name} {probe}" in marks:
                            continue
                        with contextlib.suppress(httpx.HTTPError):
                            if client.get(f"http://127.0.0.1:{port}/{probe}").status_code == 200:
                                mark(f"{name} {probe}")
                                if probe == "readyz":  # the service's CPU until it was ready
                                    cpu[name] = _cpu_seconds(parent).get(name, 0.0)
                if all(f"{name} readyz" in marks for name in names):
                    break
                time.sleep(0.1)
        cpu = {**_cpu_seconds(parent), **cpu}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    ready = [marks.get(f"{name} readyz") for name in names]
    total = max(r for r in ready if r is not None) if all(r is not None for r in ready) else None
    out: dict[str, Any] = {"ready_s": total, "marks_s": marks, "cpu_s": cpu, "exit": proc.returncode}
    if total is None:  # what `linkage up` said, for the report
        out["log_tail"] = log_path.read_text(errors="replace")[-2000:]
    return out


def _cpu_seconds(parent: Any) -> dict[str, float]:
    """CPU seconds (user + system) spent so far by `linkage up` and every process it started, by role: a figure
    the machine's load does not inflate (wall time on a shared machine does). PostgreSQL runs detached: not counted."""
    import psutil

    out: dict[str, float] = {}
    try:
        processes = [parent, *parent.children(recursive=True)]
    except psutil.Error:  # `linkage up` has exited
        return out
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            cmd = proc.cmdline()
            role = (
                "up"
                if proc.pid == parent.pid
                else ("broker" if "broker" in cmd else cmd[-3] if "serve" in cmd else "other")
            )
            times = proc.cpu_times()
            out[role] = round(out.get(role, 0.0) + times.user + times.system, 2)
    return out


def up_figures(results: Results, progress: Progress) -> None:
    """`linkage up` twice on the same fresh var directory: the first start (a new user) and the second (a machine
    that has run it once, the issue's figure). Runs after the bench's own stack has stopped."""
    import shutil
    import tempfile

    task = progress.add_task("linkage up: first and second start", total=2)
    base = Path(tempfile.mkdtemp(prefix="linkage-bench-up-"))
    try:
        port_base = _up_port_base(random.Random())
        first = time_linkage_up(base / "var", port_base)
        progress.advance(task)
        second = time_linkage_up(base / "var", port_base)
        progress.advance(task)
    finally:
        progress.update(task, visible=False)
        shutil.rmtree(base, ignore_errors=True)
    results.details["linkage_up"] = {"first": first, "second": second}
    for label, run in (("second start (var/ kept)", second), ("first start (empty var/)", first)):
        ready = run["ready_s"]
        marks = run["marks_s"]
        phases = ", ".join(f"{k} {marks[k]:.1f}" for k in ("broker", "spawned") if k in marks)
        healthz = [v for k, v in marks.items() if k.endswith("healthz")]
        if healthz:
            phases += f", first /healthz {min(healthz):.1f}, last {max(healthz):.1f}"
        cpu = run.get("cpu_s") or {}
        if cpu:
            phases += "; CPU s " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        results.add(
            Figure(
                f"`linkage up` ready, {label}",
                ready,
                "s (all /readyz 200)",
                target="≤ 10 s" if label.startswith("second") else "",
                met=(None if ready is None else ready <= 10) if label.startswith("second") else None,
                note=f"seconds from the command: {phases}",
            )
        )


# ---------------------------------------------------------------------------------------- the run
@contextlib.contextmanager
def progress_bars() -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield progress


def run_bench(
    quick: bool = True,
    replicas: int = 1,
    count: int | None = None,
    concurrency: int = 32,
    out_dir: Path | None = None,
    up: bool | None = None,
) -> int:
    from linkage.harness import start_infra, start_replicated_stack, stop_infra
    from services.intake.places import default_places
    from shared.migrations import upgrade_all

    default_places()  # load the map (numpy, shapely) now: a SIGTERM must not land inside those imports later
    mode = QUICK if quick else FULL
    if count:
        mode = replace(mode, complaints=count)
    if up is not None:
        mode = replace(mode, linkage_up=up)
    results = Results(
        mode=mode.name, replicas=replicas, started_at=dt.datetime.now(dt.UTC).isoformat(), machine=machine()
    )
    results.details["mode"] = asdict(mode)
    console.print(
        f"[bold]Linkage bench[/bold] ({mode.name}, {replicas} replica(s) per service) on "
        f"{results.machine.get('cores')} cores; starting PostgreSQL and the broker…"
    )
    infra = start_infra()
    try:
        settings = infra.settings(partitions=4)
        upgrade_all(settings)
        with progress_bars() as progress:
            raw_limits(results, infra.database_url, settings, mode, concurrency, progress)
            stack = start_replicated_stack(infra, replicas)
            try:
                asyncio.run(system_figures(results, infra.database_url, settings, stack, mode, concurrency, progress))
            finally:
                stack.stop()
    finally:
        stop_infra(infra)
    if mode.linkage_up:
        with progress_bars() as progress:
            up_figures(results, progress)
    with contextlib.suppress(OSError):
        results.machine["loadavg_at_end"] = os.getloadavg()
    print_table(results)
    try:  # issue #9's quality figures on the project's own test split (never breaks the bench)
        from linkage.evaluate import bench_report

        results.details["smart_intake"] = bench_report(console)
    except Exception as exc:  # noqa: BLE001
        console.print(f"smart-intake quality figures not available: {exc}")
    path = write_json(results, out_dir or REPO / "bench" / "results")
    console.print(f"results written to {path}")
    return 0


def raw_limits(
    results: Results, db_url: str, settings: Settings, mode: Mode, concurrency: int, progress: Progress
) -> None:
    task = progress.add_task("raw limits", total=4)
    documents = hotline_documents("raw", max(2000, mode.complaints * 4), free_text=False, apart=False)
    results.raw["post_rps"] = asyncio.run(raw_post_rate(documents, concurrency))
    progress.advance(task)
    results.raw["pg_commits_1"] = asyncio.run(raw_postgres_commits(db_url, 1, mode.raw_s))
    results.raw["pg_commits_8"] = asyncio.run(raw_postgres_commits(db_url, 8, mode.raw_s))
    progress.advance(task)
    produce, consume = asyncio.run(raw_kafka(settings, mode.kafka_messages))
    results.raw["kafka_produce"], results.raw["kafka_consume"] = produce, consume
    progress.advance(task, 2)
    progress.update(task, visible=False)
    console.print("[bold]Raw limits[/bold] (same run)")
    for label, key in (
        ("minimal FastAPI POST req/s (own load generator)", "post_rps"),
        ("PostgreSQL single-row commits/s, 1 connection", "pg_commits_1"),
        ("PostgreSQL single-row commits/s, 8 connections", "pg_commits_8"),
        ("Kafka produce msg/s (acks=all, 400 B)", "kafka_produce"),
        ("Kafka consume msg/s (fresh group, no decoding)", "kafka_consume"),
    ):
        console.print(f"  {label}: {results.raw[key]:,.0f}")


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


async def system_figures(
    results: Results, db_url: str, settings: Settings, stack: Any, mode: Mode, concurrency: int, progress: Progress
) -> None:
    raw = results.raw
    intake_urls = [svc.url for svc in stack.services.values() if svc.name == "intake"]
    headers = stack.operator_headers
    sampler = RssSampler({key: svc.proc.pid for key, svc in stack.services.items()})
    placed: dict[str, list[dict[str, float]]] = {}  # every ticket of this bench, by matter or core: kept apart
    warm = f"warm{uuid.uuid4().hex[:6]}"
    await run_pipeline(
        intake_urls,
        db_url,
        warm,
        hotline_documents(warm, 60, free_text=True, placed=placed),
        headers,
        concurrency=8,
        rate=None,
        settle_s=60,
        progress=progress,
        label="warm-up",
    )
    await asyncio.sleep(1.0)
    idle = sampler.now()
    results.details["rss_idle_mb"] = idle
    tag = uuid.uuid4().hex[:6]
    runs: dict[str, dict[str, Any]] = {}
    async with sampler.sampling():
        for kind, free_text in (("operator-classified", False), ("free-text", True)):
            run_tag = f"{tag}{kind[:4]}"
            docs = hotline_documents(run_tag, mode.complaints, free_text=free_text, placed=placed)
            runs[kind] = await run_pipeline(
                intake_urls,
                db_url,
                run_tag,
                docs,
                headers,
                concurrency=concurrency,
                rate=None,
                settle_s=mode.settle_s,
                progress=progress,
                label=f"pipeline: {kind}",
            )
        half = max(1.0, runs["operator-classified"]["pipeline_rate"] / 2)
        docs = hotline_documents(f"{tag}half", int(half * mode.latency_s), free_text=False, placed=placed)
        runs["half-rate"] = await run_pipeline(
            intake_urls,
            db_url,
            f"{tag}half",
            docs,
            headers,
            concurrency=64,
            rate=half,
            settle_s=mode.settle_s,
            progress=progress,
            label=f"latency at {half:,.0f}/s",
        )
    results.details["pipeline"] = runs
    results.details["rss_loaded_mb"] = sampler.peak
    console.print(f"[bold]Pipeline[/bold] ({mode.complaints} complaints per run, {concurrency} clients)")
    for kind in ("operator-classified", "free-text"):
        r = runs[kind]
        results.add(
            Figure(
                f"pipeline rate, {kind} (done: dispatched + receipt + counted)",
                r["pipeline_rate"],
                "complaints/s",
                "raw POST",
                raw["post_rps"],
                "≥ 0.25 × raw POST",
                r["pipeline_rate"] >= 0.25 * raw["post_rps"] and r["errors"] == 0 and r["lost"] == 0,
                f"errors {r['errors']}, not done {r['lost']} of {r['accepted']} "
                f"({r['merged_or_triage']} merged/triage)",
            )
        )
        results.add(Figure(f"intake accepted, {kind}", r["http_rate"], "complaints/s", "raw POST", raw["post_rps"]))
    h = runs["half-rate"]
    note = f"at {half:,.0f}/s, errors {h['errors']}, not done {h['lost']} of {h['accepted']}"
    for key, label, target_ms in (
        ("post_p99", "intake POST p99", 50),
        ("dispatched_p99", "received → dispatched p99", 250),
        ("counted_p99", "received → counted p99 (polled every 0.1 s)", 1000),
    ):
        value = _ms(h[key])
        results.add(
            Figure(
                label,
                value,
                "ms",
                target=f"≤ {target_ms} ms",
                met=None if value is None else value <= target_ms,
                note=note,
            )
        )
    results.add(Figure("intake POST p50 / p95", _ms(h["post_p50"]), "ms", note=f"p95 {_ms(h['post_p95']) or 0:.0f} ms"))

    dispatch = [svc.proc.pid for key, svc in stack.services.items() if svc.name == "dispatch"]
    await timer_figures(results, db_url, mode, progress, dispatch)
    await replay_figure(results, settings, mode, progress)
    loaded = sampler.peak
    for key in stack.services:
        results.add(
            Figure(
                f"RSS {key} idle / loaded",
                idle.get(key),
                "MB",
                target="≤ 150 MB idle",
                met=None if key not in idle else idle[key] <= 150,
                note=f"loaded peak {loaded.get(key, 0):.0f} MB",
            )
        )


def _cpu_of(pids: Sequence[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


async def timer_figures(
    results: Results, db_url: str, mode: Mode, progress: Progress, dispatch_pids: Sequence[int] = ()
) -> None:
    task = progress.add_task("SLA timers", total=len(mode.open_timers) * 2)
    conn = await asyncpg.connect(sync_url(db_url))
    try:
        for total in mode.open_timers:
            fill_s = await fill_open_timers(conn, total)
            progress.advance(task)
            cost, plan = await claim_cost_ms(conn)
            cpu_before = _cpu_of(dispatch_pids)
            lag = await timer_lag(db_url, mode.due_timers, timeout_s=120)
            fired = lag.get("fired", 0) + lag.get("backlog", 0)
            # dispatch's CPU per fired timer (scanner, its outbox relay publishing the escalations, idle loops)
            lag["dispatch_cpu_ms_per_timer"] = (_cpu_of(dispatch_pids) - cpu_before) * 1000 / fired if fired else None
            progress.advance(task)
            results.details.setdefault("timers", {})[str(total)] = {
                "fill_s": fill_s,
                "claim_ms": cost,
                "claim_plan": plan,
                **lag,
            }
            buffers = next((line.strip() for line in plan if "Buffers" in line), "")
            results.add(
                Figure(
                    f"SLA scanner claim query, {total:,} open timers",
                    cost,
                    "ms (median, nothing due)",
                    note=f"should not grow with open timers; {buffers}",
                )
            )
            results.add(
                Figure(
                    f"SLA fire lag p99, {total:,} open, {lag.get('timers', 0)} due at 1,000/s",
                    _ms(lag.get("lag_p99")),
                    "ms",
                    target="≤ 1000 ms",
                    met=None if lag.get("lag_p99") is None else lag["lag_p99"] <= 1.0,
                    note=f"p50 {_ms(lag.get('lag_p50')) or 0:.0f} ms, max {_ms(lag.get('lag_max')) or 0:.0f} ms, "
                    f"outcomes {lag.get('outcomes')}",
                )
            )
            results.add(
                Figure(
                    f"SLA backlog drain, {total:,} open, {lag.get('backlog', 0)} due at once",
                    lag.get("backlog_rate"),
                    "timers/s",
                    "PG commits/s, 8 conn",
                    results.raw.get("pg_commits_8"),
                    note=f"all fired {lag.get('backlog_drain_s') or 0:.2f} s after falling due; dispatch CPU "
                    f"{lag.get('dispatch_cpu_ms_per_timer') or 0:.2f} ms per fired timer (scanner + relay)",
                )
            )
    finally:
        await conn.close()
        progress.update(task, visible=False)


async def copy_topic(settings: Settings, source: str, target: str, at_least: int) -> int:
    """Copy every record of ``source`` (value, key, headers: real, valid CloudEvents) into the new topic ``target``
    again and again until it holds at least ``at_least`` records; returns how many it holds."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-copy-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        **FETCH,
    )
    await consumer.start()
    originals: list[Any] = []
    try:
        idle_since = time.perf_counter()
        while time.perf_counter() - idle_since < 2.0:
            batch = await consumer.getmany(timeout_ms=500, max_records=READ_BATCH)
            got = [r for part in batch.values() for r in part]
            if got:
                originals.extend(got)
                idle_since = time.perf_counter()
    finally:
        await consumer.stop()
    if not originals:
        return 0
    await ensure_topics(settings, [target], partitions=settings.partitions, exact=True)
    producer = make_producer(settings)
    await producer.start()
    written = 0
    try:
        while written < at_least:
            futures = [
                await producer.send(target, r.value, key=r.key, headers=list(r.headers or ()))
                for r in originals[: at_least - written]
            ]
            await asyncio.gather(*futures)
            written += len(futures)
    finally:
        await producer.stop()
    return written


async def replay_figure(results: Results, settings: Settings, mode: Mode, progress: Progress) -> None:
    """Replay: the cases topic's records copied into a scratch topic until it holds ``mode.replay_records`` (real,
    valid CloudEvents, repeated), then read from the start by fresh consumer groups with the same fetch settings:
    raw (no decoding), decoding + validating every record like the consumers, and a fast-decode sketch. The ratio
    is to the raw read of the same topic. Then `linkage analytics rebuild --check` against the running system."""
    from shared.topics import CASES

    task = progress.add_task("replay: copy, raw read, decoded read, rebuild", total=5)
    scratch = f"bench.replay.{uuid.uuid4().hex[:8]}"
    held = await copy_topic(settings, settings.topic(CASES), scratch, mode.replay_records)
    progress.advance(task)
    reads: dict[str, dict[str, float]] = {}
    for label, decode in (("raw", ""), ("decoded", "full"), ("fast", "fast")):
        budget = None if not decode else mode.replay_decode_s
        seen, elapsed = await read_topic_from_start(settings, scratch, held, decode=decode, max_s=budget)
        reads[label] = {"records": seen, "seconds": elapsed, "rate": seen / elapsed if elapsed else 0.0}
        progress.advance(task)
    rebuild = await rebuild_timing(settings)
    progress.advance(task)
    progress.update(task, visible=False)
    results.details["replay"] = {"topic_records": held, "reads": reads, "rebuild": rebuild}
    raw_rate = reads["raw"]["rate"] or None
    decoded = reads["decoded"]["rate"] or None
    results.add(
        Figure(
            "replay: raw read of the replay topic (fresh group, no decoding)",
            raw_rate,
            "msg/s",
            "raw consume",
            results.raw["kafka_consume"],
            note=f"{reads['raw']['records']:,} records (the cases topic copied); raw consume is 400 B records",
        )
    )
    results.add(
        Figure(
            "replay: fresh group re-reads + decodes + validates every CloudEvent",
            decoded,
            "msg/s",
            "raw read, same topic",
            raw_rate,
            "≥ 0.5 × raw consume",
            None if decoded is None or raw_rate is None else decoded >= 0.5 * raw_rate,
            f"{reads['decoded']['records']:,} records decoded; fast-decode sketch (model_validate_json on the bytes, "
            f"no CloudEvents SDK): {reads['fast']['rate']:,.0f} msg/s",
        )
    )
    rate = rebuild.get("rate")
    results.add(
        Figure(
            "replay: `linkage analytics rebuild --check` (read, decode, apply to a scratch schema, compare)",
            rate,
            "records/s",
            "raw read, same topic",
            raw_rate,
            "≥ 0.5 × raw consume",
            None if rate is None or raw_rate is None else rate >= 0.5 * raw_rate,
            f"{rebuild.get('records', 0):,} records in {rebuild.get('seconds', 0):.1f} s"
            + (f"; {rebuild['error']}" if "error" in rebuild else ""),
        )
    )


async def rebuild_timing(settings: Settings) -> dict[str, Any]:
    """`linkage analytics rebuild --check` on the running system (compares, replaces nothing)."""
    try:
        from services.analytics.rebuild import rebuild
    except ImportError as exc:
        return {"error": f"not available: {exc}"}
    started = time.perf_counter()
    try:
        result = await rebuild(settings, check_only=True, wait_s=5.0)
    except Exception as exc:  # noqa: BLE001 - a figure, never a crash of the bench
        return {"error": f"failed: {exc!r}"[:300]}
    seconds = time.perf_counter() - started
    return {
        "records": result.records,
        "applied": result.applied,
        "seconds": seconds,
        "read_seconds": result.seconds,
        "rate": result.records / seconds if seconds and result.records else None,
        "equal": result.equal,
    }


def print_table(results: Results) -> None:
    table = Table(title=f"Linkage bench ({results.mode}, {results.replicas} replica(s); same machine, same run)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("raw limit (same run)", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    for f in results.figures:
        value = "n/a" if f.value is None else f"{f.value:,.1f} {f.unit}"
        limit = f"{f.limit:,.0f} ({f.limit_name})" if f.limit else ""
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else ""
        verdict = {True: "[green]met[/green]", False: "[red]missed[/red]", None: ""}[f.met]
        table.add_row(f.name, value, limit, ratio, f"{f.target} {verdict}".strip())
    console.print(table)


def write_json(results: Results, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{stamp}.json"
    path.write_text(json.dumps(results.to_json(), ensure_ascii=False, indent=2, default=str))
    return path
