"""The app for ``sovmap serve --workers N``: uvicorn starts N processes, each of which builds
the app from the settings ``sovmap serve`` put in the environment (``SOVMAP_SERVE``, JSON).
The processes share the store, and with it sessions, tokens and the log-in throttle."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from sovmap.store import Store
from sovmap.store.migrate import database_url
from sovmap.web.app import create_app
from sovmap.web.features import detect_features
from sovmap.web.limits import FORM_BYTES, UPLOAD_BYTES, BodyLimits
from sovmap.web.oidc import load_oidc_settings
from sovmap.web.service import warm

ENV = "SOVMAP_SERVE"
#: Starlette's thread pool for plain (non-async) routes and dependencies: anyio's default
REQUEST_THREADS = 40


@dataclass(frozen=True, slots=True)
class ServeSettings:
    db: str
    secure_cookies: bool | None = None
    register: str | None = None
    scenario_settings: str | None = None
    exit_settings: str | None = None
    form_bytes: int = FORM_BYTES
    upload_bytes: int = UPLOAD_BYTES
    oidc: str | None = None  # OpenID Connect settings file

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    def app(self) -> FastAPI:
        """The app over the store (opened through the store door, already migrated)."""

        def path(v: str | None) -> Path | None:
            return Path(v) if v else None

        # a connection for each request thread (Starlette's pool runs up to 40 at once): with
        # SQLAlchemy's default of 5 (+10), requests under load queued for a connection (domain
        # page p95 at 50 clients: 448 ms with the default, 204 ms with 40, trivial call 120-132);
        # SQLite connections are file handles, a PostgreSQL server counts them (default kept)
        sqlite = database_url(self.db).startswith("sqlite")
        store = Store(self.db, connections=REQUEST_THREADS if sqlite else None)
        engine = store.engine
        app = create_app(
            engine,
            secure_cookies=self.secure_cookies,
            features=detect_features(
                path(self.register),
                scenario_settings=path(self.scenario_settings),
                exit_settings=path(self.exit_settings),
            ),
            limits=BodyLimits(form=self.form_bytes, json=self.form_bytes, upload=self.upload_bytes),
            oidc=load_oidc_settings(Path(self.oidc)) if self.oidc else None,
        )
        # the first requests find the latest scan's aggregates computed, not a cold cache
        threading.Thread(target=_warm, args=(engine, app), daemon=True).start()
        return app


def _warm(engine: Engine, app: FastAPI) -> None:
    t0 = time.monotonic()
    warm(engine, app.state.cache)
    print(f"sovmap: worker {os.getpid()} warm in {time.monotonic() - t0:.0f} s", flush=True)


def app_from_environment() -> FastAPI:
    """uvicorn's factory in each worker process."""
    return ServeSettings(**json.loads(os.environ[ENV])).app()
