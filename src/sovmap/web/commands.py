"""``sovmap serve``, ``sovmap users`` and ``sovmap db``: the web app and its accounts."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sovmap import i18n
from sovmap.cli import CommandError
from sovmap.store import Store, migrate
from sovmap.store.migrate import DEFAULT_DB, MigrationError
from sovmap.web.auth import (
    MAX_TOKEN_DAYS,
    ROLES,
    TOKEN_DAYS,
    AuthError,
    Principal,
    check_identity,
    create_token,
    create_user,
    delete_user,
    identities_of,
    link_identity,
    set_disabled,
    set_password,
    set_role,
    unlink_identity,
    user_id,
)
from sovmap.web.limits import FORM_BYTES, UPLOAD_BYTES
from sovmap.web.tables import api_tokens, users


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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (they share the store, sessions and the log-in throttle)",
    )
    serve.add_argument(
        "--worker-timeout",
        type=float,
        default=60.0,
        help="with --workers above 1: seconds without a heartbeat from a worker's event loop "
        "after which it is killed and replaced (default 60)",
    )
    serve.add_argument(
        "--max-form-kib",
        type=int,
        default=FORM_BYTES // 1024,
        help="largest form or JSON request body in KiB, log-in included (larger: 413)",
    )
    serve.add_argument(
        "--max-upload-mib",
        type=int,
        default=UPLOAD_BYTES // (1024 * 1024),
        help="largest request body in MiB on the register pages, which take uploads",
    )
    serve.add_argument(
        "--oidc",
        type=Path,
        help="OpenID Connect sign-in settings YAML (issuer, client, allowed domains, roles)",
    )
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
        help="set a user's password (ends its sessions and tokens)",
        description="Set a password (from SOVMAP_PASSWORD or a prompt); the user's sessions "
        "end and its API tokens are revoked at once. Example: "
        "sovmap users passwd alice --db sovmap.sqlite",
    )
    pw.add_argument("username")
    _db(pw)
    pw.set_defaults(func=_passwd)
    tok = us.add_parser(
        "token",
        help="create an API token for a user (printed once, alone on stdout)",
        description="Create an API token, valid --days days; only the token is printed, so "
        "it can be captured. Example: sovmap users token alice --name ci --days 30",
    )
    tok.add_argument("username")
    tok.add_argument("--name", default="cli")
    tok.add_argument(
        "--days",
        type=int,
        default=TOKEN_DAYS,
        help=f"days until the token expires (1 to {MAX_TOKEN_DAYS}, default {TOKEN_DAYS})",
    )
    _db(tok)
    tok.set_defaults(func=_token)
    for action, text, example in (
        ("disable", "disable a user: its sessions end and its tokens are revoked at once", ""),
        ("enable", "enable a disabled user (it needs new tokens)", ""),
        ("delete", "delete a user with its sessions and tokens", ""),
    ):
        a = us.add_parser(
            action,
            help=text,
            description=f"{text[0].upper()}{text[1:]}; recorded in the audit log. The last "
            f"enabled admin cannot be disabled or deleted. Example: sovmap users {action} "
            f"alice --db sovmap.sqlite{example}",
        )
        a.add_argument("username")
        _db(a)
        a.set_defaults(func=_change, action=action)
    role = us.add_parser(
        "role",
        help="change a user's role",
        description="Change a user's role (viewer, editor, admin); its sessions and tokens "
        "carry the new role from the next request. Example: "
        "sovmap users role alice editor --db sovmap.sqlite",
    )
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    _db(role)
    role.set_defaults(func=_change, action="role")
    for action, text in (
        ("link", "link an OpenID Connect identity (issuer and subject) to a user"),
        ("unlink", "remove the link of an OpenID Connect identity to a user"),
    ):
        ln = us.add_parser(
            action,
            help=text,
            description=f"{text[0].upper()}{text[1:]}; recorded in the audit log. An OIDC "
            "sign-in is the user its (issuer, subject) pair is linked to, never the user "
            "its e-mail address names; the subject of a refused sign-in is in the audit log "
            f"(login.oidc.refused). Example: sovmap users {action} alice@example.nl "
            "--issuer https://login.example.nl/realms/gov --subject 248289761001",
        )
        ln.add_argument("username")
        ln.add_argument("--issuer", required=True, help="the IdP's issuer URL (iss)")
        ln.add_argument("--subject", required=True, help="the identity's subject (sub)")
        _db(ln)
        ln.set_defaults(func=_link, action=action)
    ids = us.add_parser(
        "identities",
        help="list the OpenID Connect identities linked to a user",
        description="List a user's linked OIDC identities: issuer, subject, last e-mail "
        "address seen, linked at, last used. Example: sovmap users identities alice@example.nl",
    )
    ids.add_argument("username")
    _db(ids)
    ids.set_defaults(func=_identities)
    ls = us.add_parser(
        "list",
        help="list users with role, state and number of tokens",
        description="List the users. Example: sovmap users list --db sovmap.sqlite",
    )
    _db(ls)
    ls.set_defaults(func=_list)

    migrate.register(sub)


def _db(parser: Any) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")


def _cli() -> Principal:
    """Who made a change from the command line, for the audit log."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Principal(f"cli:{who}"[:64], "admin", "cli")


