"""Every query on leads and activities lives here."""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import (Connection, Engine, Integer, Select, Text, and_, bindparam, delete, func, literal_column, or_,
                        select, text, tuple_, union_all, update)
from sqlalchemy.orm import Session, selectinload

from leadrank.bulk import bulk_insert, bulk_insert_columns, bulk_update
from leadrank.errors import InvalidInput
from leadrank.leads.filters import SORTABLE, LeadFilters, LeadSort
from leadrank.models import LEAD_FIELDS, Activity, Lead, LeadExplanation, ScoreHistory

# Columns an upsert may write (everything a user supplies; never score or override fields).
UPSERT_COLUMNS = (
    "external_id", "first_name", "last_name", "email", "phone", "company_name", "job_title",
    "industry", "company_size", "annual_revenue", "location", "country", "website", "lead_source",
    "campaign", "description", "outcome", "outcome_date", "last_activity_date",
)
KEY_BATCH = 2000  # keeps IN (...) lists well under SQLite's bound-parameter limit
# Values per key lookup on PostgreSQL (an upload chunk's keys): a statement estimated much
# costlier than that is JIT-compiled, which costs more than it saves here.
KEY_LOOKUP_BATCH = 20_000

# What a row of the list shows: every field but the explanation (2-10 KB a lead, of which a
# row shows one sentence, or the insights). Core columns, not ORM entities: no identity map,
# no per-object bookkeeping.
LIST_COLUMNS = ("id", *LEAD_FIELDS, "custom", "updated_at", "score", "sort_score", "conversion_probability", "grade",
                "grade_override", "override_reason", "score_kind", "model_version_id", "scored_at")
# Sorts on columns that always have a value; the others put unknown values last.
NOT_NULL_SORTS = ("sort_score", "created_at")
DATETIME_SORTS = ("created_at", "last_activity_date")
NUMERIC_SORTS = ("sort_score", "company_size")
# The text ``q=`` searches on PostgreSQL: the four fields, lowered, one space between them, a
# column PostgreSQL computes as it stores a lead (migration 0004). The trigram index and the
# score index carry it, so a search reads neither the table nor lower() per row.
SEARCH_TEXT = literal_column("leads.search_text", Text)
# A search on PostgreSQL (LeadRepository._search) first walks the list in its own order and
# keeps the matches: this many rows, then, when the matches seen promise a page, as far as a
# page should take, at most SEARCH_WALK_MAX rows. Past that the trigram index reads every match.
# Both cost about the same per row read (~3 µs at 1M leads), so a term that fills a page within
# 10,000 rows (one lead in 200 or more) is cheaper walked, and a rarer one read from the index.
SEARCH_WALK_FIRST = 500
SEARCH_WALK_MAX = 10_000
# A walk of the score order with no filter but a minimum score reads the score index alone
# (it carries the search text): ~0.3 µs a row, a tenth of a read through the trigram index.
# It samples more rows first and goes ten times as far for the same cost.
INDEX_ONLY_WALK_FIRST = 2_000
INDEX_ONLY_WALK_MAX = 30_000
INDEX_ONLY_FILTERS = frozenset({"ws", "q", "q_index", "q_text", "min_score"})
SEARCH_WALK_MARGIN = 1.5  # the first rows are a small sample; a walk stops anyway once the page is full
SEARCH_WALK_ALL = 2**62  # no bound: the walk ends with the page or the list
SEARCH_COLUMNS = ("first_name", "last_name", "email", "company_name")
# pg_trgm reads a LIKE term's trigrams from runs of letters and digits: a term without three in
# a row ("12", "o'b") gives the index nothing to look up, so it would read every lead. (Tested on
# the LIKE pattern: its escapes are not letters or digits.)
TRIGRAM_TERM = re.compile(r"[^\W_]{3}")
TRIGRAM_INDEX = "ix_leads_search_trgm"  # migration 0002; absent where pg_trgm may not be created
_trigram_indexes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


WORD = re.compile(r"[^\W_]+")
# The shortest email local part the trigram index looks up instead of the whole address.
LOCAL_PART_MIN = 6


def selective_part(term: str) -> str | None:
    """A part of a (lowered) search term for the trigram index to look up instead of the
    whole term, or None. The index reads the list of leads of every trigram of the pattern,
    and the common ones cost the most: for one lead's email at hotmail.com, "com", "mai" and
    "hot" made the lookup 9 ms of a 1M workspace; "sato287" alone took 0.6 ms. Each lead
    the whole term matches contains the part, so the part finds all of them, and the whole
    term is then checked on each. The part: an email's local part (before "@", when it has
    at least six letters or digits: "ceo" would be commoner than the domain), and within it
    (or the term) the longest word of four characters or more with a digit in it (a number
    in an email or a name is rare)."""
    part = term
    local, at, _ = term.partition("@")
    if at and sum(map(len, WORD.findall(local))) >= LOCAL_PART_MIN:
        part = local
    numbered = [w for w in WORD.findall(part) if len(w) >= 4 and any(c.isdigit() for c in w)]
    if numbered:
        part = max(numbered, key=len)
    return part if part != term and TRIGRAM_TERM.search(part) else None


