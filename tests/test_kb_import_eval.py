"""`tandem kb import-csv` and `tandem kb eval` on small fixtures, and the confidence/handoff threshold logic."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.drafting.retrieval import KBDrafter
from bot.kb import KBError, load_kb
from tandem.kb_cli import kb
from bot.kb_eval import evaluate
from bot.kb_import import articles_from_rows, read_labelled_csv

FIX = Path(__file__).parent / "fixtures"
REPORT_FIELDS = {
    "top1_accuracy", "top3_accuracy", "handoff_recall", "false_handoff_rate", "latency_ms_p50",
    "latency_ms_p99", "index_build_seconds", "peak_memory_mb", "in_scope", "out_of_scope", "threshold",
}


def test_import_csv_writes_one_article_per_label(tmp_path):
    out = tmp_path / "kb"
    res = CliRunner().invoke(kb, ["import-csv", str(FIX / "faq_train.csv"), "--text-col", "question",
                                  "--label-col", "intent", "--out", str(out)])
    assert res.exit_code == 0, res.output
    arts = {a.id: a for a in load_kb(out)}
    assert set(arts) == {"password-reset", "delivery-time", "refund", "opening-hours"}
    assert "I forgot my password" in arts["password-reset"].questions
    assert len(arts["refund"].questions) == 5
    assert arts["opening-hours"].extra["intent"] == "opening_hours"


def test_import_csv_names_a_missing_column(tmp_path):
    res = CliRunner().invoke(kb, ["import-csv", str(FIX / "faq_train.csv"), "--text-col", "text",
                                  "--label-col", "intent", "--out", str(tmp_path)])
    assert res.exit_code != 0
    assert "no column 'text'" in res.output and "question" in res.output


def test_eval_prints_a_json_report(tmp_path):
    out = tmp_path / "kb"
    runner = CliRunner()
    runner.invoke(kb, ["import-csv", str(FIX / "faq_train.csv"), "--text-col", "question",
                       "--label-col", "intent", "--out", str(out)])
    res = runner.invoke(kb, ["eval", str(FIX / "faq_test.csv"), "--text-col", "question", "--label-col", "intent",
                             "--kb", str(out), "--oos-label", "oos", "--quiet", "--threshold", "0.45"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert REPORT_FIELDS <= set(report)
    assert report["in_scope"] == 8 and report["out_of_scope"] == 4
    assert report["top1_accuracy"] >= 0.75
    assert report["top3_accuracy"] >= report["top1_accuracy"]
    assert report["handoff_recall"] >= 0.5  # a 4-article KB is near the worst case for out-of-scope detection
    assert report["latency_ms_p99"] >= report["latency_ms_p50"] > 0
    assert report["peak_memory_mb"] > 0


def test_labels_missing_from_the_kb_count_as_out_of_scope():
    rows = read_labelled_csv(FIX / "faq_train.csv", "question", "intent")
    arts = articles_from_rows(rows, exclude={"refund"})
    report = evaluate(arts, read_labelled_csv(FIX / "faq_test.csv", "question", "intent"), 0.45,
                      oos_label="oos", progress=False)
    assert report["in_scope"] == 6 and report["out_of_scope"] == 6


def test_threshold_decides_handoff():
    rows = read_labelled_csv(FIX / "faq_test.csv", "question", "intent")
    arts = articles_from_rows(read_labelled_csv(FIX / "faq_train.csv", "question", "intent"))
    never = evaluate(arts, rows, 0.0, oos_label="oos", progress=False)
    always = evaluate(arts, rows, 1.0, oos_label="oos", progress=False)
    assert never["handoff_recall"] == 0.0 and never["false_handoff_rate"] == 0.0
    assert always["handoff_recall"] == 1.0 and always["false_handoff_rate"] == 1.0


def test_confidence_is_high_for_a_paraphrase_and_low_off_topic():
    arts = articles_from_rows(read_labelled_csv(FIX / "faq_train.csv", "question", "intent"))
    drafter = KBDrafter(arts)
    good = drafter.answer("I forgot my password, how do I reset it?")
    off = drafter.answer("what is the capital of mongolia")
    assert good.sources[0].id == "password-reset"
    assert 0.0 <= off.confidence < good.confidence <= 1.0
    assert good.confidence > 0.85  # an exact paraphrase clears even the auto-send threshold
    assert [s.score for s in good.sources] == sorted((s.score for s in good.sources), reverse=True)


def test_single_article_kb_still_answers():
    arts = articles_from_rows([("how do I reset my password", "pw"), ("forgot password", "pw")])
    res = KBDrafter(arts).answer("reset my password")
    assert res.sources[0].id == "pw" and 0.0 <= res.confidence <= 1.0


def test_missing_csv_column_is_a_kb_error():
    with pytest.raises(KBError):
        read_labelled_csv(FIX / "faq_train.csv", "nope", "intent")


def _articles_problem(n_articles: int, per_article: int = 12, features: int = 300):
    import numpy as np
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(3)
    owners = np.repeat(np.arange(n_articles), per_article)
    dense = (rng.random((len(owners), features)) < 0.05) * rng.random((len(owners), features))
    dense[np.arange(len(owners)), owners] += 1.0  # each article has a word of its own
    return csr_matrix(dense), owners


def test_threaded_one_vs_rest_fit_equals_a_single_fit(monkeypatch):
    """The index build shares the SVM's per-article problems over two threads; the scores must not change."""
    import numpy as np
    from sklearn.svm import LinearSVC

    from bot.drafting import index

    X, owners = _articles_problem(11)  # 11 articles: enough for the threaded path
    monkeypatch.setattr(index.os, "cpu_count", lambda: 2)
    coef, intercept = index._fit_one_vs_rest(X, owners)
    single = LinearSVC(C=0.5).fit(X, owners)
    assert coef.shape == single.coef_.shape == (11, 300)
    assert np.abs(coef - single.coef_).max() < 1e-3
    assert np.abs(intercept - single.intercept_).max() < 1e-3


def test_small_kb_or_one_core_fits_in_one_go(monkeypatch):
    import numpy as np
    from sklearn.svm import LinearSVC

    from bot.drafting import index

    X, owners = _articles_problem(3)
    assert index._fit_one_vs_rest(X, owners)[0].shape == (3, 300)
    monkeypatch.setattr(index.os, "cpu_count", lambda: 1)
    X, owners = _articles_problem(9)
    one_core, _ = index._fit_one_vs_rest(X, owners)
    assert np.abs(one_core - LinearSVC(C=0.5).fit(X, owners).coef_).max() < 1e-3
