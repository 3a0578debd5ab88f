"""Rules that spot emergencies (紧急警情) in complaint text: fire, crime in progress, injury, accident,
someone in the water, a missing child or elderly person (the catalog's JJ matters).

Emergencies are transferred at once to 110/119/120/122, so these rules favour recall: a keyword
fires unless the clause around it clearly says it did not happen (没有人受伤), might happen
(万一着火, 火灾隐患, 容易发生车祸, 我还以为着火了), happens habitually (经常发生车祸) or is over (去年被偷,
上次着过火, 火已经灭了, 被人打了一顿，上周的事); smoke from a barbecue, cooking or welding is not a fire.
These rules only find candidates and the service: the classifier accepts a rule hit only when its model
agrees the text is a 紧急警情 at all, and adds a model-only fallback (see :mod:`.model`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Priority when several groups fire: an accident with injuries is the traffic police's (122),
# a fire with injured people is 119's, a knife attack with blood is 110's.
_PRIORITY = ("traffic", "fire", "crime", "medical", "water", "missing")

_KIN = (
    r"(?:孩子|小孩|娃娃?儿?|老人|儿子|女儿|老汉儿?|爸|妈|爷爷|奶奶|外婆|外公|老公|老婆|媳妇|丈夫|妻子|老太太?|老爷子)"
)
_PERSON = r"(?:人|" + _KIN[3:-1] + r"|男子|女子|学生|阿姨|同事)"

_GROUPS: dict[str, tuple[str, str, str]] = {
    # group: (service, reason, pattern)
    "traffic": (
        "122",
        "交通事故（可能有人受伤）",
        r"车祸|撞车|相撞|追尾|被.{0,6}车.{0,3}撞|车.{0,2}撞了|撞(?:了|到|倒|伤|飞|死|得好凶|在一起)|侧翻|翻车|交通事故"
        r"|碾压|压在车|压到车底|肇事|逃逸|碰撞|车[^，。]{0,10}翻(?:了|过来)|冲(?:到|进|上).{0,6}(?:站台|人行道|人群|店里)",
    ),
    "fire": (
        "119",
        "火灾、爆炸或燃气泄漏",
        r"着火|起火|失火|火灾|烧起来|燃起来|火苗|火势|火很大|大火|冒.{0,2}烟|浓烟|黑烟滚滚|爆炸|爆燃|自燃|引燃|火花|冒火"
        r"|(?:火|屋|房|车|仓库|厂|楼|棚|罐|灶|线|锅|板|树|店)[^，。]{0,3}着(?:了|起来)|点着了|烧着了|烧得好(?:快|凶|大)"
        r"|火(?:越来越|好|很|太)大|(?:全|都)是烟|烟(?:好|很|太)大|(?:门缝|窗户|屋里|楼道)[^，。]{0,3}(?:有|冒)烟"
        r"|(?:燃气|煤气|天然气|液化气)(?:泄漏|泄露|漏了)|(?:燃气|煤气|天然气)味|漏气|气体泄漏|有毒气体"
        r"|(?:燃气|天然气|煤气)(?:管|罐|瓶).{0,6}(?:断|漏|喷|爆)"
        r"|被困|困在|电梯困人|困人了|关在电梯|卡在电梯|电梯.{0,8}(?:掉|坠|停住|卡住|门打不开)|门打不开|出不来|拔不出来|下不去了",
    ),
    "crime": (
        "110",
        "正在发生的违法犯罪或人身危险",
        r"持刀|拿(?:着)?(?:刀|菜刀|砍刀|棍|棒|枪|酒瓶|砖头)|砍人|捅人|行凶|杀人|抢劫|打劫|抢(?:了|走)?(?:我的)?(?:包|钱|手机|项链|金项链)"
        r"|正在抢|被.{0,3}抢|抢我|打架|斗殴|围殴|群殴|殴打|打人|在打我|打老婆|家暴|撬.{0,6}(?:门|锁|车|窗)|正在撬|正在偷|在偷(?!偷)|剪.{0,8}锁"
        r"|绑架|拐卖|抱走|劫持|跳楼|轻生|自杀|跟踪|跟着我|砸.{0,8}(?:车|店|门|东西|玻璃)|砸人|闹事|持枪|被(?:人)?打"
        r"|要(?:往下)?跳|往下跳|跳河|跳下去|要从.{0,8}跳下|在打(?:孩子|娃|老婆|司机)|打司机|惨叫|被人带走|(?:车|电瓶车|电动车|摩托)[^，。]{0,4}被人(?:开走|骑走|偷走)|坐在.{0,4}边上|弄死|杀了我|砍死|打起来了|在打(?:司机|人|架)"
        r"|(?:被|把).{0,6}(?:关|锁)(?:起|在|住)|不让.{0,4}(?:走|离开)|被.{0,4}控制|围住|(?:拖|塞|拉)(?:上|进).{0,8}车"
        r"|摸女|猥亵|强奸|性侵|翻.{0,4}(?:进|阳台|窗)|翻东西|强行进入|不走正路",
    ),
    "medical": (
        "120",
        "有人受伤或突发疾病",
        r"晕倒|昏倒|昏迷|晕过去|不省人事|叫不醒|没有?(?:了)?(?:呼吸|意识|心跳)|(?:叫|喊|拍)[^，。]{0,4}没(?:有)?反应|心脏病|心梗|脑梗|中风|抽搐"
        r"|口吐白沫|流.{0,4}血|是血|出血|吐血|血止不住|止不住|骨折|摔(?:下来|倒|伤|下去)|受伤|受了伤|伤口|中毒"
        r"|喝(?:了)?农药|农药中毒|吃了.{0,4}安眠药|安眠药.{0,4}(?:吃|吞)|(?:吃|吞|喝)了?(?:一|整|半|大)?(?:瓶|盒|把|板).{0,4}药|药[^，。]{0,6}(?:都|全)(?:吃|吞)了|吃错(?:了)?药|(?:一|整|半)(?:瓶|盒|把|板)[^，。]{0,6}(?:药|片)[^，。]{0,2}(?:吃|吞|喝)(?:了|下)|呼吸困难|喘不上气|喘不过气|卡住了|噎住|触电|咬伤|烫伤|烧伤|羊水破|要生了|难产|说不出话|半边身子"
        r"|(?:站|起)不来|站不起来|站不稳|爬不起来|动不了|不动了|一动不动|卷进|(?:叫|派|要)救护车|急救"
        r"|抽(?:风了|起了|起来了)|发病|呼之不应|喊(?:他|她)?不(?:答应|应)|没得呼吸|无(?:自主)?呼吸|呼吸微弱|心肺复苏|按压"
        r"|"
        + _PERSON
        + r"[^，。]{0,6}倒(?:在|下|地)|(?:开水|热水|油)烫|烫(?:到|起泡)|误(?:喝|服|吃)|脸(?:都)?(?:紫|歪)"
        r"|(?:嗓子|喉咙).{0,3}肿|胸口(?:痛|疼)|切断|溅(?:到|进)眼|(?:躺|倒)在地上|在地上抽|血(?:一直|还在)(?:在)?流|被压在|压在.{0,4}下"
        r"|" + _PERSON + r"[^，。]{0,8}(?:滚|掉|摔)下来",
    ),
    "water": (
        "119",
        "有人落水或溺水",
        r"落水|掉(?:进|到|下)(?:了)?.{0,4}(?:河|水|湖|江|塘|井|池|沟)|溺水|在水里|水中挣扎|滑入.{0,2}水|沉下去|跳入.{0,2}河|被水冲|喊救命",
    ),
    "missing": (
        "110",
        "有人走失（老人、儿童）",
        r"走失|走丢|失踪|出门.{0,8}没(?:有)?回来|"
        + _KIN
        + r"[^，。]{0,12}(?:找不到了?|丢了|不见了|没回来|没有回来|没回家|联系不上|还没到家)",
    ),
}

_COMPILED = {g: re.compile(p) for g, (_, _, p) in _GROUPS.items()}

_CLAUSE_SPLIT = re.compile(r"[，,。.！!？?；;：:\n\r…~～]+")

# Anywhere in the clause before the match: the event is hypothetical, a risk, or habitual.
_HYPOTHETICAL = re.compile(
    r"万一|如果|天天|每天|整天|假如|要是|一旦|容易|以防|防止|预防|避免|担心|担忧|会不会|可能会|经常|常常|老是|总是|怕|隐患"
    r"|演练|培训|知识|讲座|宣传|建议|多次发生|频发|以为|还当是|当成|的话|已有|多名|好几个人|好多人|不少人"
)
# Right before the match: plain negation (没有人受伤, 未起火, 不是着火).
_NEGATION = re.compile(r"(?:没有|没|未|无|不是|并非|不会|别|不|差点|差一点|险些|几乎)(?:人|什么|任何)?$")
_WOULD = re.compile(r"会$")
# Right after the match: 火灾隐患, 起火风险, 着火的话.
_AFTER_RISK = re.compile(r"^(?:的)?(?:隐患|风险|危险性|的话|怎么办理|演练|预防|通道)")
# In the clause or the one before it: the event is over.
_WHEN_PAST = (
    r"(?:去年|前年|上个?月|上周|上星期|上礼拜|上回|上次|之前|以前|曾经|那次|当时|后来|前几天|前些天|前段时间|昨天|前天"
    r"|[0-9一二两三四五六七八九十几半多]+(?:个)?(?:年|月|天|星期|周|礼拜)(?:前|以前))"
)
_OVER = (
    r"已经(?:被)?(?:扑灭|灭了|熄灭|处理|解决|没事|好了|打了(?:疫苗|针)|送(?:到|去)?医|去(?:过)?医院"
    r"|包扎|缝(?:了)?针|出院)"
)
_PAST = re.compile(_WHEN_PAST + r"|着过|烧过|发生过|出过|早就|" + _OVER)
# In the clause right after the match: only an explicit "that was …" (上周的事, 已经包扎了).
_PAST_AFTER = re.compile(r"^(?:这|那|这是|那是|是)?" + _WHEN_PAST + r"(?:的事|发生的)|" + _OVER)
# A smoke trigger (not a fire word) in a text that names where harmless smoke comes from.
_SMOKE_TRIGGER = re.compile(r"冒.{0,2}烟|浓烟|黑烟滚滚|(?:全|都)是烟|烟(?:好|很|太)大|有烟")
_BENIGN_SMOKE = re.compile(
    r"烧烤|烤串|串串|油烟|炒菜|做饭|熏(?:腊肉|香肠)|腊肉|香肠|焊接|电焊|烧(?:垃圾|纸|秸秆|落叶|树叶)|纸钱|抽烟|吸烟|烟囱|锅炉|香烟|蚊香"
)
# Anywhere in the text: it is about the aftermath (compensation, insurance, a protection order, relief), not the
# event itself (工地上受伤住院了，老板不给工伤; 家暴可以找妇联吗; 屋头着火烧光了，有没有救助).
_AFTERMATH: dict[str, re.Pattern[str]] = {
    "medical": re.compile(
        r"工伤|住院|出院|医药费|医疗费|赔偿|报销|保险|鉴定|治疗费|误工费|缝了.{0,2}针|打了疫苗|复查|职业病|伤残|致残"
        r"|疫苗|接种|门诊|就医|ICU|治疗|花费|体检"
    ),
    "traffic": re.compile(
        r"工伤|住院|出院|医药费|医疗费|赔偿|报销|保险|理赔|定损|修车|维修|修复|事故认定|责任认定|伤残|致残"
    ),
    "crime": re.compile(r"保护令|告诫书|妇联|离婚|庇护|起诉|律师|立案|报案|备案|赔偿|调解|追回|退赔"),
    "fire": re.compile(r"救助|补助|赔偿|理赔|重建|烧没了|烧光了|烧毁了|保险"),
}
# Right before a traffic trigger: a thing, not a person, was hit (护栏被车辆撞坏, 标志牌被货车撞倒).
_THING_HIT = re.compile(r"(?:栏|杆|牌|柱|桩|墙|树|箱|亭|灯|墩|栓|设施|车棚|大门|门|井盖|站台)$")
# Words that bring the event back to now, overriding a past marker.
_PRESENT = re.compile(r"正在|现在|刚刚|刚才|刚|马上|快来|赶紧|救命|快派|还在|此刻|目前")
# Whole-text context: a fraudster describing an accident is not an accident.
_FRAUD = re.compile(r"诈骗|骗子|被骗|骗了|冒充")


@dataclass(frozen=True)
class EmergencyHit:
    """One rule that fired: the service, why, and the words that fired it."""

    service: str
    reason: str
    trigger: str
    group: str


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE_SPLIT.split(text) if c.strip()]


def _suppressed(clause: str, prev: str, nxt: str, start: int, end: int) -> bool:
    before = clause[:start]
    after = clause[end:]
    if after.startswith("的事"):
        return True  # 因为孩子在学校打架的事情
    if _NEGATION.search(before[-4:]) or _WOULD.search(before):
        return True
    if _HYPOTHETICAL.search(before) or _AFTER_RISK.match(after):
        return True
    if _PRESENT.search(clause):
        return False
    # the event is over: said in this clause, the one before, or the one after (被人打了一顿，上周的事)
    return bool(_PAST.search(prev + "，" + clause) or (_PAST_AFTER.search(nxt) and not _PRESENT.search(nxt)))


def scan(text: str) -> tuple[list[EmergencyHit], set[str]]:
    """(the rules that fire, in priority order, at most one per group; the groups whose words occur but were
    all ruled out: over, hypothetical, negated, harmless smoke, aftermath). The classifier does not let its model
    alone flag a text whose emergency words the rules ruled out (昨天被车撞了，想问问怎么找到他)."""
    if not text or not text.strip():
        return [], set()
    fraud = bool(_FRAUD.search(text))
    benign_smoke = bool(_BENIGN_SMOKE.search(text))
    aftermath = {g for g, rx in _AFTERMATH.items() if rx.search(text)}
    found: dict[str, EmergencyHit] = {}
    ruled_out: set[str] = set()
    clauses = _clauses(text)
    for i, clause in enumerate(clauses):
        prev = clauses[i - 1] if i else ""
        nxt = clauses[i + 1] if i + 1 < len(clauses) else ""
        for group, rx in _COMPILED.items():
            if group in found:
                continue
            for m in rx.finditer(clause):
                if (
                    group in aftermath
                    or (fraud and group in ("traffic", "medical"))
                    or (group == "fire" and benign_smoke and _SMOKE_TRIGGER.fullmatch(m.group(0)))
                    or (group == "traffic" and _THING_HIT.search(clause[: m.start()]))
                    or _suppressed(clause, prev, nxt, m.start(), m.end())
                ):
                    ruled_out.add(group)
                    continue
                service, reason, _ = _GROUPS[group]
                found[group] = EmergencyHit(service, reason, m.group(0), group)
                break
    return [found[g] for g in _PRIORITY if g in found], ruled_out - set(found)


def find_emergencies(text: str) -> list[EmergencyHit]:
    """Every emergency rule that fires on ``text``, at most one per group, in priority order."""
    return scan(text)[0]


def detect_emergency(text: str) -> EmergencyHit | None:
    """The emergency to transfer to, by priority, or ``None``."""
    hits = find_emergencies(text)
    return hits[0] if hits else None
