"""The complaint classifier: kind (诉求类型), category (大类), matter (事项), emergency, and whether it is sure
enough to route the complaint without a person (``auto_route``).

How it works (docs/classification.md has the figures):

- **Features** (:mod:`.features`): TF-IDF of character 1–3-grams beside jieba word uni- and bigrams.
- **Models**: two linear SVMs (one-vs-rest), for the category (15 classes, 紧急警情 included) and for the kind,
  trained at start-up on the train split of the corpus (:mod:`.corpus`).
- **Calibration**: the SVM scores of 5-fold cross-validated predictions on the train split are turned into
  probabilities by a softmax whose temperature is fitted on them (minimal log-loss): one parameter per model.
- **Per-class thresholds**: on the same cross-validated predictions, each category gets the lowest confidence
  from which its automatically routed complaints reach :data:`TUNE_PRECISION` precision; below it a complaint goes
  to the dispatchers' triage with its top-3 categories.
- **Emergency**: the rules of :mod:`.emergency` find the service (110/119/120/122) and the words; the model's
  probability of 紧急警情 gates them: a rule hit counts when that probability is at least ``emergency_gate``, and
  the model alone flags an emergency above ``emergency_alone``. Both are chosen on the cross-validated predictions.
- **Matters** are ranked inside each of the top-3 categories by keyword hits and character similarity to the
  catalog's name, keywords and examples.

Nothing is read from the test split. The trained model is stored (:mod:`.frozen`, :func:`load_or_train`) in the
model cache directory, so a second start loads it instead of training again.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from shared import segmenter as segmenter_module
from shared.catalog.models import CATEGORY_NAMES

from . import frozen
from .corpus import Example, load_corpus, normalize, train_split
from .emergency import EmergencyHit, scan
from .features import USER_DICT, Features, char_grams, fit_tfidf, prepare
from .frozen import Linear, softmax
from .schemas import CategoryScore, Classification, Emergency, Kind, MatterScore

if TYPE_CHECKING:
    from shared.catalog import Catalog, Matter

log = logging.getLogger(__name__)

MODEL_CHARS = 1000
"""Only the first characters of a text go into the statistical models (a call transcript can be long);
emergency rules read up to :data:`RULE_CHARS`."""
RULE_CHARS = 5000

PRECISION_TARGET = 0.95
"""Category precision wanted among automatically routed complaints."""
TUNE_PRECISION = 0.96
"""Precision each category's threshold is tuned to on cross-validated train predictions (a margin over
:data:`PRECISION_TARGET`: thresholds chosen on one sample do a little worse on the next)."""
MIN_THRESHOLD = 0.35
MAX_THRESHOLD = 0.99
FOLDS = 5
C_CATEGORY = 0.5
C_KIND = 0.5
TRAIN_THREADS = 2
"""Threads fitting the cross-validation folds at start-up (the SVM fits release the GIL)."""
EMERGENCY_PRECISION = 0.96
"""Precision the emergency gate is tuned to on cross-validated train predictions (the target is 0.95 at 0.98
recall: a missed fire weighs more than a complaint transferred to 110, so the margin is small)."""
KIND_FOLDS = 3
"""Folds for the kind model's cross-validation (only its temperature depends on it)."""

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
"""Words that mark a kind of 诉求 whatever the topic; each match adds :data:`CUE_WEIGHT` to the kind score."""
CUE_WEIGHT = 0.0


