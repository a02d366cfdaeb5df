"""The receiver's database: SQLAlchemy Core, one code path for SQLite and PostgreSQL.

Exactly-once rests on the primary key (device_id, epoch, seq) and ``INSERT ... ON CONFLICT DO NOTHING``:
a resent batch inserts nothing, and ``RETURNING`` tells us which rows are new, so the watermark and the
daily rollups the county pages read are updated from those rows only, in the same transaction.

Write transactions take their locks in one global order (records by seq, quarantine, device_epochs,
rollup_daily by key, devices), so two receivers writing the same PostgreSQL never deadlock each other;
on SQLite every write transaction is ``BEGIN IMMEDIATE`` and waits on ``busy_timeout``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    create_engine,
    event,
    func,
    select,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

SCHEMA_VERSION = 1
SQLITE_BUSY_TIMEOUT_MS = 10_000
WATERMARK_STEP = 2000  # seqs looked at per query when the watermark catches up over reordered batches
INSERT_CHUNK = 500  # rows per INSERT statement: 5,000 parameters, well under SQLite's 32,766

# One good record as ingest hands it over: (seq, kind, v, ts, boot, mono, payload JSON text).
RecordRow = tuple[int, str, int, float, str, float, str]
RECORD_COLUMNS = ("device_id", "epoch", "seq", "kind", "v", "ts", "boot", "mono", "payload", "received_at")
PG_INSERT_RECORDS = (
    "INSERT INTO records (device_id, epoch, seq, kind, v, ts, boot, mono, payload, received_at) "
    "SELECT %b, %b, u.seq, u.kind, u.v, u.ts, u.boot, u.mono, u.payload, %b "
    "FROM unnest(%b::bigint[], %b::text[], %b::int[], %b::float8[], %b::text[], %b::float8[], %b::text[]) "
    "AS u(seq, kind, v, ts, boot, mono, payload) "
    "ON CONFLICT (device_id, epoch, seq) DO NOTHING RETURNING seq, kind, ts"
)

metadata = MetaData()

# Partition-ready: the key leads with device_id, so PostgreSQL can later hash-partition by it (or the
# table can be split per district) without changing a query.
records = Table(
    "records", metadata,
    Column("device_id", String, primary_key=True),
    Column("epoch", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("v", Integer, nullable=False),
    Column("ts", Float, nullable=False),  # device clock, unix seconds: may jump, never used for ordering
    Column("boot", String, nullable=False),
    Column("mono", Float, nullable=False),
    Column("payload", Text, nullable=False),  # compact JSON text
    Column("received_at", Float, nullable=False),  # receiver clock, unix seconds
    sqlite_with_rowid=False,
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False),
    Column("topic", String, nullable=False),
    Column("device_id", String),
    Column("epoch", String(64)),  # set, with seq, when one record of a batch was rejected
    Column("seq", BigInteger),
    Column("reason", Text, nullable=False),
    Column("size", Integer, nullable=False),  # bytes on the wire (whole message) or of the record's JSON
    Column("sample", Text, nullable=False),  # first 1 KB, inflated when it was zlib, for a human to read
    # NULLs are distinct, so whole-message rows never collide; a resent rejected record is stored once.
    UniqueConstraint("device_id", "epoch", "seq", name="uq_quarantine_record"),
    Index("ix_quarantine_received_at", "received_at"),
)

device_epochs = Table(
    "device_epochs", metadata,
    Column("device_id", String, primary_key=True),
    Column("epoch", String(64), primary_key=True),
    Column("contiguous_through", BigInteger, nullable=False),  # every seq <= this is stored or rejected
    Column("max_seq", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("device_id", String, primary_key=True),
    Column("online", Boolean),  # from the retained up/status (the device's last will says false)
    Column("status_at", Float),
    Column("last_heartbeat_at", Float),
    Column("pending", BigInteger),
    Column("oldest_pending_age_s", Float),
    Column("disk_free_bytes", BigInteger),
    Column("last_seq", BigInteger),
    Column("epoch", String(64)),
    Column("last_hello_at", Float),
    Column("last_batch_at", Float),
)

rollup_daily = Table(
    "rollup_daily", metadata,
    Column("day", Date, primary_key=True),
    Column("device_id", String, primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("records", BigInteger, nullable=False),
)

schema_info = Table(
    "schema_info", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

DEVICE_FIELDS = ("online", "status_at", "last_heartbeat_at", "pending", "oldest_pending_age_s", "disk_free_bytes",
                 "last_seq", "epoch", "last_hello_at", "last_batch_at")


class StoreError(RuntimeError):
    """The database cannot be used as it is (newer schema, missing file); the message says what to do."""


@dataclass(frozen=True)
class Rejection:
    seq: int
    reason: str
    sample: str
    size: int


@dataclass(frozen=True)
class BatchOutcome:
    inserted: int
    rejected_new: int
    contiguous_through: int | None  # None when nothing new arrived


# -- engine ------------------------------------------------------------------------------------------------
def make_engine(url: str, writer: bool = True) -> Engine:
    """An engine with the durability settings the exactly-once promise needs."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_engine(u)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a commit we acknowledged survives a power cut
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front: two receivers on one file queue on busy_timeout
            # instead of failing with SQLITE_BUSY when a reader tries to become a writer.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        return engine
    if u.get_backend_name() == "postgresql":
        if u.password is None:
            from appliance.config.secrets import MissingSecret, read_secret
            from cloud_receiver.config import DATABASE_PASSWORD_SECRET

            try:
                u = u.set(password=read_secret(DATABASE_PASSWORD_SECRET))
            except MissingSecret:
                pass  # trust, peer or ~/.pgpass
        # No pool_pre_ping: a dropped connection fails one attempt, which the worker retries (saves a
        # round trip per batch).
        return create_engine(u)
    raise StoreError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql+psycopg://...")


