"""Speaker similarity and ASR error rates on real speech with known speakers and transcripts."""

from __future__ import annotations

import pandas as pd
from analysis_fixtures import JFK, JFK_TEXT, LJ1, LJ1_TEXT, LJ5, P225, P226, table

from zonos_lab.analysis import analyze


def test_same_speaker_scores_higher_than_other_speakers(tmp_path) -> None:
    # takes are LJ001-0005 (same speaker as the LJ001-0001 reference) and two VCTK speakers + JFK
    paths = [str(LJ5), str(P225), str(P226), str(JFK)]
    out = analyze(table(paths, reference=str(LJ1)), ["speaker"], cache_dir=tmp_path, progress=False)
    sims = out["speaker_similarity"].to_numpy()
    assert sims[0] > max(sims[1:]) + 0.05
    assert all(-1.0 <= s <= 1.0 for s in sims)


def test_reference_url_without_local_copy_gives_na(tmp_path) -> None:
    out = analyze(table([str(LJ5)], reference="https://example.org/ref.wav"), ["speaker"], cache_dir=tmp_path,
                  progress=False)
    assert pd.isna(out.loc[0, "speaker_similarity"])


def test_asr_low_wer_on_known_transcripts_and_na_for_other_languages(tmp_path) -> None:
    df = pd.concat([
        table([str(JFK)], text=JFK_TEXT),
        table([str(LJ1)], text=LJ1_TEXT),
        table([str(LJ1)], text="a completely different sentence about bananas"),
        table([str(LJ1)], text=LJ1_TEXT, language="de"),
        table([None], text=LJ1_TEXT),
    ], ignore_index=True)
    df["take_id"] = [f"t{i}" for i in range(len(df))]
    out = analyze(df, ["asr"], cache_dir=tmp_path, progress=False)
    assert out.loc[0, "wer"] < 0.15 and out.loc[1, "wer"] < 0.15
    assert out.loc[1, "cer"] <= out.loc[1, "wer"] + 0.05
    assert out.loc[2, "wer"] > 0.8  # wrong text → high WER
    assert "fellow americans" in out.loc[0, "asr_text"].lower()
    assert pd.isna(out.loc[3, "wer"]) and pd.isna(out.loc[3, "cer"])  # not English: NA, never 0
    assert pd.isna(out.loc[4, "wer"])  # failed take


def test_error_rates_use_whisper_english_normalisation() -> None:
    from zonos_lab.analysis.metrics_asr import error_rates, normalize_english

    # numbers, British spelling, punctuation and case are not errors (both sides are normalised alike)
    assert error_rates("Fifteen colourful spoons, please!", "15 colorful spoons please") == (0.0, 0.0)
    assert normalize_english("The Theatre,  in colour.") == "the theater in color"
    # a real substitution still counts: one word of six
    wer, cer = error_rates("the cat sat on the mat", "the cat sat on a mat")
    assert wer == 1 / 6 and 0 < cer < wer
    # a transcript that says a different number is wrong, not normalised away
    assert error_rates("I have fifteen apples", "I have fifty apples")[0] == 0.25
    assert error_rates("...", "anything") == (None, None)  # nothing left to compare against: NA, not 0


def test_asr_columns_agree_with_jiwer_on_the_normalised_texts(tmp_path) -> None:
    """The independent check: jiwer on the two texts after Whisper's normaliser gives our columns."""
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    text = "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob."
    df = table([str(P225), str(JFK)], text=text, language="en_gb")
    df.loc[1, "text"] = JFK_TEXT
    out = analyze(df, ["asr"], cache_dir=tmp_path, progress=False)
    norm = EnglishTextNormalizer()
    for i in range(2):
        ref, hyp = norm(out.loc[i, "text"]), norm(out.loc[i, "asr_text"])
        assert out.loc[i, "wer"] == jiwer.wer(ref, hyp)
        assert out.loc[i, "cer"] == jiwer.cer(ref, hyp)
    assert out.loc[0, "wer"] < 0.25  # "six" / "6" and "five" / "5" are not what makes it non-zero