# ---------------------------------------------------------------------------------------------- numerics


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature with the least log-loss of the true classes (``y`` = column indexes)."""

    def nll(log_t: float) -> float:
        p = softmax(scores, math.exp(log_t))
        return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())

    from scipy.optimize import minimize_scalar

    res = minimize_scalar(nll, bounds=(math.log(0.01), math.log(10.0)), method="bounded")
    return float(math.exp(res.x))


def tune_thresholds(
    predicted: Sequence[str],
    confidence: Sequence[float],
    correct: Sequence[bool],
    classes: Iterable[str],
    precision: float = TUNE_PRECISION,
) -> dict[str, float]:
    """Per class, the lowest confidence from which the predictions of that class are right at least
    ``precision`` of the time (the most predictions kept that still reach it); :data:`MAX_THRESHOLD` when no
    cut-off does, never below :data:`MIN_THRESHOLD`."""
    out: dict[str, float] = {}
    for c in classes:
        rows = sorted(
            ((conf, ok) for p, conf, ok in zip(predicted, confidence, correct, strict=True) if p == c),
            key=lambda r: -r[0],
        )
        best = MAX_THRESHOLD
        right = 0
        for k, (conf, ok) in enumerate(rows, 1):
            right += ok
            nxt = rows[k][0] if k < len(rows) else 0.0
            # cut between this row and the next (only where the confidence changes)
            if right / k >= precision and nxt < conf:
                best = (conf + nxt) / 2 if k < len(rows) else conf
        out[c] = round(min(MAX_THRESHOLD, max(MIN_THRESHOLD, best)), 4)
    return out


# ---------------------------------------------------------------------------------------------- model


def _svc(c: float) -> Any:
    from sklearn.svm import LinearSVC

    # tol 1e-3 (not 1e-4): half the training time, the same cross-validated figures; a fixed random_state makes
    # liblinear's coordinate order, and so the model and its tuning, the same on every run
    return LinearSVC(C=c, class_weight="balanced", tol=1e-3, max_iter=5000, random_state=0)


def _fold_jobs(
    x: Any, y: np.ndarray, c: float, folds: int, extra_x: Any = None, extra_y: np.ndarray | None = None
) -> list[Callable[[], Any]]:
    """One job per fold (fit on the other folds plus the extra rows, score the fold) and the final fit on
    everything (last). The extra rows (catalog documents) are always trained on and never scored."""
    classes = np.unique(y if extra_y is None else np.concatenate([y, extra_y]))

    def fit(idx: np.ndarray | None) -> Any:
        xs = x if idx is None else x[idx]
        ys = y if idx is None else y[idx]
        if extra_x is not None and extra_y is not None and len(extra_y):
            import scipy.sparse as sp

            xs, ys = sp.vstack([xs, extra_x], format="csr"), np.concatenate([ys, extra_y])
        return _svc(c).fit(xs, ys)

    def fold(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = fit(train_idx)
        scores = np.zeros((len(test_idx), len(classes)))
        scores[:, np.searchsorted(classes, m.classes_)] = m.decision_function(x[test_idx])
        return test_idx, scores

    from sklearn.model_selection import StratifiedKFold

    splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y)
    jobs: list[Callable[[], Any]] = [functools.partial(fold, a, b) for a, b in splits]
    jobs.append(lambda: fit(None))
    return jobs


def _collect(results: Sequence[Any], rows: int, n_classes: int) -> np.ndarray:
    """Out-of-fold scores of every row from the fold jobs' results."""
    scores = np.zeros((rows, n_classes))
    for idx, s in results:
        scores[idx] = s
    return scores


def _folds_for(y: np.ndarray, folds: int) -> int:
    return max(2, min(folds, int(min(np.unique(y, return_counts=True)[1]))))


@dataclass(frozen=True)
class Tuning:
    """What cross-validation on the train split decided, for the corpus + catalog ``version``. Computed at
    start-up, or read from ``data/tuning.json`` (:func:`load_tuning`) when that file is for the same version."""

    version: str
    source: str  # "cross-validation" or "stored"
    category_temperature: float
    kind_temperature: float
    thresholds: dict[str, float]
    emergency_gate: float
    emergency_alone: float
    cv_auto_share: float
    cv_auto_precision: float
    cv_category_accuracy: float
    cv_emergency_recall: float
    cv_emergency_precision: float
    train_rows: int
    train_seconds: float = 0.0


@dataclass(frozen=True)
class _Decision:
    """The category-level outcome of one text (before matters)."""

    categories: list[tuple[str, float]]
    emergency: Emergency | None
    auto_route: bool
    threshold: float | None


def _emergency_decision(
    rules: tuple[list[EmergencyHit], set[str]], p_jj: float, gate: float, alone: float
) -> tuple[EmergencyHit | None, bool]:
    """(rule hit used, flagged): a rule hit counts when the model gives 紧急警情 at least ``gate``; the model
    alone flags above ``alone`` unless the rules ruled the text's emergency words out (over, hypothetical...)."""
    hits, ruled_out = rules
    if hits and p_jj >= gate:
        return hits[0], True
    return None, p_jj >= alone and not ruled_out


