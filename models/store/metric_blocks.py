"""Per-block minima and maxima of the metric series, kept with the epochs they summarize.

A downsampled read cuts a history into buckets and keeps each series' minimum and maximum per
bucket. Finding them among the epochs scans the whole history; `metric_block` holds them per
aligned block of 16, 64, ... 65,536 epochs, so a read groups a few hundred blocks instead.
Every write of epochs recomputes the blocks that hold them, finest first, in its transaction:
a reader never sees epochs without their blocks, and a rewritten epoch (a run retrained after
a lost worker) leaves no stale extreme behind.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Double,
    Executable,
    FromClause,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.store.tables import Metric, MetricBlock

# Each width is FANOUT times the one before: a read takes the widest whose blocks still
# outnumber its buckets, so it groups fewer than FANOUT times as many blocks as it has buckets.
FANOUT = 4
BLOCK_WIDTHS = tuple(16 * FANOUT**level for level in range(7))  # 16 .. 65,536
EXTREMES = ("min_value", "min_epoch", "max_value", "max_epoch")


@dataclass(frozen=True)
class _Summaries:
    """Rows that hold, per series and block, a minimum and a maximum with their epochs."""

    name: ColumnElement[str]
    # The indexed column the block number derives from: `block`, or `epoch` (= block + 1).
    key: ColumnElement[int]
    offset: int
    ends: tuple[ColumnElement[Any], ...]  # min value, its epoch, max value, its epoch
    where: tuple[ColumnElement[bool], ...]

    @property
    def block(self) -> ColumnElement[int]:
        return self.key - self.offset if self.offset else self.key

    def within(self, first: Any, last: Any, names: Any = None) -> "_Summaries":
        """Only blocks `first..last` (a range of the indexed column), of these series if given."""
        where = [*self.where, self.key.between(first + self.offset, last + self.offset)]
        if names is not None:
            where.append(self.name.in_(names))
        return replace(self, where=tuple(where))


def _epochs(run_id: Any) -> _Summaries:
    """A run's epochs, each a block of one epoch that is its own minimum and maximum."""
    m = Metric.__table__.c
    return _Summaries(
        m.name, m.epoch, 1, (m.value, m.epoch, m.value, m.epoch), (m.run_id == run_id,)
    )


def _blocks(run_id: Any, width: Any, table: FromClause = MetricBlock.__table__) -> _Summaries:
    """A run's blocks of one width."""
    b = table.c
    ends = (b.min_value, b.min_epoch, b.max_value, b.max_epoch)
    return _Summaries(b.name, b.block, 0, ends, (b.run_id == run_id, b.width == width))


def extremes(dialect: str, rows: _Summaries, group: ColumnElement[int]) -> Select[Any]:
    """Per series and group of blocks: the least minimum and the greatest maximum, with epochs.

    Rows are (name, group, min value, its epoch, max value, its epoch). One grouped pass on
    Postgres, which keeps (value, epoch) pairs in min()/max() of an array; SQLite returns a
    bare column from the row that holds a lone min() or max(), so it takes two.
    """
    name, (min_value, min_epoch, max_value, max_epoch) = rows.name, rows.ends
    both = ((func.min, min_value, min_epoch), (func.max, max_value, max_epoch))
    if dialect == "postgresql":
        low, high = (
            type_coerce(f(postgresql.array((value, cast(epoch, Double)))), postgresql.ARRAY(Double))
            for f, value, epoch in both
        )
        ends = (low[1], cast(low[2], Integer), high[1], cast(high[2], Integer))
        return select(name, group, *ends).where(*rows.where).group_by(name, group)
    low_rows, high_rows = (
        select(
            name.label("name"), group.label("grp"), f(value).label("value"), epoch.label("epoch")
        )
        .where(*rows.where)
        .group_by(name, group)
        .subquery()
        for f, value, epoch in both
    )
    on = and_(low_rows.c.name == high_rows.c.name, low_rows.c.grp == high_rows.c.grp)
    return select(*low_rows.c, high_rows.c.value, high_rows.c.epoch).join_from(
        low_rows, high_rows, on
    )