def audit(conn: Any, p: Principal, action: str, target: str, detail: dict[str, Any]) -> None:
    """The web app's audit log (imported here: other commands do not load the web stack)."""
    from sovmap.web import deps

    deps.audit(conn, p, action, target, detail)


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
            audit(conn, _cli(), "user.create", args.username, {"role": args.role})
    except AuthError as exc:
        raise CommandError(str(exc)) from exc
    print(f"added {args.username} ({args.role})")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    try:
        with engine.begin() as conn:
            set_password(conn, args.username, _password())
            audit(conn, _cli(), "user.password", args.username, {"by": "cli"})
    except AuthError as exc:
        raise CommandError(str(exc)) from exc
    print(f"password of {args.username} changed; its sessions and tokens ended")
    return 0


def _change(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    detail: dict[str, Any] = {}
    try:
        with engine.begin() as conn:
            if args.action == "role":
                detail = {"old": set_role(conn, args.username, args.role), "new": args.role}
            elif args.action in ("disable", "enable"):
                set_disabled(conn, args.username, args.action == "disable")
            else:
                delete_user(conn, args.username)
            audit(conn, _cli(), f"user.{args.action}", args.username, detail)
    except AuthError as exc:
        raise CommandError(str(exc)) from exc
    done = {"disable": "disabled", "enable": "enabled", "delete": "deleted"}
    print(
        f"{args.username}: " + (f"role {args.role}" if args.action == "role" else done[args.action])
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(api_tokens.c.user_id, func.count()).group_by(api_tokens.c.user_id)
            ).all()
        )
        rows = conn.execute(
            select(users.c.id, users.c.username, users.c.role, users.c.disabled).order_by(
                users.c.username
            )
        ).all()
    for r in rows:
        state = "disabled" if r.disabled else "enabled"
        print(f"{r.username}\t{r.role}\t{state}\t{counts.get(r.id, 0)} tokens")
    return 0


def _link(args: argparse.Namespace) -> int:
    lang = i18n.cli_language()
    engine = _engine(args.db)
    try:
        with engine.begin() as conn:
            if args.action == "link":
                issuer, subject = link_identity(conn, args.username, args.issuer, args.subject)
            else:
                issuer, subject = check_identity(args.issuer, args.subject)
                unlink_identity(conn, args.username, issuer, subject)
            detail = {"issuer": issuer, "sub": subject, "via": "cli"}
            audit(conn, _cli(), f"user.oidc.{args.action}", args.username, detail)
    except AuthError as exc:
        raise CommandError(exc.render(lang)) from exc
    done = "AUTH_OIDC_LINK_DONE" if args.action == "link" else "AUTH_OIDC_UNLINK_DONE"
    print(i18n.t(lang, done, name=args.username, subject=subject, issuer=issuer))
    return 0


def _identities(args: argparse.Namespace) -> int:
    lang = i18n.cli_language()
    engine = _engine(args.db)
    try:
        with engine.connect() as conn:
            rows = identities_of(conn, args.username)
    except AuthError as exc:
        raise CommandError(exc.render(lang)) from exc
    if not rows:
        print(i18n.t(lang, "AUTH_OIDC_NO_LINKS", name=args.username))
    for r in rows:
        print("\t".join(r[k] or "-" for k in ("issuer", "subject", "email")), end="\t")
        print(f"{r['created_at']}\t{r['last_used_at'] or '-'}")
    return 0


