"""From a channel's own classification to gridgis categories: a table, not code.

A 12345 hotline classifies every work order in its own words, ``一级>二级``
(``市容环境>垃圾清运``). Which gridgis category that is depends on the
installation's categories, so the answer is a table an administrator edits:
a JSON object ``{"市容环境>垃圾清运": "sanitation", ...}`` or a CSV/XLSX with
the columns ``问题分类`` and ``category`` (an empty category, or ``null``,
says "leave it unclassified"). A key may also be a first level alone
(``"市容环境"``): it maps every second level the table does not name.
Spaces, full-width characters and the separator (``>``, ``＞``, ``/``, ``|``,
``→``) do not matter.

The demo's table is ``data/hotline/category_mapping.json``. A classification
no entry maps comes in unclassified (category None, the text kept as the
incident's ``source_category``) for a dispatcher to classify. Every category
a table names must exist, or the table is refused before anything is read.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from gridgis.config import PROJECT_ROOT
from gridgis.errors import InvalidInput
from gridgis.geo import tables
from gridgis.incidents.reports import categories

#: The table used when none is given: the demo community's categories.
DEFAULT_MAPPING = PROJECT_ROOT / "data" / "hotline" / "category_mapping.json"
SOURCE_COLUMNS = ("问题分类", "classification", "source_category")
CATEGORY_COLUMNS = ("category", "类别", "事件类别")

_SEPARATORS = re.compile(r"\s*[>/|→\\]\s*")


def class_key(text: str) -> str:
    """How a classification is compared: ``市容环境 ＞ 垃圾清运`` → ``市容环境>垃圾清运``."""
    folded = unicodedata.normalize("NFKC", text).strip()
    return "".join(_SEPARATORS.sub(">", folded).split())


@dataclass(frozen=True)
class ClassMapping:
    """The table: classification key → category code (None: leave unclassified)."""

    table: dict[str, str | None]
    #: Where the table came from (the audit entry names it).
    source: str

    def category_for(self, classification: str | None) -> str | None:
        """The category of a classification: the whole, else its first level, else None."""
        if not classification:
            return None
        key = class_key(classification)
        if key in self.table:
            return self.table[key]
        return self.table.get(key.split(">", 1)[0])


def read_mapping(session: Session, path: Path | None = None) -> ClassMapping:
    """The classification table in ``path`` (default :data:`DEFAULT_MAPPING`), checked.

    Raises:
        InvalidInput: The file cannot be read, is not a table of text to text,
            or names a category that does not exist (all such are listed).
    """
    path = path or DEFAULT_MAPPING
    label = str(path)
    if path.suffix.lower() == ".json":
        pairs = _json_pairs(path, label)
    else:
        pairs = _table_pairs(path, label)
    table: dict[str, str | None] = {}
    for source, code in pairs:
        key = class_key(source)
        if key in table and table[key] != code:
            raise InvalidInput(f"{label}: {source!r} is mapped twice, to different categories.")
        table[key] = code
    known = categories(session)
    unknown = sorted({code for code in table.values() if code and code not in known})
    if unknown:
        raise InvalidInput(
            f"{label} maps to categories that do not exist: {', '.join(unknown)}; the "
            f"categories are: {', '.join(sorted(known)) or 'none loaded'}. Give a mapping "
            "for this installation's categories with --mapping."
        )
    return ClassMapping(table, label)


def _json_pairs(path: Path, label: str) -> list[tuple[str, str | None]]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"{label} cannot be read ({exc.strerror}).") from None
    except ValueError as exc:
        raise InvalidInput(f"{label} is not JSON: {exc}.") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, str) or v is None for v in data.values()
    ):
        raise InvalidInput(
            f"{label} must be a JSON object from the hotline's classification to a "
            'category code (or null), e.g. {"市容环境>垃圾清运": "sanitation"}.'
        )
    return [(str(k), (v or "").strip() or None) for k, v in data.items()]


def _table_pairs(path: Path, label: str) -> list[tuple[str, str | None]]:
    table = tables.read_table(path, label)
    source = tables.pick_column(table.header, SOURCE_COLUMNS)
    target = tables.pick_column(table.header, CATEGORY_COLUMNS)
    if source is None or target is None:
        raise InvalidInput(
            f"{label} needs the columns {SOURCE_COLUMNS[0]} (the hotline's classification) "
            f"and {CATEGORY_COLUMNS[0]} (a category code, empty for none); its columns are: "
            f"{', '.join(table.header)}."
        )
    return [
        (row[source], row[target].strip() or None) for row in table.records() if row[source].strip()
    ]