@lru_cache(maxsize=64)
def _refresh_statement(dialect: str, level: int, named: bool) -> Executable:
    # Built once per shape: constructing the statement costs more than executing it.
    run_id: BindParameter[int] = bindparam("run_id", type_=Integer)
    first, last = bindparam("first", type_=Integer), bindparam("last", type_=Integer)
    if level == 0:
        rows, factor = _epochs(run_id), BLOCK_WIDTHS[0]
    else:
        rows = _blocks(run_id, BLOCK_WIDTHS[level - 1], MetricBlock.__table__.alias("child"))
        factor = FANOUT
    names: BindParameter[str] | None = bindparam("names", expanding=True) if named else None
    rows = rows.within(first * factor, last * factor + factor - 1, names)
    name, block, *ends = extremes(dialect, rows, rows.block // factor).subquery().c
    width = literal(BLOCK_WIDTHS[level], Integer)
    # WHERE true: SQLite would read ON CONFLICT as the ON of a join after the FROM otherwise.
    source = select(run_id, name, width, block, *ends).where(true())
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(MetricBlock.__table__)
    insert = insert.from_select(["run_id", "name", "width", "block", *EXTREMES], source)
    statement: Executable = insert.on_conflict_do_update(
        index_elements=["run_id", "name", "width", "block"],
        set_={c: insert.excluded[c] for c in EXTREMES},
    )
    return statement


def refresh_blocks(
    *,
    session: Session,
    run_id: int,
    first: int,
    last: int,
    done: int,
    names: Sequence[str] | None = None,
) -> None:
    """Recompute the blocks holding epochs `first..last` of these series (all when None).

    `done` is the run's `epochs_done` before these epochs. A run keeps blocks of the widths
    its history has reached, no wider: a read never groups blocks wider than the history. A
    width reached now is filled from epoch 1, for every series.
    """
    dialect = session.get_bind().dialect.name
    for level, width in enumerate(BLOCK_WIDTHS):
        if width > max(done, last):
            break
        reached = width <= done
        params: dict[str, Any] = {
            "run_id": run_id,
            "first": (first - 1) // width if reached else 0,
            "last": (last - 1) // width,
        }
        named = reached and names is not None
        if named:
            params["names"] = list(names or ())
        session.execute(_refresh_statement(dialect, level, named), params)


def drop_blocks_after(*, session: Session, run_id: int, epoch: int) -> None:
    """Fit the blocks to a history cut after `epoch`: later and wider ones go, its own shrinks."""
    gone = or_(MetricBlock.width > epoch, MetricBlock.block * MetricBlock.width >= epoch)
    session.execute(delete(MetricBlock).where(MetricBlock.run_id == run_id, gone))
    if epoch >= 1:
        refresh_blocks(session=session, run_id=run_id, first=epoch, last=epoch, done=epoch)


@lru_cache(maxsize=16)
def _bucket_statement(dialect: str, single_epochs: bool, named: bool) -> Select[Any]:
    # Built once per shape, as _refresh_statement.
    run_id, count = bindparam("run_id", type_=Integer), bindparam("count", type_=BigInteger)
    width = bindparam("width", type_=Integer)
    rows = _epochs(run_id) if single_epochs else _blocks(run_id, width)
    names: BindParameter[str] | None = bindparam("names", expanding=True) if named else None
    rows = rows.within(0, count - 1, names)
    # 64-bit: a block number times the buckets can pass 2**31.
    group = cast(rows.block, BigInteger) * bindparam("buckets", type_=BigInteger) // count
    return extremes(dialect, rows, group)


def bucket_extremes(
    *, session: Session, run_id: int, keys: Sequence[str] | None, last: int, buckets: int
) -> dict[str, dict[int, float]]:
    """Per series, its minimum and maximum in each bucket of epochs 1..`last`, by epoch.

    A bucket is a run of whole blocks of the widest width that still has at least `buckets`
    blocks (of single epochs when the history is too short for the finest), so the read
    groups fewer than FANOUT times as many rows as it has buckets.
    """
    width = max((w for w in BLOCK_WIDTHS if w * buckets <= last), default=1)
    count = -(-last // width)  # blocks of this width in 1..last
    params: dict[str, Any] = {"run_id": run_id, "count": count, "buckets": buckets}
    if width > 1:
        params["width"] = width
    if keys:
        params["names"] = list(keys)
    dialect = session.get_bind().dialect.name
    statement = _bucket_statement(dialect, width == 1, bool(keys))
    found: dict[str, dict[int, float]] = {}
    for series, _, *ends in session.execute(statement, params):
        points = found.setdefault(series, {})
        for value, epoch in (ends[:2], ends[2:]):
            if epoch <= last:  # a block may have grown since `last` was read
                points[epoch] = value
    return found