# -- the store -------------------------------------------------------------------------------------------
class Store:
    """All reads and writes of the receiver; one short transaction per MQTT message."""

    def __init__(self, url: str, rollup_timezone: str = "UTC", writer: bool = True, create: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, writer)
        self.dialect = self.engine.dialect.name
        self._insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self._tz = ZoneInfo(rollup_timezone)
        self._days: dict[int, dt.date] = {}
        if create:
            self.create_schema()
        self._insert_sql: dict[int, str] = {}
        self._ins_rejected = (
            self._insert(quarantine)
            .on_conflict_do_nothing(index_elements=["device_id", "epoch", "seq"])
            .returning(quarantine.c.seq)
        )
        self._rollup_sql: dict[int, str] = {}
        # Built once, so every batch hits SQLAlchemy's compiled cache instead of building SQL again.
        de = device_epochs.c
        ins = self._insert(device_epochs).values(
            device_id=bindparam("d"), epoch=bindparam("e"), contiguous_through=0, max_seq=bindparam("mx"),
            records=bindparam("n"), rejected=bindparam("nr"), first_seen=bindparam("now"), last_seen=bindparam("now"),
        )
        self._upsert_epoch = ins.on_conflict_do_update(
            index_elements=["device_id", "epoch"],
            set_={
                "records": de.records + ins.excluded.records,
                "rejected": de.rejected + ins.excluded.rejected,
                "max_seq": case((ins.excluded.max_seq > de.max_seq, ins.excluded.max_seq), else_=de.max_seq),
                "last_seen": ins.excluded.last_seen,
            },
        ).returning(de.contiguous_through, de.max_seq)
        self._set_watermark = (update(device_epochs).where(de.device_id == bindparam("d"), de.epoch == bindparam("e"))
                               .values(contiguous_through=bindparam("ct")))
        ins = self._insert(devices).values(device_id=bindparam("d"), last_batch_at=bindparam("now"))
        self._touch_batch = ins.on_conflict_do_update(index_elements=["device_id"],
                                                      set_={"last_batch_at": ins.excluded.last_batch_at})

    def close(self) -> None:
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables (two receivers starting together may race: the loser retries once)."""
        for attempt in range(2):
            try:
                metadata.create_all(self.engine)
                break
            except SQLAlchemyError:
                if attempt:
                    raise
        with self.engine.begin() as conn:
            conn.execute(self._insert(schema_info).values(name="schema_version", value=str(SCHEMA_VERSION))
                         .on_conflict_do_nothing(index_elements=["name"]))
            found = int(conn.execute(select(schema_info.c.value).where(schema_info.c.name == "schema_version"))
                        .scalar_one())
        if found > SCHEMA_VERSION:
            raise StoreError(f"database schema version {found} is newer than this receiver's ({SCHEMA_VERSION}); "
                             "upgrade classroom-cloud")

    def check_schema(self) -> None:
        """For the read-only commands: a clear error instead of 'no such table'."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(schema_info.c.value).limit(1)).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.url}: not a classroom-cloud database yet ({_first_line(exc)}); "
                             "start 'classroom-cloud serve' on it first or pass the right --db") from None

    # -- batches ---------------------------------------------------------------------------------------
    def store_batch(self, topic: str, device: str, epoch: str, rows: Sequence[RecordRow],
                    rejected: Sequence[Rejection], now: float) -> BatchOutcome:
        """Insert good records (sorted by seq) and rejected ones, with their consequences, in ONE transaction."""
        with self.engine.begin() as conn:
            inserted = self._insert_records(conn, device, epoch, rows, now) if rows else []
            new_rejected: list[int] = []
            if rejected:
                qrows = [{"received_at": now, "topic": topic, "device_id": device, "epoch": epoch, "seq": r.seq,
                          "reason": r.reason, "size": r.size, "sample": r.sample}
                         for r in sorted(rejected, key=lambda r: r.seq)]
                new_rejected = list(conn.execute(self._ins_rejected, qrows).scalars())
            watermark = None
            if inserted or new_rejected:
                seqs = [row[0] for row in inserted] + new_rejected
                watermark = self._advance(conn, device, epoch, seqs, len(inserted), len(new_rejected), now)
                if inserted:
                    self._add_rollups(conn, device, inserted)
            conn.execute(self._touch_batch, {"d": device, "now": now})
        return BatchOutcome(len(inserted), len(new_rejected), watermark)

    def _insert_records(self, conn: Connection, device: str, epoch: str, rows: Sequence[RecordRow],
                        now: float) -> list[tuple[Any, ...]]:
        """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` of a whole batch, straight to the driver.

        This is the hot path (one row per record), so Core's per-row parameter processing is skipped:
        SQLite gets one pre-rendered multi-row VALUES statement per chunk; PostgreSQL gets the columns as
        seven arrays through ``unnest`` (a short statement psycopg can cache and prepare, where a 2,000-
        placeholder one is re-parsed on every call).
        """
        if self.dialect == "postgresql":
            cols = list(zip(*rows, strict=True))
            return [tuple(r) for r in conn.exec_driver_sql(PG_INSERT_RECORDS, (device, epoch, now, *map(list, cols)))]
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[i:i + INSERT_CHUNK]
            params: list[Any] = []
            for seq, kind, v, ts, boot, mono, payload in chunk:
                params += (device, epoch, seq, kind, v, ts, boot, mono, payload, now)
            out += conn.exec_driver_sql(self._records_sql(len(chunk)), tuple(params)).all()
        return out

    def _records_sql(self, n: int) -> str:
        sql = self._insert_sql.get(n)
        if sql is None:
            one = "(" + ",".join(["?"] * len(RECORD_COLUMNS)) + ")"
            sql = (f"INSERT INTO records ({','.join(RECORD_COLUMNS)}) VALUES {','.join([one] * n)} "
                   "ON CONFLICT (device_id, epoch, seq) DO NOTHING RETURNING seq, kind, ts")
            self._insert_sql[n] = sql
        return sql

    def _advance(self, conn: Connection, device: str, epoch: str, seqs: list[int], n_new: int, n_rej: int,
                 now: float) -> int:
        """Move contiguous_through past the new seqs and any stored earlier out of order.

        The upsert locks the (device, epoch) row first, so concurrent writers of one epoch take turns and
        each sees what the previous one committed.
        """
        ct, max_seq = conn.execute(self._upsert_epoch, {"d": device, "e": epoch, "mx": max(seqs), "n": n_new,
                                                         "nr": n_rej, "now": now}).one()
        new = set(seqs)
        c = ct
        while c + 1 in new:
            c += 1
        if c == ct:  # ct+1 is still missing: nothing can move
            return int(ct)
        while c < max_seq:
            present = set(self._accounted(conn, device, epoch, c + 1, c + WATERMARK_STEP))
            start = c
            while c + 1 in present:
                c += 1
            if c < start + WATERMARK_STEP:
                break
        conn.execute(self._set_watermark, {"d": device, "e": epoch, "ct": c})
        return c

    def _accounted(self, conn: Connection, device: str, epoch: str, lo: int, hi: int) -> Iterable[int]:
        """Seqs in [lo, hi] that are stored or were rejected: both close a gap for good."""
        r, q = records.c, quarantine.c
        stmt = union(
            select(r.seq).where(r.device_id == device, r.epoch == epoch, r.seq.between(lo, hi)),
            select(q.seq).where(q.device_id == device, q.epoch == epoch, q.seq.between(lo, hi)),
        )
        return conn.execute(stmt).scalars()

    def _add_rollups(self, conn: Connection, device: str, inserted: Sequence[Any]) -> None:
        counts: Counter[tuple[dt.date, str]] = Counter()
        for _seq, kind, ts in inserted:
            counts[(self.day_of(ts), kind)] += 1
        params: list[Any] = []
        pg = self.dialect == "postgresql"
        for (day, kind), n in sorted(counts.items()):  # sorted: one lock order for every writer
            params += (day if pg else day.isoformat(), device, kind, n)
        conn.exec_driver_sql(self._rollups_sql(len(counts)), tuple(params))

    def _rollups_sql(self, n: int) -> str:
        """One multi-row upsert per batch (same SQL on both databases but for the placeholder)."""
        sql = self._rollup_sql.get(n)
        if sql is None:
            ph = "%s" if self.dialect == "postgresql" else "?"
            one = f"({ph},{ph},{ph},{ph})"
            sql = (f"INSERT INTO rollup_daily (day, device_id, kind, records) VALUES {','.join([one] * n)} "
                   "ON CONFLICT (day, device_id, kind) DO UPDATE SET records = rollup_daily.records + excluded.records")
            self._rollup_sql[n] = sql
        return sql

    def day_of(self, ts: float) -> dt.date:
        """Local day of a timestamp; cached per 15 minutes (every real UTC offset is a multiple of that)."""
        bucket = int(ts // 900)
        day = self._days.get(bucket)
        if day is None:
            try:
                day = dt.datetime.fromtimestamp(bucket * 900, self._tz).date()
            except (OverflowError, OSError, ValueError):
                day = dt.date(1970, 1, 1)
            if len(self._days) > 10_000:
                self._days.clear()
            self._days[bucket] = day
        return day

    # -- control messages -------------------------------------------------------------------------------
    def committed_seqs(self, device: str, epoch: str, first: int, last: int) -> list[int]:
        r = records.c
        with self.engine.connect() as conn:
            stmt = (select(r.seq).where(r.device_id == device, r.epoch == epoch, r.seq.between(first, last))
                    .order_by(r.seq))
            return [int(s) for s in conn.execute(stmt).scalars()]

    def update_device(self, device: str, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            self._touch_device(conn, device, values)

    def _touch_device(self, conn: Connection, device: str, values: dict[str, Any]) -> None:
        ins = self._insert(devices).values(device_id=device, **values)
        upsert = ins.on_conflict_do_update(index_elements=["device_id"],
                                           set_={k: getattr(ins.excluded, k) for k in values})
        conn.execute(upsert)

    def quarantine_message(self, topic: str, device: str | None, reason: str, size: int, sample: str,
                           now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(quarantine.insert().values(received_at=now, topic=topic, device_id=device, reason=reason,
                                                    size=size, sample=sample))

    # -- reads for the CLI and the county pages -----------------------------------------------------------
    def latest_epoch(self, device: str) -> str | None:
        de = device_epochs.c
        with self.engine.connect() as conn:
            return conn.execute(select(de.epoch).where(de.device_id == device)
                                .order_by(de.last_seen.desc()).limit(1)).scalar()

    def epoch_row(self, device: str, epoch: str) -> dict[str, Any] | None:
        de = device_epochs.c
        with self.engine.connect() as conn:
            row = conn.execute(select(device_epochs).where(de.device_id == device, de.epoch == epoch)).first()
        return dict(row._mapping) if row else None

    def device_row(self, device: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.device_id == device)).first()
        return dict(row._mapping) if row else None

    def count_records(self, device: str, epoch: str) -> int:
        r = records.c
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(r.device_id == device, r.epoch == epoch)).scalar_one())

    def count_all_records(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records)).scalar_one())

    def gaps(self, device: str, epoch: str, above: int, max_seq: int) -> list[list[int]]:
        """Missing seqs in (above, max_seq], as [[a, b], ...]: what the device has not delivered yet."""
        out: list[list[int]] = []
        expect = above + 1
        with self.engine.connect() as conn:
            lo = above + 1
            while lo <= max_seq:
                hi = min(lo + 50_000, max_seq)
                for s in sorted(self._accounted(conn, device, epoch, lo, hi)):
                    if s > expect:
                        out.append([expect, s - 1])
                    expect = s + 1
                lo = hi + 1
        if expect <= max_seq:
            out.append([expect, max_seq])
        return out

    def recent_quarantine(self, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
        q = quarantine.c
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(quarantine)).scalar_one())
            rows = conn.execute(select(quarantine).order_by(q.id.desc()).limit(limit)).all()
        return total, [dict(r._mapping) for r in rows]

    def rollups(self, device: str | None = None) -> list[dict[str, Any]]:
        stmt = select(rollup_daily).order_by(rollup_daily.c.day, rollup_daily.c.device_id, rollup_daily.c.kind)
        if device is not None:
            stmt = stmt.where(rollup_daily.c.device_id == device)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
