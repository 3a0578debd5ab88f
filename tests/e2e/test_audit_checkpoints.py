"""The running dispatch service checkpoints moved chain heads outside the database by itself."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from services.dispatch.audit_checkpoints import read_checkpoint_files, read_checkpoint_topic
from services.dispatch.case.history import Keyring
from services.dispatch.opening import open_cases
from services.dispatch.wiring import install_listeners
from shared.db import make_engine, make_sessionmaker
from shared.events.complaints import ComplaintReceivedV1, PlaceRef
from shared.settings import Settings
from tests.support import Infra, Stack, wait_until


async def _open_case(settings: Settings) -> tuple[str, int, str]:
    uid = uuid.uuid4().hex[:20].upper()
    event = ComplaintReceivedV1(
        complaint_id=uid,
        tracking_code=f"261207{uid[:12]}",  # the real shape: pages scanned for English skip it
        channel="hotline",
        channel_key=uid,
        kind="投诉",
        text="楼下烧烤店油烟太大，窗户都不能开",
        place=PlaceRef(street_code="S03"),
        matter_code="CG001",
        received_at=datetime.now(UTC),
    )
    install_listeners()  # the flows run here without the dispatch app
    engine = make_engine(settings, "dispatch", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            (case,) = await open_cases(session, [event])
            await session.commit()
            assert case.history_hash is not None
            return case.id, case.history_seq, case.history_hash
    finally:
        await engine.dispose()


def test_dispatch_writes_signed_checkpoints_to_file_and_topic(stack: Stack, infra: Infra) -> None:
    settings = infra.settings()
    keyring = Keyring.from_settings(settings)
    case_id, seq, head = asyncio.run(_open_case(settings))

    def checkpointed() -> bool:
        cp = read_checkpoint_files(settings.audit_dir, keyring).latest.get(case_id)
        return cp is not None and (cp.seq, cp.head_mac) == (seq, head)

    # the job runs every LINKAGE_AUDIT_CHECKPOINT_INTERVAL_S (30 s by default; at least once a minute)
    wait_until(checkpointed, timeout_s=75, interval_s=1, message="a checkpoint of the new case in the file")
    cp = asyncio.run(read_checkpoint_topic(settings, keyring)).latest.get(case_id)
    assert cp is not None and (cp.seq, cp.head_mac) == (seq, head)
    ready = httpx.get(f"{stack.url('dispatch')}/readyz", timeout=10).json()
    assert ready["ok"] is True
