"""Scale: the case list (first page), the timeliness dashboard, a much-read case's timeline, /readyz, /metrics and
the case review tracker export with a small and a large database.

Both databases hold the same current year (300 cases with CSPRs, stage entries and actions); the large one
adds years of history before it, and as many audit rows, all reads of one case (whose timeline shows the same
ten changes in both). Indexes and pagination should keep the ratio of timings near 1: what a page, a year's
dashboard, a case's timeline or a health check costs must not grow with everything the partnership has ever
recorded. The tracker export lists every case, so its figure is per 1,000 cases: the ratio shows whether a
case costs the same in a large database (no query per case). /readyz runs with no Temporal server (503: its
database half is what grows); /metrics as a scraper meets it (the figures read at most every
RAPID_REVIEW_METRICS_REFRESH_SECONDS) and with a reading on every scrape. Every case of the fill is open, so a
reading counts all of them."""

from __future__ import annotations

import shutil
import statistics
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert

from bench.common import bench_settings, engine_of, seconds, table, workdir
from engine.calendar import WorkingDayCalendar
from records.audit import AuditEntry, AuditWriter
from records.db import session_scope
from records.models import CaseAgency, CaseRecord, CaseReview, PlanAction, StageEntry
from service.accounts.users import create_demo_users
from service.app import create_app
from service.platform.audit_trail import AuditTrail
from service.platform.runner import free_port

YEAR = 2026
CURRENT_YEAR_CASES = 300
CAL = WorkingDayCalendar()
READ_CASE = f"RR-{YEAR}-000000"  # the much-read case: every audit row of the fill is a read of it
CHANGES = 10
METRICS_TOKEN = "bench-metrics-token-0123456789"  # noqa: S105 (a throwaway database's scraper)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def case_rows(count: int, start: date, prefix: str) -> dict[str, list[dict]]:
    """``count`` cases opened a day apart from ``start``, each with its agency, stage entries, CSPR and action."""
    rows = {"cases": [], "agencies": [], "stages": [], "reviews": [], "actions": []}
    for n in range(count):
        opened = start + timedelta(days=n % 360)
        reference = f"{prefix}-{n:06d}"
        due = CAL.add_working_days(opened, 15)
        submitted = CAL.add_working_days(opened, 12 + n % 6)
        rows["cases"].append(dict(reference=reference, pseudonym=f"P{n}", stage="practice_review", opened_on=opened,
                                  year=opened.year, awareness_date=opened, notified_on=opened, rapid_review_due=due,
                                  submitted_on=submitted, late=submitted > due, escalated=False,
                                  recommendation="local_cspr", decision_sheet_version=1,
                                  practice_review_stage="learning_workshop", updated_at=NOW))
        rows["agencies"].append(dict(case_reference=reference, agency="education"))
        for i, stage in enumerate(("referral", "panel_preparation", "decision_sheet", "national_panel")):
            rows["stages"].append(dict(case_reference=reference, process="case", stage=stage,
                                       entered_on=opened + timedelta(days=4 * i), step_key=f"{reference}:{i}"))
        rows["reviews"].append(dict(case_reference=reference, stage="learning_workshop", decided_on=submitted,
                                    due=submitted + timedelta(days=182), published_on=submitted + timedelta(days=150),
                                    methods_json="[]", late=False, recommendations_json="[]", updated_at=NOW))
        rows["actions"].append(dict(case_reference=reference, source="panel_immediate_action", description="a",
                                    due_date=opened + timedelta(days=40), status="open", created_at=NOW))
    return rows


