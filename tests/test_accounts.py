"""Sessions that end (sign-out, password change, reset, disable, idle and absolute timeouts), sign-in that slows
guessing without letting anyone lock a user out, CSRF on the sign-in form, and account administration (the
command line, the admin page, one's own password) written to the audit trail. Time is moved by rewriting the
stored timestamps (pass_time), never by sleeping."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import service.accounts.sign_in
from records.models import AuditEvent, SignInFailure, User, UserSession
from records.vocabulary import SignInStep
from service.accounts.auth import SESSION_COOKIE, SIGN_IN_COOKIE, SignInBackoff
from service.app import create_app
from service.cli import main
from tests.conftest import TEST_KEY, sign_in_through_page

ESCALATION = {"group_name": "Rapid Review Working Group", "title": "Reviewer capacity",
              "concern": "Three reviews are waiting for a commissioned reviewer."}
WAIT = {"sign_in_first_wait_seconds": 30, "sign_in_max_wait_seconds": 120}  # long enough that no test races it


@pytest.fixture
def app(settings, engine, demo_passwords):
    return create_app(settings.model_copy(update=WAIT))


def client_at(app, address: str) -> TestClient:
    """A client calling from its own network address."""
    return TestClient(app, client=(address, 50000))


def pass_time(engine, seconds: float) -> None:
    """The clock moves on: every recorded failure and session happened ``seconds`` earlier."""
    step = timedelta(seconds=seconds)
    with Session(engine) as session:
        for failure in session.exec(select(SignInFailure)):
            failure.at -= step
            session.add(failure)
        for row in session.exec(select(UserSession)):
            row.created_at, row.last_seen_at = row.created_at - step, row.last_seen_at - step
            session.add(row)
        session.commit()


def bearer(client, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def csrf_of(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def audit_rows(engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# ---------------------------------------------------------------- sessions end


def test_signed_out_token_and_cookie_are_refused(api_client, demo_passwords):
    password = demo_passwords["agency.health"]
    token = bearer(api_client, "agency.health", password)
    other_device = bearer(api_client, "agency.health", password)
    assert api_client.post("/api/escalations", headers=token, json=ESCALATION).status_code == 201
    assert api_client.post("/api/auth/signout", headers=token).status_code == 204
    assert api_client.post("/api/escalations", headers=token, json=ESCALATION).status_code == 401
    assert api_client.get("/api/me", headers=token).status_code == 401
    assert api_client.get("/api/me", headers=other_device).status_code == 200, "sign-out ends only that session"

    page = sign_in_through_page(api_client, "strategy.manager", demo_passwords["strategy.manager"],
                                follow_redirects=True)
    assert page.status_code == 200
    cookie, csrf = api_client.cookies[SESSION_COOKIE], csrf_of(page.text)
    assert api_client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    kept = TestClient(api_client.app, cookies={SESSION_COOKIE: cookie})  # the old cookie, kept and sent again
    assert kept.get("/api/me").status_code == 401
    assert kept.post("/escalations/new", data={"csrf_token": csrf, **ESCALATION},
                     follow_redirects=False).headers["location"] == "/signin?ended=true"
    again = kept.get("/board", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/signin?ended=true", "the page says why"


def test_password_change_reset_and_disable_end_every_session(api_client, engine, demo_passwords, settings,
                                                            monkeypatch):
    password = demo_passwords["panel.chair"]
    first, second = bearer(api_client, "panel.chair", password), bearer(api_client, "panel.chair", password)
    bystander = bearer(api_client, "csc.lead", demo_passwords["csc.lead"])
    wrong = api_client.post("/api/me/password", headers=first,
                            json={"current_password": "not it", "new_password": "a-new-password-1"})
    assert wrong.status_code == 403 and api_client.get("/api/me", headers=first).status_code == 200
    short = api_client.post("/api/me/password", headers=first, json={"current_password": password,
                                                                     "new_password": "short"})
    assert short.status_code == 422 and "at least 12" in short.json()["detail"]
    changed = api_client.post("/api/me/password", headers=first,
                              json={"current_password": password, "new_password": "a-new-password-1"})
    assert changed.status_code == 204
    assert api_client.get("/api/me", headers=first).status_code == 401
    assert api_client.get("/api/me", headers=second).status_code == 401
    assert api_client.get("/api/me", headers=bystander).status_code == 200, "other users keep their sessions"
    assert api_client.post("/api/auth/token", data={"username": "panel.chair", "password": password}
                           ).status_code == 401
    after_change = bearer(api_client, "panel.chair", "a-new-password-1")

    # Reset from the command line (as the service), new password from the environment.
    for name, value in (("DATABASE_URL", settings.database_url), ("RAPID_REVIEW_VAR_DIR", str(settings.var_dir)),
                        ("RAPID_REVIEW_ENCRYPTION_KEY", TEST_KEY), ("SECRET_KEY", settings.secret_key),
                        ("RAPID_REVIEW_NEW_PASSWORD", "reset-by-the-service")):
        monkeypatch.setenv(name, value)
    assert main(["users", "reset-password", "panel.chair"]) == 0
    assert api_client.get("/api/me", headers=after_change).status_code == 401
    after_reset = bearer(api_client, "panel.chair", "reset-by-the-service")

    assert main(["users", "disable", "panel.chair"]) == 0
    assert api_client.get("/api/me", headers=after_reset).status_code == 401
    refused = api_client.post("/api/auth/token", data={"username": "panel.chair", "password": "reset-by-the-service"})
    assert refused.status_code == 401, "a disabled user cannot sign in"
    assert main(["users", "enable", "panel.chair"]) == 0
    bearer(api_client, "panel.chair", "reset-by-the-service")
    assert main(["users", "disable", "nobody"]) == 2

    changes = [(row.action, row.actor_id, row.actor_role, json.loads(row.detail)["username"])
               for row in audit_rows(engine, "password_changed") + audit_rows(engine, "password_reset")
               + audit_rows(engine, "account_disabled") + audit_rows(engine, "account_enabled")]
    with Session(engine) as session:
        chair = session.exec(select(User).where(User.username == "panel.chair")).one()
    assert changes == [("password_changed", chair.id, "panel_chair", "panel.chair"),
                       ("password_reset", None, "system", "panel.chair"),
                       ("account_disabled", None, "system", "panel.chair"),
                       ("account_enabled", None, "system", "panel.chair")]
    assert [row.actor_id for row in audit_rows(engine, "password_change_failed")] == [chair.id]


def test_idle_and_absolute_timeouts(api_client, engine, demo_passwords, settings):
    idle = settings.session_idle_minutes * 60
    token = bearer(api_client, "auditor", demo_passwords["auditor"])
    pass_time(engine, idle - 90)
    assert api_client.get("/api/me", headers=token).status_code == 200, "used in time: last seen moves on"
    pass_time(engine, idle - 90)
    assert api_client.get("/api/me", headers=token).status_code == 200
    pass_time(engine, idle)
    assert api_client.get("/api/me", headers=token).status_code == 401, "idle too long"
    with Session(engine) as session:
        assert session.exec(select(UserSession)).all() == [], "the timed-out session's row is gone"

    # Used every few minutes, a session still ends at the absolute timeout.
    token = bearer(api_client, "auditor", demo_passwords["auditor"])
    steps = int(settings.session_absolute_hours * 60 / 20)
    for _ in range(steps - 1):
        pass_time(engine, 20 * 60)
        assert api_client.get("/api/me", headers=token).status_code == 200
    pass_time(engine, 20 * 60)
    assert api_client.get("/api/me", headers=token).status_code == 401, "past the absolute timeout"


def test_last_seen_is_written_at_most_once_a_minute(api_client, engine, demo_passwords):
    token = bearer(api_client, "auditor", demo_passwords["auditor"])

    def last_seen():
        with Session(engine) as session:
            return session.exec(select(UserSession.last_seen_at)).one()

    pass_time(engine, 30)
    before = last_seen()
    assert api_client.get("/api/me", headers=token).status_code == 200
    assert last_seen() == before, "30 s after the last write: nothing written"
    pass_time(engine, 31)
    assert api_client.get("/api/me", headers=token).status_code == 200
    assert last_seen() > before, "61 s after the last write: written again"


# ---------------------------------------------------------------- sign-in backoff


def test_an_attacker_cannot_lock_out_a_user(app, engine, demo_passwords, settings):
    """An attacker elsewhere guessing a user's password is slowed at his own address, past the free tries, and each
    waiting guess is refused even when right; the real user at her own address signs in at once, though all his
    failures are in the window (the per-username wait once held her out: 3 successes in 66 tries)."""
    attacker, user = client_at(app, "198.51.100.7"), client_at(app, "203.0.113.20")
    free = settings.sign_in_free_failures_per_username
    answers = [attacker.post("/api/auth/token", data={"username": "exec.la", "password": f"guess-{n}"})
               for n in range(free + 3)]
    assert [a.status_code for a in answers] == [401] * free + [429] * 3
    assert "this username from your network address" in answers[-1].json()["detail"]
    right_but_waiting = attacker.post("/api/auth/token", data={"username": "exec.la",
                                                                "password": demo_passwords["exec.la"]})
    assert right_but_waiting.status_code == 429, "the wait is decided after the check: a right guess waits too"
    with Session(engine) as session:
        assert len(session.exec(select(SignInFailure).where(SignInFailure.username == "exec.la")).all()) == free, \
            "waiting attempts are not counted (waiting does not lengthen the wait)"
    for _ in range(3):
        assert user.post("/api/auth/token", data={"username": "exec.la", "password": demo_passwords["exec.la"]}
                         ).status_code == 200, "the real user, at her own address, is never held back by him"
    pass_time(engine, int(answers[-1].headers["Retry-After"]))
    assert attacker.post("/api/auth/token", data={"username": "exec.la", "password": "guess-after-waiting"}
                         ).status_code == 401, "after the wait the attacker may try once more"
    assert len(audit_rows(engine, "sign_in_failed")) == free + 1


def test_second_factor_failures_are_counted_apart_from_a_username_like_it(engine, settings):
    """A username ending "#mfa" shares nothing with the second-factor count of the user it imitates."""
    backoff = SignInBackoff.from_settings(settings)
    with Session(engine) as session:
        for _ in range(settings.sign_in_free_failures_per_username + 2):
            backoff.note_attempt(session, username="exec.la#mfa", address="198.51.100.7")
        session.commit()
        assert backoff.required_wait(session, username="exec.la#mfa", address="198.51.100.7")[0] > 0
        assert backoff.required_wait(session, username="exec.la", address="198.51.100.7",
                                     step=SignInStep.second_factor) == (0, "")


def test_spraying_usernames_from_one_address_is_slowed(app, engine, demo_passwords, settings):
    sprayer, office = client_at(app, "198.51.100.99"), client_at(app, "203.0.113.5")
    answers = [sprayer.post("/api/auth/token", data={"username": f"person.{n}", "password": "Winter2026!"})
               for n in range(settings.sign_in_free_failures_per_address + 5)]
    free = settings.sign_in_free_failures_per_address
    assert [a.status_code for a in answers] == [401] * free + [429] * 5
    assert "your network address" in answers[-1].json()["detail"]
    assert int(answers[-1].headers["Retry-After"]) > 0
    right = sprayer.post("/api/auth/token", data={"username": "auditor", "password": demo_passwords["auditor"]})
    assert right.status_code == 429, "from the spraying address even a right password waits"
    assert office.post("/api/auth/token", data={"username": "auditor", "password": demo_passwords["auditor"]}
                       ).status_code == 200, "another address is not slowed"
    throttled = audit_rows(engine, "sign_in_throttled")
    assert len(throttled) == 6 and json.loads(throttled[0].detail)["address"] == "198.51.100.99"


def test_backoff_schedule_and_concurrent_attempts(engine, settings):
    """The schedule doubles to its cap. Attempts are counted before their password is checked, so one noted by
    a concurrent request just after this request read the clock must not make it wait while free attempts
    are left (it did: eight concurrent right passwords from one address got 429s)."""
    backoff = SignInBackoff.from_settings(settings.model_copy(update={"sign_in_max_wait_seconds": 20}))
    assert [backoff.delay(failures, 3) for failures in range(10)] == [0, 0, 0, 1, 2, 4, 8, 16, 20, 20]
    now = datetime.now(UTC)
    with Session(engine) as session:
        backoff.note_attempt(session, username="a", address="192.0.2.1", now=now + timedelta(milliseconds=300))
        session.commit()
        assert backoff.required_wait(session, username="b", address="192.0.2.1", now=now) == (0, "")


def test_argon2_runs_outside_any_database_transaction(app, demo_passwords, monkeypatch):
    """Every connection is back in the pool while the password is verified (SQLite: no write lock held)."""
    checked_out = []
    real_verify = service.accounts.sign_in.verify_password

    def verify_and_look(password, hashed):
        checked_out.append(app.state.engine.pool.checkedout())
        return real_verify(password, hashed)

    monkeypatch.setattr(service.accounts.sign_in, "verify_password", verify_and_look)
    client = client_at(app, "203.0.113.30")
    bearer(client, "auditor", demo_passwords["auditor"])
    assert client.post("/api/auth/token", data={"username": "nobody", "password": "x"}).status_code == 401
    assert client.post("/api/auth/token", data={"username": "auditor", "password": "wrong"}).status_code == 401
    assert checked_out == [0, 0, 0]


@pytest.mark.parametrize("field", ["username", "password"])
def test_control_characters_are_refused_by_name(api_client, field):
    form = {"username": "panel.chair", "password": "whatever", field: "panel\x00chair"}
    answer = api_client.post("/api/auth/token", data=form)
    assert answer.status_code == 422 and f"{field}: must not contain control characters" in answer.json()["detail"]
    page = api_client.get("/signin")
    answer = api_client.post("/signin", data={**form, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 422 and f"{field}: must not contain control characters" in answer.text


# ---------------------------------------------------------------- CSRF on the sign-in form


def test_sign_in_form_needs_its_csrf_token(api_client, demo_passwords):
    form = {"username": "panel.chair", "password": demo_passwords["panel.chair"]}
    page = api_client.get("/signin")
    assert SIGN_IN_COOKIE in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
    without = api_client.post("/signin", data=form, follow_redirects=False)
    assert without.status_code == 403 and "security token" in without.text and "<h1>Sign in</h1>" in without.text
    token = csrf_of(page.text)
    assert api_client.post("/signin", data={**form, "csrf_token": token + "x"}).status_code == 403
    another_browser = TestClient(api_client.app)
    another_browser.get("/signin")
    assert another_browser.post("/signin", data={**form, "csrf_token": token}).status_code == 403, (
        "the token is bound to its own pre-session cookie")
    signed_in = api_client.post("/signin", data={**form, "csrf_token": token}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/board"
    assert api_client.get("/api/me").json()["username"] == "panel.chair"


# ---------------------------------------------------------------- account administration


def test_admin_page_disables_resets_and_changes_roles(api_client, engine, demo_passwords):
    victim = bearer(api_client, "agency.police", demo_passwords["agency.police"])
    with Session(engine) as session:
        ids = {u.username: u.id for u in session.exec(select(User))}
    sign_in_through_page(api_client, "panel.chair", demo_passwords["panel.chair"], follow_redirects=True)
    assert api_client.get("/admin/users").status_code == 403
    sign_in_through_page(api_client, "admin", demo_passwords["admin"], follow_redirects=True)
    listed = api_client.get("/admin/users")
    assert listed.status_code == 200 and "agency.police" in listed.text
    csrf = csrf_of(listed.text)
    police = ids["agency.police"]

    forged = api_client.post(f"/admin/users/{police}/active", data={"active": "false"})
    assert forged.status_code == 403 and "security token" in forged.text
    disabled = api_client.post(f"/admin/users/{police}/active", data={"csrf_token": csrf, "active": "false"})
    assert disabled.status_code == 200 and "Disabled: agency.police" in disabled.text
    assert api_client.get("/api/me", headers=victim).status_code == 401
    assert api_client.post(f"/admin/users/{police}/active", data={"csrf_token": csrf, "active": "true"}
                           ).status_code == 200
    weak = api_client.post(f"/admin/users/{police}/password", data={"csrf_token": csrf, "new_password": "short"})
    assert weak.status_code == 422 and "at least 12" in weak.text
    api_client.post(f"/admin/users/{police}/password", data={"csrf_token": csrf, "new_password": "given-by-the-admin"})
    before_move = bearer(api_client, "agency.police", "given-by-the-admin")
    refused = api_client.post(f"/admin/users/{police}/role", data={"csrf_token": csrf, "role": "executive"})
    assert refused.status_code == 422 and "needs a seat" in refused.text
    moved = api_client.post(f"/admin/users/{police}/role", data={"csrf_token": csrf, "role": "executive",
                                                                  "seat": "police", "agency": "police"})
    assert moved.status_code == 200 and "Role changed: agency.police" in moved.text
    assert api_client.get("/api/me", headers=before_move).status_code == 401, \
        "a token opened under the old role ends with it (its sign-in rules were the old role's)"
    self_disable = api_client.post(f"/admin/users/{ids['admin']}/active", data={"csrf_token": csrf,
                                                                                 "active": "false"})
    assert self_disable.status_code == 422 and "your own account" in self_disable.text
    assert api_client.post("/admin/users/999999/active", data={"csrf_token": csrf, "active": "false"}
                           ).status_code == 404

    moved_user = bearer(api_client, "agency.police", "given-by-the-admin")
    me = api_client.get("/api/me", headers=moved_user).json()
    assert (me["role"], me["agency"], me["seat"]) == ("executive", None, "police")
    admin = ids["admin"]
    trail = [(row.action, row.actor_id, row.actor_role, json.loads(row.detail)["user_id"])
             for action in ("account_disabled", "account_enabled", "password_reset", "role_changed")
             for row in audit_rows(engine, action)]
    assert trail == [("account_disabled", admin, "admin", police), ("account_enabled", admin, "admin", police),
                     ("password_reset", admin, "admin", police), ("role_changed", admin, "admin", police)]
    change = json.loads(audit_rows(engine, "role_changed")[0].detail)
    assert change["before"] == {"role": "agency_member", "agency": "police", "seat": None}
    assert change["after"] == {"role": "executive", "agency": None, "seat": "police"} and change["sessions_ended"] == 1


def test_own_password_page_keeps_this_browser_signed_in(api_client, demo_passwords):
    other_browser = bearer(api_client, "csc.lead", demo_passwords["csc.lead"])
    page = sign_in_through_page(api_client, "csc.lead", demo_passwords["csc.lead"], follow_redirects=True)
    account = api_client.get("/account")
    assert account.status_code == 200 and "Change my password" in account.text
    changed = api_client.post("/account/password", data={
        "csrf_token": csrf_of(page.text), "current_password": demo_passwords["csc.lead"],
        "new_password": "csc-lead-new-password"}, follow_redirects=True)
    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert api_client.get("/api/me").json()["username"] == "csc.lead", "this browser has a fresh session"
    assert api_client.get("/api/me", headers=other_browser).status_code == 401


def test_cli_set_role_is_audited_as_the_service(engine, settings, demo_passwords, monkeypatch):
    for name, value in (("DATABASE_URL", settings.database_url), ("RAPID_REVIEW_VAR_DIR", str(settings.var_dir)),
                        ("RAPID_REVIEW_ENCRYPTION_KEY", TEST_KEY), ("SECRET_KEY", settings.secret_key)):
        monkeypatch.setenv(name, value)
    assert main(["users", "set-role", "strategy.manager", "--role", "agency_member"]) == 2, "needs an agency"
    assert main(["users", "set-role", "strategy.manager", "--role", "agency_member", "--agency", "csc"]) == 0
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "strategy.manager")).one()
    assert (user.role, user.agency) == ("agency_member", "csc")
    [row] = audit_rows(engine, "role_changed")
    assert (row.actor_id, row.actor_role) == (None, "system")
    assert len(audit_rows(engine, "user_created")) == len(demo_passwords)
