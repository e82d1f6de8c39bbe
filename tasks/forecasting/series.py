"""Where a forecasting series comes from: a CSV file, a real series shipped in statsmodels, or a generated one.

Every source becomes a `Series`: values in original units, one column per target, on a regular time grid
(dates with a pandas frequency, or plain numbers with a constant step), gaps and missing values handled
by one explicit policy (`refuse`, `interpolate` or `ffill`). Every check that can fail on user data
fails here, with a one-line `UserError` naming the problem and, where there is one, the first bad row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.base import UserError
from keras_recurrent.tasks.forecasting import calendar as fcal

MISSING_POLICIES = ("refuse", "interpolate", "ffill")

# Real series that ship inside statsmodels (no download): name -> (loader, default season, description).
PACKAGED = {
    "co2": "Mauna Loa atmospheric CO2 (ppm), weekly 1958-2001 averaged to months; trend + yearly cycle",
    "sunspots": "yearly mean sunspot number 1700-2008; the ~11-year solar cycle",
    "elnino": "monthly sea surface temperature of the Nino 1+2 region 1950-2010 (deg C)",
    "nile": "yearly flow of the Nile at Aswan 1871-1970 (10^8 m^3); a level shift in 1898",
    "macrodata": "US quarterly real GDP, consumption and investment 1959-2009 (multivariate)",
}

# Seasons of the common pandas frequencies: the period of their most common cycle.
_SEASONS = {"h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "ME": 12, "MS": 12, "Q": 4, "QE": 4, "QS": 4,
            "Y": 1, "YE": 1, "YS": 1, "A": 1, "AS": 1, "min": 60, "s": 60}


@dataclass
class Series:
    """A regular multivariate series.

    `values` is (steps, targets) float64 in original units; `times` is a pandas DatetimeIndex with a
    frequency, or a float array with a constant step; `season` the period of the seasonal cycle (1 = none).
    `features` (steps, features), or None, are covariates: read in the input window, never forecast.
    `future` (steps, future features), or None, are covariates known in advance (calendar columns, planned
    prices): read in the window like features, and over the horizon for the steps being forecast.
    """

    values: np.ndarray
    times: object
    names: list
    frequency: str
    season: int
    source: str
    features: np.ndarray | None = None
    feature_names: list | None = None
    future: np.ndarray | None = None
    future_names: list | None = None

    def inputs(self) -> np.ndarray:
        """What a model's window reads: the targets, then the features, then the future-known features."""
        parts = [p for p in (self.values, self.features, self.future) if p is not None]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)



def next_times(frequency: str, last, count: int) -> list:
    """The `count` time stamps after `last` at `frequency` (a pandas frequency, or "step=S" for numbers)."""
    import pandas as pd

    if frequency.startswith("step="):
        step = float(frequency[5:])
        return [_number(last + step * (i + 1)) for i in range(count)]
    stamps = pd.date_range(pd.Timestamp(last), periods=count + 1, freq=frequency)[1:]
    return [iso(stamp) for stamp in stamps]


def iso(stamp) -> str:
    """A time stamp as ISO 8601: the date alone at midnight (2001-09-01), else date and time."""
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()


def _number(x: float):
    return int(x) if float(x).is_integer() else float(x)


def season_of(frequency: str) -> int:
    """The seasonal period that goes with a frequency: 12 for months, 4 for quarters, 1 for years or numbers."""
    import re

    base = re.sub(r"^\d+", "", frequency.split("-")[0])
    return _SEASONS.get(base, _SEASONS.get(base.upper(), 1))


