"""The recommendation's test: a candidate only when it beats uniform outside the noise on fresh
seeds, with the candidates' multiplicity accounted for; otherwise uniform, saying why."""

from __future__ import annotations

import pytest

from service.recommendation import paired_gain, recommend

SEEDS = [1, 2, 3]
UNIFORM = [0.70, 0.72, 0.69]


def test_a_consistent_gain_is_recommended_with_its_reason() -> None:
    decision = recommend([(5, 0.80, [0.78, 0.80, 0.77]), (7, 0.79, [0.71, 0.73, 0.70])], UNIFORM, SEEDS)
    assert decision["choice"] == "trial" and decision["trial"] == 5
    assert "trial 5 beat uniform by +8.00 points" in decision["reason"] and "Bonferroni" in decision["test"]
    assert [c["trial"] for c in decision["candidates"]] == [5, 7]


def test_a_gain_inside_the_noise_recommends_uniform() -> None:
    decision = recommend([(5, 0.80, [0.80, 0.66, 0.74])], UNIFORM, SEEDS)
    assert decision["choice"] == "uniform" and decision["trial"] is None
    assert "no candidate beat uniform outside the noise" in decision["reason"] and "trial 5" in decision["reason"]


def test_a_candidate_worse_than_uniform_is_never_recommended() -> None:
    decision = recommend([(3, 0.9, [0.60, 0.61, 0.59])], UNIFORM, SEEDS)
    assert decision["choice"] == "uniform"


def test_more_candidates_need_stronger_evidence() -> None:
    values = [0.72, 0.75, 0.70]  # gains 2, 3, 1 points: p about 0.04
    gain, p_value = paired_gain(values, UNIFORM)
    assert gain == pytest.approx(0.02) and 0.02 < p_value < 0.1
    assert recommend([(1, 0.8, values)], UNIFORM, SEEDS)["choice"] == "trial"
    alone_is_enough, among_three = (recommend([(1, 0.8, values)] + [(i, 0.7, UNIFORM) for i in range(2, 2 + extra)],
                                              UNIFORM, SEEDS)["choice"] for extra in (0, 2))
    assert (alone_is_enough, among_three) == ("trial", "uniform")


def test_equal_gains_on_every_seed_are_certain() -> None:
    assert paired_gain([0.8, 0.8, 0.8], [0.7, 0.7, 0.7]) == (pytest.approx(0.1), 0.0)
    assert paired_gain([0.7, 0.7], [0.7, 0.7]) == (0.0, 1.0)
