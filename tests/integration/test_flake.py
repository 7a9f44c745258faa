"""Twenty consecutive runs of each scenario give byte-identical normalized flows."""

from __future__ import annotations

import pytest

from lab import defaults, flake


@pytest.mark.slow
def test_twenty_rounds_of_the_matrix_give_one_flow_per_scenario() -> None:
    report = flake.gate(20, list(defaults.MATRIX), parallel=True)
    assert report.differing == 0, flake.render(report)
    assert set(report.flows) == set(defaults.MATRIX)
    for name, flows in report.flows.items():
        assert sum(flows.values()) == 20 and len(flows) == 1, name
