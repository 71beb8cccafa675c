"""NPS, its adjusted-Wald interval and the shrinkage toward the network, against numbers worked by hand."""
import pytest

from scoring.nps import NpsCounts, adjusted_wald, estimate, nps_value


def test_nps_is_percent_promoters_minus_percent_detractors():
    scores = [10, 9, 9, 8, 7, 6, 0, 10, 9, 5]   # 5 promoters, 2 passives, 3 detractors
    counts = NpsCounts.of(scores)
    assert (counts.n, counts.promoters, counts.passives, counts.detractors) == (10, 5, 2, 3)
    assert nps_value(counts) == pytest.approx(20.0)


def test_interval_adds_three_answers_and_three_quarters_to_promoters_and_detractors():
    # n~ = 23, p~ = 12.75/23 = 0.554348, d~ = 3.75/23 = 0.163043, centre 0.391304
    # var = (0.717391 - 0.391304^2) / 23 = 0.0245336, half = 1.96 * 0.156632 = 0.306999
    low, high = adjusted_wald(NpsCounts(20, 12, 3))
    assert low == pytest.approx(8.4306, abs=1e-3)
    assert high == pytest.approx(69.8303, abs=1e-3)


def test_small_site_nps_is_shrunk_toward_the_network_by_n_over_n_plus_k():
    result = estimate(NpsCounts(20, 12, 3), network=20.0, k=30)
    assert result.nps == pytest.approx(45.0)
    assert result.credibility == pytest.approx(0.4)                   # 20 / (20 + 30)
    assert result.shrunk == pytest.approx(0.4 * 45 + 0.6 * 20)        # 30.0


def test_no_answers_give_no_nps_and_the_widest_honest_interval():
    result = estimate(NpsCounts(0, 0, 0), network=20.0, k=30)
    assert result.nps is None and result.shrunk is None
    # n~ = 3, p~ = d~ = 0.25: centre 0, half = 1.96 * sqrt(0.5 / 3) = 0.800167
    assert (result.low, result.high) == (pytest.approx(-80.0167, abs=1e-3), pytest.approx(80.0167, abs=1e-3))


def test_all_promoters_give_100_with_an_interval_clipped_at_100():
    result = estimate(NpsCounts(10, 10, 0), network=None, k=30)
    assert result.nps == pytest.approx(100.0)
    # n~ = 13, p~ = 10.75/13, d~ = 0.75/13: centre 0.769231, half = 1.96 * 0.150102 = 0.294200
    assert result.low == pytest.approx(47.503, abs=1e-3)
    assert result.high == 100.0
    # without a network NPS the anchor is 0: 10/40 * 100
    assert result.shrunk == pytest.approx(25.0)