def like_pattern(term: str) -> str:
    """``%term%`` for ``LIKE … ESCAPE '/'``: the term's own ``%`` and ``_`` match themselves."""
    return "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def encode_cursor(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(payload, dict):
            raise ValueError
        return payload
    except (ValueError, json.JSONDecodeError):
        raise InvalidInput("cursor is not valid; use the next_cursor of a previous page") from None


def _lead_select() -> Select:
    return select(Lead).options(selectinload(Lead.explained))


@functools.cache
def _row_select(insights: bool, explain: bool) -> Select:
    """What :meth:`LeadRepository.list_rows` selects (built once: it never changes)."""
    table, reasons = Lead.__table__, LeadExplanation.__table__
    # With the insights (the API), custom attributes come as JSON text, passed through.
    columns = [table.c[name] for name in LIST_COLUMNS if not (insights and name == "custom")]
    columns.append(reasons.c.top_reason)
    if insights:
        columns += [reasons.c.insights, literal_column("CAST(leads.custom AS TEXT)", Text).label("custom_json"),
                    (literal_column("CAST(lead_explanations.explanation AS TEXT)", Text) if explain
                     else literal_column("NULL", Text)).label("explanation")]
    return select(*columns).select_from(table.outerjoin(reasons, and_(
        reasons.c.lead_id == table.c.id, reasons.c.scored_at == table.c.scored_at)))


def leads_by_key(session: Session, workspace_id: uuid.UUID, column: str, values: Sequence[str],
                 selected: Sequence[str]) -> list:
    """``(column, *selected)`` of the workspace's leads whose ``column`` (the dedupe key, the
    email, the external id: each the second column of an index that starts with the
    workspace) is one of ``values``.

    On PostgreSQL each value is looked up in that index, whatever the planner's statistics
    say. Given ``workspace_id = X AND key = ANY(values)``, the planner trusts statistics that
    may predate the workspace: a big upload into a new one is not in them until it ends. It
    took the workspace for one row and read every lead of it for each chunk's lookup, a cost
    quadratic in the upload (58 s of a million-lead upload). Here each value is a lookup of
    its own (a lateral subquery, kept apart by ``OFFSET 0``), and the workspace a value the
    planner cannot see (a one-row subquery): against an average workspace, the index is the
    cheaper way to find one value. SQLite takes the values in batches of bound parameters."""
    table = Lead.__table__
    names = [column, *selected]
    missing = [n for n in names if n not in table.c]
    if missing:
        raise ValueError(f"leads has no column {missing[0]!r}")
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return [row for start in range(0, len(values), KEY_BATCH) for row in session.execute(
            select(*(table.c[n] for n in names)).where(
                table.c.workspace_id == workspace_id, table.c[column].in_(values[start:start + KEY_BATCH])))]
    sql = text(
        f"SELECT {', '.join(f'l.{n}' for n in names)} FROM unnest(CAST(:values AS text[])) AS k(value) "
        f"CROSS JOIN LATERAL (SELECT {', '.join(names)} FROM leads "
        f"WHERE workspace_id = (SELECT CAST(:ws AS uuid)) AND {column} = k.value OFFSET 0) AS l")
    return [row for start in range(0, len(values), KEY_LOOKUP_BATCH) for row in session.execute(
        sql, {"values": values[start:start + KEY_LOOKUP_BATCH], "ws": workspace_id})]


def _search_match(c, term):  # noqa: ANN001, ANN202 - columns of leads or of a subquery of them
    """The term inside the email, the company, the full name or the last name."""
    return or_(
        func.lower(c.email).like(term, escape="/"),
        func.lower(c.company_name).like(term, escape="/"),
        func.lower(func.coalesce(c.first_name, "") + " " + func.coalesce(c.last_name, "")).like(term, escape="/"),
        func.lower(c.last_name).like(term, escape="/"),
    )


def _spans_fields(pattern: str) -> bool:
    """Whether a ``q=`` pattern could match the search text across two fields. The fields are
    joined by a space, so a term without one matches the text exactly when it matches a
    field, and the search text alone decides; with a space the fields are tested too."""
    return " " in pattern


def _trigram_index(connection: Connection) -> bool:
    """Whether the database has the search's trigram index (looked up once per engine)."""
    engine = connection.engine
    found = _trigram_indexes.get(engine)
    if found is None:
        found = _trigram_indexes[engine] = connection.execute(
            text("SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": TRIGRAM_INDEX}).first() is not None
    return found


def _unique(columns: Iterable) -> list:
    return list({c.key: c for c in columns}.values())


