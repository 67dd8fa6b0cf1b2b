"""Versioned JSON for ``Problem`` and ``Solution`` with an exact round trip.

Format (docs/optimizer-json.md): one object with ``"schema_version"`` and ``"kind"``
(``"problem"`` / ``"solution"``), then the dataclass fields by name, in declaration order.
Floats are written with ``repr`` (shortest form that reads back to the same double);
non-finite floats as the strings ``"inf"``, ``"-inf"``, ``"nan"`` (the output is strict JSON);
dates as ISO ``YYYY-MM-DD``; 1-D arrays as lists; 2-D arrays as ``{"shape": [r, c],
"values": [row-major list]}``; enums by value; ``None`` as ``null``.

The encoder is driven by the dataclass type hints, so a new field is serialised without
touching this module (and a field the reader does not know is an error, not silently dropped).
A field whose metadata has ``OMIT_DEFAULT`` (``RecentTrade.lot_id``, ``Problem.tax_year``,
``Settings.anniversary_days``, ``ObjectiveTerms.wait``, ...) is left out while it holds its
default; a missing field reads as its default. So files written before such a field was added
load unchanged and keep their bytes (schema_version stays 1; docs/optimizer-json.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import types
import typing
from typing import Any

import numpy as np

from optimizer.types import Problem, Solution

SCHEMA_VERSION = 1
OMIT_DEFAULT = "json_omit_default"
"""Field metadata key: a field marked with it is not written while it holds its default (a
field added after files were written: old files then round trip to the same bytes, and readers
of the same version that predate the field can read every file that does not use it)."""
_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _float_out(x: float) -> float | str:
    if math.isfinite(x):
        return float(x)
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def _float_in(x: Any) -> float:
    if isinstance(x, str):
        return _NONFINITE[x]
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ValueError(f"expected a number, got {x!r}")
    return float(x)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _array_dtype(tp: Any) -> np.dtype[Any]:
    """numpy dtype named by an ``npt.NDArray[...]`` annotation."""
    dtype_arg = typing.get_args(tp)[1]  # numpy.dtype[np.float64]
    scalar = typing.get_args(dtype_arg)[0]
    result: np.dtype[Any] = np.dtype("datetime64[D]" if scalar is np.datetime64 else scalar)
    return result


def _is_array(tp: Any) -> bool:
    return typing.get_origin(tp) is np.ndarray


def _encode(value: Any, tp: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _encode(value, inner[0])
    if _is_array(tp):
        arr = np.asarray(value)
        if arr.dtype.kind == "M":
            flat: list[Any] = [str(d) for d in arr.astype("datetime64[D]").reshape(-1)]
        elif arr.dtype.kind == "f":
            flat = [_float_out(v) for v in arr.reshape(-1).tolist()]
        else:
            flat = arr.reshape(-1).tolist()
        if arr.ndim == 1:
            return flat
        return {"shape": list(arr.shape), "values": flat}
    if dataclasses.is_dataclass(tp):
        return _encode_dataclass(value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return [_encode(v, args[0]) for v in value]
        return [_encode(v, a) for v, a in zip(value, args, strict=True)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value).value
    if tp is dt.date:
        return value.isoformat()
    if tp is float:
        return _float_out(float(value))
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    if tp is str:
        return str(value)
    if tp is Any or tp is object:
        return value
    raise TypeError(f"cannot encode {tp!r}")


def _decode(obj: Any, tp: Any) -> Any:
    if obj is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(obj, inner[0])
    if _is_array(tp):
        dtype = _array_dtype(tp)
        if isinstance(obj, dict):
            shape = tuple(int(s) for s in obj["shape"])
            flat = obj["values"]
        else:
            shape = (len(obj),)
            flat = obj
        if dtype.kind == "f":
            arr = np.array([_float_in(v) for v in flat], dtype=dtype)
        elif dtype.kind == "M":
            arr = np.array(flat, dtype=dtype)
        elif dtype.kind in "iu":
            # numpy would truncate 1.5 to 1 and read true as 1: an index must be an integer.
            bad = [v for v in flat if isinstance(v, bool) or not isinstance(v, int)]
            if bad:
                raise ValueError(f"expected integers, got {bad[0]!r}")
            arr = np.array(flat, dtype=dtype)
        elif dtype.kind == "b":
            bad = [v for v in flat if not isinstance(v, bool)]
            if bad:
                raise ValueError(f"expected true/false, got {bad[0]!r}")
            arr = np.array(flat, dtype=dtype)
        else:
            arr = np.array(flat, dtype=dtype)
        return arr.reshape(shape)
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(obj, tp)  # type: ignore[arg-type]
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0]) for v in obj)
        return tuple(_decode(v, a) for v, a in zip(obj, args, strict=True))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(obj)
    if tp is dt.date:
        return dt.date.fromisoformat(obj)
    if tp is float:
        return _float_in(obj)
    if tp is int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise ValueError(f"expected an integer, got {obj!r}")
        return obj
    if tp is bool:
        if not isinstance(obj, bool):
            raise ValueError(f"expected true/false, got {obj!r}")
        return obj
    if tp is str:
        if not isinstance(obj, str):
            raise ValueError(f"expected a string, got {obj!r}")
        return obj
    raise TypeError(f"cannot decode {tp!r}")


def _encode_dataclass(value: Any) -> dict[str, Any]:
    hints = _hints(type(value))
    return {
        f.name: _encode(getattr(value, f.name), hints[f.name])
        for f in dataclasses.fields(value)
        if not (f.metadata.get(OMIT_DEFAULT) and getattr(value, f.name) == f.default)
    }


def _decode_dataclass(obj: dict[str, Any], cls: type) -> Any:
    if not isinstance(obj, dict):
        raise ValueError(f"expected an object for {cls.__name__}, got {type(obj).__name__}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(obj) - names)
    if unknown:
        raise ValueError(f"unknown field(s) for {cls.__name__}: {', '.join(unknown)}")
    kwargs = {}
    for name in sorted(names & set(obj)):
        try:
            kwargs[name] = _decode(obj[name], hints[name])
        except (ValueError, TypeError, KeyError) as exc:
            # Name the field (nested: "Problem.lots: Lots.security: expected integers ...").
            raise ValueError(f"{cls.__name__}.{name}: {exc}") from exc
    return cls(**kwargs)


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, allow_nan=False, ensure_ascii=False)


def _envelope(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "kind": kind, **body}


def _open(text: str, kind: str) -> dict[str, Any]:
    obj = json.loads(text)
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    version = obj.pop("schema_version", None)
    if version != SCHEMA_VERSION:
        raise ValueError(f"unsupported schema_version {version!r} (this reader: {SCHEMA_VERSION})")
    found = obj.pop("kind", None)
    if found != kind:
        raise ValueError(f"expected kind {kind!r}, got {found!r}")
    return obj


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    return _envelope("problem", _encode_dataclass(problem))


def problem_to_json(problem: Problem) -> str:
    return _dumps(problem_to_dict(problem))


def problem_from_json(text: str) -> Problem:
    result: Problem = _decode_dataclass(_open(text, "problem"), Problem)
    return result


def solution_to_dict(solution: Solution, *, timings: bool = True) -> dict[str, Any]:
    """``timings=False`` gives the deterministic form (identical bytes for identical runs)."""
    body = _encode_dataclass(solution)
    if not timings:
        body["diagnostics"]["timings"] = []
    return _envelope("solution", body)


def solution_to_json(solution: Solution, *, timings: bool = True) -> str:
    return _dumps(solution_to_dict(solution, timings=timings))


def solution_from_json(text: str) -> Solution:
    result: Solution = _decode_dataclass(_open(text, "solution"), Solution)
    return result