def generated(length: int, seed: int, season: int = 12, targets: int = 1) -> Series:
    """Trend + seasonality + noise: a series whose right answer is known, for tests and memory benchmarks."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype="float64")[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=targets)
    amplitude = rng.uniform(1.0, 2.0, size=targets)
    slope = rng.uniform(0.005, 0.02, size=targets)
    values = 10.0 + slope * t + amplitude * np.sin(2 * np.pi * t / max(season, 2) + phase)
    values += rng.normal(0.0, 0.2, size=values.shape)
    names = ["value"] if targets == 1 else [f"value_{i}" for i in range(targets)]
    return Series(values, np.arange(length, dtype="float64"), names, "step=1", season, f"generated:{length}")


def packaged(name: str) -> "tuple[object, str]":
    """(a pandas DataFrame indexed by time, its frequency) for a series in `PACKAGED`."""
    import pandas as pd
    from statsmodels import datasets

    if name == "co2":
        weekly = datasets.co2.load_pandas().data["co2"]
        return weekly.resample("MS").mean().to_frame("co2"), "MS"
    if name == "sunspots":
        data = datasets.sunspots.load_pandas().data
        index = pd.to_datetime(data["YEAR"].astype(int).astype(str), format="%Y")
        return data[["SUNACTIVITY"]].set_axis(index).rename(columns={"SUNACTIVITY": "sunspots"}), "YS"
    if name == "elnino":
        data = datasets.elnino.load_pandas().data
        months = data.drop(columns="YEAR").to_numpy().reshape(-1)
        index = pd.date_range(f"{int(data['YEAR'].iloc[0])}-01-01", periods=len(months), freq="MS")
        return pd.DataFrame({"temperature": months}, index=index), "MS"
    if name == "nile":
        data = datasets.nile.load_pandas().data
        index = pd.to_datetime(data["year"].astype(int).astype(str), format="%Y")
        return data[["volume"]].set_axis(index), "YS"
    if name == "macrodata":
        data = datasets.macrodata.load_pandas().data
        index = pd.period_range(f"{int(data['year'].iloc[0])}Q1", periods=len(data), freq="Q").to_timestamp()
        return data[["realgdp", "realcons", "realinv"]].set_axis(index), "QS"
    raise UserError(f"--data statsmodels:{name}: unknown series; choose from {', '.join(PACKAGED)}")


def _names(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _choose_columns(available: list, targets: str, features: str, where: str, time_name: str | None = None,
                    future: str = ""):
    """(target columns, feature columns, future-known feature columns) of `available`; the targets default
    to every other column."""
    extra, ahead = _names(features), _names(future)
    wanted = _names(targets) or [c for c in available if c != time_name and c not in extra and c not in ahead]
    for key, names in (("data.targets", wanted), ("data.features", extra), ("data.future_features", ahead)):
        for name in names:
            if name not in available:
                raise UserError(f"{key}: {name!r} is not a column of {where}; it has {', '.join(map(str, available))}")
            if name == time_name:
                raise UserError(f"{key}: {name!r} is the time column")
    if set(wanted) & set(extra):
        raise UserError(f"data.features: {sorted(set(wanted) & set(extra))[0]!r} is also a target")
    if set(wanted) & set(ahead):
        raise UserError(f"data.future_features: {sorted(set(wanted) & set(ahead))[0]!r} is also a target")
    if set(extra) & set(ahead):
        raise UserError(f"data.future_features: {sorted(set(extra) & set(ahead))[0]!r} is also in data.features")
    return wanted, extra, ahead


def read_frame(path: str, separator: str, encoding: str, **options):
    """The CSV file as a DataFrame with text column names, or a one-line error (no file, unreadable)."""
    import os

    import pandas as pd

    if not os.path.isfile(path):
        raise UserError(f"--data {path}: no such file")
    try:
        frame = pd.read_csv(path, sep=separator or None, engine="python", encoding=encoding, **options)
    except Exception as e:  # noqa: BLE001  the parser on damaged bytes raises more kinds than it documents
        # (ParserError, UnicodeDecodeError, csv.Error from the separator sniffer, even IndexError: the fuzz tests)
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise UserError(f"--data {path}: not a readable CSV ({reason})") from None
    frame.columns = [str(c) for c in frame.columns]
    return frame


def numeric_column(column, name: str, path: str):
    """A CSV column as floats (blanks become NaN); a one-line error naming the first row that is text or
    infinite."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() & column.notna() & (column.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise UserError(f"{path}, row {row + 2}: column {name!r} is not numeric ({column.iloc[row]!r})")
    infinite = np.isinf(numbers.to_numpy(dtype="float64"))
    if infinite.any():
        row = int(np.argmax(infinite))
        raise UserError(f"{path}, row {row + 2}: column {name!r} is infinite ({str(column.iloc[row])!r})")
    return numbers


def parse_times(column, name: str, date_format: str, path: str):
    """(the time column as datetimes or floats, whether they are dates): numbers unless a date format is
    given or some value is not a number."""
    import pandas as pd

    numeric_time = pd.to_numeric(column, errors="coerce")
    if numeric_time.notna().all() and not date_format:
        return numeric_time.astype("float64"), False
    try:
        return pd.to_datetime(column, format=date_format or None), True
    except (ValueError, TypeError) as e:
        raise UserError(f"{path}: time column {name!r} does not parse as dates "
                        f"({str(e).splitlines()[0][:120]}); set data.date_format") from None