def _page_size(n: int):  # noqa: ANN202
    """LIMIT n, written into the statement when it runs: a prepared statement's generic plan
    for an unknown limit gives up the index walk that stops after one page."""
    return bindparam("n", n, type_=Integer, literal_execute=True)


# The list's statements by shape (see LeadRepository._page), shared by the process's threads.
_STATEMENTS: dict[tuple, Select] = {}
_STATEMENTS_MAX = 1024


def _statement(shape: tuple, build: Callable[[], Select]) -> Select:
    stmt = _STATEMENTS.get(shape)
    if stmt is None:
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        stmt = _STATEMENTS[shape] = build()
    return stmt


class LeadRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- reads --------------------------------------------------------------------------
    def get(self, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> Lead | None:
        return self.session.scalars(
            select(Lead).where(Lead.id == lead_id, Lead.workspace_id == workspace_id)
        ).first()

    def get_many(self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> list[Lead]:
        out: list[Lead] = []
        for start in range(0, len(lead_ids), KEY_BATCH):
            batch = lead_ids[start:start + KEY_BATCH]
            out.extend(self.session.scalars(
                select(Lead).where(Lead.workspace_id == workspace_id, Lead.id.in_(batch))
            ))
        return out

    def _filtered(self, stmt: Select, workspace_id: uuid.UUID, f: LeadFilters) -> Select:
        return stmt.where(*self._filter_clauses(self._filter_values(workspace_id, f), postgres=self._postgres))

    def _filter_values(self, workspace_id: uuid.UUID, f: LeadFilters) -> dict[str, object]:
        """The values of the filters that are set, by the name :meth:`_filter_clauses` binds
        each under. Which names are there is the shape of the statement; the values vary."""
        values: dict[str, object] = {"ws": workspace_id}
        if f.industry:
            values["industry"] = list(f.industry)
        if f.lead_source:
            values["lead_source"] = list(f.lead_source)
        if f.grade:
            values["grade"] = sorted({g.upper() for g in f.grade})
        if f.outcome:
            values["outcome"] = list(f.outcome)
        if f.company_size_min is not None:
            values["size_min"] = f.company_size_min
        if f.company_size_max is not None:
            values["size_max"] = f.company_size_max
        if f.job_title:
            values["job_title"] = like_pattern(f.job_title.lower())
        for name in ("min_score", "max_score"):
            score = getattr(f, name)
            if score is not None:
                if not math.isfinite(score):
                    raise InvalidInput(f"{name} must be a number between 0 and 100")
                values[name] = score
        if f.created_from is not None:
            values["created_from"] = f.created_from
        if f.created_to is not None:
            values["created_to"] = f.created_to
        if f.q:
            term = f.q.strip().lower()
            values["q"] = like_pattern(term)
            if _spans_fields(values["q"]):  # a marker, not a value: part of the statement's shape
                values["q_spans_fields"] = True
            part = selective_part(term) if self._postgres else None
            if part is not None:  # the trigram index looks up the part only
                values["q_index"], values["q_text"] = like_pattern(part), term
        return values

    @staticmethod
    def _filter_clauses(values: dict[str, object], *, postgres: bool) -> list:
        """The WHERE clauses of :meth:`_filter_values`, each value bound under its name (so
        that a statement built once runs again with other values: see :meth:`_page`).

        On PostgreSQL the values are written into the SQL when it runs: psycopg prepares a
        statement run five times, and PostgreSQL may then plan it once for any values. For
        the list such a generic plan is often wrong: for industry + a size range it walked
        the size index and sorted (46 ms instead of 0.5 ms); for a search it would take the
        trigram index for any term, and a common one ("an", "com") would then read every
        lead, where walking the score index finds a page of matches at once."""
        def bound(name: str, column, **kw):  # noqa: ANN001, ANN003, ANN202
            return bindparam(name, values[name], type_=column.type, literal_execute=postgres, **kw)

        clauses = [Lead.workspace_id == bound("ws", Lead.workspace_id)]
        for name in ("industry", "lead_source", "outcome"):
            if name in values:
                column = getattr(Lead, name)
                clauses.append(column.in_(bound(name, column, expanding=True)))
        if "grade" in values:
            grades = bound("grade", Lead.grade, expanding=True)
            clauses.append(or_(Lead.grade_override.in_(grades),
                               and_(Lead.grade_override.is_(None), Lead.grade.in_(grades))))
        if "size_min" in values:
            clauses.append(Lead.company_size >= bound("size_min", Lead.company_size))
        if "size_max" in values:
            clauses.append(Lead.company_size <= bound("size_max", Lead.company_size))
        if "job_title" in values:
            clauses.append(func.lower(Lead.job_title).like(bound("job_title", Lead.job_title), escape="/"))
        if "min_score" in values:
            clauses.append(Lead.sort_score >= bound("min_score", Lead.sort_score))
        if "max_score" in values:
            clauses.append(Lead.score <= bound("max_score", Lead.score))
        if "created_from" in values:
            clauses.append(Lead.created_at >= bound("created_from", Lead.created_at))
        if "created_to" in values:
            clauses.append(Lead.created_at <= bound("created_to", Lead.created_at))
        if "q" in values:
            term = bound("q", Lead.email)
            if postgres and "q_index" in values:
                # The index looks up a selective part of the term (see selective_part); the
                # whole term is checked on the leads it finds, by a test the index cannot take.
                clauses.append(SEARCH_TEXT.like(bound("q_index", Lead.email), escape="/"))
                clauses.append(func.strpos(SEARCH_TEXT, bound("q_text", Lead.email)) > 0)
            elif postgres:
                # Answered by the trigram index (migrations 0002, 0004): a rare term does not
                # read every lead of the workspace.
                clauses.append(SEARCH_TEXT.like(term, escape="/"))
            if not postgres or "q_spans_fields" in values:
                clauses.append(_search_match(Lead, term))
        return clauses

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def workspace_total(self, workspace_id: uuid.UUID) -> int | None:
        """The workspace's number of leads as this transaction sees it, from the changes the
        triggers of migration 0005 record (PostgreSQL; None elsewhere: count instead)."""
        if not self._postgres:
            return None
        return int(self.session.scalar(text("SELECT coalesce(sum(leads), 0) FROM lead_counts WHERE workspace_id = :ws"),
                                       {"ws": workspace_id}))

    def compact_counts(self, workspace_id: uuid.UUID) -> None:
        """Fold the workspace's recorded changes into one row (each upload chunk adds one).
        Rows a concurrent transaction adds meanwhile are left for the next time."""
        if self._postgres:
            self.session.execute(text(
                "WITH gone AS (DELETE FROM lead_counts WHERE workspace_id = :ws RETURNING leads) "
                "INSERT INTO lead_counts (workspace_id, leads) SELECT :ws, sum(leads) FROM gone HAVING count(*) > 0"),
                {"ws": workspace_id})

    def count(self, workspace_id: uuid.UUID, f: LeadFilters | None = None) -> int:
        stmt = self._filtered(select(func.count()).select_from(Lead), workspace_id, f or LeadFilters())
        return self.session.scalar(stmt) or 0

    def count_up_to(self, workspace_id: uuid.UUID, f: LeadFilters | None, cap: int) -> int:
        """The number of matching leads, counting no further than ``cap + 1`` (a bounded
        walk: ``cap + 1`` means "more than ``cap``")."""
        inner = self._filtered(select(Lead.id), workspace_id, f or LeadFilters()).limit(cap + 1).subquery()
        return self.session.scalar(select(func.count()).select_from(inner)) or 0

    def page(self, workspace_id: uuid.UUID, f: LeadFilters, sort: LeadSort, *, limit: int,
             cursor: str | None = None) -> tuple[list[Lead], str | None]:
        """One page of the list as ORM leads (exports; every column, the explanation included)."""
        return self._page(("leads",), _lead_select, workspace_id, f, sort, limit=limit, cursor=cursor,
                          entities=True)

    def list_rows(self, workspace_id: uuid.UUID, f: LeadFilters, sort: LeadSort, *, limit: int,
                  cursor: str | None = None, insights: bool = False, explain: bool = False,
                  ) -> tuple[list, str | None]:
        """One page of the list as rows of :data:`LIST_COLUMNS` and ``top_reason``; with
        ``insights``, ``insights`` (JSON text) and, with ``explain``, ``explanation`` (JSON text).

        The list never loads whole explanations: a row's first reason and insights are stored
        beside the explanation, in the lead's explanation row of its current scoring (none
        while the reasons are being written)."""
        return self._page(("rows", insights, explain), lambda: _row_select(insights, explain), workspace_id, f,
                          sort, limit=limit, cursor=cursor, entities=False)

    def _page(self, what_key: tuple, what: Callable[[], Select], workspace_id: uuid.UUID, f: LeadFilters,
              sort: LeadSort, *, limit: int, cursor: str | None, entities: bool) -> tuple[list, str | None]:
        """Keyset pagination for every sort, each page one walk down an index.

        Score and created_at (never null) order by (column, id). The other columns order by
        (column, sort_score, id) over the leads that have a value, then (sort_score, id) over
        those that do not (unknown values last in either direction): two index walks, the
        second only when the first runs out, so no page ever sorts or skips rows.

        Each statement is built once per shape (what is selected, the sort, which filters are
        set, whether a cursor is given) and then run with each request's values: building a
        statement of 40 columns, and SQLAlchemy's key for it, cost more than running it."""
        by = SORTABLE[sort.by]
        column = getattr(Lead, by)
        position = decode_cursor(cursor) if cursor else None
        values = self._filter_values(workspace_id, f)
        shape = (*what_key, self.session.get_bind().dialect.name, by, sort.descending, *values)
        # Plain rows skip the ORM's statement plumbing: the connection runs the Core select.
        run = self.session.scalars if entities else self.session.connection().execute
        # Pages of rows on PostgreSQL choose how to search (see _search); exports and SQLite
        # leave it to the database.
        search = "q" in values and not entities and self._postgres

        def ordered(part: str, keys: list, start: list | None, n: int) -> list:
            def where(keys: list) -> list:
                """This part of the list (leads with or without a value), from the cursor on."""
                clauses = []
                if part == "known":
                    clauses.append(column.is_not(None))
                elif part == "unknown":
                    clauses.append(column.is_(None))
                if start is not None:
                    at = self._cursor_params(keys, start)
                    clauses.append(tuple_(*keys) < tuple_(*at) if sort.descending else tuple_(*keys) > tuple_(*at))
                return clauses

            def order(keys: list) -> list:
                return [k.desc() if sort.descending else k.asc() for k in keys]

            def build() -> Select:
                stmt = self._filtered(what(), workspace_id, f).where(*where(keys)).order_by(*order(keys))
                return stmt.limit(_page_size(n))

            params = {**values, "n": n, **{f"at{i}": v for i, v in enumerate(start or ())}}
            if search:
                index_only = part == "all" and by == "sort_score" and set(values) <= INDEX_ONLY_FILTERS
                return self._search((*shape, part, start is not None), what, values, keys, where, order, params,
                                    index_only=index_only)
            stmt = _statement((*shape, part, start is not None), build)
            return run(stmt, params).all()

        if by == "sort_score" and f.grade and not entities:
            start = [self._cursor_value(by, position, "v"), self._cursor_id(position)] if position else None
            rows = self._by_grade(what_key, what, workspace_id, f, sort, start, limit + 1)
        elif by in NOT_NULL_SORTS:
            start = [self._cursor_value(by, position, "v"), self._cursor_id(position)] if position else None
            rows = ordered("all", [column, Lead.id], start, limit + 1)
        else:
            rows = []
            in_nulls = bool(position and position.get("null"))
            if not in_nulls:
                start = ([self._cursor_value(by, position, "v"), self._cursor_value("sort_score", position, "s"),
                          self._cursor_id(position)] if position else None)
                rows = ordered("known", [column, Lead.sort_score, Lead.id], start, limit + 1)
            if len(rows) <= limit:
                start = ([self._cursor_value("sort_score", position, "s"), self._cursor_id(position)]
                         if in_nulls else None)
                rows += ordered("unknown", [Lead.sort_score, Lead.id], start, limit + 1 - len(rows))
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        return rows, self._cursor_after(by, rows[-1])

    def _search(self, shape: tuple, what: Callable[[], Select], values: dict[str, object], keys: list,
                where: Callable[[list], list], order: Callable[[list], list], params: dict, *,
                index_only: bool = False) -> list:
        """The first ``params["n"]`` leads of a list part that match ``q=``, on PostgreSQL.

        PostgreSQL cannot tell how common a term is (it guesses a LIKE's share from the length
        of the pattern: "garcia" looked like 26 leads of a million, and 9,025 matched), so it
        may read all of a common term's matches through the trigram index, then sort them
        (1M leads, "garcia": 99 ms), or walk the list for a rare term until it ends. This
        walks the list in its order first, a bounded number of rows: a common term fills the
        page there. When it does not, the matches it saw tell how far a page would be; if
        that is too far, the trigram index reads every match, the page's rows read by id
        after sorting (joining each match's reasons before the sort was half the time)."""
        n = params["n"]
        connection = self.session.connection()
        first, most = (INDEX_ONLY_WALK_FIRST, INDEX_ONLY_WALK_MAX) if index_only else (SEARCH_WALK_FIRST,
                                                                                          SEARCH_WALK_MAX)
        walk = _statement((*shape, "walk"), lambda: self._search_walk(what, values, keys, where, order, n))
        rows = connection.execute(walk, {**params, "w": first, "skip": 0}).all()
        if len(rows) >= n:
            return rows

        def walk_on(upto: int) -> list:
            """The first rows, then the matches among the rows after them up to ``upto``
            (the walk resumes where the first one stopped: its rows are not read twice)."""
            more = connection.execute(walk, {**params, "n": n - len(rows), "w": upto - first, "skip": first}).all()
            return rows + more

        if not (_trigram_index(connection) and TRIGRAM_TERM.search(str(values.get("q_index", values["q"])))):
            # No index, or a term it cannot look up ("12"): reading every match would read every
            # lead, so walk on until the page is full or the list ends.
            return walk_on(SEARCH_WALK_ALL)
        if rows:  # the rate seen so far says how far a page is: walk there if it is near enough
            # (counting one match more: the first rows are a small sample, and walking a common
            # term costs less than reading all its matches)
            expected = first * n / (len(rows) + 1)
            if expected <= most:
                far = min(most, math.ceil(expected * SEARCH_WALK_MARGIN))
                if far > first:
                    found = walk_on(far)
                    if len(found) >= n:
                        return found
        index = _statement((*shape, "index"), lambda: self._search_index(what, values, keys, where, order, n))
        return connection.execute(index, params).all()

    def _search_walk(self, what: Callable[[], Select], values: dict[str, object], keys: list,
                     where: Callable[[list], list], order: Callable[[list], list], n: int) -> Select:
        """The matches among ``w`` rows of the list (every filter but ``q``) after the first
        ``skip``, in order."""
        others = {k: v for k, v in values.items() if k != "q"}
        # Only what the score index holds (with the search text), so that an unfiltered walk
        # reads the index alone; a term with a space also needs the fields themselves.
        fields = [getattr(Lead, c) for c in SEARCH_COLUMNS] if "q_spans_fields" in values else []
        walked = (select(*_unique([Lead.id, *keys, *fields]), SEARCH_TEXT.label("search_text"))
                  .where(*self._filter_clauses(others, postgres=True), *where(keys)).order_by(*order(keys))
                  .limit(bindparam("w", type_=Integer, literal_execute=True))
                  .offset(bindparam("skip", type_=Integer, literal_execute=True)).subquery("walked"))
        term = bindparam("q", values["q"], type_=Lead.email.type, literal_execute=True)
        match = walked.c.search_text.like(term, escape="/")
        page = (select(walked.c.id).where(and_(match, _search_match(walked.c, term)) if fields else match)
                .order_by(*order([walked.c[k.key] for k in keys])).limit(_page_size(n)))
        return self._rows_by_id(what, page, values["ws"], keys, order, n)

    def _search_index(self, what: Callable[[], Select], values: dict[str, object], keys: list,
                      where: Callable[[list], list], order: Callable[[list], list], n: int) -> Select:
        """Every match (MATERIALIZED: computed as a set, so that the trigram index answers the
        term rather than an ordered walk the planner would think short), sorted, then the page."""
        matches = (select(*_unique([Lead.id, *keys])).where(*self._filter_clauses(values, postgres=True),
                                                             *where(keys))
                   .cte("matches").prefix_with("MATERIALIZED"))
        page = select(matches.c.id).order_by(*order([matches.c[k.key] for k in keys])).limit(_page_size(n))
        return self._rows_by_id(what, page, values["ws"], keys, order, n)

    @staticmethod
    def _rows_by_id(what: Callable[[], Select], page: Select, workspace_id: object, keys: list,
                    order: Callable[[list], list], n: int) -> Select:
        """The rows of a page of ids, in the list's order (each row's reasons joined for the
        page only)."""
        ws = bindparam("ws", workspace_id, type_=Lead.workspace_id.type, literal_execute=True)
        return what().where(Lead.workspace_id == ws, Lead.id.in_(page)).order_by(*order(keys)).limit(_page_size(n))

    def _by_grade(self, what_key: tuple, what: Callable[[], Select], workspace_id: uuid.UUID, f: LeadFilters,
                  sort: LeadSort, start: list | None, n: int) -> list:
        """Score-ordered rows of some grades: one walk down (grade, score, id) per grade for
        the leads without an override, one for the overridden leads of those grades, merged.
        A single filtered walk down the score index would cross every better lead first
        (grade D under a million leads: most of them).

        The walks and their merge carry only (score, id); the page's rows are then read by id
        (merging whole rows made SQLAlchemy build every column three times over)."""
        from dataclasses import replace

        others = replace(f, grade=[])
        values = self._filter_values(workspace_id, others)
        grades = sorted({g.upper() for g in f.grade})
        keys = [Lead.sort_score, Lead.id]

        def ordered(*columns):  # noqa: ANN002, ANN202
            return [c.desc() if sort.descending else c.asc() for c in columns]

        def build() -> Select:
            base = self._filtered(select(*keys), workspace_id, others)
            limit = _page_size(n)
            # "grade between G and G", ordered by (grade, score, id): the planner treats
            # "grade = G" as a constant and would then walk the score index instead, unaware
            # that the best leads are rarely grade D; this form leaves it only the (grade,
            # score, id) index.
            branches = []
            literal = self._postgres
            for i, g in enumerate(grades):
                grade = bindparam(f"g{i}", g, type_=Lead.grade.type, literal_execute=literal)
                branches.append((base.where(Lead.grade >= grade, Lead.grade <= grade, Lead.grade_override.is_(None)),
                                 Lead.grade))
            overridden = bindparam("grades", grades, type_=Lead.grade_override.type, expanding=True,
                                   literal_execute=literal)
            branches.append((base.where(Lead.grade_override.in_(overridden)), Lead.grade_override))
            parts = []
            for stmt, group in branches:
                if start is not None:
                    at = self._cursor_params(keys, start)
                    stmt = stmt.where(tuple_(*keys) < tuple_(*at) if sort.descending else tuple_(*keys) > tuple_(*at))
                parts.append(select(stmt.order_by(*ordered(group, *keys)).limit(limit).subquery()))
            merged = union_all(*parts).subquery()
            page_ids = select(merged.c.id).order_by(*ordered(merged.c.sort_score, merged.c.id)).limit(limit)
            ws = bindparam("ws", workspace_id, type_=Lead.workspace_id.type, literal_execute=literal)
            stmt = what().where(Lead.workspace_id == ws, Lead.id.in_(page_ids))
            return stmt.order_by(*ordered(*keys)).limit(limit)

        shape = (*what_key, self.session.get_bind().dialect.name, "grade", len(grades), sort.descending, *values,
                 start is not None)
        params = {**values, "n": n, "grades": grades, **{f"g{i}": g for i, g in enumerate(grades)},
                  **{f"at{i}": v for i, v in enumerate(start or ())}}
        return self.session.connection().execute(_statement(shape, build), params).all()

    def _cursor_params(self, keys: list, start: list) -> list:
        """Where a page starts, as parameters ``at0``, ``at1``… (literal on PostgreSQL, as the
        filters: :meth:`_filter_clauses`)."""
        return [bindparam(f"at{i}", v, type_=k.type, literal_execute=self._postgres)
                for i, (k, v) in enumerate(zip(keys, start, strict=True))]

    @staticmethod
    def _cursor_after(by: str, last: object) -> str:
        value = getattr(last, by)
        if by in NOT_NULL_SORTS:
            return encode_cursor({"v": value.isoformat() if isinstance(value, datetime) else value,
                                  "id": str(last.id)})
        payload: dict = {"s": last.sort_score, "id": str(last.id)}
        if value is None:
            payload["null"] = 1
        else:
            payload["v"] = value.isoformat() if isinstance(value, datetime) else value
        return encode_cursor(payload)

    @staticmethod
    def _cursor_id(position: dict) -> uuid.UUID:
        try:
            return uuid.UUID(str(position["id"]))
        except (KeyError, ValueError):
            raise InvalidInput("cursor is not valid; use the next_cursor of a previous page") from None

    @staticmethod
    def _cursor_value(by: str, position: dict, key: str) -> object:
        """A cursor's value for ``by``, checked against the column's type (a cursor made for
        another sort is refused, not sent to the database)."""
        value = position.get(key)
        try:
            if by in DATETIME_SORTS:
                return datetime.fromisoformat(value)
            if by in NUMERIC_SORTS:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError
                return value
            if not isinstance(value, str):
                raise ValueError
            return value
        except (TypeError, ValueError):
            raise InvalidInput("cursor is not valid; use the next_cursor of a previous page") from None

    def iter_ranked(self, workspace_id: uuid.UUID, f: LeadFilters, *, limit: int | None = None,
                    batch: int = 5000) -> Iterator[Lead]:
        """Leads in score order, streamed in keyset batches (exports of any size)."""
        sent = 0
        cursor = None
        while limit is None or sent < limit:
            size = batch if limit is None else min(batch, limit - sent)
            rows, cursor = self.page(workspace_id, f, LeadSort(), limit=size, cursor=cursor)
            for lead in rows:
                yield lead
            sent += len(rows)
            self.session.expunge_all()
            if cursor is None:
                return

    def distinct_values(self, workspace_id: uuid.UUID, column: str, limit: int) -> list[str]:
        """The first ``limit`` distinct values of an indexed column (industry, lead_source), in
        order, found by skipping along its (workspace_id, column, …) index: one index probe
        per value, where a GROUP BY reads every lead (1M leads: 0.4 s a column)."""
        col = getattr(Lead, column)

        def after(value):  # noqa: ANN001, ANN202 - the next value in the index, or NULL
            stmt = select(col).where(Lead.workspace_id == workspace_id, col.is_not(None))
            if value is not None:
                stmt = stmt.where(col > value)
            return stmt.order_by(col).limit(1).scalar_subquery()

        found = select(after(None).label("value"), literal_column("1", Integer).label("n")).cte(
            "found", recursive=True)
        found = found.union_all(select(after(found.c.value), found.c.n + 1)
                                .where(found.c.value.is_not(None), found.c.n < limit))
        return list(self.session.scalars(select(found.c.value).where(found.c.value.is_not(None))))

    def most_common_values(self, workspace_id: uuid.UUID, column: str, limit: int) -> list[str]:
        """The ``limit`` values of a column most leads have, ties by value (reads every lead)."""
        col = getattr(Lead, column)
        stmt = (select(col).where(Lead.workspace_id == workspace_id, col.is_not(None))
                .group_by(col).order_by(func.count().desc(), col).limit(limit))
        return list(self.session.scalars(stmt))

    def find_by_keys(self, workspace_id: uuid.UUID, keys: Iterable[str]) -> dict[str, tuple[uuid.UUID, str]]:
        """dedupe_key -> (lead id, content_hash) for the keys that already exist."""
        rows = leads_by_key(self.session, workspace_id, "dedupe_key", list(keys), ("id", "content_hash"))
        return {key: (lead_id, content_hash) for key, lead_id, content_hash in rows}

    def activities(self, lead_id: uuid.UUID, limit: int = 500) -> Sequence[Activity]:
        return self.session.scalars(
            select(Activity).where(Activity.lead_id == lead_id)
            .order_by(Activity.activity_date.desc()).limit(limit)
        ).all()

    def score_history(self, lead_id: uuid.UUID, limit: int = 100) -> Sequence[ScoreHistory]:
        return self.session.scalars(
            select(ScoreHistory).where(ScoreHistory.lead_id == lead_id)
            .order_by(ScoreHistory.scored_at.desc()).limit(limit)
        ).all()

    # --- writes -------------------------------------------------------------------------
    def insert_leads(self, rows: list[dict]) -> None:
        bulk_insert(self.session, Lead.__table__, rows)

    def insert_lead_columns(self, columns: dict[str, Sequence], constants: dict[str, object]) -> list[str]:
        """Insert new leads given column by column (``constants``: one value for every row).
        Their ids are new and time-ordered, so the inserts append to the indexes. Returns
        the ids (32 hex digits each)."""
        return bulk_insert_columns(self.session, Lead.__table__, columns, constants, new_ids="id")

    def update_leads(self, rows: list[dict]) -> None:
        """Bulk update by primary key (each dict has ``id`` and the columns to set)."""
        if not rows:
            return
        # Group by the set of columns so each bulk statement has one shape.
        groups: dict[tuple[str, ...], list[dict]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
        for cols, group in groups.items():
            bulk_update(self.session, Lead.__table__, group, list(cols))

    def insert_activities(self, rows: list[dict]) -> int:
        """Insert activities, skipping ones already stored (same dedupe key). Returns new count."""
        if not rows:
            return 0
        keys = [r["dedupe_key"] for r in rows]
        existing: set[str] = set()
        workspace_id = rows[0]["workspace_id"]
        for start in range(0, len(keys), KEY_BATCH):
            existing.update(self.session.scalars(
                select(Activity.dedupe_key).where(Activity.workspace_id == workspace_id,
                                                  Activity.dedupe_key.in_(keys[start:start + KEY_BATCH]))
            ))
        seen: set[str] = set()
        fresh = []
        for r in rows:
            if r["dedupe_key"] in existing or r["dedupe_key"] in seen:
                continue
            seen.add(r["dedupe_key"])
            fresh.append(r)
        bulk_insert(self.session, Activity.__table__, fresh)
        return len(fresh)

    def bump_last_activity(self, workspace_id: uuid.UUID, latest: dict[uuid.UUID, datetime]) -> None:
        """Move each lead's last_activity_date forward (never back), in one executemany."""
        if not latest:
            return
        from sqlalchemy import bindparam

        table = Lead.__table__
        stmt = (update(table)
                .where(table.c.id == bindparam("_id"), table.c.workspace_id == bindparam("_ws"),
                       or_(table.c.last_activity_date.is_(None), table.c.last_activity_date < bindparam("_when")))
                .values(last_activity_date=bindparam("_when")))
        self.session.execute(stmt, [{"_id": k, "_ws": workspace_id, "_when": v} for k, v in latest.items()])

    def delete(self, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> bool:
        self.session.execute(delete(Activity).where(Activity.lead_id == lead_id, Activity.workspace_id == workspace_id))
        self.session.execute(delete(ScoreHistory).where(ScoreHistory.lead_id == lead_id,
                                                         ScoreHistory.workspace_id == workspace_id))
        result = self.session.execute(delete(Lead).where(Lead.id == lead_id, Lead.workspace_id == workspace_id))
        return (result.rowcount or 0) > 0


def refresh_lead_statistics(engine: Engine) -> bool:
    """``VACUUM (ANALYZE) leads`` on PostgreSQL (nothing elsewhere); whether it ran.

    After a large upload the planner's statistics describe a much smaller table until
    autovacuum comes by (a minute later at best, never where it is turned off): it then
    chose plans that took seconds instead of milliseconds for the list's searches. The
    vacuum also marks the new pages all-visible, so counts read the indexes alone (a million
    leads: 80 ms instead of 250). VACUUM cannot run in a transaction: its own connection."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) leads"))
    return True
