"""Survey endpoints: the citizen's page and link (token), the SMS gateway's signed callback.

Every answer needs the survey round's credential: the token in the link sent to the citizen
(``/survey/{token}``), or, for an SMS reply, the gateway's HMAC signature over the callback together with
the phone number the survey was sent to. A tracking code alone rates nothing. Unauthenticated requests are
rate-limited per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from services.notify.config import NotifySettings, get_notify_settings
from services.notify.contact.models import Contact
from services.notify.survey import service, tokens
from services.notify.survey.models import SurveyToken
from shared.access import public
from shared.app import RuntimeDep, SessionDep
from shared.errors import DomainError, NotFound, Unauthorized
from shared.events.feedback import SurveyResult
from shared.ratelimit import rate_limit
from shared.validation import AuthFirstRoute, CleanStr

router = APIRouter(tags=["surveys"], route_class=AuthFirstRoute)

ANSWER_HELP = "answer must be one of 1, 2, 3, 满意, 基本满意, 不满意 (an SMS reply may add 已解决 or 未解决)"
SOLVED_QUESTION = "您反映的问题解决了吗？"
SIGNATURE_HEADER = "X-Linkage-Signature"
TIMESTAMP_HEADER = "X-Linkage-Timestamp"

survey_limit = rate_limit("survey", per_minute=get_notify_settings().survey_rate_per_minute)
gateway_signature = APIKeyHeader(
    name=SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="SmsGatewaySignature",
    description="SMS gateway callbacks: hex HMAC-SHA256 of `{X-Linkage-Timestamp}.{raw body}` under "
    "LINKAGE_SMS_GATEWAY_SECRET (optionally prefixed `sha256=`).",
)


class AnswerFields(BaseModel):
    answer: str | int = Field(description="1 满意, 2 基本满意, 3 不满意 (or the words)")
    solved: bool | None = Field(
        default=None,
        description="the citizen's own answer to 您反映的问题解决了吗？: true 已解决, false 未解决; absent or null: "
        "not asked (an SMS reply may instead write 已解决 / 未解决 beside its number, e.g. `2 已解决`)",
    )
    comment: CleanStr | None = Field(default=None, max_length=500)
    channel: Literal["sms", "wechat", "web"] = "web"

    @model_validator(mode="before")
    @classmethod
    def _solved_in_reply(cls, data: Any) -> Any:
        """``"2 已解决"`` → answer 2 and solved true, unless ``solved`` is given on its own."""
        if isinstance(data, dict) and data.get("solved") is None:
            said = service.parse_solved(data.get("answer"))
            if said is not None:
                data = {**data, "solved": said}
        return data

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


class TokenAnswerIn(AnswerFields):
    """An answer carrying the round's token (from the link in the SMS / WeChat message)."""

    token: str = Field(min_length=16, max_length=64, description="the token in the survey link")


class GatewayReplyIn(AnswerFields):
    """What the SMS gateway posts (signed) when a citizen replies to the survey SMS."""

    phone: str = Field(min_length=5, max_length=20, description="the number that received the survey and replied")
    tracking_code: str | None = Field(default=None, max_length=20, description="optional: which case, if known")
    channel: Literal["sms", "wechat", "web"] = "sms"


class SurveyAnswerOut(BaseModel):
    status: Literal["accepted"] = "accepted"
    case_id: str
    tracking_code: str
    result: str
    solved: bool | None = None
    answered_at: datetime


class SurveyOut(BaseModel):
    tracking_code: str
    awaiting_answer: bool
    answered: str | None
    expires_at: datetime
    answer_url: str
    options: dict[str, str] = Field(default_factory=lambda: {"1": "满意", "2": "基本满意", "3": "不满意"})
    solved_question: str = SOLVED_QUESTION
    solved_options: dict[str, bool] = Field(default_factory=lambda: {"已解决": True, "未解决": False})


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no credential: neither a survey token nor a valid gateway signature"},
    404: {"description": "unknown survey link (or no open survey for the phone)"},
    409: {"description": "this round is answered already, or the case awaits no survey"},
    410: {"description": "the survey link expired or belongs to an older round"},
    429: {"description": "too many requests from this client (Retry-After)"},
}

_HTML = {"text/html": {"schema": {"type": "string"}}}
_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {  # the page explains a link it cannot serve, in HTML
    404: {"description": "unknown link", "content": _HTML},
    409: {"description": "nothing to answer (the case awaits no survey)", "content": _HTML},
    410: {"description": "expired link", "content": _HTML},
}
LINK_ERRORS: dict[int | str, dict[str, Any]] = {  # JSON, or the page's HTML when the client accepts text/html
    code: {"description": ERRORS[code]["description"], "content": {**_ERROR_JSON, **_HTML}} for code in (404, 409, 410)
}

