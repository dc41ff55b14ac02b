"""SweepSpec: loading (dict / TOML / YAML / JSON), grid / random / zip expansion, seeds, validation, dry run."""

from __future__ import annotations

import json
import math

import pytest

from zonos_lab.errors import InvalidParameter
from zonos_lab.params import FRAME_RATE, MAX_SEED, MAX_TOKENS_LIMIT
from zonos_lab.sweep.spec import LOCAL_PLACEHOLDER, SweepSpec

URL = "https://voices.example.org/a.wav"
URL2 = "https://voices.example.org/b.wav"


def base(**kw):
    d = {"references": [URL]}
    d.update(kw)
    return d


def test_grid_is_the_cartesian_product_with_seeds_and_modes():
    spec = SweepSpec.from_dict(base(parameters={"temperature": {"values": [0.5, 1.0, 1.5]},
                                                "top_k": {"values": [50, 100]}},
                                    mode=["accurate", "expressive"], seeds=[1, 2], texts=["a", "b"]))
    trials = spec.expand()
    assert len(trials) == 3 * 2 * 2 * 2 * 2
    combos = {(t.params.temperature, t.params.top_k, t.params.accurate_mode, t.params.seed, t.params.text)
              for t in trials}
    assert len(combos) == len(trials)
    for t in trials:
        assert t.coords["mode"] == t.params.mode
        assert t.coords["temperature"] == t.params.temperature
        assert t.params.reference_audio_url == URL
    assert len({t.take_id for t in trials}) == len(trials)


def test_expansion_and_take_ids_are_deterministic():
    d = base(method="random", count=5, parameters={"temperature": {"min": 0.5, "max": 1.5}}, seeds=3)
    a, b = SweepSpec.from_dict(d).expand(), SweepSpec.from_dict(json.loads(json.dumps(d))).expand()
    assert [t.take_id for t in a] == [t.take_id for t in b]
    assert [t.params for t in a] == [t.params for t in b]
    other = SweepSpec.from_dict({**d, "sweep_seed": 1}).expand()
    assert {t.params.temperature for t in other} != {t.params.temperature for t in a}


def test_take_id_changes_with_the_request():
    a = SweepSpec.from_dict(base(seeds=[1], fixed={"temperature": 0.9})).expand()[0]
    b = SweepSpec.from_dict(base(seeds=[1], fixed={"temperature": 1.0})).expand()[0]
    assert a.take_id != b.take_id


def test_seed_count_is_derived_from_sweep_seed():
    s1 = SweepSpec.from_dict(base(seeds=5, sweep_seed=7))
    s2 = SweepSpec.from_dict(base(seeds=5, sweep_seed=7))
    s3 = SweepSpec.from_dict(base(seeds=5, sweep_seed=8))
    assert s1.seeds == s2.seeds and s1.seeds != s3.seeds
    assert len(set(s1.seeds)) == 5 and all(0 <= s <= MAX_SEED for s in s1.seeds)
    # a sweep always sends a seed, even when none was asked for
    assert SweepSpec.from_dict(base()).expand()[0].params.seed is not None


def test_random_samples_respect_distributions():
    spec = SweepSpec.from_dict(base(method="random", count=200, seeds=[1], parameters={
        "temperature": {"min": 0.2, "max": 1.8, "distribution": "uniform"},
        "min_p": {"min": 0.01, "max": 0.5, "distribution": "log_uniform"},
        "top_k": {"min": 10, "max": 300, "distribution": "int_uniform"},
        "top_p": {"values": [0.0, 0.8, 0.95]}}))
    trials = spec.expand()
    assert len(trials) == 200
    temps = [t.params.temperature for t in trials]
    assert all(0.2 <= x <= 1.8 for x in temps) and max(temps) - min(temps) > 1.0
    min_ps = [t.params.min_p for t in trials]
    assert all(0.01 <= x <= 0.5 for x in min_ps)
    # log-uniform: about half of the draws below the geometric mean
    gm = math.sqrt(0.01 * 0.5)
    assert 0.35 < sum(x < gm for x in min_ps) / len(min_ps) < 0.65
    assert all(isinstance(t.params.top_k, int) and 10 <= t.params.top_k <= 300 for t in trials)
    assert {t.params.top_p for t in trials} == {0.0, 0.8, 0.95}


