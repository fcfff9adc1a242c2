"""How the attribute fields of a file are found and their values parsed.

Which fields a layer's files hold (names, kinds, Shapefile short names,
aliases) is the layer's spec, :mod:`gridgis.geo.layers`; ``LAYER_FIELDS`` is
its file fields by layer. The importer reads them with :func:`read_records`,
accepting a field's name, short name or aliases, and the exporter writes the
same fields, so an exported file always imports back.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from gridgis.errors import InvalidFile
from gridgis.geo.layers import LAYER_SPECS, FieldSpec

__all__ = [
    "LAYERS",
    "LAYER_FIELDS",
    "FieldSpec",
    "duplicates",
    "find_column",
    "generated_code_warning",
    "is_missing",
    "parse_value",
    "read_records",
]

#: The layers gridgis imports and exports, in the order they are usually loaded.
LAYERS = tuple(LAYER_SPECS)
#: The fields each layer's files hold: what the importer reads, the exporter writes.
LAYER_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    name: spec.file_fields for name, spec in LAYER_SPECS.items()
}
#: Households (户, gridgis.shapes.households): imported only. They are personal
#: data, so no layer spec, no map view and no export. The head's name, the phone
#: and the note have no length here: the importer checks them itself, with
#: messages that never quote them.
LAYER_FIELDS["households"] = (
    FieldSpec("code", max_len=64, aliases=("户编码", "户编号", "编码", "编号", "id")),
    FieldSpec("building", max_len=64, aliases=("楼栋", "楼栋编码", "楼栋编号")),
    FieldSpec("unit", max_len=32, aliases=("单元", "单元号")),
    FieldSpec("room", max_len=32, aliases=("房号", "门牌号", "室")),
    FieldSpec("head_name", aliases=("户主", "户主姓名", "姓名", "name")),
    FieldSpec("phone", aliases=("电话", "联系电话", "手机")),
    FieldSpec("members", "int", aliases=("人数", "家庭人数", "人口")),
    FieldSpec("care_flags", max_len=200, aliases=("关爱标记", "标记", "flags")),
    FieldSpec("note", aliases=("备注",)),
    FieldSpec("registered", max_len=40, aliases=("登记日期", "登记时间", "registered_on")),
)


_TRUE = {"true", "t", "yes", "y", "1", "是", "有", "on"}
_FALSE = {"false", "f", "no", "n", "0", "否", "无", "off"}


def find_column(
    columns: Iterable[str], spec: FieldSpec, override: str | None, label: str
) -> str | None:
    """The file's column for ``spec``: ``override`` if given, else a known name.

    Raises:
        InvalidFile: ``override`` names a column the file does not have.
    """
    columns = [c for c in columns if c != "geometry"]
    if override is not None:
        for wanted in (override, override.casefold()):
            for column in columns:
                if column == wanted or column.casefold() == wanted:
                    return column
        raise InvalidFile(
            f"{label} has no field {override!r} (given for the {spec.name}); "
            f"its fields are: {', '.join(columns) or 'none'}."
        )
    by_name = {c.casefold(): c for c in columns}
    for name in spec.accepted_names():
        if name in by_name:
            return by_name[name]
    return None


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (dict, list, tuple)):
        return not value
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_text(value: Any) -> str:
    # Numbers that are whole (an int field, or a float column with gaps) are
    # written without ".0": a code 101 must not become "101.0".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(float(value)))
    return str(value).strip()


def parse_value(spec: FieldSpec, value: Any) -> Any:
    """The value ``spec`` stores for a cell; None when the cell is empty.

    Raises:
        ValueError: With a message that names the field and the bad value.
    """
    if is_missing(value):
        return None
    if spec.kind == "text":
        text = _as_text(value)
        if spec.max_len and len(text) > spec.max_len:
            raise ValueError(
                f"{spec.name} {_short(text)!r} is longer than {spec.max_len} characters"
            )
        return text
    if spec.kind == "bool":
        return _parse_bool(spec, value)
    number = _parse_number(spec, value)
    if spec.kind == "int":
        if not float(number).is_integer():
            raise ValueError(f"{spec.name} {_short(_as_text(value))!r} is not a whole number")
        number = int(number)
    if number < 0:
        raise ValueError(f"{spec.name} {_as_text(value)} is negative")
    return number


def _parse_number(spec: FieldSpec, value: Any) -> float:
    # A bool is a Real to Python, but "true" is no count of floors.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"{spec.name} {_short(value)!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{spec.name} {_short(value)!r} is not a finite number")
    return number


def _parse_bool(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, (bool, numbers.Integral)) and value in (0, 1):
        return bool(value)
    text = _as_text(value).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{spec.name} {_short(value)!r} is not yes/no (use true/false, 1/0 or 是/否)")


def _short(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_records(
    frame: pd.DataFrame,
    specs: Sequence[FieldSpec],
    labels: Sequence[str],
    label: str,
    *,
    overrides: dict[str, str | None] | None = None,
) -> tuple[list[dict[str, Any]], set[str], list[str]]:
    """Parse the fields ``specs`` from every row of ``frame``.

    Args:
        frame: The file's attribute table (a geometry column is ignored).
        specs: The fields to read.
        labels: How to name each row in a message ("feature 3", "row 2 (line 3)").
        label: The file, for messages.
        overrides: Field name -> column the user named (``--code-field``).

    Returns:
        One dict per row keyed by field name, the field names that have a
        column in the file, and one problem line per bad cell.
    """
    overrides = overrides or {}
    columns = {s.name: find_column(frame.columns, s, overrides.get(s.name), label) for s in specs}
    present = {name for name, column in columns.items() if column is not None}
    records: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    problems: list[str] = []
    for spec in specs:
        column = columns[spec.name]
        values = frame[column].tolist() if column is not None else [None] * len(frame)
        for i, value in enumerate(values):
            try:
                records[i][spec.name] = parse_value(spec, value)
            except ValueError as exc:
                problems.append(f"{labels[i]}: {exc}")
    return records, present, problems


def generated_code_warning(label: str, what: str, count: int) -> str:
    return (
        f"{label} has no {what} field (code/id/编码/编号, or --code-field), "
        f"so the features were numbered 1 to {count} in file order."
    )


def duplicates(values: Iterable[tuple[str, Any]]) -> dict[Any, list[str]]:
    """Values that occur more than once, with the labels of the rows holding them."""
    seen: dict[Any, list[str]] = {}
    for where, value in values:
        if value is not None:
            seen.setdefault(value, []).append(where)
    return {v: where for v, where in seen.items() if len(where) > 1}
