"""Blind listening test: matched pairs, randomisation, recorded hidden mapping, CSV, binomial summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from notebook_fixtures import grid_results
from scipy.stats import binomtest

from zonos_lab.errors import InvalidParameter
from zonos_lab.notebook.listening import listening_test, matched_pairs


@pytest.fixture()
def results(tmp_path: Path) -> pd.DataFrame:
    return grid_results(tmp_path / "run", temps=(0.8, 1.0, 1.2), seeds=(1, 2), seconds=0.5)


def test_pairs_differ_only_in_the_compared_field(results: pd.DataFrame) -> None:
    pairs = matched_pairs(results, compare="mode")
    assert len(pairs) == len(results) // 2
    for p in pairs:
        assert (p.level_a, p.level_b) == ("accurate", "expressive")
        assert p.take_a["mode"] == "accurate" and p.take_b["mode"] == "expressive"
        for col in ("temperature", "seed", "text"):
            assert p.take_a[col] == p.take_b[col]
    # a take without a partner is left out
    assert len(matched_pairs(results.iloc[1:], compare="mode")) == len(pairs) - 1
    with pytest.raises(InvalidParameter):
        matched_pairs(results, compare="temperature")  # three levels: say which two
    assert len(matched_pairs(results, compare="temperature", levels=(0.8, 1.2))) == 4


def test_scripted_blind_ab_records_mapping_saves_csv_and_summarises(results: pd.DataFrame,
                                                                    tmp_path: Path) -> None:
    # The listener always prefers the expressive take, wherever it is played.
    lt = listening_test(results, compare="mode", answers=lambda t: "A" if t["level_A"] == "expressive" else "B")
    assert lt.done
    ans = lt.answers
    assert len(ans) == 6 and set(ans["preferred_level"]) == {"expressive"}
    assert ans["scripted"].all() and ans["response_seconds"].isna().all()  # no fake reaction times
    # sides are counterbalanced: the expressive take played as A in exactly half of the trials
    assert (ans["level_A"] == "expressive").sum() == len(ans) // 2
    assert sorted(ans["pair_id"]) == sorted({p.pair_id for p in matched_pairs(results, "mode")})
    # saved in the run directory (inferred from the audio/ folder), readable, with the hidden mapping
    assert lt.csv_path is not None and lt.csv_path.parent == tmp_path / "run"
    assert lt.csv_path.name.startswith("listening_") and lt.csv_path.suffix == ".csv"
    saved = pd.read_csv(lt.csv_path)
    assert list(saved["level_A"]) == list(ans["level_A"]) and list(saved["take_A"]) == list(ans["take_A"])
    s = lt.summary().set_index("level")
    ref = binomtest(6, 6, 0.5)
    assert s.loc["expressive", "preferred"] == 6 and s.loc["expressive", "p_value"] == pytest.approx(ref.pvalue)
    ci = ref.proportion_ci(0.95, method="exact")
    assert s.loc["expressive", "ci_low"] == pytest.approx(ci.low) and s.loc["expressive", "ci_high"] == 1.0
    assert "expressive preferred in 6 of 6" in lt.summary_text()
    # the end screen reveals the mapping and the summary
    html = lt._ui["result"].value
    assert "Hidden mapping revealed" in html and "expressive" in html and lt._ui["stimuli"].value == ""


def test_widget_buttons_ties_and_blindness(results: pd.DataFrame, tmp_path: Path) -> None:
    lt = listening_test(results, compare="mode", run_dir=tmp_path / "elsewhere", seed=3)
    trial = lt.current()
    assert trial is not None
    stim = lt._ui["stimuli"].value
    assert stim.count("<audio") == 2
    assert "accurate" not in stim and "expressive" not in stim and str(trial["A"]["take_id"]) not in stim
    lt.buttons["A"].click()
    lt.buttons["tie"].click()
    lt.buttons["B"].click()
    ans = lt.answers
    assert list(ans["answer"]) == ["A", "tie", "B"] and lt._ui["progress"].value == 3
    assert (ans["response_seconds"] >= 0).all() and not ans["scripted"].any()
    assert ans.loc[0, "preferred_level"] == ans.loc[0, "level_A"]
    assert pd.isna(ans.loc[1, "preferred_level"]) and ans.loc[2, "preferred_level"] == ans.loc[2, "level_B"]
    assert lt.csv_path is not None and lt.csv_path.parent == tmp_path / "elsewhere" and lt.csv_path.exists()
    s = lt.summary()
    assert set(s["ties"]) == {1} and set(s["of"]) == {2}
    assert not lt.done
    for _ in range(3):
        lt.buttons["B"].click()
    assert lt.done and "Hidden mapping" in lt._ui["result"].value
    lt.buttons["A"].click()  # after the end: a plain message, no exception, nothing recorded
    assert len(lt.answers) == 6 and "finished" in lt._ui["message"].value


def test_same_seed_same_order_other_seed_other_order(results: pd.DataFrame) -> None:
    def order(seed: int) -> list[tuple[str, str]]:
        lt = listening_test(results, seed=seed, widget=False)
        return [(t["pair_id"], str(t["level_A"])) for t in lt.trials]

    assert order(5) == order(5)
    assert any(order(s) != order(5) for s in (6, 7, 8))


def test_abx_and_mos(results: pd.DataFrame) -> None:
    abx = listening_test(results, abx=True, answers=["correct", "correct", "wrong", "correct", "correct", "correct"])
    a = abx.answers
    assert a["correct"].tolist() == [True, True, False, True, True, True]
    assert (a["x_level"] == [r[f"level_{r['x_is']}"] for r in a.to_dict("records")]).all()
    s = abx.summary().iloc[0]
    assert s["correct"] == 5 and s["p_value"] == pytest.approx(binomtest(5, 6, 0.5, alternative="greater").pvalue)
    assert "X" in abx._ui["result"].value or abx.done

    mos = listening_test(results, mos=True, answers=[{"accurate": 4, "expressive": 2}] * 3 +
                         [{"accurate": 5, "expressive": 3}] * 3)
    m = mos.summary().set_index("level")
    assert m.loc["accurate", "mos"] == pytest.approx(4.5) and m.loc["expressive", "mos"] == pytest.approx(2.5)
    assert m.loc["accurate", "ci_low"] < 4.5 < m.loc["accurate", "ci_high"]
    assert set(mos.answers["score_level_a"]) == {4, 5}
    # the widget: both scores needed before Next
    mos2 = listening_test(results, mos=True)
    mos2._ui["next"].click()
    assert len(mos2.answers) == 0 and "Score both" in mos2._ui["message"].value
    mos2._ui["score_A"].value, mos2._ui["score_B"].value = 5, 1
    mos2._ui["next"].click()
    assert mos2.answers.loc[0, "score_A"] == 5 and mos2._ui["score_A"].value is None


def test_bad_inputs_are_typed_errors(results: pd.DataFrame) -> None:
    with pytest.raises(InvalidParameter):
        listening_test(results, mos=True, abx=True)
    with pytest.raises(InvalidParameter):
        listening_test(results, answers=["maybe"])
    with pytest.raises(InvalidParameter):
        listening_test(results, mos=True, answers=[(6, 1)])
    with pytest.raises(InvalidParameter):
        listening_test(results[results["mode"] == "accurate"], levels=("accurate", "expressive"))