def test_random_is_crossed_with_references_texts_and_modes():
    spec = SweepSpec.from_dict({"method": "random", "count": 4, "references": [URL, URL2], "texts": ["x", "y"],
                                "mode": ["accurate", "expressive"], "seeds": 2,
                                "parameters": {"temperature": {"min": 0.5, "max": 1.5}}})
    assert len(spec.expand()) == 4 * 2 * 2 * 2 * 2
    assert spec.dry_run().n_takes == 64


def test_zip_pairs_values_and_broadcasts_singletons():
    spec = SweepSpec.from_dict(base(method="zip", texts=["one", "two", "three"],
                                    parameters={"temperature": {"values": [0.5, 1.0, 1.5]}}, seeds=[4, 5]))
    trials = spec.expand()
    assert len(trials) == 6
    assert {(t.params.text, t.params.temperature) for t in trials} == {("one", 0.5), ("two", 1.0), ("three", 1.5)}
    with pytest.raises(InvalidParameter) as e:
        SweepSpec.from_dict(base(method="zip", texts=["a", "b"], parameters={"temperature": [0.5, 1.0, 1.5]}))
    assert e.value.field == "method"


def test_invalid_trials_are_reported_with_coordinates():
    spec = SweepSpec.from_dict(base(parameters={"temperature": {"values": [0.5, 2.5]},
                                                "top_k": {"values": [10, 5000]}}, seeds=[1]))
    with pytest.raises(InvalidParameter) as e:
        spec.expand()
    msg = str(e.value)
    assert "3 of 4 trials" in msg
    assert "temperature=2.5" in msg and "top_k=5000" in msg
    bad = e.value.invalid_trials
    assert {(c["temperature"], c["top_k"]) for c, _ in bad} == {(2.5, 10), (0.5, 5000), (2.5, 5000)}
    with pytest.raises(InvalidParameter):
        spec.dry_run()


@pytest.mark.parametrize("d, field", [
    ({"method": "bayes"}, "method"),
    ({"parameters": {"temprature": {"values": [1]}}}, "parameters.temprature"),
    ({"parameters": {"temperature": {"min": 0.1, "max": 1.0}}}, "parameters.temperature"),  # range with grid
    ({"method": "random", "parameters": {"temperature": {"min": 0.1, "max": 1.0}}}, "count"),
    ({"method": "random", "count": 2, "parameters": {"min_p": {"min": 0, "max": 1, "distribution": "log_uniform"}}},
     "parameters.min_p.min"),
    ({"mode": ["accurate", "loud"]}, "mode"),
    ({"mode": ["accurate"], "fixed": {"accurate_mode": False}}, "mode"),
    ({"seeds": [1, -2]}, "seeds"),
    ({"seeds": 2, "fixed": {"seed": 3}}, "fixed.seed"),
    ({"fixed": {"bogus": 1}}, "fixed.bogus"),
    ({"fixed": {"temperature": 1.0}, "parameters": {"temperature": [0.5]}}, "fixed.temperature"),
    ({"colour": "blue"}, "colour"),
    ({"repeats": 0}, "repeats"),
])
def test_bad_specs_name_the_field(d, field):
    with pytest.raises(InvalidParameter) as e:
        SweepSpec.from_dict(base(**d)).expand()
    assert e.value.field == field


def test_missing_references_is_an_error():
    with pytest.raises(InvalidParameter) as e:
        SweepSpec.from_dict({"seeds": 2}).expand()
    assert e.value.field == "references"


def test_duplicate_trials_are_refused_but_repeats_are_allowed():
    with pytest.raises(InvalidParameter):
        SweepSpec.from_dict(base(texts=["same", "same"])).expand()
    trials = SweepSpec.from_dict(base(texts=["same"], seeds=[1], repeats=3)).expand()
    assert len(trials) == 3 and len({t.take_id for t in trials}) == 3
    assert {t.coords["repeat"] for t in trials} == {0, 1, 2}
    assert len({t.params.fingerprint() for t in trials}) == 1