def _token(args: argparse.Namespace) -> int:
    engine = _engine(args.db)
    try:
        with engine.begin() as conn:
            uid = user_id(conn, args.username)
            disabled = conn.execute(select(users.c.disabled).where(users.c.id == uid)).scalar()
            if disabled:
                raise AuthError("AUTH_DISABLED_TOKEN", name=repr(args.username))
            token = create_token(conn, uid, args.name, args.days)
            audit(
                conn, _cli(), "token.create", args.username, {"name": args.name, "days": args.days}
            )
    except AuthError as exc:
        raise CommandError(str(exc)) from exc
    print(token)  # alone on stdout, so scripts can capture it
    return 0


def _serve(args: argparse.Namespace) -> int:
    # imported here so other sovmap commands do not pay for loading the web stack
    import uvicorn

    from sovmap.web.workers import ServeError, ServeSettings, Supervisor, listening_socket

    lang = i18n.cli_language()

    def refuse(code: str, **params: Any) -> CommandError:
        return CommandError(i18n.t(lang, code, **params))

    if args.register is not None and not args.register.is_dir():
        raise refuse("SERVE_NOT_A_DIRECTORY", option="--register", path=str(args.register))
    for opt in ("scenario_settings", "exit_settings"):
        f = getattr(args, opt)
        if f is not None and not f.is_file():
            raise refuse("SERVE_NO_FILE", option=f"--{opt.replace('_', '-')}", path=str(f))
    if args.oidc is not None:
        from sovmap.web.oidc import load_oidc_settings

        load_oidc_settings(args.oidc)  # a bad file stops here, before any worker starts
    if not 1 <= args.workers <= 64:
        raise refuse("SERVE_RANGE", option="--workers", value=str(args.workers), low=1, high=64)
    if not 2 <= args.worker_timeout <= 3600:
        raise refuse(
            "SERVE_RANGE", option="--worker-timeout", value=f"{args.worker_timeout:g}", low=2,
            high=3600,
        )  # fmt: skip
    for opt in ("max_form_kib", "max_upload_mib"):
        if not 1 <= getattr(args, opt) <= 1024:
            value = str(getattr(args, opt))
            raise refuse("SERVE_RANGE", option=f"--{opt.replace('_', '-')}", value=value, low=1,
                         high=1024)  # fmt: skip
    _engine(args.db).dispose()  # migrate once, before any worker starts
    settings = ServeSettings(
        db=args.db,
        secure_cookies={"auto": None, "always": True, "never": False}[args.secure_cookies],
        register=str(args.register) if args.register else None,
        scenario_settings=str(args.scenario_settings) if args.scenario_settings else None,
        exit_settings=str(args.exit_settings) if args.exit_settings else None,
        form_bytes=args.max_form_kib * 1024,
        upload_bytes=args.max_upload_mib * 1024 * 1024,
        oidc=str(args.oidc) if args.oidc else None,
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "proxy_headers": args.proxy_headers,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "log_level": "warning",
    }
    where = migrate.database_url(args.db).split("@")[-1]
    host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address in a URL
    if args.workers == 1:
        print(i18n.t(lang, "SERVE_SERVING", store=where, url=f"http://{host}:{args.port}/"),
              flush=True)  # fmt: skip
        uvicorn.run(settings.app(), **common)
        return 0
    # bound here, so a taken port fails before any worker starts
    try:
        sock = listening_socket(args.host, args.port, lang)
    except ServeError as exc:
        raise CommandError(str(exc)) from exc
    port = sock.getsockname()[1]
    url = f"http://{host}:{port}/"
    print(i18n.t(lang, "SERVE_SERVING_WORKERS", store=where, url=url, n=args.workers), flush=True)
    try:
        Supervisor(
            settings, sock, args.workers, {**common, "port": port}, args.worker_timeout, lang=lang
        ).run()
    except ServeError as exc:
        raise CommandError(str(exc)) from exc
    return 0
