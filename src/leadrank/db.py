"""Engine and sessions. The transaction belongs to the request or the job (``session_scope``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from leadrank.config import Settings, get_settings


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    # WAL lets the list be read while a job writes; NORMAL sync is durable at checkpoint
    # and is SQLite's recommended pairing with WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


class JSONTexts(list):
    """A column of texts that already are JSON documents (built without the dicts they
    encode): the bulk writers store them as they are. Marked once for the column, not per
    value (wrapping every text of a 10,000-lead chunk cost as much as writing it)."""

    __slots__ = ()


def json_dumps(value: object) -> str:
    """JSON columns are written with orjson: explanations make score writes JSON-heavy, and
    orjson encodes them several times faster than the standard library."""
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.ensure_dirs()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=json_dumps)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, json_serializer=json_dumps)
    event.listen(engine, "checkin", _mark_checkin)
    event.listen(engine, "checkout", lambda conn, record, _proxy: _ping_if_idle(engine, conn, record))
    return engine


# A pooled connection idle this long is tested before use (pool_pre_ping tested every one:
# a round trip and ~6% of the list endpoint's CPU). One used moments ago is taken as alive;
# if the server restarted meanwhile, that one request fails and SQLAlchemy discards the
# pool's older connections with it.
PING_AFTER_IDLE_S = 10.0


def _mark_checkin(_dbapi_conn, record) -> None:  # noqa: ANN001 - DB-API connection, pool record
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_conn, record) -> None:  # noqa: ANN001
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return  # new, or used moments ago
    try:
        alive = engine.dialect.do_ping(dbapi_conn)
    except Exception:  # noqa: BLE001 - any failure means: do not hand this connection out
        alive = False
    if not alive:
        raise DisconnectionError("the pooled connection was closed by the server")  # the pool connects anew


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings())


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_caches() -> None:
    """Forget the engine (tests switch databases between runs)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