def _tune_emergency(
    hit: Sequence[bool], ruled_out: Sequence[bool], p_jj: np.ndarray, truth: Sequence[bool]
) -> tuple[float, float]:
    """(gate, alone) with the best recall at :data:`EMERGENCY_PRECISION` on the cross-validated predictions
    (ties: fewer false alarms, then the lowest gate)."""
    truth_a = np.asarray(truth, dtype=bool)
    hit_a = np.asarray(hit, dtype=bool)
    free_a = ~np.asarray(ruled_out, dtype=bool)
    positives = max(1, int(truth_a.sum()))
    best: tuple[float, float, float, float] | None = None  # (-recall, false alarms, gate, alone)
    for gate in (0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5):
        for alone in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 1.01):
            flagged = (hit_a & (p_jj >= gate)) | (free_a & (p_jj >= alone))
            tp = int((flagged & truth_a).sum())
            fp = int((flagged & ~truth_a).sum())
            if tp + fp and tp / (tp + fp) < EMERGENCY_PRECISION:
                continue
            key = (-tp / positives, float(fp), gate, -alone)
            if best is None or key < best:
                best = key
    if best is None:
        return 0.5, 1.01
    return best[2], -best[3]


class Classifier:
    """Trained kind/category models, their tuning and the catalog's matters. Build once; :meth:`classify` is
    thread-safe (read-only after construction)."""

    thresholds: dict[str, float]
    emergency_gate: float
    emergency_alone: float
    _tuning: dict[str, Any]

    def __init__(
        self,
        examples: Sequence[Example],
        catalog: Catalog | None = None,
        version: str = "",
        *,
        folds: int = FOLDS,
        tuning: Tuning | None = None,
    ) -> None:
        if not examples:
            raise ValueError("no training examples")
        started = time.perf_counter()
        texts = [prepare(e.text)[:MODEL_CHARS] for e in examples]
        docs = catalog_documents(catalog)
        self.version = version or _digest(examples, docs)
        self.features = Features()
        # one BLAS thread: several services may start at once on a small machine
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            x_all = self.features.fit_transform(texts + [prepare(d) for d, _ in docs])
            x, extra_x = x_all[: len(texts)], x_all[len(texts) :]
            stored = tuning if tuning is not None and tuning.version == self.version else None
            if tuning is not None and stored is None:
                log.warning(
                    "data/tuning.json is for corpus %s, not %s: tuning by cross-validation at start-up (slower); "
                    "run python -m services.intake.classify.tune",
                    tuning.version,
                    self.version,
                )
            self._fit(x, examples, extra_x, np.array([c for _, c in docs]), folds, stored)
        self._set_catalog(catalog)
        self.tuning = Tuning(**{**self._tuning, "train_seconds": round(time.perf_counter() - started, 3)})
        log.info(
            "classifier %s trained on %d rows and %d catalog documents in %.2f s",
            self.version,
            len(examples),
            len(docs),
            self.tuning.train_seconds,
        )

    # ------------------------------------------------------------------ training

    def _fit(
        self,
        x: Any,
        examples: Sequence[Example],
        extra_x: Any,
        extra_y: np.ndarray,
        folds: int,
        stored: Tuning | None,
    ) -> None:
        y_cat = np.array([e.category for e in examples])
        y_kind = np.array([e.kind for e in examples])
        cat_classes = sorted({str(v) for v in y_cat} | {str(v) for v in extra_y})
        kind_classes = sorted({str(v) for v in y_kind})
        cat_jobs = _fold_jobs(x, y_cat, C_CATEGORY, _folds_for(y_cat, folds), extra_x, extra_y)
        kind_jobs = _fold_jobs(x, y_kind, C_KIND, _folds_for(y_kind, min(folds, KIND_FOLDS)))
        if stored is not None:  # the final fits only
            cat_jobs, kind_jobs = cat_jobs[-1:], kind_jobs[-1:]
        jobs = [*cat_jobs, *kind_jobs]
        jj = [i for i, e in enumerate(examples) if e.emergency]
        if len({examples[i].emergency for i in jj}) >= 2:
            jobs.append(lambda: _svc(1.0).fit(x[jj], [examples[i].emergency for i in jj]))
        # liblinear releases the GIL: the fits share TRAIN_THREADS threads
        with ThreadPoolExecutor(TRAIN_THREADS) as pool:
            done = list(pool.map(lambda job: job(), jobs))
        cat_done, kind_done = done[: len(cat_jobs)], done[len(cat_jobs) : len(cat_jobs) + len(kind_jobs)]
        service = done[-1] if len(done) > len(cat_jobs) + len(kind_jobs) else None
        self.service_model: Linear | None = Linear.from_sklearn(service) if service is not None else None
        if stored is not None:
            self.category_model = Linear.from_sklearn(cat_done[-1], stored.category_temperature)
            self.kind_model = Linear.from_sklearn(kind_done[-1], stored.kind_temperature)
            self.emergency_gate, self.emergency_alone = stored.emergency_gate, stored.emergency_alone
            self.thresholds = dict(stored.thresholds)
            self._tuning = {**asdict(stored), "source": "stored", "train_rows": len(examples)}
            return
        cat_cv = _collect(cat_done[:-1], len(examples), len(cat_classes))
        kind_cv = _collect(kind_done[:-1], len(examples), len(kind_classes))
        cat_t = fit_temperature(cat_cv, np.searchsorted(cat_classes, y_cat))
        kind_t = fit_temperature(kind_cv, np.searchsorted(kind_classes, y_kind))
        self.category_model = Linear.from_sklearn(cat_done[-1], cat_t)
        self.kind_model = Linear.from_sklearn(kind_done[-1], kind_t)

        # tuning on the out-of-fold probabilities
        cv_probs = softmax(cat_cv, cat_t)
        jj_col = cat_classes.index("JJ") if "JJ" in cat_classes else None
        p_jj = cv_probs[:, jj_col] if jj_col is not None else np.zeros(len(examples))
        rule_texts = [normalize(e.text)[:RULE_CHARS] for e in examples]
        scans = [scan(t) for t in rule_texts]
        truth = [e.emergency is not None for e in examples]
        self.emergency_gate, self.emergency_alone = _tune_emergency(
            [bool(h) for h, _ in scans], [bool(r) for _, r in scans], p_jj, truth
        )
        self.thresholds = {}
        decisions = [
            self._decide(dict(zip(cat_classes, row.tolist(), strict=True)), scans[i]) for i, row in enumerate(cv_probs)
        ]
        non_emergency = [i for i, e in enumerate(examples) if e.emergency is None and not decisions[i].emergency]
        self.thresholds = tune_thresholds(
            [decisions[i].categories[0][0] for i in non_emergency],
            [decisions[i].categories[0][1] for i in non_emergency],
            [decisions[i].categories[0][0] == examples[i].category for i in non_emergency],
            [c for c in cat_classes if c != "JJ"],
        )
        auto = [
            i for i in non_emergency if decisions[i].categories[0][1] >= self.thresholds[decisions[i].categories[0][0]]
        ]
        all_ne = sum(1 for e in examples if e.emergency is None)
        flagged = [i for i, d in enumerate(decisions) if d.emergency is not None]
        true_flags = sum(1 for i in flagged if examples[i].emergency is not None)
        self._tuning = {
            "version": self.version,
            "source": "cross-validation",
            "category_temperature": cat_t,
            "kind_temperature": kind_t,
            "thresholds": dict(self.thresholds),
            "emergency_gate": self.emergency_gate,
            "emergency_alone": self.emergency_alone,
            "cv_auto_share": round(len(auto) / all_ne, 4) if all_ne else 0.0,
            "cv_auto_precision": round(
                sum(decisions[i].categories[0][0] == examples[i].category for i in auto) / len(auto), 4
            )
            if auto
            else 0.0,
            "cv_category_accuracy": round(
                float(np.mean([cat_classes[j] == y for j, y in zip(cv_probs.argmax(axis=1), y_cat, strict=True)])), 4
            ),
            "cv_emergency_recall": round(true_flags / max(1, sum(truth)), 4),
            "cv_emergency_precision": round(true_flags / len(flagged), 4) if flagged else 1.0,
            "train_rows": len(examples),
            "train_seconds": 0.0,
        }

    # ------------------------------------------------------------------ storage

    def save(self, path: Path, key: str) -> None:
        """Store the trained models (no catalog: it is given again at :meth:`load`) under the cache ``key``."""
        if self.features.chars is None or self.features.words is None:
            raise RuntimeError("features are not fitted")
        linears = {"category": self.category_model, "kind": self.kind_model}
        if self.service_model is not None:
            linears["service"] = self.service_model
        meta = {"key": key, "version": self.version, "tuning": asdict(self.tuning)}
        frozen.save(path, meta, {"chars": self.features.chars, "words": self.features.words}, linears)

    @classmethod
    def load(cls, path: Path, key: str, catalog: Catalog | None = None) -> Classifier | None:
        """The classifier stored at ``path`` for the cache ``key`` with ``catalog``'s matters, or ``None`` when
        there is no usable file for that key."""
        stored = frozen.load(path, accept=lambda meta: meta.get("key") == key)
        if stored is None or "chars" not in stored.tfidfs or "category" not in stored.linears:
            return None
        self = cls.__new__(cls)
        self.version = str(stored.meta["version"])
        self.features = Features(stored.tfidfs["chars"], stored.tfidfs["words"])
        self.category_model, self.kind_model = stored.linears["category"], stored.linears["kind"]
        self.service_model = stored.linears.get("service")
        raw = dict(stored.meta["tuning"])
        self.tuning = Tuning(**{**raw, "source": f"{raw['source']}, loaded"})
        self._tuning = asdict(self.tuning)
        self.thresholds = dict(self.tuning.thresholds)
        self.emergency_gate, self.emergency_alone = self.tuning.emergency_gate, self.tuning.emergency_alone
        self._set_catalog(catalog)
        return self

    # ------------------------------------------------------------------ catalog

    def with_catalog(self, catalog: Catalog | None) -> Classifier:
        """The same trained models with another matter catalog (no retraining)."""
        other = copy.copy(self)
        other._set_catalog(catalog)
        return other

    def _set_catalog(self, catalog: Catalog | None) -> None:
        self.catalog = catalog
        self.matters: list[Matter] = list(catalog.matters) if catalog is not None else []
        self._matter_vec: frozen.Tfidf | None = None
        if not self.matters:
            return
        docs = [char_grams(_matter_doc(m)) for m in self.matters]
        self._matter_vec = fit_tfidf(docs)
        self._matter_rows = frozen.Inverted([self._matter_vec.vector(d) for d in docs], len(self._matter_vec.idf))
        self._matter_kw = [[normalize(k) for k in m.keywords if k.strip()] for m in self.matters]

    # ------------------------------------------------------------------ scoring

    def _decide(self, cat_probs: dict[str, float], rules: tuple[list[EmergencyHit], set[str]]) -> _Decision:
        """Emergency, categories (紧急警情 only for an emergency) and auto-route from the category probabilities
        and what the emergency rules found (:func:`.emergency.scan`)."""
        hit, flagged = _emergency_decision(rules, cat_probs.get("JJ", 0.0), self.emergency_gate, self.emergency_alone)
        emergency: Emergency | None = None
        if hit is not None:
            emergency = Emergency(service=cast(Any, hit.service), reason=hit.reason, trigger=hit.trigger)
        elif flagged:
            emergency = Emergency(service="110", reason="模型判断为紧急警情", trigger="", source="model")
        probs = dict(cat_probs)
        if emergency is not None:
            # an emergency is a 紧急警情 whatever else it is: 紧急警情 leads the categories
            top = max(probs.values())
            probs["JJ"] = max(probs.get("JJ", 0.0), min(0.99, top + 0.05))
        else:
            # 紧急警情 means "transfer to 110/119/120/122": without an emergency it is not a category
            rest = 1.0 - probs.pop("JJ", 0.0)
            if rest > 0:
                probs = {c: p / rest for c, p in probs.items()}
        cats = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))
        threshold = self.thresholds.get(cats[0][0]) if emergency is None else None
        auto = threshold is not None and cats[0][1] >= threshold
        return _Decision(cats, emergency, auto, threshold)

    def _kind_probs(self, text: str, x: frozen.Vector) -> dict[str, float]:
        p = self.kind_model.probs_one(x)
        logits = {k: math.log(max(float(v), 1e-9)) for k, v in zip(self.kind_model.classes, p, strict=True)}
        if CUE_WEIGHT:
            for k, rx in KIND_CUES.items():
                if k in logits and rx.search(text):
                    logits[k] += CUE_WEIGHT
        top = max(logits.values())
        exp = {k: math.exp(v - top) for k, v in logits.items()}
        total = sum(exp.values())
        return {k: v / total for k, v in exp.items()}

    def _rank_matters(self, text: str, categories: list[tuple[str, float]], service: str | None) -> list[MatterScore]:
        """The best matter of each of the top-3 categories, in category order; confidence = the category's
        probability × the matter's share of it."""
        if not self.matters or self._matter_vec is None:
            return []
        sims = self._matter_rows.dot(self._matter_vec.vector(char_grams(text)))  # rows are unit: cosines
        by_cat: dict[str, list[tuple[int, float]]] = {}
        for i, m in enumerate(self.matters):
            kw = self._matter_kw[i]
            hits = sum(min(len(k), 4) for k in kw if k and k in text)
            score = float(sims[i]) + 0.25 * min(hits, 8)
            if service and m.emergency_service == service:
                score += 1.0
            by_cat.setdefault(m.category, []).append((i, score))
        ranked: list[MatterScore] = []
        for cat, p_cat in categories:
            items = by_cat.get(cat)
            if not items:
                continue
            weights = [math.exp(4.0 * s) for _, s in items]
            total = sum(weights)
            j = max(range(len(items)), key=lambda k: (weights[k], -items[k][0]))
            m = self.matters[items[j][0]]
            ranked.append(
                MatterScore(code=m.code, name=m.name, category=m.category, confidence=_clip(p_cat * weights[j] / total))
            )
            if len(ranked) == 3:
                break
        return ranked

    def classify(self, text: str | None, channel: str | None = None) -> Classification:
        """Kind, top-3 categories, the best matter of each, emergency and auto-route of one complaint text. Never
        raises on odd input: an empty text gives a low-confidence, never auto-routed answer."""
        clean = normalize(text)
        x = self.features.vector(prepare(text)[:MODEL_CHARS])
        kind_probs = self._kind_probs(clean, x)
        cat_probs = dict(zip(self.category_model.classes, self.category_model.probs_one(x).tolist(), strict=True))
        decision = self._decide(cat_probs, scan(clean[:RULE_CHARS]))
        emergency = decision.emergency
        if emergency is not None and emergency.source == "model" and self.service_model is not None:
            emergency = emergency.model_copy(update={"service": self.service_model.predict_one(x)})
        cats = decision.categories
        categories = [CategoryScore(code=c, name=CATEGORY_NAMES[c], confidence=_clip(p)) for c, p in cats[:3]]
        kinds = sorted(kind_probs.items(), key=lambda kv: (-kv[1], kv[0]))
        kind, kind_conf = kinds[0]
        auto = decision.auto_route and bool(clean)
        return Classification(
            kind=cast(Kind, kind),
            kind_confidence=_clip(kind_conf),
            categories=categories,
            matters=self._rank_matters(clean[:MODEL_CHARS], cats[:3], emergency.service if emergency else None),
            emergency=emergency,
            auto_route=auto,
            auto_route_threshold=decision.threshold,
            low_confidence=not clean or (emergency is None and not auto),
            channel=channel,
            model_version=self.version,
        )

    def classify_many(self, texts: Iterable[str]) -> list[Classification]:
        return [self.classify(t) for t in texts]


