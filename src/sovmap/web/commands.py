"""``sovmap serve``, ``sovmap users`` and ``sovmap db``: the web app and its accounts."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sovmap.cli import CommandError
from sovmap.store import Store, migrate
from sovmap.store.migrate import DEFAULT_DB, MigrationError
from sovmap.web.auth import ROLES, AuthError, create_token, create_user, set_password
from sovmap.web.tables import users


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the web app and REST API",
        description="Serve the web app (overview, domains, providers, trends, map, admin) and "
        "the REST API under /api/ with its OpenAPI schema at /openapi.json. The store is "
        "migrated to the newest schema first. Create the first admin with `sovmap users add`. "
        "Example: sovmap serve --db sovmap.db --host 127.0.0.1 --port 8000",
    )
    serve.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--register", type=Path, help="register directory for the cut-off scenario and exit plan"
    )
    serve.add_argument(
        "--scenario-settings", type=Path, help="cut-off scenario settings YAML for the register"
    )
    serve.add_argument(
        "--exit-settings", type=Path, help="exit-plan settings YAML for the register"
    )
    serve.add_argument(
        "--secure-cookies",
        choices=("auto", "always", "never"),
        default="auto",
        help="Secure flag on cookies: auto = when the request came over https "
        "(behind a proxy, also pass --proxy-headers)",
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-Proto/For from --forwarded-allow-ips",
    )
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.set_defaults(func=_serve)

    users = sub.add_parser(
        "users",
        help="manage log-in accounts of the web app",
        description="Manage accounts of the web app. Example: "
        "sovmap users add alice --role admin --db sovmap.db",
    )
    us = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = us.add_parser(
        "add",
        help="add a user (password from SOVMAP_PASSWORD or a prompt)",
        description="Add a user. The password is read from the SOVMAP_PASSWORD environment "
        "variable or prompted for. Example: sovmap users add alice --role admin",
    )
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    add.set_defaults(func=_add)
    pw = us.add_parser(
        "passwd",
        help="set a user's password",
        description="Set a password (from SOVMAP_PASSWORD or a prompt). Example: "
        "sovmap users passwd alice --db sovmap.sqlite",
    )
    pw.add_argument("username")
    pw.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    pw.set_defaults(func=_passwd)
    tok = us.add_parser(
        "token",
        help="create an API token for a user (printed once)",
        description="Create an API token. Example: sovmap users token alice --name ci",
    )
    tok.add_argument("username")
    tok.add_argument("--name", default="cli")
    tok.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    tok.set_defaults(func=_token)

    migrate.register(sub)


def _engine(db: str) -> Any:
    """The store's engine through the one store door (migrated, SQLite or PostgreSQL)."""
    try:
        return Store(db).engine
    except MigrationError as exc:
        raise CommandError(str(exc)) from exc


def _password() -> str:
    pw = os.environ.get("SOVMAP_PASSWORD")
    if pw:
        return pw
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the passwords differ")
    return first


def _add(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    try:
        with engine.begin() as conn:
            create_user(conn, args.username, _password(), args.role)
    except AuthError as exc:
        raise CommandError(str(exc)) from exc
    print(f"added {args.username} ({args.role})")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    try:
        with engine.begin() as conn:
            set_password(conn, args.username, _password())
    except AuthError as exc:
        raise CommandError(str(exc)) from exc
    print(f"password of {args.username} changed")
    return 0


def _token(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    with engine.begin() as conn:
        uid = conn.execute(select(users.c.id).where(users.c.username == args.username)).scalar()
        if uid is None:
            raise CommandError(f"no such user {args.username!r}")
        try:
            print(create_token(conn, int(uid), args.name))
        except AuthError as exc:
            raise CommandError(str(exc)) from exc
    return 0


def _serve(args: argparse.Namespace) -> int:
    # imported here so other sovmap commands do not pay for loading the web stack
    import uvicorn

    from sovmap.web.app import create_app
    from sovmap.web.features import detect_features

    if args.register is not None and not args.register.is_dir():
        raise CommandError(f"--register {args.register}: not a directory")
    for opt in ("scenario_settings", "exit_settings"):
        f = getattr(args, opt)
        if f is not None and not f.is_file():
            raise CommandError(f"--{opt.replace('_', '-')} {f}: no such file")
    engine = _engine(args.db)
    secure = {"auto": None, "always": True, "never": False}[args.secure_cookies]
    app = create_app(
        engine,
        secure_cookies=secure,
        features=detect_features(
            args.register,
            scenario_settings=args.scenario_settings,
            exit_settings=args.exit_settings,
        ),
    )
    print(
        f"sovmap: serving {migrate.database_url(args.db).split('@')[-1]} on "
        f"http://{args.host}:{args.port}/"
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_level="warning",
    )
    return 0
