"""The complaint classifier: kind (诉求类型), category (大类), matter (事项) and emergency.

Kind and category come from two logistic regressions over TF-IDF character 1-3-grams, trained at
start-up from the corpus packaged in ``data/train.jsonl`` (well under a second). Matters are ranked
inside the likely categories by keyword hits and character similarity to the catalog's name,
keywords and examples. Emergencies come from the rules in :mod:`.emergency`, with the model as a
fallback (a text the category model is sure is 紧急警情 is flagged even when no rule fired).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import cosine_similarity
from threadpoolctl import threadpool_limits

from shared.catalog.models import CATEGORY_NAMES

from .emergency import detect_emergency
from .schemas import KINDS, CategoryScore, Classification, Emergency, Kind, MatterScore

if TYPE_CHECKING:
    from shared.catalog import Catalog, Matter

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_PATH = DATA_DIR / "train.jsonl"


MODEL_CHARS = 1000
"""Only the first characters of a text go into the statistical models (a call transcript can be long);
emergency rules read up to :data:`RULE_CHARS`."""
RULE_CHARS = 5000

LOW_CATEGORY = 0.35
LOW_KIND = 0.40
LOW_MARGIN = 0.08
MODEL_EMERGENCY = 0.7
"""Probability of 紧急警情 above which the model alone flags an emergency."""


KIND_CUES: dict[str, re.Pattern[str]] = {
    "表扬": re.compile(r"^(?:谢谢|多谢)|感谢|表扬|点赞|点个赞|锦旗|赞一个|辛苦了"),
    "建议": re.compile(r"建议|提个(?:意见|建议)|希望(?:政府|能|多|在|把|增加|有关)|能不能(?:多|在|把|增加|开|设)"),
    "咨询": re.compile(
        r"请问|问一下|问下|咨询|打听|怎么(?:办理|申请|领|办|交|补)|去哪|在哪|哪里可以|什么时候|多少|[吗呢][？?]?$"
    ),
    "举报": re.compile(r"举报|查处|违法|违规|无证|没有资质|非法|偷排|严查|查一下|查一查"),
    "求助": re.compile(r"求助|帮帮|帮忙|救助|协调|怎么办|求求"),
    "投诉": re.compile(r"投诉|没人管|不管|太差|态度|烦死|扰民|推诿|到底有没有"),
}
"""Words that mark a kind of 诉求 whatever the topic; each match adds :data:`CUE_WEIGHT` to the kind
model's log-probability (the statistical model alone leans on topic words)."""
CUE_WEIGHT = 1.2


@dataclass(frozen=True)
class Example:
    """One labelled row of a corpus."""

    text: str
    kind: str
    category: str
    emergency: str | None


def load_corpus(path: str | Path) -> list[Example]:
    """Read a JSON-lines corpus of ``{"text", "kind", "category", "emergency"}`` rows."""
    out: list[Example] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("kind") not in KINDS or row.get("category") not in CATEGORY_NAMES:
                raise ValueError(f"{path}:{n}: bad kind or category in {row!r}")
            out.append(Example(str(row["text"]), row["kind"], row["category"], row.get("emergency")))
    return out


