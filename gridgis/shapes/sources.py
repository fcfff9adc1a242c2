"""Which data set of a file GDAL reads: the Shapefile inside a .zip, a GeoPackage's layer.

Only these two formats hold more than one thing; every other file is read
as it is. Kept apart from :mod:`gridgis.shapes.reading`, which checks what
is read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyogrio

from gridgis.errors import InvalidFile


def gdal_source(
    path: Path, label: str, *, kind: str | None, chosen: str | None
) -> tuple[str, str | None]:
    """What to hand GDAL for ``path``: the data source and the layer (None: its only one).

    Args:
        path: The file.
        label: The file, for messages.
        kind: What is imported (``grids``...): the layer of that name is read
            from a GeoPackage with several.
        chosen: The GeoPackage layer the user named (``--file-layer``).

    Raises:
        InvalidFile: A .zip without exactly one Shapefile; a GeoPackage without
            the chosen layer, or with several and none named ``kind``.
    """
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _zip_member(path, label), None
    if suffix == ".gpkg":
        return str(path), _gpkg_layer(path, label, kind, chosen)
    return str(path), None


def _zip_member(path: Path, label: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise InvalidFile(f"{label} is not a readable .zip archive.") from None
    shps = [n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    if len(shps) != 1:
        found = ", ".join(shps) if shps else "none"
        raise InvalidFile(
            f"{label} must hold exactly one Shapefile (.shp with its .shx, .dbf, .prj); "
            f"found: {found}."
        )
    return f"/vsizip/{path.resolve()}/{shps[0]}"


def _gpkg_layer(path: Path, label: str, kind: str | None, chosen: str | None) -> str:
    """The layer of a GeoPackage to read: the one chosen, the only one, or the one named ``kind``.

    Only a GeoPackage holds several layers; the other formats have one, whatever
    its name. QGIS users rename layers freely, so names match case-insensitively.
    """
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(str(path))]
    except (RuntimeError, ValueError) as exc:
        raise InvalidFile(f"{label} cannot be read as GeoPackage: {exc}") from None
    listed = ", ".join(names) or "none"
    if chosen is not None:
        found = _layer_named(names, chosen)
        if found is None:
            raise InvalidFile(
                f"{label} has no layer {chosen!r} (given with --file-layer); "
                f"its layers are: {listed}."
            )
        return found
    if len(names) == 1:
        return names[0]
    found = _layer_named(names, kind) if kind is not None else None
    if found is not None:
        return found
    if not names:
        raise InvalidFile(f"{label} holds no layers; it has nothing to import.")
    # Several layers and none named for what is imported: reading "the first"
    # could import a table of buildings as grids, so the user chooses.
    named = f"none is named {kind!r}" if kind is not None else "none was chosen"
    raise InvalidFile(
        f"{label} holds {len(names)} layers ({listed}); {named}. "
        "Choose the layer to import with --file-layer NAME."
    )


def _layer_named(names: list[str], wanted: str) -> str | None:
    if wanted in names:
        return wanted
    folded = [n for n in names if n.casefold() == wanted.casefold()]
    return folded[0] if len(folded) == 1 else None
