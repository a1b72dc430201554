"""Hot reads: the few statements run on nearly every request, on the fastest path each database has.

A statement is defined once as SQLAlchemy Core and wrapped in a `CompiledQuery`; a `HotReader`
runs it:

- on PostgreSQL, straight on psycopg connections from a small `psycopg_pool` pool in
  autocommit: one round trip, no ORM unit of work, no SQLAlchemy pool checkout (which we
  measured at about 0.4 ms per request, more than the query itself). The statement is compiled
  once for psycopg; the result processing SQLAlchemy would apply (our TypeDecorators:
  decryption, UTC datetimes) is reproduced per column;
- on SQLite (the laptop default), through SQLAlchemy's autocommit read engine.

Both return plain tuples in the order of the statement's columns. Autocommit means every
statement stands alone: use this for reads (and single-statement stamps such as "last seen"),
never for changes that must stand or fall together.

A reader whose database `renders_json` can also select `json_row(...)`: PostgreSQL writes each
row as the JSON object pydantic would write for it, so a long listing reaches Python as one
string per row instead of a Python object per value that is then validated and dumped again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, Text, case, cast, func, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator

from app.core.db import Database
from app.core.types import UTCDateTime

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Row = tuple[Any, ...]
# Told the SQL of every statement that bypasses SQLAlchemy's engine events (tests count them).
StatementObserver = Callable[[str], None]

_PSYCOPG_DIALECT: Dialect = postgresql.dialect(paramstyle="pyformat")  # type: ignore[no-untyped-call]


class PsycopgStatement:
    """A Core statement compiled for psycopg: its SQL, the bind processing of its parameters
    (with the values of literal parameters filled in) and the result processing per column."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params:
            # An expanding IN would need its SQL rendered per call; write it as OR or ANY.
            raise ValueError("hot statements cannot use expanding IN parameters")
        self.sql: str = str(compiled)
        self._bind_processors: dict[str, Callable[[Any], Any]] = {}
        self._defaults: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type._cached_bind_processor(dialect)
            if processor is not None:
                self._bind_processors[name] = processor
            if not bind.required:
                value = bind.effective_value
                self._defaults[name] = processor(value) if processor is not None else value
        columns = getattr(statement, "selected_columns", [])
        # Only the columns that need it (our TypeDecorators), by position: a listing runs
        # this for every row, most columns come from psycopg ready to use.
        self._result_processors: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, processor)
            for index, column in enumerate(columns)
            if (processor := _result_processor(column.type, dialect)) is not None
        )

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(self._defaults)
        processors = self._bind_processors
        for name, value in values.items():
            processor = processors.get(name)
            out[name] = processor(value) if processor is not None else value
        return out

    def process(self, row: Sequence[Any]) -> Row:
        if not self._result_processors:
            return tuple(row)
        values = list(row)
        for index, processor in self._result_processors:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        return tuple(values)


def _result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(type_, TypeDecorator):
        # A partial, not a closure: no Python frame of our own per value.
        return functools.partial(type_.process_result_value, dialect=dialect)
    return None


