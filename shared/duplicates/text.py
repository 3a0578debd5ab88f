"""Word-level meaning of a complaint for 并单: jieba words → domain concepts → weighted concept similarity.

Steps: NFKC; the places (the reports' addresses, "XX路NN号", house/building numbers) are cut out
(where is the distance's job); jieba (its own tokenizer, :mod:`shared.segmenter`, with the lexicon's
surfaces added, so the classifier's jieba is left alone) cuts words; neighbouring words are joined
when together they are a lexicon surface (没有+了, 灯+不亮); each word becomes its concepts
(:mod:`shared.duplicates.lexicon`), or itself when it is a content word (noun, verb, adjective,
idiom) that is neither boilerplate nor a place name. Concepts are weighed by kind (problem object
and facility > issue > symptom > circumstance, other words) times their IDF over the matter catalog
(a word found in many matters' keywords tells less). Two texts compare by weighted Jaccard and
weighted overlap — objects first, related concepts (摊贩 ~ 出店经营, 不亮 ~ 黑黢黢) at half credit — pulled
down when both name objects and share none (井盖 vs 路灯 at the same door), when both say what is wrong
and it disagrees (水质 vs 停水), or when they share only a facility and nothing wrong with it agrees
(电梯异响 vs 电梯费涨价).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from shared.duplicates.lexicon import (
    COMPOUNDS,
    CONCEPTS,
    GENERIC_ISSUES,
    ISSUE_FAMILY,
    RELATED_CONCEPTS,
    STOP_PHRASES,
    STOPWORDS,
)
from shared.segmenter import Segmenter, build

KIND_WEIGHT = {"obj": 1.0, "fac": 1.0, "issue": 0.75, "sym": 0.45, "ctx": 0.25, "word": 0.3}
#: Both texts name an object and they share none: the text similarity is multiplied by this.
OBJECT_MISMATCH = 0.35
#: Both texts say what the problem is and none of it agrees: the text similarity is multiplied by this.
PROBLEM_CLASH = 0.6
#: The only objects in common are facilities and what each says is wrong does not agree (or one says nothing).
FACILITY_ONLY = 0.7
#: Objects compare mostly by overlap: one report naming more things (井盖 and 人行道) than another is no contradiction.
OBJECT_OVERLAP_SHARE = 0.65
MAX_JOIN = 3  # neighbouring jieba words tried together against the lexicon
_KEEP_POS = ("n", "v", "a", "i", "l", "z", "j", "b")
_DROP_POS = ("ns", "nr", "nt", "t", "m", "q", "r", "u", "y", "e", "p", "c", "d", "f", "s", "x", "o", "h", "k")
_PLACE = re.compile(
    r"(?:成都市|成华区)?[\u4e00-\u9fa5]{1,8}?(?:路|街|巷|大道)(?:[一二三四五六七八九十]段)?"
    r"\s*\d+\s*(?:号|號)(?:院|附近|门口|门前|旁|处)?(?:\s*\d+\s*(?:栋|幢|号楼))?(?:\s*\d+\s*单元)?"
)
_NUMBERED = re.compile(
    r"\d+\s*(?:号院|号楼|号|栋|幢|单元|楼|层|室|米|平方米|立方米|厘米|辆|盏|块|处|个|次|天|小时|分钟|时许|时)"
)
_DIGITS = re.compile(r"[0-9０-９]+")
_ADDRESS_TAIL = re.compile(r"(?:附近|门口|门前|旁边|旁|对面|外面|里面|路口|东门|西门|南门|北门|大门|处|一带)+$")
_ADDRESS_HEAD = re.compile(r"^(?:四川省)?(?:成都市?)?(?:成华区?)?")
_ROAD = re.compile(r"^([\u4e00-\u9fa5]{2,10}?(?:路|街|巷|大道)(?:[一二三四五六七八九十]段)?)")


@dataclass(frozen=True)
class Concept:
    id: str
    label: str
    kind: str


@dataclass(frozen=True)
class TextSimilarity:
    score: float  # 0..1
    shared: tuple[str, ...]  # labels of the shared concepts, heaviest first
    only_a: tuple[str, ...]  # object labels only the first text names
    only_b: tuple[str, ...]
    object_mismatch: bool


class Lexicon:
    def __init__(self) -> None:
        self.concepts: dict[str, Concept] = {}
        self.surfaces: dict[str, tuple[str, ...]] = {}
        ident = ""
        for line in CONCEPTS.strip().splitlines():
            if line[:1].isspace():  # more surfaces of the concept above
                words = line
            else:
                ident, label, kind, words = (part.strip() for part in line.split("|"))
                if kind not in KIND_WEIGHT:
                    raise ValueError(f"concept {ident!r}: unknown kind {kind!r}")
                self.concepts[ident] = Concept(ident, label, kind)
            for word in words.split():
                self._add(word, (ident,))
        for line in COMPOUNDS.strip().splitlines():
            word, ids = line.split("=")
            for ident in ids.split("+"):
                if ident not in self.concepts:
                    raise ValueError(f"compound {word!r}: unknown concept {ident!r}")
            self.surfaces[word.strip()] = tuple(ids.split("+"))
        for word in STOP_PHRASES.split():
            self.surfaces.setdefault(word, ())
        self.stopwords = frozenset(STOPWORDS.split())
        self.longest = max(len(word) for word in self.surfaces)

    def _add(self, word: str, ids: tuple[str, ...]) -> None:
        known = self.surfaces.get(word, ())
        self.surfaces[word] = known + tuple(i for i in ids if i not in known)


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return Lexicon()


_tokenizer_lock = threading.Lock()


@lru_cache(maxsize=1)
def _segmenter() -> Segmenter:
    """A private jieba tokenizer (:mod:`shared.segmenter`) knowing every lexicon surface, with word tags."""
    return build(((w, 50_000, "n") for w in lexicon().surfaces if len(w) > 1), with_tags=True)


def warm_up() -> None:
    """Load jieba's dictionary now (about a second) instead of on the first comparison."""
    with _tokenizer_lock:
        _segmenter()
    _catalog_idf()


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def address_variants(address: str | None) -> list[str]:
    """The forms an address takes inside a text: as given, without 成都市成华区, without 附近/门口, the road alone."""
    if not address:
        return []
    base = normalise(address).strip()
    out = {base}
    head = _ADDRESS_HEAD.sub("", base)
    out.add(head)
    out.add(_ADDRESS_TAIL.sub("", head))
    road = _ROAD.match(head)
    if road:
        out.add(road.group(1))
    return sorted((v for v in out if len(v) >= 2), key=len, reverse=True)


