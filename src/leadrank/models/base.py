from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from sqlalchemy import JSON, DateTime, MetaData, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from leadrank.db import json_dumps

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class JSONDocumentType(TypeDecorator):
    """A JSON document kept as plain text: written often, read whole, never queried inside.

    Storing JSONB parses and re-encodes every document (~1.8x slower writes of explanations);
    even PostgreSQL's ``json`` type parses each one to validate it: 32 µs of the server's CPU
    for a 4.6 KB explanation, three quarters of its cost to store (a million leads' reasons:
    half a minute). leadrank writes these documents itself, with orjson, so they are valid.
    Reading one back is one ``orjson.loads``. A query that looks inside casts it
    (``leadrank.customize.repository``)."""

    impl = Text
    cache_ok = True
    stores_json = True  # leadrank.bulk writes dicts as JSON text, JSONTexts as they are

    @property
    def python_type(self) -> type:
        return dict

    def process_bind_param(self, value, dialect):  # noqa: ANN001, ANN201
        return None if value is None else json_dumps(value)

    def process_result_value(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None or not isinstance(value, (str, bytes)):
            return value  # None, or a value an older json column handed back parsed
        return orjson.loads(value)


JSONDocument = JSONDocumentType()


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None:
            return None
        # Store UTC: SQLite keeps only the wall-clock fields, so 10:00+02:00 must become 08:00.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value, dialect):  # noqa: ANN001, ANN201
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
