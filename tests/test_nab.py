"""NAB scoring by hand-checked cases and against published outputs; the novelty detector on its own."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from claimwatch.detect import state
from claimwatch.detect.novelty import DayRing, NoveltyDetector, TailSketch
from claimwatch.nab import PROFILES, Weights, normalised, prepare_file, score_results, sigma, total_at_best_threshold

NAB = Path(__file__).resolve().parents[2] / "shared" / "nab"
needs_corpus = pytest.mark.skipif(
    not (NAB / "labels" / "combined_windows.json").exists(), reason="../shared/nab absent"
)
STANDARD = Weights(tp=1.0, fn=1.0, fp=0.11)
DAY_S = 86_400.0


def _file(
    scores: list[float], window: tuple[int, int] | None, n: int = 1000
) -> tuple[list[datetime], list[float], list[tuple[datetime, datetime]]]:
    start = datetime(2020, 1, 1)
    stamps = [start + timedelta(minutes=5 * i) for i in range(n)]
    windows = [(stamps[window[0]], stamps[window[1]])] if window else []
    return stamps, scores, windows


def test_null_and_perfect_detectors_score_0_and_100() -> None:
    n = 1000
    stamps, _, windows = _file([], (500, 599), n)
    null = prepare_file("a/x.csv", stamps, [0.0] * n, windows, 0)
    early = [1.0 if i == 500 else 0.0 for i in range(n)]
    perfect = prepare_file("a/x.csv", stamps, early, windows, 0)
    assert normalised(total_at_best_threshold([null], STANDARD)[1], 1, STANDARD) == 0.0
    assert normalised(total_at_best_threshold([perfect], STANDARD)[1], 1, STANDARD) == pytest.approx(100.0)


def test_late_detection_earns_less_and_only_the_first_in_a_window_counts() -> None:
    n = 1000
    stamps, _, windows = _file([], (500, 599), n)
    at_label = prepare_file("a/x.csv", stamps, [1.0 if i in (550, 551) else 0.0 for i in range(n)], windows, 0)
    _, raw = total_at_best_threshold([at_label], STANDARD)
    # Earliest detection (row 550) only: sigma(-(599-550+1)/100) / sigma(-1).
    assert raw == pytest.approx(sigma(-0.5) / sigma(-1.0))
    at_end = prepare_file("a/x.csv", stamps, [1.0 if i == 599 else 0.0 for i in range(n)], windows, 0)
    assert total_at_best_threshold([at_end], STANDARD)[1] == pytest.approx(sigma(-0.01) / sigma(-1.0))


def test_false_positives_cost_full_before_a_window_and_less_just_after_it() -> None:
    n = 1000
    stamps, _, windows = _file([], (500, 599), n)
    scores = [0.0] * n
    scores[300], scores[550], scores[610] = 0.9, 0.9, 0.9
    sf = prepare_file("a/x.csv", stamps, scores, windows, 0)
    expected_fp = -1.0 + sigma(abs(599 - 610) / 99)
    tp = sigma(-0.5) / sigma(-1.0)
    threshold, raw = total_at_best_threshold([sf], STANDARD)
    assert threshold == 0.9
    assert raw == pytest.approx(tp + 0.11 * expected_fp)


def test_probationary_rows_never_count() -> None:
    n = 1000  # 150 probationary rows
    stamps, _, windows = _file([], None, n)
    sf = prepare_file("a/x.csv", stamps, [1.0 if i < 150 else 0.0 for i in range(n)], windows, 0)
    assert sf.scores == [0.0] * 850


@needs_corpus
@pytest.mark.parametrize(
    ("detector", "expected"),
    [("numenta", (70.93, 64.99, 75.00)), ("windowedGaussian", (35.00, 22.67, 41.00))],
)
def test_reproduces_the_published_figures(detector: str, expected: tuple[float, float, float]) -> None:
    labels = NAB / "labels" / "combined_windows.json"
    results = score_results(NAB / "reference_results" / detector, labels, NAB / "labels" / "profiles.json")
    assert [r.profile for r in results] == list(PROFILES)
    for result, figure in zip(results, expected, strict=True):
        assert abs(result.score - figure) <= 0.01, (detector, result.profile, result.score)


@pytest.mark.slow
@needs_corpus
def test_backtest_on_the_corpus_prints_profiles_and_categories(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "claimwatch.cli",
            "backtest",
            "--series",
            str(NAB / "data"),
            "--out",
            str(tmp_path),
            "--labels",
            str(NAB / "labels" / "combined_windows.json"),
            "--score",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split() for line in run.stdout.splitlines() if line.split()]
    assert "realKnownCause" in next(r for r in rows if r[0] == "profile")
    tables = [r for r in rows if r[0] in PROFILES]
    best, own = {r[0]: float(r[1]) for r in tables[:3]}, {r[0]: float(r[1]) for r in tables[3:]}
    # The bounded detector measures 71.96 at its own threshold (docs/detection.md): above Numenta
    # HTM's 70.93, just below ARTime's 72.08. A fall below 71.9 is a regression.
    assert best["standard"] >= 71.9 and own["standard"] >= 71.9, run.stdout
    assert best["reward_low_FN_rate"] > best["standard"] > best["reward_low_FP_rate"]
    assert all(len(r) == 8 for r in tables), "three figures and five categories per profile"


def test_a_fixed_threshold_scores_that_decision() -> None:
    n = 1000
    stamps, _, windows = _file([], (500, 599), n)
    scores = [0.0] * n
    scores[300], scores[550] = 0.6, 0.4
    sf = prepare_file("a/x.csv", stamps, scores, windows, 0)
    from claimwatch.nab import file_score

    assert file_score(sf, STANDARD, 0.5) == pytest.approx(-0.11 - 1.0)
    assert file_score(sf, STANDARD, 0.3) == pytest.approx(-0.11 + sigma(-0.5) / sigma(-1.0))


# ------------------------------------------------------------------------------------------ detector


def _noise(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [100.0 + 10.0 * math.sin(i / 20.0) + rng.gauss(0.0, 2.0) for i in range(n)]


def test_quiet_on_steady_noise_and_alerts_on_a_jump_then_rests() -> None:
    d = NoveltyDetector()
    scores = [d.update(x, i * 300.0) for i, x in enumerate(_noise(3000, seed=3))]
    # New records by a few tail-spreads still happen in pure noise: 5 in these 2,000 values, the
    # weak spot that NAB's noise-only files show too (one alert per ~400 values).
    assert sum(d.is_alert(s) for s in scores[1000:]) <= 6
    t = 3000 * 300.0
    assert d.is_alert(d.update(160.0, t))
    assert [d.update(165.0, t + i * 300.0) for i in range(1, d.rest + 1)] == [0.0] * d.rest
    assert d.is_alert(d.update(260.0, t + 200 * 300.0)), "after the rest period a further jump is news again"


def test_alerts_on_a_fall_to_zero() -> None:
    d = NoveltyDetector()
    for i, x in enumerate(_noise(2000, seed=4)):
        d.update(x, i * 300.0)
    assert d.is_alert(d.update(0.0, 2000 * 300.0))


def test_a_sustained_shift_inside_the_range_is_caught_by_the_short_mean() -> None:
    d = NoveltyDetector()
    rng = random.Random(5)
    for i in range(2000):
        d.update(rng.gauss(0.0, 1.0), i * 300.0)
    shifted = [d.update(rng.gauss(2.2, 1.0), (2000 + i) * 300.0) for i in range(24)]
    assert any(d.is_alert(s) for s in shifted)


def test_scores_grade_with_distance_and_never_reach_one() -> None:
    t = TailSketch(window=1000)
    for x in _noise(500, seed=6):
        t.learn_one(x)
    d = NoveltyDetector(value=t)
    near, far, absurd = (d.score(x, 0.0) for x in (118.0, 140.0, 1e12))
    assert near < far < absurd < 1.0


def test_memory_is_bounded_whatever_the_length_of_the_series() -> None:
    d = NoveltyDetector(window=300)
    sizes = []
    for i, x in enumerate(_noise(20_000, seed=7)):
        d.update(x, i * 60.0)
        if i in (2_000, 19_999):
            sizes.append(state.stored_size(d))
    assert max(sizes) <= 4096 and abs(sizes[1] - sizes[0]) < 16, sizes  # digits of the counts aside
    for sketch in (d.value, d.mean, d.change):
        assert 150 <= sketch.n <= 300
        assert len(sketch.high) <= sketch.extremes and len(sketch.sample) <= sketch.sample_size
    assert len(d.recent) < d.mean_span and len(d.day.values) == d.day.slots + 6 + 2


def _exact_log_p(history: list[float], x: float, tolerance: float = 0.0) -> float:
    """The tail probability from the whole history, for values inside its range."""
    lowest, highest = min(history), max(history)
    slack = tolerance * (highest - lowest)
    as_high = sum(v >= x - slack for v in history)
    as_low = sum(v <= x + slack for v in history)
    return math.log(min(as_high + 1, as_low + 1) / (len(history) + 1))


@pytest.mark.parametrize("seed", range(5))
def test_the_sketch_counts_the_tails_exactly_where_an_alert_depends_on_them(seed: int) -> None:
    """Counts below ``extremes`` (p under about 10**-3 for 5,000 values) are exact, not estimated."""
    rng = random.Random(seed)
    history = [rng.lognormvariate(0.0, 1.0) for _ in range(5000)]
    sketch = TailSketch(window=10_000, tolerance=0.0)
    for x in history:
        sketch.learn_one(x)
    stored = sorted(float(__import__("array").array("f", [v])[0]) for v in history)
    for x in stored[-12:] + stored[:12]:
        assert sketch.log_p(x) == pytest.approx(_exact_log_p(stored, x), abs=1e-9)
    middle = stored[2500]
    # The middle is estimated from a sample of 8 to 16 values: within a factor of 2 of the truth.
    assert abs(sketch.log_p(middle) - _exact_log_p(stored, middle)) < math.log(2.0)


def test_no_look_ahead_a_score_depends_on_earlier_values_only() -> None:
    series = [(t, x) for t, x in _daily_wave(4, seed=13)]
    full, cut = NoveltyDetector(), NoveltyDetector()
    scores = [full.update(x, t) for t, x in series]
    k = 700
    assert [cut.update(x, t) for t, x in series[: k + 1]] == scores[: k + 1]


def test_the_day_ring_answers_as_a_full_record_of_the_period_would() -> None:
    """The latest value at or before a period ago within 30 minutes, else the earliest after it."""
    rng = random.Random(14)
    ring, t = DayRing(), 1_000_000.0
    pairs: list[tuple[float, float]] = []
    answered = 0
    for _ in range(3000):
        t += rng.choice((300.0, 330.0, 600.0, 900.0, 2400.0, 7200.0))  # irregular, with gaps
        target = t - DAY_S
        before = [(at, x) for at, x in pairs if at <= target and target - at <= 1800]
        after = [(at, x) for at, x in pairs if target < at < t and at - target <= 1800]
        expected = before[-1][1] if before else after[0][1] if after else None
        assert ring.value_before(target, t) == expected, t
        answered += expected is not None
        x = float(rng.randint(0, 1000))
        ring.learn_one(x, t)
        pairs.append((t, x))
    assert answered > 1000


def test_same_input_same_scores() -> None:
    series = [*_noise(1500, seed=8), 300.0, *_noise(500, seed=9)]
    first, second = NoveltyDetector(), NoveltyDetector()
    assert [first.update(x, i * 60.0) for i, x in enumerate(series)] == [
        second.update(x, i * 60.0) for i, x in enumerate(series)
    ]


def test_the_cost_benchmark_runs_on_a_folder_of_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from claimwatch.corebench import novelty_cost

    (tmp_path / "a").mkdir()
    rows = "\n".join(f"2020-01-01 00:{i // 60:02d}:{i % 60:02d},{x}" for i, x in enumerate(_noise(300, seed=1)))
    (tmp_path / "a" / "s.csv").write_text("timestamp,value\n" + rows + "\n")
    assert novelty_cost(tmp_path, repeats=1) == 0
    out = capsys.readouterr().out
    assert '"values": 300' in out and "median_us_per_value" in out


def _daily_wave(days: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(i * 300.0, 50.0 + 40.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, 1.0)) for i in range(days * 288)]


def test_a_broken_daily_pattern_inside_the_usual_range_is_caught_by_the_change_since_yesterday() -> None:
    d = NoveltyDetector()
    for t, x in _daily_wave(10, seed=11):
        d.update(x, t)
    start = 10 * 288 * 300.0
    # The wave stops at its mid-level: every value and every mean has been seen before.
    flat = [d.update(50.0, start + i * 300.0) for i in range(60, 144)]
    assert any(d.is_alert(s) for s in flat)


def test_state_survives_the_stored_form_and_continues_identically() -> None:
    d = NoveltyDetector()
    wave = _daily_wave(3, seed=12)
    for t, x in wave[:700]:
        d.update(x, t)
    restored = state._dec(state._enc(d), 0)
    assert restored == d and restored is not d
    assert [d.update(x, t) for t, x in wave[700:]] == [restored.update(x, t) for t, x in wave[700:]]