ANSWER_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/TokenAnswerIn"},
                        {"$ref": "#/components/schemas/GatewayReplyIn"},
                    ]
                }
            }
        },
    }
}


def _parse(model: type[AnswerFields], raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def _verify_gateway(settings: NotifySettings, raw: bytes, timestamp: str | None, signature: str) -> None:
    """401 unless ``signature`` is the HMAC of ``timestamp.body`` and the timestamp is within the window."""
    if not timestamp or not timestamp.isdigit():
        raise Unauthorized(f"短信网关回调缺少 {TIMESTAMP_HEADER}", header=TIMESTAMP_HEADER)
    if abs(time.time() - int(timestamp)) > settings.sms_gateway_window_s:
        raise Unauthorized("短信网关回调的时间戳超出允许范围", header=TIMESTAMP_HEADER)
    expected = hmac.new(settings.sms_gateway_secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    given = signature.strip().removeprefix("sha256=").lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.hexdigest().encode(), given):
        raise Unauthorized("短信网关签名无效", header=SIGNATURE_HEADER)


def _settings(request: Request) -> NotifySettings:
    configured = getattr(request.app.state, "notify_settings", None)
    return configured if isinstance(configured, NotifySettings) else get_notify_settings()


def normalize_phone(phone: str) -> str:
    """``+86 138-0013-8000`` → ``13800138000`` (the form the contact book keeps)."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


async def _accept(
    session: SessionDep, runtime: RuntimeDep, token: SurveyToken, contact: Contact, body: AnswerFields
) -> JSONResponse:
    answer = await service.submit(
        session, token, contact, body.result, comment=body.comment, channel=body.channel, solved=body.solved
    )
    await session.commit()
    runtime.relay.wake()
    out = SurveyAnswerOut(
        case_id=answer.case_id,
        tracking_code=answer.tracking_code,
        result=answer.result,
        solved=answer.solved,
        answered_at=answer.answered_at,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


def _token_in(raw: bytes) -> str:
    """The ``token`` of a JSON body, or 401: without it the request carries no credential."""
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        data = None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise Unauthorized("缺少评价凭据：请使用短信或微信消息中的评价链接作答（查询码不能用于评价）", field="token")
    return token


@router.post(
    "/api/v1/surveys/answers",
    status_code=202,
    response_model=SurveyAnswerOut,
    responses=ERRORS,
    openapi_extra=ANSWER_DOC,
)
async def answer(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    signature: Annotated[str | None, Depends(gateway_signature)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
) -> JSONResponse:
    """A survey answer with its credential: ``{"token", "answer", ...}`` (the token from the survey link), or a
    signed SMS gateway callback ``{"phone", "answer", "tracking_code"?}`` (answers the phone's latest open
    survey). Published to ``linkage.feedback.v1``."""
    raw = await request.body()
    now = datetime.now(UTC)
    if signature:
        try:
            _verify_gateway(_settings(request), raw, timestamp, signature)
        except Unauthorized:
            await survey_limit(request)
            raise
        reply = _parse(GatewayReplyIn, raw)
        code = reply.tracking_code.strip().upper() if reply.tracking_code else None
        found = await tokens.open_round_for_phone(session, normalize_phone(reply.phone), now=now, tracking_code=code)
        if found is None:
            raise NotFound("该号码没有待评价的诉求", field="phone")
        return await _accept(session, runtime, found[0], found[1], reply)
    await survey_limit(request)
    row, contact = await tokens.find(session, _token_in(raw), lock=True)
    tokens.check_open(row, contact, now)
    return await _accept(session, runtime, row, contact, _parse(TokenAnswerIn, raw))


async def open_link(token: str, session: SessionDep) -> tuple[SurveyToken, Contact]:
    """Dependency: the link's round, if it may still be answered (404 / 409 / 410 otherwise)."""
    row, contact = await tokens.find(session, token, lock=True)
    tokens.check_open(row, contact, datetime.now(UTC))
    return row, contact


@router.get(
    "/api/v1/surveys/{token}",
    response_model=SurveyOut,
    dependencies=[Depends(survey_limit)],
    openapi_extra=public("credential in the path: the survey round's single-use token"),
    responses={**ERRORS, **LINK_ERRORS, 200: {"content": _HTML}},
)
async def survey_link(
    token: str,
    session: SessionDep,
    accept: Annotated[str, Header()] = "",
) -> HTMLResponse | SurveyOut:
    """The survey round behind a link: the page for a browser, JSON otherwise."""
    if "text/html" in accept:
        return await _page(session, token)
    row, contact = await tokens.find(session, token)
    answered = await service.current_answer(session, contact)
    is_open = row.used_at is None and row.expires_at > datetime.now(UTC) and row.survey_round == contact.survey_round
    return SurveyOut(
        tracking_code=contact.tracking_code,
        awaiting_answer=is_open and service.awaiting(contact) and not answered,
        answered=answered.result if answered else None,
        expires_at=row.expires_at,
        answer_url=f"/api/v1/surveys/{token}",
    )


@router.post(
    "/api/v1/surveys/{token}",
    status_code=202,
    response_model=SurveyAnswerOut,
    responses=ERRORS,
    dependencies=[Depends(survey_limit)],
    openapi_extra=public("credential in the path: the survey round's single-use token"),
)
async def answer_by_link(
    link: Annotated[tuple[SurveyToken, Contact], Depends(open_link)],
    body: AnswerFields,
    session: SessionDep,
    runtime: RuntimeDep,
) -> JSONResponse:
    """Answer through the link (what the survey page posts)."""
    return await _accept(session, runtime, link[0], link[1], body)


@router.get(
    "/survey/{token}",
    response_class=HTMLResponse,
    dependencies=[Depends(survey_limit)],
    openapi_extra=public("credential in the path: the survey round's single-use token"),
    responses=PAGE_ERRORS,
)
async def survey_page(token: str, session: SessionDep) -> HTMLResponse:
    """The citizen's survey page (the link in the 办结 message): 问题解决了吗 (已解决 / 未解决) and the
    satisfaction (满意 / 基本满意 / 不满意), both required, an optional comment, posted together."""
    return await _page(session, token)


async def _page(session: SessionDep, token: str) -> HTMLResponse:
    try:
        row, contact = await tokens.find(session, token)
        tokens.check_open(row, contact, datetime.now(UTC))
    except tokens.AlreadyAnswered:
        answered = await service.current_answer(session, contact)
        result = ""
        if answered and answered.survey_round == row.survey_round:
            said = "" if answered.solved is None else "已解决，" if answered.solved else "未解决，"
            result = f"（{said}{html.escape(answered.result)}）"
        return HTMLResponse(_html("满意度评价", f"<p>您已评价{result}，感谢您的反馈。</p>"))
    except DomainError as exc:
        titles = {404: "未找到评价", 410: "评价链接已失效", 409: "无需评价"}
        body = f"<p>{html.escape(exc.message)}。</p>"
        return HTMLResponse(_html(titles.get(exc.status_code, "满意度评价"), body), status_code=exc.status_code)
    code = html.escape(contact.tracking_code)
    return HTMLResponse(_html("满意度评价", PAGE_FORM.replace("__CODE__", code)))


def _html(title: str, body: str) -> str:
    """The page frame: the same look as the other citizen and staff pages (red header bar, white cards),
    inline CSS only, nothing loaded from elsewhere, usable on a phone."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · 12345</title>
<style>{PAGE_STYLE}</style></head>
<body><header class="top"><h1>12345 政务服务便民热线 · {title}</h1></header>
<main><section class="card">{body}</section>
<p class="foot">如有疑问请拨打 12345。本页不显示您的个人信息。</p></main></body></html>"""


PAGE_STYLE = """
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; background: #eef1f5;
  color: #1f2937; font-size: 15px; }
header.top { background: linear-gradient(90deg, #991b1b, #b91c1c); color: #fff; padding: 0 20px; min-height: 52px;
  display: flex; align-items: center; box-shadow: 0 1px 3px rgba(0,0,0,.2); }
header.top h1 { font-size: 18px; margin: 0; letter-spacing: 1px; }
main { max-width: 560px; margin: 0 auto; padding: 18px 16px; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 16px 18px; }
h2 { font-size: 16px; margin: 0 0 12px; border-left: 4px solid #b91c1c; padding-left: 8px; }
.code { font-family: "DejaVu Sans Mono", monospace; font-weight: 700; letter-spacing: 1px; color: #b91c1c; }
label.text, legend { display: block; margin: 12px 0 4px; font-weight: 600; color: #374151; padding: 0; }
legend .req { color: #b91c1c; font-weight: 400; font-size: 13px; margin-left: 4px; }
fieldset { border: 0; margin: 14px 0 0; padding: 0; min-width: 0; }
fieldset.missing legend { color: #b91c1c; }
fieldset.missing .choices { outline: 2px dashed #fca5a5; outline-offset: 4px; border-radius: 6px; }
textarea { width: 100%; padding: 8px; border: 1px solid #cbd5e1; border-radius: 4px; font: inherit; min-height: 76px; }
.choices { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
.choices.two { grid-template-columns: repeat(2, 1fr); }
.pick { position: relative; display: block; margin: 0; cursor: pointer; }
.pick input { position: absolute; opacity: 0; width: 1px; height: 1px; margin: 0; }
.pick span { display: block; text-align: center; border: 2px solid var(--c); color: var(--c); background: #fff;
  border-radius: 6px; padding: 12px 6px; font-size: 17px; font-weight: 700; }
.pick input:checked + span { background: var(--c); color: #fff; }
.pick input:checked + span::before { content: "✓ "; }
.pick input:focus-visible + span, textarea:focus-visible, .send:focus-visible { outline: 3px solid #f59e0b;
  outline-offset: 2px; }
.s1 { --c: #15803d; } .s2 { --c: #1d4ed8; } .s3 { --c: #b91c1c; } .yes { --c: #0f766e; } .no { --c: #b45309; }
.send { display: block; width: 100%; margin-top: 16px; border: 0; border-radius: 6px; padding: 14px 6px; font: inherit;
  font-size: 17px; font-weight: 700; color: #fff; background: #b91c1c; cursor: pointer; }
.send:disabled { background: #9ca3af; cursor: wait; }
#result { margin: 14px 0 0; padding: 10px 12px; border-radius: 4px; display: none; }
#result.ok { display: block; background: #ecfdf5; color: #065f46; border: 1px solid #6ee7b7; }
#result.err { display: block; background: #fef2f2; color: #991b1b; border: 1px solid #fca5a5; }
.note { color: #374151; } .foot { color: #6b7280; font-size: 13px; text-align: center; }
@media (max-width: 420px) { .choices { grid-template-columns: 1fr; } .choices.two { grid-template-columns: 1fr 1fr; } }
"""

# The form posts to the link it was served from (/survey/{token} → /api/v1/surveys/{token}). Both questions are
# radio groups (Tab between them, arrow keys to choose, Enter or the button to send); the page checks that both
# are answered and says which one is missing.
PAGE_FORM = """<h2>请评价办理结果</h2>
<p class="note">查询码 <span class="code" id="code">__CODE__</span> 的诉求已办结，请回答以下两个问题：</p>
<form id="survey" novalidate>
<fieldset id="q-solved"><legend>1. 您反映的问题解决了吗？<span class="req">（必选）</span></legend>
<div class="choices two">
<label class="pick yes"><input type="radio" name="solved" value="1" required><span>已解决</span></label>
<label class="pick no"><input type="radio" name="solved" value="0"><span>未解决</span></label>
</div></fieldset>
<fieldset id="q-answer"><legend>2. 您对办理结果满意吗？<span class="req">（必选）</span></legend>
<div class="choices">
<label class="pick s1"><input type="radio" name="answer" value="1" required><span>满意</span></label>
<label class="pick s2"><input type="radio" name="answer" value="2"><span>基本满意</span></label>
<label class="pick s3"><input type="radio" name="answer" value="3"><span>不满意</span></label>
</div></fieldset>
<label class="text" for="comment">意见建议（选填）</label><textarea id="comment" maxlength="500" rows="3"
  placeholder="可填写对办理结果的意见或建议"></textarea>
<button type="submit" class="send" id="send">提交评价</button>
</form><p id="result" role="status" aria-live="polite"></p>
<script>
const form = document.getElementById("survey");
const token = location.pathname.split("/").filter(Boolean).pop();
function show(text, ok, done) {
  const out = document.getElementById("result");
  out.textContent = text; out.className = ok ? "ok" : "err";
  if (done) form.hidden = true;
}
function picked(name) {
  const box = form.querySelector(`input[name="${name}"]:checked`);
  return box ? box.value : null;
}
for (const box of form.querySelectorAll("input[type=radio]")) {
  box.addEventListener("change", () => box.closest("fieldset").classList.remove("missing"));
}
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const solved = picked("solved"), answer = picked("answer");
  for (const [id, value] of [["q-solved", solved], ["q-answer", answer]]) {
    document.getElementById(id).classList.toggle("missing", value === null);
  }
  if (solved === null || answer === null) {
    const first = solved === null ? "solved" : "answer";
    show(solved === null ? "请先选择：您反映的问题解决了吗？" : "请选择您对办理结果是否满意。", false, false);
    form.querySelector(`input[name="${first}"]`).focus();
    return;
  }
  const body = {answer, solved: solved === "1", channel: "web",
    comment: document.getElementById("comment").value || null};
  const send = document.getElementById("send");
  send.disabled = true;
  let r = null;
  try {
    r = await fetch("/api/v1/surveys/" + encodeURIComponent(token), {method: "POST",
      headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
  } catch (e) { r = null; }
  send.disabled = false;
  if (r === null) show("网络连接失败，请稍后再试。", false, false);
  else if (r.status === 202) show("感谢您的评价！您的意见将用于改进办理工作。", true, true);
  else if (r.status === 409) show("该诉求已评价或当前无需评价。", true, true);
  else if (r.status === 410) show("评价链接已失效。", false, true);
  else if (r.status === 429) show("操作过于频繁，请稍后再试。", false, false);
  else show("提交失败，请稍后再试。", false, false);
});
</script>"""
