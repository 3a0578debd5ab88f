"""The classifier without scikit-learn at run time: its own TF-IDF matches scikit-learn's, and a stored model
classifies exactly like the one that was trained."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from services.intake.classify.corpus import train_split
from services.intake.classify.features import fit_tfidf, prepare
from services.intake.classify.frozen import char_grams
from services.intake.classify.model import Classifier, cache_key, load_catalog_quietly, load_or_train, load_tuning

pytestmark = pytest.mark.unit


def test_tfidf_matches_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [prepare(e.text) for e in train_split()[:400]] + ["", "  多个   空格\t和换行\n"]
    ours = fit_tfidf([char_grams(t) for t in texts], min_df=2)
    theirs = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2).fit(texts)
    assert ours.vocabulary == theirs.vocabulary_
    assert np.allclose(ours.idf, theirs.idf_)
    probe = texts[:50] + ["完全没见过的字：鳏寡孤独", ""]
    a = ours.transform(char_grams(t) for t in probe).toarray()
    b = theirs.transform(probe).toarray()
    assert np.allclose(a, b, atol=1e-12)


def test_stored_model_classifies_like_the_trained_one(tmp_path: Path) -> None:
    trained = load_or_train(tmp_path)
    stored = list(tmp_path.glob("classifier-*.npz"))
    assert len(stored) == 1
    catalog = load_catalog_quietly()
    loaded = Classifier.load(stored[0], cache_key(train_split(), catalog, load_tuning()), catalog)
    assert loaded is not None and loaded.version == trained.version
    assert loaded.thresholds == trained.thresholds
    for example in train_split()[::97] + []:
        assert loaded.classify(example.text) == trained.classify(example.text)
    for text in ["", "着火了！三楼冒烟，有人被困", "请问居住证怎么办理？"]:
        assert loaded.classify(text) == trained.classify(text)


def test_stale_or_damaged_cache_is_trained_again(tmp_path: Path) -> None:
    catalog = load_catalog_quietly()
    key = cache_key(train_split(), catalog, load_tuning())
    path = tmp_path / f"classifier-{key}.npz"
    path.write_bytes(b"not a model")
    assert Classifier.load(path, key, catalog) is None
    clf = load_or_train(tmp_path)  # replaces the damaged file
    assert Classifier.load(path, key, catalog) is not None
    assert Classifier.load(path, "another-key", catalog) is None
    assert clf.classify("路灯不亮").auto_route in (True, False)


def test_loading_a_stored_model_never_imports_scikit_learn_or_scipy(tmp_path: Path) -> None:
    load_or_train(tmp_path)
    code = (
        "import sys; from pathlib import Path; from services.intake.classify.model import load_or_train; "
        f"c = load_or_train(Path({str(tmp_path)!r})); assert 'loaded' in c.tuning.source, c.tuning.source; "
        "c.classify('井盖丢了'); assert not {'sklearn', 'scipy'} & set(sys.modules), 'training libraries imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