def normalize(text: str | None) -> str:
    """NFKC (full-width letters, digits and punctuation to half-width), lower case, squeezed spaces."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).lower()
    return " ".join(t.split())


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)


def _matter_doc(m: Matter) -> str:
    return normalize(" ".join([m.name, *m.keywords, *m.examples]))


class Classifier:
    """Trained kind/category models plus the catalog's matters. Build once; :meth:`classify` is
    thread-safe (read-only after construction)."""

    def __init__(self, examples: Sequence[Example], catalog: Catalog | None = None, version: str = "") -> None:
        if not examples:
            raise ValueError("no training examples")
        texts = [normalize(e.text) for e in examples]
        self.version = version or _digest(texts)
        self.vectorizer = _vectorizer()
        x = self.vectorizer.fit_transform(texts)
        # newton-cg converges in a few iterations on this small, sparse problem; one BLAS thread avoids
        # oversubscription when several services start at once (both keep training well under a second).
        with threadpool_limits(limits=1):
            self._fit(x, texts, examples)
        self._set_catalog(catalog)

    def _fit(self, x: Any, texts: list[str], examples: Sequence[Example]) -> None:
        self.kind_model = LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced", solver="newton-cg")
        self.kind_model.fit(x, [e.kind for e in examples])
        self.category_model = LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced", solver="newton-cg")
        self.category_model.fit(x, [e.category for e in examples])
        jj = [(t, e.emergency) for t, e in zip(texts, examples, strict=True) if e.emergency]
        self.service_model: LogisticRegression | None = None
        if len({s for _, s in jj}) >= 2:
            self.service_model = LogisticRegression(C=10.0, max_iter=3000, solver="newton-cg")
            self.service_model.fit(self.vectorizer.transform([t for t, _ in jj]), [s for _, s in jj])

    # ------------------------------------------------------------------ catalog

    def _set_catalog(self, catalog: Catalog | None) -> None:
        self.catalog = catalog
        self.matters: list[Matter] = list(catalog.matters) if catalog is not None else []
        self._matter_vec: TfidfVectorizer | None = None
        self._matter_x: Any = None
        self._matter_kw: list[list[str]] = []
        if not self.matters:
            return
        docs = [_matter_doc(m) for m in self.matters]
        self._matter_vec = _vectorizer()
        self._matter_x = self._matter_vec.fit_transform(docs)
        self._matter_kw = [[normalize(k) for k in m.keywords if k.strip()] for m in self.matters]

    # ------------------------------------------------------------------ scoring

    def _probs(self, model: LogisticRegression, x: Any) -> dict[str, float]:
        p = model.predict_proba(x)[0]
        return {str(c): float(v) for c, v in zip(model.classes_, p, strict=True)}

    def _kind_probs(self, text: str, x: Any) -> dict[str, float]:
        probs = self._probs(self.kind_model, x)
        logits = {k: math.log(max(p, 1e-9)) for k, p in probs.items()}
        for k, rx in KIND_CUES.items():
            if k in logits and rx.search(text):
                logits[k] += CUE_WEIGHT
        top = max(logits.values())
        exp = {k: math.exp(v - top) for k, v in logits.items()}
        total = sum(exp.values())
        return {k: v / total for k, v in exp.items()}

    def _rank_matters(self, text: str, cat_probs: dict[str, float], service: str | None) -> list[MatterScore]:
        if not self.matters or self._matter_vec is None:
            return []
        sims = cosine_similarity(self._matter_vec.transform([text]), self._matter_x)[0]
        by_cat: dict[str, list[tuple[int, float]]] = {}
        for i, m in enumerate(self.matters):
            kw = self._matter_kw[i]
            hits = sum(min(len(k), 4) for k in kw if k and k in text)
            score = float(sims[i]) + 0.25 * min(hits, 8)
            if service and m.emergency_service == service:
                score += 1.0
            by_cat.setdefault(m.category, []).append((i, score))
        ranked: list[MatterScore] = []
        for cat, items in by_cat.items():
            p_cat = cat_probs.get(cat, 0.0)
            weights = [math.exp(4.0 * s) for _, s in items]
            total = sum(weights)
            for (i, _), w in zip(items, weights, strict=True):
                m = self.matters[i]
                ranked.append(
                    MatterScore(code=m.code, name=m.name, category=m.category, confidence=_clip(p_cat * w / total))
                )
        ranked.sort(key=lambda s: (-s.confidence, s.code))
        return ranked[:3]

    def classify(self, text: str | None, channel: str | None = None) -> Classification:
        """Kind, top-3 categories, top-3 matters and emergency of one complaint text. Never raises on
        odd input: an empty text gives a low-confidence 咨询 with prior probabilities."""
        clean = normalize(text)
        x = self.vectorizer.transform([clean[:MODEL_CHARS]])
        kind_probs = self._kind_probs(clean, x)
        cat_probs = self._probs(self.category_model, x)

        emergency: Emergency | None = None
        hit = detect_emergency(clean[:RULE_CHARS])
        if hit is not None:
            emergency = Emergency(service=cast(Any, hit.service), reason=hit.reason, trigger=hit.trigger)
        elif clean and cat_probs.get("JJ", 0.0) >= MODEL_EMERGENCY and self.service_model is not None:
            service = str(self.service_model.predict(x)[0])
            emergency = Emergency(service=cast(Any, service), reason="模型判断为紧急警情", trigger="", source="model")
        cat_probs = dict(cat_probs)
        if emergency is not None:
            # An emergency is a 紧急警情 whatever else it is: make sure JJ leads the categories.
            top = max(cat_probs.values())
            cat_probs["JJ"] = max(cat_probs.get("JJ", 0.0), min(0.95, top + 0.05))
        else:
            # 紧急警情 means "transfer to 110/119/120/122": without an emergency it is not a category.
            rest = 1.0 - cat_probs.pop("JJ", 0.0)
            if rest > 0:
                cat_probs = {c: p / rest for c, p in cat_probs.items()}

        cats = sorted(cat_probs.items(), key=lambda kv: (-kv[1], kv[0]))
        categories = [CategoryScore(code=c, name=CATEGORY_NAMES[c], confidence=_clip(p)) for c, p in cats[:3]]
        kinds = sorted(kind_probs.items(), key=lambda kv: (-kv[1], kv[0]))
        kind, kind_conf = kinds[0]
        margin = cats[0][1] - cats[1][1] if len(cats) > 1 else 1.0
        low = (
            not clean
            or cats[0][1] < LOW_CATEGORY
            or kind_conf < LOW_KIND
            or (margin < LOW_MARGIN and emergency is None)
        )
        return Classification(
            kind=cast(Kind, kind),
            kind_confidence=_clip(kind_conf),
            categories=categories,
            matters=self._rank_matters(clean[:MODEL_CHARS], cat_probs, emergency.service if emergency else None),
            emergency=emergency,
            low_confidence=low,
            channel=channel,
            model_version=self.version,
        )

    def classify_many(self, texts: Iterable[str]) -> list[Classification]:
        return [self.classify(t) for t in texts]


def _clip(v: float) -> float:
    return round(min(1.0, max(0.0, float(v))), 4)


def _digest(texts: Sequence[str]) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:10]


def load_catalog_quietly() -> Catalog | None:
    """The default matter catalog, or ``None`` (logged) when it is missing or invalid: the classifier
    still gives kind, category and emergency without it."""
    try:
        from shared.catalog import default_catalog

        return default_catalog()
    except Exception as exc:  # noqa: BLE001 - any catalog problem only disables matter ranking
        log.warning("matter catalog not available, matters will not be ranked: %s", exc)
        return None


def train_default(catalog: Catalog | None = None, *, use_catalog: bool = True) -> Classifier:
    """A classifier trained on the packaged corpus, with the default catalog unless told otherwise."""
    if catalog is None and use_catalog:
        catalog = load_catalog_quietly()
    return Classifier(load_corpus(TRAIN_PATH), catalog=catalog)


__all__ = [
    "CATEGORY_NAMES",
    "Classifier",
    "Example",
    "load_corpus",
    "normalize",
    "train_default",
]