def read_csv(path: str, *, time_column: str, targets: str, separator: str, date_format: str, encoding: str,
             features: str = "", future: str = ""):
    """(a DataFrame of the target columns, then the feature columns, then the future-known ones, indexed
    by time, whether the time column holds dates)."""
    import pandas as pd

    frame = read_frame(path, separator, encoding)
    columns = list(frame.columns)
    if not columns:
        raise UserError(f"{path}: no columns (a header row of a time column and targets is expected)")
    if len(frame) == 0:
        raise UserError(f"{path}: no data rows (only a header)")
    time_name = time_column or columns[0]
    if time_name not in columns:
        raise UserError(f"data.time_column={time_name!r}: not a column of {path}; it has {', '.join(columns)}")
    wanted, extra, ahead = _choose_columns(columns, targets, features, path, time_name, future)
    if not wanted:
        raise UserError(f"--data {path}: no target column besides the time column {time_name!r}")
    wanted = wanted + extra + ahead
    values = frame[wanted]
    for name in wanted:
        values = values.assign(**{name: numeric_column(values[name], name, path)})
    times, is_dates = parse_times(frame[time_name], time_name, date_format, path)
    index = (pd.DatetimeIndex(times, name=time_name) if is_dates
             else pd.Index(times.to_numpy(dtype="float64"), name=time_name))
    _check_order(index, path, time_name)
    return values.set_axis(index), is_dates


def _check_order(index, path: str, time_name: str) -> None:
    steps = np.diff(index.to_numpy()).astype("float64") if len(index) > 1 else np.array([])
    if (steps == 0).any():
        row = int(np.argmax(steps == 0)) + 1
        raise UserError(f"{path}, row {row + 2}: duplicated time {_show(index[row])} in column {time_name!r}")
    if (steps < 0).any():
        row = int(np.argmax(steps < 0)) + 1
        raise UserError(f"{path}, row {row + 2}: time {_show(index[row])} comes before the row above (column "
                        f"{time_name!r} must increase)")


def _show(stamp) -> str:
    return str(_number(stamp)) if isinstance(stamp, (float, np.floating)) else str(stamp)


def regularise(frame, is_dates: bool, frequency: str, where: str):
    """Put `frame` on a regular grid: (frame, frequency string). Gaps become missing values."""
    import pandas as pd

    if not is_dates:
        index = frame.index.to_numpy(dtype="float64")
        steps = np.diff(index)
        step = float(np.min(steps)) if len(steps) else 1.0
        if frequency:
            try:
                step = float(frequency)
            except ValueError:
                raise UserError(f"data.frequency={frequency!r}: the time column holds numbers; give the step as a number") from None
        grid = np.round((index - index[0]) / step, 9)
        if not np.allclose(grid, np.round(grid)):
            raise UserError(f"{where}: time steps are not multiples of {step:g}; set data.frequency to the step")
        full = index[0] + step * np.arange(int(round(grid[-1])) + 1)
        return frame.reindex(pd.Index(full, name=frame.index.name), method="nearest", tolerance=step * 1e-6), f"step={step:g}"
    if not frequency and len(frame.index) < 3:
        raise UserError(f"{where}: {len(frame.index)} row(s), too few to infer the frequency of the time column; "
                        f"give more rows or set data.frequency, for example MS, D or h")
    freq = frequency or _infer_frequency(frame.index)
    if not freq:
        raise UserError(f"{where}: cannot infer the frequency of the time column (gaps or irregular stamps); "
                        f"set data.frequency, for example MS, D or h")
    try:
        regular = frame.asfreq(freq)
    except ValueError as e:
        raise UserError(f"data.frequency={freq!r}: {str(e).splitlines()[0]}") from None
    if len(regular.index.intersection(frame.index)) < len(frame.index):
        raise UserError(f"{where}: time stamps do not fall on the frequency {freq!r}; set data.frequency")
    return regular, freq


