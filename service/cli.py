"""The `rapid-review` command: dev, api, worker, db upgrade, users (add, disable, enable, reset-password,
set-role), replay-check, routes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys

from service.platform.logs import configure_logging
from service.platform.settings import Settings, SettingsError, load_settings

EMBEDDED_NOTE = (
    "Every case's workflow is kept in {db} and the service's records in {records}: a stop, a crash or a "
    "restart loses nothing. Back up the whole {var} directory together (stopped), never one file of it. "
    "Set TEMPORAL_ADDRESS to use a Temporal cluster instead."
)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        sys.exit(f"rapid-review: cannot start: {exc}")


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything in one process tree on the embedded default."""
    from service.platform.runner import (
        EMBEDDED_RETENTION,
        prepare_database,
        serve_parts,
        start_embedded_temporal,
        stop_process,
    )

    os.umask(0o077)  # the databases, documents and logs under var/ hold case data: this user only
    settings = _settings()
    if settings.is_production:
        sys.exit("rapid-review: `dev` refuses to run with RAPID_REVIEW_MODE=production")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.var_dir.chmod(0o700)
    prepare_database(settings)
    credentials = _demo_credentials(settings)

    temporal = None
    if not settings.temporal_address and settings.temporal_security.tls:
        sys.exit("rapid-review: TEMPORAL_TLS*/TEMPORAL_API_KEY* need TEMPORAL_ADDRESS (the embedded engine listens on "
                 "loopback without TLS)")
    if not settings.temporal_address:
        temporal, address = start_embedded_temporal(settings.var_dir)
        settings = settings.model_copy(update={"temporal_address": address})
        print(f"Embedded Temporal dev server on {address} (loopback only; namespace {settings.temporal_namespace!r}, "
              f"closed cases kept {EMBEDDED_RETENTION.days} days, then served from the history archive).")
        print(EMBEDDED_NOTE.format(db=settings.var_dir / "temporal.db", var=settings.var_dir,
                                   records=settings.sqlalchemy_url.split("@")[-1]))
    else:
        print(f"Using the Temporal server at {settings.temporal_address} (TEMPORAL_ADDRESS).")
    url = f"http://{settings.api_host}:{settings.api_port}"
    print(f"Database: {settings.sqlalchemy_url}")
    print("Demo sign-ins (username / password), also in var/demo-credentials.txt:")
    for username, password in credentials.items():
        print(f"  {username:20} {password}")
    print(f"Open {url}/ (pages), {url}/docs (API), {url}/readyz (readiness). Ctrl-C stops everything.")
    try:
        asyncio.run(serve_parts(settings, api=True, worker=True, scheduler=True, embedded_engine=temporal is not None))
    except KeyboardInterrupt:
        pass
    finally:
        stop_process(temporal)
    print("Stopped.")
    return 0


def _demo_credentials(settings: Settings) -> dict[str, str]:
    """Create the demo users on first run; afterwards read back the passwords kept for the developer."""
    import json

    from records.db import engine_for, session_scope
    from records.models import User
    from service.accounts.users import create_demo_users

    path = settings.var_dir / "demo-credentials.txt"
    engine = engine_for(settings.sqlalchemy_url)
    with session_scope(engine) as session:
        has_users = session.exec(User.__table__.select().limit(1)).first() is not None
        if not has_users:
            credentials = create_demo_users(session, settings.audit_key_bytes)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(credentials, handle, indent=1)
            return credentials
    return json.loads(path.read_text()) if path.exists() else {}


def cmd_api(args: argparse.Namespace) -> int:
    from service.platform.api_processes import default_api_processes, shared_socket, start_siblings
    from service.platform.runner import serve_parts, stop_process

    settings = _settings()
    processes = 1 if args.sibling else settings.api_workers or default_api_processes()
    sock = shared_socket(settings.api_host, settings.api_port) if processes > 1 or args.sibling else None
    siblings = start_siblings("service.cli", ["api", "--no-scheduler", "--sibling"], processes - 1)
    try:
        asyncio.run(serve_parts(settings, api=True, worker=False, scheduler=not (args.no_scheduler or args.sibling),
                                api_socket=sock))
    finally:
        for sibling in siblings:
            stop_process(sibling)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from service.platform.runner import serve_parts

    settings = _settings()
    asyncio.run(serve_parts(settings, api=False, worker=True, scheduler=False))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from service.platform.runner import prepare_database

    settings = _settings()
    prepare_database(settings)
    print(f"Database is at the newest schema: {settings.sqlalchemy_url.split('@')[-1]}")
    return 0