def _matter_doc(m: Matter) -> str:
    return normalize(" ".join([m.name, *m.keywords, *m.examples]))


def _clip(v: float) -> float:
    return round(min(1.0, max(0.0, float(v))), 4)


def _digest(examples: Sequence[Example], docs: Sequence[tuple[str, str]] = ()) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for e in examples:
        h.update(f"{e.text}\t{e.kind}\t{e.category}\t{e.emergency}\n".encode())
    for text, category in docs:
        h.update(f"{text}\t{category}\n".encode())
    return h.hexdigest()[:10]


def catalog_documents(catalog: Catalog | None) -> list[tuple[str, str]]:
    """(text, category) documents from the matter catalog, trained on beside the corpus (never scored): every
    example, every matter's name + keywords as one text, and each name and keyword alone. The catalog is the
    district's own description of each category; its words reach wording the corpus never used."""
    if catalog is None:
        return []
    docs: list[tuple[str, str]] = []
    for m in catalog.matters:
        docs.extend((e, m.category) for e in m.examples if e.strip())
        docs.append(("，".join([m.name, *m.keywords]), m.category))
        docs.extend((k, m.category) for k in [m.name, *m.keywords] if k.strip())
    return docs


def load_catalog_quietly() -> Catalog | None:
    """The default matter catalog, or ``None`` (logged) when it is missing or invalid: the classifier
    still gives kind, category and emergency without it."""
    try:
        from shared.catalog import default_catalog

        return default_catalog()
    except Exception as exc:  # noqa: BLE001 - any catalog problem only disables matter ranking
        log.warning("matter catalog not available, matters will not be ranked: %s", exc)
        return None