def _infer_frequency(index) -> str | None:
    """pandas' inferred frequency of the stamps, or where gaps defeat it, the one most runs of five
    consecutive stamps agree on (the grid a few missing rows fall out of)."""
    from collections import Counter

    import pandas as pd

    if len(index) < 3:
        return None
    whole = pd.infer_freq(index)
    if whole:
        return whole
    votes = Counter(f for i in range(0, len(index) - 4, max(1, len(index) // 200))
                    if (f := pd.infer_freq(index[i: i + 5])))
    return votes.most_common(1)[0][0] if votes else None


def fill_missing(frame, policy: str, where: str):
    """Apply the missing-value policy; `refuse` names the first missing row."""
    missing = frame.isna().to_numpy().any(axis=1)
    if not missing.any():
        return frame
    if policy == "refuse":
        row = int(np.argmax(missing))
        raise UserError(f"{where}: missing value at time {frame.index[row]} (row {row + 1} of the regular series); "
                        f"set data.missing=interpolate or ffill")
    filled = frame.interpolate(method="linear", limit_direction="both") if policy == "interpolate" else frame.ffill().bfill()
    return filled


def load_series(spec: str | None, config, seed: int) -> Series:
    """The series a `--data` spec names (see the task's `data_sources`)."""
    spec = spec or "statsmodels:co2"
    if spec.startswith("generated"):
        _, _, length = spec.partition(":")
        try:
            n = int(length) if length else 2000
        except ValueError:
            raise UserError(f"--data {spec}: expected generated or generated:LENGTH") from None
        if config.features or config.future_features or config.calendar:
            raise UserError(f"--data {spec}: a generated series has no feature columns nor dates; leave "
                            f"data.features, data.future_features and data.calendar empty")
        return generated(n, seed, season=config.season or 12)
    if spec.startswith("statsmodels:"):
        name = spec.split(":", 1)[1]
        frame, freq = packaged(name)
        where, is_dates = f"statsmodels:{name}", True
        wanted, extra, ahead = _choose_columns(list(frame.columns), config.targets, config.features, where,
                                               future=config.future_features)
        frame = frame[wanted + extra + ahead].asfreq(freq)
    else:
        frame, is_dates = read_csv(spec, time_column=config.time_column, targets=config.targets,
                                   separator=config.separator, date_format=config.date_format, encoding=config.encoding,
                                   features=config.features, future=config.future_features)
        where = spec
        frame, freq = regularise(frame, is_dates, config.frequency, where)
    extra, ahead = _names(config.features), _names(config.future_features)
    k = len(frame.columns) - len(extra) - len(ahead)
    # A file made ready for predict ends in rows of future-known values with the targets blank: the
    # steps to forecast, not missing data. Training reads the series up to its last target value.
    frame, _ = split_future_rows(frame, k) if ahead else (frame, None)
    # The packaged CO2 series has weeks without a reading; interpolating them is the dataset's usual treatment.
    frame = fill_missing(frame, "interpolate" if spec == "statsmodels:co2" else config.missing, where)
    columns = frame.to_numpy(dtype="float64")
    if not np.isfinite(columns).all():
        raise UserError(f"{where}: infinite values in the data")
    attributes = fcal.parse(config.calendar)
    if attributes:  # computed future-known features, after the file's own
        fcal.require_dates(attributes, is_dates, where)
        columns = np.concatenate([columns, fcal.columns(frame.index, attributes, where)], axis=1)
        ahead = ahead + fcal.column_names(attributes)
    times = frame.index if is_dates else frame.index.to_numpy(dtype="float64")
    season = config.season or season_of(freq)
    f = k + len(extra)
    return Series(columns[:, :k], times, [str(c) for c in frame.columns[:k]], freq, season, where,
                  features=columns[:, k:f] if extra else None, feature_names=extra or None,
                  future=columns[:, f:] if ahead else None, future_names=ahead or None)


def split_future_rows(frame, targets: int):
    """(the rows up to the last one with a target value, the rows after it): with future-known features,
    the trailing rows whose targets are all blank are the steps a forecast is wanted for."""
    observed = frame.iloc[:, :targets].notna().to_numpy().any(axis=1)
    end = len(observed) - int(np.argmax(observed[::-1])) if observed.any() else 0
    return frame.iloc[:end], frame.iloc[end:]


__all__ = ["MISSING_POLICIES", "PACKAGED", "Series", "generated", "load_series", "next_times", "numeric_column",
           "parse_times", "read_frame", "season_of", "split_future_rows"]
