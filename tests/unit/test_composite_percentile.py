"""The scorecard's percentile by bisection over a sorted population equals the plain count, ties included."""
from __future__ import annotations

import random

from scoring import composite


def test_percentile_over_a_sorted_population_equals_the_plain_count_for_every_value():
    rng = random.Random(10)
    for size in (0, 1, 2, 7, 100):
        population = [round(rng.uniform(0, 100), 0) for _ in range(size)]   # rounded: many ties
        ordered = sorted(population)
        for value in [*population, -1.0, 50.5, 101.0]:
            assert composite.percentile_in_sorted(value, ordered) == composite.percentile(value, population)