def fill(engine, total: int) -> None:
    history = total - CURRENT_YEAR_CASES
    batches = [case_rows(CURRENT_YEAR_CASES, date(YEAR, 1, 1), f"RR-{YEAR}")]
    for year_offset in range(0, history, 360):
        year = 2015 + (year_offset // 360) % 10  # history spread over 2015-2024
        batches.append(case_rows(min(360, history - year_offset), date(year, 1, 1), f"RR-H{year_offset:06d}"))
    with session_scope(engine) as session:
        for rows in batches:
            session.execute(insert(CaseRecord), rows["cases"])
            session.execute(insert(CaseAgency), rows["agencies"])
            session.execute(insert(StageEntry), rows["stages"])
            session.execute(insert(CaseReview), rows["reviews"])
            session.execute(insert(PlanAction), rows["actions"])


def fill_audit(engine, key: bytes, reads: int) -> None:
    """``reads`` reads of one case and its ten changes, appended as a real chain (the routine check walks it)."""
    entries = [AuditEntry(actor_id=None, actor_role="panel_chair", action="read_case", detail={},
                          case_reference=READ_CASE) for _ in range(reads)]
    for n in range(CHANGES):  # spread through the reads
        entries.insert(n * len(entries) // CHANGES, AuditEntry(actor_id=None, actor_role="panel_chair",
                                                               action="record_decision", detail={"n": n},
                                                               case_reference=READ_CASE))
    for start in range(0, len(entries), 5000):
        with session_scope(engine) as session:
            AuditWriter(session, key).add_all(entries[start:start + 5000])


def measure(total: int, repeat: int) -> dict[str, float]:
    directory = workdir()
    try:
        settings = bench_settings(directory, temporal_address=f"127.0.0.1:{free_port()}",
                                  rapid_review_metrics_token=METRICS_TOKEN)
        engine = engine_of(settings)
        fill(engine, total)
        fill_audit(engine, settings.audit_key_bytes, total)
        AuditTrail.from_settings(engine, settings).verify(full=True)  # the checkpoint the nightly check keeps
        with session_scope(engine) as session:
            passwords = create_demo_users(session, settings.audit_key_bytes)
        with TestClient(create_app(settings)) as client:
            token = client.post("/api/auth/token", data={"username": "strategy.manager",
                                                         "password": passwords["strategy.manager"]}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}

            def page():
                assert client.get("/api/cases?limit=50", headers=headers).json()["total"] == total

            def dashboard():
                figures = client.get(f"/api/dashboard?year={YEAR}", headers=headers).json()
                assert figures["totals"]["referrals"] == CURRENT_YEAR_CASES

            def timeline():
                assert len(client.get(f"/api/cases/{READ_CASE}/timeline", headers=headers).json()) == CHANGES

            def readyz():
                assert client.get("/readyz").json()["checks"]["database"]["ready"]

            def metrics():
                scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
                assert "rapid_review_audit_chain_intact 1" in scraped.text, scraped.text

            def tracker():
                assert client.get("/api/tracker.csv", headers=headers).text.count("\n") == total + 1

            requests = {"case list": page, "dashboard": dashboard, "case timeline (much-read case)": timeline,
                        "/readyz": readyz, "/metrics (as scraped: read at most every 15 s)": metrics}
            for request in requests.values():
                request()  # warm caches
            # In rounds, each request in turn: a burst of load on the machine falls on all of them alike, not on the
            # few milliseconds of one request's runs.
            runs = {name: [] for name in requests}
            for _ in range(repeat):
                for name, request in requests.items():
                    runs[name] += seconds(request, 1)
            timings = {name: statistics.median(values) for name, values in runs.items()}
            client.app.state.metrics_figures.every = 0  # what a reading itself costs
            timings["/metrics (read on every scrape)"] = statistics.median(seconds(metrics, repeat))
            tracker()
            per_thousand = statistics.median(seconds(tracker, max(1, repeat // 3))) * 1000 / total
            return {**timings, "tracker export, per 1,000 cases": per_thousand}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run(small: int = 1_000, large: int = 100_000, repeat: int = 15) -> str:
    few, many = measure(small, repeat), measure(large, repeat)
    rows = [[name, few[name], many[name], many[name] / few[name]] for name in few]
    return table(f"Scale (SQLite; median of {repeat}; {CURRENT_YEAR_CASES} cases in {YEAR} in both databases; as "
                 "many audit rows as cases)",
                 ["request", f"{small:,} cases (s)", f"{large:,} cases (s)", "ratio"], rows)
