"""Smoke run of every benchmark with tiny sizes: each prints its table (figures are for README, never asserted)."""

import pytest

from bench.__main__ import SIZES, run


@pytest.mark.parametrize("name", list(SIZES))
def test_benchmark_runs_and_prints_its_table(name):
    output = run(name, quick=True)
    assert output.startswith("### ") and "ratio" in output
    rows = [line for line in output.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 3, output  # a header, the baseline and at least one measured row