def strip_places(text: str, addresses: Iterable[str | None] = ()) -> str:
    """The text without the reports' addresses, "XX路NN号…" spans and numbered things (12号, 3栋, 60辆)."""
    out = normalise(text)
    variants = sorted({v for a in addresses for v in address_variants(a)}, key=len, reverse=True)
    for v in variants:
        out = out.replace(v, "，")
    out = _PLACE.sub("，", out)
    out = _NUMBERED.sub("，", out)
    return _DIGITS.sub("，", out)


def _words(text: str) -> list[tuple[str, str]]:
    with _tokenizer_lock:  # built once, by whichever thread comes first
        segmenter = _segmenter()
    return segmenter.tagged(text)


def _content(word: str, flag: str, lex: Lexicon) -> bool:
    if len(word) < 2 or word in lex.stopwords or not re.search(r"[\u4e00-\u9fa5]", word):
        return False
    if flag.startswith(_DROP_POS) and not flag.startswith(("nz", "nrt")):
        return False
    return flag.startswith(_KEEP_POS) or flag == "nz"


def _scan(word: str, lex: Lexicon) -> list[str]:
    """Lexicon surfaces (two characters or more) inside a word jieba kept whole, longest first, left to right."""
    found: list[str] = []
    i = 0
    while i < len(word):
        for size in range(min(lex.longest, len(word) - i), 1, -1):
            if word[i : i + size] in lex.surfaces:
                found.append(word[i : i + size])
                i += size
                break
        else:
            i += 1
    return found


def concept_ids(text: str, addresses: Iterable[str | None] = ()) -> list[str]:
    """The text's concepts in order (lexicon ids, or ``w:word`` for other content words), repeats dropped."""
    return list(_concept_ids(text, tuple(sorted({a for a in addresses if a}))))


@lru_cache(maxsize=4096)  # an open case is compared with every new one near it
def _concept_ids(text: str, addresses: tuple[str, ...]) -> tuple[str, ...]:
    lex = lexicon()
    words = _words(strip_places(text, addresses))
    seen: dict[str, None] = {}
    i = 0
    while i < len(words):
        # the longest run of neighbouring words that together is a lexicon surface (没有+了 → 没有了)
        for size in range(min(MAX_JOIN, len(words) - i), 0, -1):
            joined = "".join(w for w, _ in words[i : i + size])
            if joined in lex.surfaces:
                for ident in lex.surfaces[joined]:
                    seen.setdefault(ident)
                i += size
                break
        else:
            word, flag = words[i]
            i += 1
            inner = _scan(word, lex) if len(word) > 2 else []
            if inner:
                for surface in inner:
                    for ident in lex.surfaces[surface]:
                        seen.setdefault(ident)
            elif _content(word, flag, lex):
                seen.setdefault(f"w:{word}")
    return tuple(seen)


@lru_cache(maxsize=1)
def _catalog_idf() -> dict[str, float]:
    """IDF of each concept over the matter catalog (one document per matter: its name and keywords), 1 = rarest."""
    from shared.catalog import default_catalog

    docs = [
        {c for c in concept_ids(" ".join([m.name, *m.keywords])) if not c.startswith("w:")}
        for m in default_catalog().matters
    ]
    n = len(docs)
    df: dict[str, int] = {}
    for doc in docs:
        for c in doc:
            df[c] = df.get(c, 0) + 1
    top = math.log((n + 1) / 1) + 1
    return {c: (math.log((n + 1) / (k + 1)) + 1) / top for c, k in df.items()}


