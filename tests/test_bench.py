"""Smoke run of every benchmark with tiny sizes: each prints its table (figures are for README, never asserted)."""

import pytest

from bench.__main__ import SIZES, run


@pytest.mark.parametrize("name", list(SIZES))
def test_benchmark_runs_and_prints_its_table(name):
    output = run(name, quick=True)
    assert output.startswith("### ") and "ratio" in output
    rows = [line for line in output.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 3, output  # a header, the baseline and at least one measured row


def test_bench_with_no_names_means_every_benchmark_and_unknown_names_are_refused(monkeypatch, capsys):
    """`python -m bench` (the README's "all") runs each benchmark once; a wrong name is a usage error."""
    import bench.__main__ as entry

    ran = []
    monkeypatch.setattr(entry, "run", lambda name, quick: ran.append((name, quick)) or f"### {name}")
    assert entry.main([]) == 0
    assert ran == [(name, False) for name in SIZES]
    with pytest.raises(SystemExit) as refused:
        entry.main(["lifecycle", "nonsense"])
    assert refused.value.code == 2
    assert "unknown benchmark(s): nonsense" in capsys.readouterr().err