def _new_password(username: str) -> str:
    return os.environ.get("RAPID_REVIEW_NEW_PASSWORD") or getpass.getpass(f"New password for {username}: ")


def cmd_users_add(args: argparse.Namespace) -> int:
    from records.db import engine_for, session_scope
    from service.accounts.users import AccountError, create_user

    settings = _settings()
    password = _new_password(args.username)
    try:
        with session_scope(engine_for(settings.sqlalchemy_url)) as session:
            user = create_user(
                session,
                username=args.username,
                full_name=args.full_name,
                email=args.email,
                role=args.role,
                password=password,
                agency=args.agency,
                seat=args.seat,
                audit_key=settings.audit_key_bytes,
            )
            print(f"Created user {user.username} ({user.role}) with id {user.id}")
    except AccountError as exc:
        print(f"rapid-review: user not created: {exc}", file=sys.stderr)
        return 2
    return 0


def _change_user(args: argparse.Namespace, change) -> int:
    """Apply one change to the named user as the service (audited with no person as the actor)."""
    from records.db import engine_for, session_scope
    from service.accounts.users import AccountError, find_user

    settings = _settings()
    try:
        with session_scope(engine_for(settings.sqlalchemy_url)) as session:
            user = find_user(session, args.username)
            print(change(session, user, settings.audit_key_bytes))
    except AccountError as exc:
        print(f"rapid-review: user not changed: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from service.accounts.users import set_active

    def disable(session, user, audit_key: bytes) -> str:
        set_active(session, user=user, active=False, by=None, audit_key=audit_key)
        return f"Disabled {user.username}; every session of theirs has ended"

    return _change_user(args, disable)


def cmd_users_enable(args: argparse.Namespace) -> int:
    from service.accounts.users import set_active

    def enable(session, user, audit_key: bytes) -> str:
        set_active(session, user=user, active=True, by=None, audit_key=audit_key)
        return f"Enabled {user.username}"

    return _change_user(args, enable)


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    from service.accounts.users import AccountError, new_password_hash, set_password

    try:
        hashed = new_password_hash(_new_password(args.username))  # Argon2 before the transaction
    except AccountError as exc:
        print(f"rapid-review: password not changed: {exc}", file=sys.stderr)
        return 2

    def reset(session, user, audit_key: bytes) -> str:
        ended = set_password(session, user=user, hashed=hashed, by=None,
                             audit_key=audit_key)
        return f"New password set for {user.username}; {ended} session(s) ended"

    return _change_user(args, reset)


def cmd_users_set_role(args: argparse.Namespace) -> int:
    from service.accounts.users import set_role

    def change(session, user, audit_key: bytes) -> str:
        set_role(session, user=user, role=args.role, agency=args.agency, seat=args.seat, by=None,
                 audit_key=audit_key)
        return f"{user.username} is now {user.role}" + "".join(f", {v}" for v in (user.agency, user.seat) if v)

    return _change_user(args, change)


def cmd_replay_check(args: argparse.Namespace) -> int:
    """Exit 1 if any running case (archived history) or stored history would replay differently."""
    from pathlib import Path

    from records.db import engine_for
    from service.platform.replay_check import replay_check

    settings = _settings()
    engine = None if args.no_archive else engine_for(settings.sqlalchemy_url)
    directories = [Path(d) for d in args.histories]
    missing = [str(d) for d in directories if not d.is_dir()]
    if missing:
        print(f"rapid-review: no such history directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    outcomes = asyncio.run(replay_check(settings, engine, directories))
    failed = [o for o in outcomes if o.failure]
    for outcome in outcomes:
        print(f"{'FAILED' if outcome.failure else 'ok':6} {outcome.workflow_id} ({outcome.source})"
              + (f": {outcome.failure}" if outcome.failure else ""))
    print(f"{len(outcomes)} histories replayed against this build, {len(failed)} failed"
          + (": do not let this build take traffic" if failed else ""))
    return _exit_past_temporal_threads(1 if failed else 0, engine)


def _exit_past_temporal_threads(code: int, engine) -> int:
    """End the process once everything is said and closed, without the interpreter's finalisation: the Temporal
    core's own threads (left by the replayer) can call into Python while it finalises and abort the process
    ("PyGILState_Release", exit -6), which would turn a passing check into a failed deploy step."""
    if engine is not None:
        engine.dispose()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
def cmd_users_link_identity(args: argparse.Namespace) -> int:
    from service.accounts.identities import link_identity

    def link(session, user, audit_key: bytes) -> str:
        link_identity(session, settings=_settings(), username=user.username, issuer=args.issuer,
                      subject=args.subject, by=None, audit_key=audit_key)
        return f"{user.username} may now sign in with {args.issuer}"

    return _change_user(args, link)


def cmd_users_unlink_identity(args: argparse.Namespace) -> int:
    from service.accounts.identities import unlink_identity

    def unlink(session, user, audit_key: bytes) -> str:
        count = unlink_identity(session, username=user.username, issuer=args.issuer, by=None, audit_key=audit_key)
        return f"{count} identity link(s) of {user.username} at {args.issuer} removed"

    return _change_user(args, unlink)


def cmd_users_reset_mfa(args: argparse.Namespace) -> int:
    from service.accounts.mfa import reset_mfa

    def reset(session, user, audit_key: bytes) -> str:
        reset_mfa(session, user=user, by=None, audit_key=audit_key)
        return f"{user.username}'s authenticator and recovery codes are removed; they enrol again at next sign-in"

    return _change_user(args, reset)


def cmd_routes(args: argparse.Namespace) -> int:
    from service.api.routes import route_table_markdown
    from service.app import create_app

    print(route_table_markdown(create_app(_settings())))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapid-review", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run everything locally (embedded Temporal, SQLite in ./var)").set_defaults(
        func=cmd_dev
    )
    api = sub.add_parser("api", help="run the API and web pages (and the scheduler)")
    api.add_argument("--no-scheduler", action="store_true", help="do not run the periodic jobs here")
    api.add_argument("--sibling", action="store_true", help=argparse.SUPPRESS)  # started by the first API process
    api.set_defaults(func=cmd_api)
    sub.add_parser("worker", help="run the Temporal worker").set_defaults(func=cmd_worker)
    db = sub.add_parser("db", help="database commands").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db_upgrade)
    users = sub.add_parser("users", help="user commands").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create a user (password from RAPID_REVIEW_NEW_PASSWORD or a prompt)")
    add.add_argument("username")
    add.add_argument("--full-name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True)
    add.add_argument("--agency")
    add.add_argument("--seat")
    add.set_defaults(func=cmd_users_add)
    for name, func, what in (("disable", cmd_users_disable, "disable a user: every session of theirs ends"),
                             ("enable", cmd_users_enable, "enable a disabled user"),
                             ("reset-password", cmd_users_reset_password,
                              "set a new password (from RAPID_REVIEW_NEW_PASSWORD or a prompt); sessions end"),
                             ("reset-mfa", cmd_users_reset_mfa,
                              "remove a user's authenticator and recovery codes; sessions end")):
        command = users.add_parser(name, help=what)
        command.add_argument("username")
        command.set_defaults(func=func)
    set_role = users.add_parser("set-role", help="change a user's role (and agency or seat)")
    set_role.add_argument("username")
    set_role.add_argument("--role", required=True)
    set_role.add_argument("--agency")
    set_role.add_argument("--seat")
    set_role.set_defaults(func=cmd_users_set_role)
    replay = sub.add_parser("replay-check", help="replay the running cases' archived histories (and stored "
                            "history files) against this build; exit 1 on any non-determinism")
    replay.add_argument("--histories", action="append", default=[], metavar="DIR",
                        help="also replay the <name>--<workflow id>.json files here (repeatable)")
    replay.add_argument("--no-archive", action="store_true", help="skip the database's archived histories")
    replay.set_defaults(func=cmd_replay_check)
    for name, func, what in (("link-identity", cmd_users_link_identity,
                              "let a user sign in with a partner's issuer (OIDC_ISSUERS) by its subject"),
                             ("unlink-identity", cmd_users_unlink_identity, "remove a user's links at an issuer")):
        command = users.add_parser(name, help=what)
        command.add_argument("username")
        command.add_argument("--issuer", required=True, help="the issuer's name in OIDC_ISSUERS")
        if name == "link-identity":
            command.add_argument("--subject", required=True, help="the person's stable id at the issuer (sub)")
        command.set_defaults(func=func)
    sub.add_parser("routes", help="print the API's route table with the roles each route allows").set_defaults(
        func=cmd_routes
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