def weight(concept: str) -> float:
    lex = lexicon()
    if concept.startswith("w:"):
        return KIND_WEIGHT["word"]
    kind = lex.concepts[concept].kind
    return KIND_WEIGHT[kind] * _catalog_idf().get(concept, 1.0)


def label(concept: str) -> str:
    return concept[2:] if concept.startswith("w:") else lexicon().concepts[concept].label


def _kind(concept: str) -> str:
    return "word" if concept.startswith("w:") else lexicon().concepts[concept].kind


def _mix(a: set[str], b: set[str], credit: float = 0.0, overlap_share: float = 0.5) -> float:
    """Weighted Jaccard and weighted overlap (shared / smaller side) mixed; ``credit`` adds shared weight."""
    if not a or not b:
        return 0.0
    shared = sum(weight(c) for c in a & b) + credit
    w_a, w_b = sum(weight(c) for c in a), sum(weight(c) for c in b)
    jaccard = shared / max(w_a + w_b - shared, 1e-9)
    return min(1.0, (1 - overlap_share) * jaccard + overlap_share * shared / min(w_a, w_b))


def _related_credit(only_a: set[str], only_b: set[str]) -> float:
    """Half the weight of each pair of related concepts (摊贩 ~ 出店经营, 不亮 ~ 黑黢黢) the two texts name apart."""
    credit = 0.0
    for x in only_a:
        for y in only_b:
            if frozenset((x, y)) in RELATED_CONCEPTS:
                credit += 0.5 * min(weight(x), weight(y))
    return credit


def _facilities(concepts: set[str]) -> set[str]:
    return {c for c in concepts if _kind(c) == "fac"}


def _problems(concepts: set[str]) -> set[str]:
    """What a text says is wrong: its issues and its problem objects (not facilities, symptoms or circumstances)."""
    return {c for c in concepts if _kind(c) in ("issue", "obj")}


def _families(concepts: set[str]) -> set[str]:
    out: set[str] = set()
    for c in concepts:
        out |= ISSUE_FAMILY.get(c, frozenset({c}))
        out |= GENERIC_ISSUES.get(c, frozenset())
    return out


def _problems_agree(pa: set[str], pb: set[str]) -> bool:
    """The same problem word, one issue family (不亮 ~ 停运; 损坏 ~ 不亮/松动/缺失) or related problem objects."""
    if _families(pa) & _families(pb):
        return True
    return any(frozenset((x, y)) in RELATED_CONCEPTS for x in pa for y in pb)


def compare_concepts(a: Sequence[str], b: Sequence[str]) -> TextSimilarity:
    """Objects weigh most: when both texts name objects, 0.65 · object agreement + 0.35 · the rest; no object in
    common (nor a related one) → the rest × :data:`OBJECT_MISMATCH`; problems that clash → × :data:`PROBLEM_CLASH`;
    only a facility in common without agreeing problems → × :data:`FACILITY_ONLY`."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return TextSimilarity(0.0, (), (), (), False)
    oa = {c for c in sa if _kind(c) in ("obj", "fac")}
    ob = {c for c in sb if _kind(c) in ("obj", "fac")}
    mismatch = False
    if oa and ob:
        credit = _related_credit(oa - ob, ob - oa)
        objects = _mix(oa, ob, credit, OBJECT_OVERLAP_SHARE)
        ra, rb = sa - oa, sb - ob
        rest = _mix(ra, rb, _related_credit(ra - rb, rb - ra))
        if objects == 0.0:
            mismatch = True
            score = rest * OBJECT_MISMATCH
        else:
            score = 0.65 * objects + 0.35 * rest
    else:
        score = _mix(sa, sb, _related_credit(sa - sb, sb - sa))
    pa, pb = _problems(sa), _problems(sb)
    agree = _problems_agree(pa, pb)
    if not agree and pa - GENERIC_ISSUES.keys() and pb - GENERIC_ISSUES.keys():
        score *= PROBLEM_CLASH  # both say specifically what is wrong, and it is not the same thing
    elif not agree and oa & ob and not (oa & ob) - _facilities(oa | ob):
        score *= FACILITY_ONLY  # only a facility in common (same 电梯, 工地, 桥) and nothing said wrong with it agrees
    ranked = sorted(sa & sb, key=lambda c: (-weight(c), c))
    return TextSimilarity(
        round(score, 4),
        tuple(label(c) for c in ranked),
        tuple(label(c) for c in sorted(oa - ob)),
        tuple(label(c) for c in sorted(ob - oa)),
        mismatch,
    )


def text_similarity(a: str, b: str, addresses: Iterable[str | None] = ()) -> TextSimilarity:
    """How alike two complaint texts are in meaning (0..1), the places in ``addresses`` left out of both."""
    places = list(addresses)
    return compare_concepts(concept_ids(a, places), concept_ids(b, places))
