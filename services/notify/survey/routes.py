"""Survey endpoints: the SMS gateway's callback, the link in the 办结 message, the citizen's page."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, field_validator

from services.notify.contact import service as contacts
from services.notify.contact.models import Contact
from services.notify.survey import service
from shared.app import RuntimeDep, SessionDep
from shared.errors import NotFound
from shared.events.feedback import SurveyResult

router = APIRouter(tags=["surveys"])

ANSWER_HELP = "answer must be one of 1, 2, 3, 满意, 基本满意, 不满意"


class AnswerFields(BaseModel):
    answer: str | int = Field(description="1 满意, 2 基本满意, 3 不满意 (or the words)")
    comment: str | None = Field(default=None, max_length=500)
    channel: Literal["sms", "wechat", "web"] = "sms"

    @field_validator("answer")
    @classmethod
    def _known(cls, v: str | int) -> str:
        result = service.parse_answer(v)
        if result is None:
            raise ValueError(ANSWER_HELP)
        return result

    @property
    def result(self) -> SurveyResult:
        result = service.parse_answer(self.answer)
        assert result is not None
        return result


class SurveyAnswerIn(AnswerFields):
    """What an SMS gateway posts when the citizen replies (or the survey page posts)."""

    tracking_code: str = Field(min_length=1, max_length=20)


class SurveyAnswerOut(BaseModel):
    status: Literal["accepted"] = "accepted"
    case_id: str
    tracking_code: str
    result: str
    answered_at: datetime


class SurveyOut(BaseModel):
    tracking_code: str
    awaiting_answer: bool
    answered: str | None
    answer_url: str
    options: dict[str, str] = Field(default_factory=lambda: {"1": "满意", "2": "基本满意", "3": "不满意"})


async def _accept(session: SessionDep, runtime: RuntimeDep, contact: Contact, body: AnswerFields) -> JSONResponse:
    answer = await service.submit(session, contact, body.result, comment=body.comment, channel=body.channel)
    await session.commit()
    runtime.relay.wake()
    out = SurveyAnswerOut(case_id=answer.case_id, tracking_code=answer.tracking_code, result=answer.result,
                          answered_at=answer.answered_at)
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


@router.post("/api/v1/surveys/answers", status_code=202, response_model=SurveyAnswerOut,
             responses={404: {"description": "unknown tracking code"}, 409: {"description": "answered already, "
                        "or the case is not awaiting a survey"}})
async def answer_by_code(body: SurveyAnswerIn, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    """A survey answer by tracking code; published to ``linkage.feedback.v1``."""
    contact = await contacts.by_tracking_code(session, body.tracking_code.strip())
    if contact is None:
        raise NotFound("no case with this tracking code", tracking_code=body.tracking_code)
    return await _accept(session, runtime, contact, body)


async def _by_token(session: SessionDep, token: str) -> Contact:
    contact = await contacts.by_token(session, token)
    if contact is None:
        raise NotFound("unknown survey link")
    return contact


@router.get("/api/v1/surveys/{token}", response_model=SurveyOut,
            responses={200: {"content": {"text/html": {}}}, 404: {"description": "unknown link"}})
async def survey_link(
    token: str, session: SessionDep, accept: Annotated[str, Header()] = "",
) -> HTMLResponse | SurveyOut:
    """The link in the 办结 message: the survey page for a browser, JSON otherwise."""
    contact = await _by_token(session, token)
    if "text/html" in accept:
        return await _page(session, contact)
    answered = await service.current_answer(session, contact)
    return SurveyOut(tracking_code=contact.tracking_code, awaiting_answer=service.awaiting(contact) and not answered,
                     answered=answered.result if answered else None, answer_url="/api/v1/surveys/answers")


@router.post("/api/v1/surveys/{token}", status_code=202, response_model=SurveyAnswerOut)
async def answer_by_token(token: str, body: AnswerFields, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    contact = await _by_token(session, token)
    return await _accept(session, runtime, contact, body)


@router.get("/survey/{tracking_code}", response_class=HTMLResponse)
async def survey_page(tracking_code: str, session: SessionDep) -> HTMLResponse:
    """The citizen's survey page: three buttons that post the answer."""
    contact = await contacts.by_tracking_code(session, tracking_code)
    if contact is None:
        return HTMLResponse(_html("未找到诉求", "<p>未找到该查询码对应的诉求，请核对后重试。</p>"), status_code=404)
    return await _page(session, contact)


async def _page(session: SessionDep, contact: Contact) -> HTMLResponse:
    answered = await service.current_answer(session, contact)
    code = html.escape(contact.tracking_code)
    if answered is not None:
        body = f"<p>查询码 {code}：您已评价（{html.escape(answered.result)}），感谢您的反馈。</p>"
    elif not service.awaiting(contact):
        body = f"<p>查询码 {code}：当前无需评价。</p>"
    else:
        code_json = html.escape(json.dumps(contact.tracking_code))
        body = PAGE_FORM.replace("__CODE__", code).replace("__CODE_JSON__", code_json)
    return HTMLResponse(_html("满意度评价", body))


def _html(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · 12345</title>
<style>body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;
max-width:28rem;margin:2rem auto;padding:0 1rem}}
button{{display:block;width:100%;margin:.5rem 0;padding:.9rem;font-size:1.1rem;border-radius:.5rem;
border:1px solid #888}}
textarea{{width:100%;box-sizing:border-box}}#result{{margin-top:1rem;font-weight:bold}}</style></head>
<body><h1>12345 {title}</h1>{body}</body></html>"""


PAGE_FORM = """<p>查询码 __CODE__ 的诉求已办结，请您对办理结果进行评价：</p>
<form id="survey" data-code="__CODE_JSON__">
<label for="comment">意见建议（选填）</label><textarea id="comment" maxlength="500" rows="3"></textarea>
<button type="submit" name="answer" value="1">满意</button>
<button type="submit" name="answer" value="2">基本满意</button>
<button type="submit" name="answer" value="3">不满意</button>
</form><p id="result" role="status"></p>
<script>
const form = document.getElementById("survey");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const answer = ev.submitter ? ev.submitter.value : "1";
  const body = {tracking_code: JSON.parse(form.dataset.code), answer, channel: "web",
                comment: document.getElementById("comment").value || null};
  const r = await fetch("/api/v1/surveys/answers", {method: "POST", headers: {"content-type": "application/json"},
                                                   body: JSON.stringify(body)});
  const out = document.getElementById("result");
  if (r.status === 202) { out.textContent = "感谢您的评价！"; form.hidden = true; }
  else if (r.status === 409) { out.textContent = "该诉求已评价或当前无需评价。"; form.hidden = true; }
  else { out.textContent = "提交失败，请稍后再试。"; }
});
</script>"""
