"""What every benchmark shares: a throwaway database and settings, timing, percentiles and the table."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from records.db import engine_for
from service.platform.runner import prepare_database
from service.platform.settings import Settings, load_settings

BENCH_KEY = "YmVuY2htYXJrLW9ubHkta2V5LW5vdC1hLXNlY3JldCE="  # 32 bytes, for throwaway databases only


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="rapid-review-bench-"))


def bench_settings(directory: Path, **extra) -> Settings:
    """Settings for a throwaway SQLite database (or DATABASE_URL given in ``extra``), migrated."""
    settings = load_settings(
        database_url=extra.pop("database_url", f"sqlite:///{directory / 'bench.db'}"),
        rapid_review_var_dir=directory / "var", rapid_review_encryption_key=BENCH_KEY,
        secret_key="bench-secret-key-" + "x" * 32, **extra,
    )
    prepare_database(settings)
    return settings


def engine_of(settings: Settings):
    return engine_for(settings.sqlalchemy_url)


def seconds(work: Callable[[], object], repeat: int) -> list[float]:
    """Wall time of each of ``repeat`` runs."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]


def table(title: str, headers: list[str], rows: list[list]) -> str:
    """A markdown table under a heading."""
    def cell(value) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
