"""The README's install as a newcomer runs it, and a case that cannot lose its place.

A fresh venv built exactly as the README says (`pip install -e .`, no extras) imports every runtime module,
starts `rapid-review dev` in an empty directory, and carries cases in four stages through a Ctrl-C and a
SIGKILL of the whole process tree: afterwards every case is where it was, still acts, and nothing is
duplicated.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from engine.calendar import WorkingDayCalendar, london_date
from service.platform.runner import free_port

ROOT = Path(__file__).resolve().parent.parent
IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
for top in ("service", "engine", "reviews", "records", "activities"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, prefix=top + "."):
        if ".migrations.versions" not in info.name and not info.name.endswith(".env"):
            importlib.import_module(info.name)
import service.cli
print("imported")
"""
# Rows that record what happened; reads and lists are audited on every request, so they are left out.
COUNTS = {
    "tasks": "SELECT count(*) FROM task",
    "documents": "SELECT count(*) FROM document",
    "e-mails": "SELECT count(*) FROM outbox_message",
    "audit rows (changes)": "SELECT count(*) FROM audit_event "
                            "WHERE action NOT LIKE 'read%' AND action NOT LIKE 'list%'",
    "applied steps": "SELECT count(*) FROM applied_step",
}


def test_a_plain_install_imports_every_runtime_module_without_test_packages(newcomer_venv):
    for test_only in ("pytest", "playwright", "hypothesis"):  # httpx is a runtime dependency now (OIDC)
        probe = subprocess.run([str(newcomer_venv / "bin" / "python"), "-c", f"import {test_only}"],
                               capture_output=True)
        assert probe.returncode != 0, f"{test_only} is in the plain install: this check would prove nothing"
    imported = subprocess.run([str(newcomer_venv / "bin" / "python"), "-c", IMPORT_EVERY_MODULE], cwd=ROOT,
                              capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    assert (newcomer_venv / "bin" / "temporal").exists(), "the embedded engine's CLI comes with the plain install"


class DevService:
    """`rapid-review dev` from the newcomer's venv, in its own directory and process group."""

    def __init__(self, venv: Path, directory: Path) -> None:
        self.venv, self.directory, self.port = venv, directory, free_port()
        self.process: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait for /readyz 200; returns the seconds it took."""
        env = {k: v for k, v in os.environ.items()
               if k not in {"TEMPORAL_ADDRESS", "DATABASE_URL", "RAPID_REVIEW_MODE", "RAPID_REVIEW_VAR_DIR",
                            "VIRTUAL_ENV"}}
        env["API_PORT"] = str(self.port)
        started = time.monotonic()
        self.process = subprocess.Popen([str(self.venv / "bin" / "rapid-review"), "dev"], cwd=self.directory,
                                        env=env, stdout=(self.directory / "dev.log").open("ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() - started < 90:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("rapid-review dev was not ready within 90 s:\n" + self.log())

    def interrupt(self) -> int:
        """Ctrl-C, as a person in a terminal stops it (the whole foreground process group gets SIGINT)."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(60)

    def kill_tree(self) -> None:
        """SIGKILL every process of the tree at once: a power cut, an OOM kill of the group."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        time.sleep(0.5)

    def log(self) -> str:
        return (self.directory / "dev.log").read_text(errors="replace")

    def counts(self) -> dict[str, int]:
        with sqlite3.connect(self.directory / "var" / "rapid_review.db") as db:
            return {name: db.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}


def _sign_in(service: DevService, username: str) -> dict:
    credentials = json.loads((service.directory / "var" / "demo-credentials.txt").read_text())
    answer = httpx.post(f"{service.base}/api/auth/token",
                        data={"username": username, "password": credentials[username]})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _act(service: DevService, who: dict, reference: str, action: str, **fields) -> dict:
    answer = httpx.post(f"{service.base}/api/cases/{reference}/actions/{action}", json=fields, headers=who,
                        timeout=60)
    assert answer.status_code == 200, f"{action}: {answer.status_code} {answer.text}"
    return answer.json()


def _stages(service: DevService, who: dict, references: list[str]) -> dict[str, str]:
    found = {}
    for reference in references:
        answer = httpx.get(f"{service.base}/api/cases/{reference}", headers=who, timeout=30)
        assert answer.status_code == 200, f"{reference}: {answer.status_code} {answer.text}"
        found[reference] = answer.json()["stage"]
    return found


def _settled(service: DevService) -> dict[str, int]:
    """The counts once every step in flight has written its rows (two equal readings a second apart)."""
    last = None
    for _ in range(30):
        now = service.counts()
        if now == last:
            return now
        last = now
        time.sleep(1)
    return last


@pytest.mark.slow
def test_readme_run_command_keeps_every_case_through_ctrl_c_and_sigkill(newcomer_venv, tmp_path):
    service = DevService(newcomer_venv, tmp_path)
    first_start = service.start()
    print(f"\nfresh install: rapid-review dev ready in {first_start:.1f} s (empty directory, first run)")
    assert (tmp_path / "var" / "temporal.db").exists(), "workflows are persisted under var/"

    bu, csc = _sign_in(service, "strategy.manager"), _sign_in(service, "csc.lead")
    police, icb = _sign_in(service, "exec.police"), _sign_in(service, "exec.icb")
    today = london_date(datetime.now(UTC))
    references = []
    for number in range(4):
        answer = httpx.post(f"{service.base}/api/cases", headers=bu, timeout=60, json={
            "pseudonym": f"Child {'ABCD'[number]}", "age_band": "1-4", "summary": "Injury at home; neglect suspected.",
            "incident_date": str(today), "awareness_date": str(today), "referring_agency": "police"})
        assert answer.status_code == 201, answer.text
        references.append(answer.json()["reference"])
    referral, consulting, notifying, preparing = references
    for reference in (consulting, notifying, preparing):
        _act(service, bu, reference, "accept_referral")
    for reference in (notifying, preparing):
        _act(service, csc, reference, "propose_sin_decision", decision="notify", rationale="Serious harm.")
        _act(service, police, reference, "respond_to_sin_proposal", version=1, view="agree", comments="Investigating.")
        _act(service, icb, reference, "respond_to_sin_proposal", version=1, view="agree",
             comments="Injuries consistent with abuse.")
    _act(service, csc, preparing, "record_notification", notified_on=str(today), notification_reference="OF-1")
    expected = {referral: "referral", consulting: "csc_consultation", notifying: "notification",
                preparing: "panel_preparation"}
    assert _stages(service, bu, references) == expected
    before = _settled(service)

    assert service.interrupt() == 0, service.log()
    assert "Fatal Python error" not in service.log()
    service.start()
    assert _stages(service, bu, references) == expected, "a Ctrl-C moved or lost a case"
    assert _settled(service) == before, "a restart duplicated or lost rows"

    # The cases still act after the restart: the referral is accepted, a panel is convened with its tasks.
    _act(service, bu, referral, "accept_referral")
    panel_date = WorkingDayCalendar().add_working_days(today, 2)
    _act(service, bu, preparing, "convene_panel", panel_date=str(panel_date), invited_agencies=["education"],
         research_questions=["What did the school know?"])
    expected[referral] = "csc_consultation"
    assert _stages(service, bu, references) == expected
    after_acting = _settled(service)
    assert after_acting["tasks"] > before["tasks"]

    service.kill_tree()
    service.start()
    assert _stages(service, bu, references) == expected, "a SIGKILL of the whole tree moved or lost a case"
    assert _settled(service) == after_acting, "a crash and restart duplicated or lost rows"
    education = _sign_in(service, "agency.education")
    tasks = httpx.get(f"{service.base}/api/tasks", headers=education).json()["items"]
    information_request = next(t for t in tasks if t["case_reference"] == preparing)
    done = httpx.post(f"{service.base}/api/tasks/{information_request['id']}/complete", headers=education,
                      timeout=60, json={"involvement": "Attends nursery.", "chronology": "Seen weekly.",
                                        "analysis": "No concerns raised before."})
    assert done.status_code == 200, done.text
    assert service.interrupt() == 0, service.log()