def test_local_references_get_a_placeholder_until_served(tmp_path):
    spec = SweepSpec.from_dict({"references": ["voices/me.wav", URL], "seeds": [1]})
    trials = spec.expand()
    local = [t for t in trials if t.is_local]
    assert len(local) == 1 and local[0].params.reference_audio_url.startswith(LOCAL_PLACEHOLDER)
    assert local[0].coords["reference"] == "voices/me.wav"


def test_parameters_may_hold_study_dimensions():
    spec = SweepSpec.from_dict({"parameters": {"mode": {"values": ["expressive"]}, "text": {"values": ["a", "b"]},
                                               "reference_audio_url": {"values": [URL]},
                                               "seed": {"values": [9]}}})
    trials = spec.expand()
    assert [(t.params.text, t.params.accurate_mode, t.params.seed) for t in trials] == [("a", False, 9),
                                                                                         ("b", False, 9)]


def test_dry_run_counts_audio_and_cost():
    spec = SweepSpec.from_dict(base(seeds=4, mode=["accurate", "expressive"],
                                    parameters={"max_tokens": {"values": [431, 862]}}))
    d = spec.dry_run(price_per_take=0.25)
    assert d.n_takes == 16
    assert d.max_audio_seconds == pytest.approx(8 * (431 + 862) / FRAME_RATE)
    assert d.cost == pytest.approx(4.0)
    assert "16 takes" in str(d) and "4.00" in str(d)
    # no max_tokens: the service's limit is the bound; no price: cost unknown
    d2 = SweepSpec.from_dict(base(seeds=2)).dry_run()
    assert d2.max_audio_seconds == pytest.approx(2 * MAX_TOKENS_LIMIT / FRAME_RATE)
    assert d2.cost is None and "unknown" in str(d2)
    assert SweepSpec.from_dict(base(seeds=2, price_per_take=1.5)).dry_run().cost == 3.0


def test_files_toml_yaml_json(tmp_path):
    d = {"name": "filetest", "method": "grid", "mode": ["accurate", "expressive"], "seeds": [1, 2],
         "references": [URL], "parameters": {"temperature": {"values": [0.7, 1.1]}}, "fixed": {"language": "en_gb"}}
    (tmp_path / "s.json").write_text(json.dumps(d))
    (tmp_path / "s.yaml").write_text(
        "name: filetest\nmethod: grid\nmode: [accurate, expressive]\nseeds: [1, 2]\n"
        f"references: ['{URL}']\nparameters:\n  temperature:\n    values: [0.7, 1.1]\nfixed:\n  language: en_gb\n")
    (tmp_path / "s.toml").write_text(
        'name = "filetest"\nmethod = "grid"\nmode = ["accurate", "expressive"]\nseeds = [1, 2]\n'
        f'references = ["{URL}"]\n[parameters.temperature]\nvalues = [0.7, 1.1]\n[fixed]\nlanguage = "en_gb"\n')
    specs = [SweepSpec.from_file(tmp_path / f"s.{ext}") for ext in ("json", "yaml", "toml")]
    ids = [[t.take_id for t in s.expand()] for s in specs]
    assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 8
    assert all(t.params.language == "en_gb" for t in specs[2].expand())
    with pytest.raises(InvalidParameter) as e:
        SweepSpec.from_file(tmp_path / "missing.toml")
    assert e.value.field == "spec"
    (tmp_path / "bad.toml").write_text("name = [")
    with pytest.raises(InvalidParameter):
        SweepSpec.from_file(tmp_path / "bad.toml")


def test_relative_references_resolve_next_to_the_spec_file(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "me.wav").write_bytes(b"RIFF")
    (tmp_path / "s.json").write_text(json.dumps({"references": ["v/me.wav"], "seeds": [1]}))
    spec = SweepSpec.from_file(tmp_path / "s.json")
    assert spec.resolve_reference_path("v/me.wav") == str(tmp_path / "v" / "me.wav")
    assert spec.name == "s"


def test_to_dict_round_trips():
    spec = SweepSpec.from_dict(base(method="random", count=3, seeds=2, mode="expressive",
                                    parameters={"temperature": {"min": 0.5, "max": 1.5}}))
    again = SweepSpec.from_dict(spec.to_dict())
    assert again == spec
    assert [t.take_id for t in again.expand()] == [t.take_id for t in spec.expand()]