class CompiledQuery:
    """A Core statement for a `HotReader`, compiled for psycopg on first use there.

    Build these once (module level, or cached per statement shape), never per request."""

    __slots__ = ("_psycopg", "columns", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self.columns: tuple[str, ...] = tuple(
            column.key for column in getattr(statement, "selected_columns", [])
        )
        self._psycopg: PsycopgStatement | None = None

    @property
    def psycopg(self) -> PsycopgStatement:
        if self._psycopg is None:
            self._psycopg = PsycopgStatement(self.statement, _PSYCOPG_DIALECT)
        return self._psycopg


# pydantic writes an aware UTC datetime with `Z`, and leaves out a zero fraction of a second.
_UTC_WHOLE_SECONDS: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'""")
_UTC_MICROSECONDS: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")


def _json_value(column: ColumnElement[Any]) -> ColumnElement[Any]:
    if isinstance(column.type, UTCDateTime):
        utc = func.timezone(literal_column("'UTC'"), column)
        return case(
            (func.date_trunc("second", column) == column, func.to_char(utc, _UTC_WHOLE_SECONDS)),
            else_=func.to_char(utc, _UTC_MICROSECONDS),
        )
    if isinstance(column.type, TypeDecorator):
        # Decryption and the like happen in Python: such a column cannot be rendered here.
        raise ValueError(f"{column.key}: a processed column cannot be rendered as JSON by SQL")
    # uuid, text, integers, booleans and dates: PostgreSQL's JSON is pydantic's.
    return column


def json_row(columns: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    """PostgreSQL only: the row as the text of the JSON object pydantic writes for a model
    whose fields are these columns' keys, in this order, with the same values (a test compares
    the two for the invoice listing). Keys are written into the SQL, so they must be names."""
    arguments: list[ColumnElement[Any]] = []
    for column in columns:
        key = column.key
        if key is None or not key.isidentifier():
            raise ValueError(f"{key!r} is not a name")
        arguments += [literal_column(f"'{key}'"), _json_value(column)]
    # As text: psycopg would otherwise parse the `json` it gets back.
    return cast(func.json_build_object(*arguments), Text)


class HotReader(Protocol):
    """Runs `CompiledQuery`s in autocommit, one statement each."""

    observers: list[StatementObserver]
    # True where statements may select `json_row(...)` (PostgreSQL).
    renders_json: bool

    async def fetch_one(self, query: CompiledQuery, params: Mapping[str, Any]) -> Row | None: ...

    async def fetch_all(self, query: CompiledQuery, params: Mapping[str, Any]) -> list[Row]: ...

    async def execute(self, query: CompiledQuery, params: Mapping[str, Any]) -> None: ...

    async def close(self) -> None: ...


class SqlAlchemyHotReader:
    """SQLite (and any database without the psycopg fast path): the autocommit read engine.

    Its statements go through the engine, so engine events see them; `observers` stays unused."""

    def __init__(self, database: Database) -> None:
        self._engine = database.read_engine
        self.observers: list[StatementObserver] = []
        self.renders_json = self._engine.dialect.name == "postgresql"

    async def fetch_one(self, query: CompiledQuery, params: Mapping[str, Any]) -> Row | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(query.statement, dict(params))).first()
        return tuple(row) if row is not None else None

    async def fetch_all(self, query: CompiledQuery, params: Mapping[str, Any]) -> list[Row]:
        async with self._engine.connect() as connection:
            result = await connection.execute(query.statement, dict(params))
            return [tuple(row) for row in result]

    async def execute(self, query: CompiledQuery, params: Mapping[str, Any]) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(query.statement, dict(params))

    async def close(self) -> None:
        """The engine belongs to the `Database`, which disposes of it."""


class PsycopgHotReader:
    """PostgreSQL: psycopg connections from `psycopg_pool`, autocommit; psycopg prepares
    statements it sees repeatedly on a connection.

    Connections are taken with `getconn`/`putconn`, not `pool.connection()`: that context
    manager ends with a COMMIT call, which in autocommit sends nothing but still takes the
    connection's lock (measured at about 4 % of a listing request). `putconn` rolls back or
    replaces a connection left in error or in a transaction, as the context manager would."""

    def __init__(self, *, conninfo: str, min_size: int, max_size: int, timeout: float) -> None:
        self._conninfo = conninfo
        self._sizes = (min_size, max_size)
        self._timeout = timeout
        self._pool: AsyncConnectionPool | None = None
        self.observers: list[StatementObserver] = []
        self.renders_json = True

    async def _open_pool(self) -> AsyncConnectionPool:
        """Opened on first use, inside the serving event loop (the pool runs tasks on it);
        after `close()` the next use opens a new one."""
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool

            pool = AsyncConnectionPool(
                self._conninfo,
                min_size=self._sizes[0],
                max_size=self._sizes[1],
                timeout=self._timeout,
                kwargs={"autocommit": True},
                open=False,
            )
            await pool.open()
            self._pool = pool
        return self._pool

    def _notify(self, sql: str) -> None:
        for observer in self.observers:
            observer(sql)

    async def _run(
        self, query: CompiledQuery, params: Mapping[str, Any], *, rows: int | None
    ) -> list[Row]:
        """Run the statement on a pooled connection; fetch `rows` rows (None: all, 0: none)."""
        statement = query.psycopg
        pool = self._pool or await self._open_pool()
        if self.observers:
            self._notify(statement.sql)
        connection = await pool.getconn()
        try:
            cursor = await connection.execute(statement.sql, statement.params(params))
            if rows == 0:
                return []
            fetched = await (cursor.fetchall() if rows is None else cursor.fetchmany(rows))
        finally:
            await pool.putconn(connection)
        return [statement.process(row) for row in fetched]

    async def fetch_one(self, query: CompiledQuery, params: Mapping[str, Any]) -> Row | None:
        found = await self._run(query, params, rows=1)
        return found[0] if found else None

    async def fetch_all(self, query: CompiledQuery, params: Mapping[str, Any]) -> list[Row]:
        return await self._run(query, params, rows=None)

    async def execute(self, query: CompiledQuery, params: Mapping[str, Any]) -> None:
        await self._run(query, params, rows=0)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def build_hot_reader(database: Database, *, pool_size: int, timeout: float) -> HotReader:
    engine = database.engine
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        url = engine.url.set(drivername="postgresql")
        return PsycopgHotReader(
            conninfo=url.render_as_string(hide_password=False),
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
        )
    return SqlAlchemyHotReader(database)