TUNING_PATH = Path(__file__).resolve().parent / "data" / "tuning.json"


def load_tuning(path: Path = TUNING_PATH) -> Tuning | None:
    """The stored tuning (``python -m services.intake.classify.tune`` writes it), or ``None``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Tuning(**{**raw, "thresholds": {str(k): float(v) for k, v in raw["thresholds"].items()}})
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.info("no stored classifier tuning (%s): tuning by cross-validation", exc)
        return None


def save_tuning(tuning: Tuning, path: Path = TUNING_PATH) -> None:
    data = {k: v for k, v in asdict(tuning).items() if k not in ("train_seconds",)}
    path.write_text(json.dumps({**data, "source": "stored"}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


_MODEL_SOURCES = ("corpus.py", "features.py", "frozen.py", "model.py")


def cache_key(examples: Sequence[Example], catalog: Catalog | None, tuning: Tuning | None) -> str:
    """What a stored model depends on: the training rows and catalog documents, the stored tuning, the domain
    dictionary, jieba's and scikit-learn's versions and the modelling code itself."""
    from importlib.metadata import version

    h = hashlib.sha256()
    h.update(_digest(examples, catalog_documents(catalog)).encode())
    h.update(json.dumps(asdict(tuning) if tuning else None, sort_keys=True).encode())
    here = Path(__file__).resolve().parent
    for name in _MODEL_SOURCES:
        h.update((here / name).read_bytes())
    h.update(USER_DICT.read_bytes())
    h.update(Path(segmenter_module.__file__ or "").read_bytes())
    h.update(f"jieba {version('jieba')} scikit-learn {version('scikit-learn')}".encode())
    return h.hexdigest()[:16]


def load_or_train(cache_dir: Path | None) -> Classifier:
    """The default classifier from ``cache_dir`` when a model for the same inputs is stored there, else trained
    (a few seconds of CPU) and stored there for the next start. A cache that cannot be written is only logged."""
    catalog = load_catalog_quietly()
    tuning = load_tuning()
    examples = train_split()
    if cache_dir is None:
        return Classifier(examples, catalog=catalog, tuning=tuning)
    key = cache_key(examples, catalog, tuning)
    path = cache_dir / f"classifier-{key}.npz"
    loaded = Classifier.load(path, key, catalog)
    if loaded is not None:
        log.info("classifier %s loaded from %s", loaded.version, path)
        return loaded
    clf = Classifier(examples, catalog=catalog, tuning=tuning)
    try:
        clf.save(path, key)
        for old in cache_dir.glob("classifier-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("classifier cache %s not written (%s): the next start trains again", path, exc)
    return clf


def train_default(catalog: Catalog | None = None, *, use_catalog: bool = True, tune: bool = False) -> Classifier:
    """A classifier trained on the train split of the packaged corpus, with the default catalog unless told
    otherwise; its tuning from ``data/tuning.json`` when that file is for this corpus and catalog (or ``tune``:
    always by cross-validation)."""
    if catalog is None and use_catalog:
        catalog = load_catalog_quietly()
    return Classifier(train_split(), catalog=catalog, tuning=None if tune else load_tuning())


__all__ = [
    "CATEGORY_NAMES",
    "Classifier",
    "Example",
    "load_corpus",
    "normalize",
    "train_default",
]
