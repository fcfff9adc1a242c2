"""Photos of incidents: JPEG or PNG only, size-limited, stripped of metadata, kept on disk.

Who may add one: whoever may see the incident (:func:`gridgis.incidents.views.get_visible`,
so grid staff only in their own area) and takes part in incidents' work: those who
report them (``incidents:report``), work on them (``incidents:work``) or dispatch
them (``incidents:dispatch``). Planners and viewers see incidents but add nothing.
Who may see one: whoever may see its incident; anyone else gets the same "no such
photo" as for an id that does not exist.

What is accepted is decided by decoding the bytes with Pillow, never by a file name
or a declared type: a JPEG or a PNG that decodes in full, of at most
:data:`MAX_PIXELS` pixels. The photo is then re-encoded from its pixels alone,
upright (the EXIF orientation applied first): no EXIF (GPS position, camera, time),
no XMP, no ICC profile, no comment or text chunk survives.

Storage (:mod:`gridgis.incidents.media`): the re-encoded file goes to
``<media folder>/photos/<random>.jpg|png`` (folders 0700, files 0600, a temporary file
renamed), never into the database. Why write *after* the row is flushed: a database
error (the likelier failure) then stops the upload before anything is on disk, and a
failed write raises and rolls the row back with the unit of work, so no row ever names
a missing file. A unit of work that rolls back after the write deletes the file
(:func:`gridgis.incidents.media.delete_on_rollback`); only a crash between the write
and the commit leaves a file no row names: nobody can reach it (files are served only
through their row, under names nobody can guess) and :func:`remove_orphans` deletes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import secrets
import warnings
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import Conflict, GridgisError, InvalidInput, NotFound
from gridgis.incidents.history import append_event
from gridgis.incidents.media import delete_on_rollback, old_files, remove_files, write_private
from gridgis.incidents.views import get_visible, visible_to
from gridgis.models import Incident, IncidentPhoto

logger = logging.getLogger(__name__)

#: Any one of these lets a person (or key) who may see an incident add photos to it.
PHOTO_PERMISSIONS = ("incidents:report", "incidents:work", "incidents:dispatch")
#: The only decoders Pillow may try: no GIF, WebP, TIFF, BMP, PDF, ... whatever it could read.
DECODERS = ("JPEG", "PNG")
#: What each decoded format is stored and served as. An MPO (the JPEG decoder's name for
#: a JPEG with extra frames: phones' portrait and 3D shots) keeps its first frame.
CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
#: Most pixels a photo may have: a 48-megapixel phone camera's full size (8000 × 6000)
#: fits. Decoding one costs 3 bytes a pixel (about 150 MB here), so more is refused
#: before decoding, whatever the file's size: a small PNG can claim a huge canvas.
MAX_PIXELS = 50_000_000
#: Where photos live inside the media folder, so that other media can live beside them.
PHOTO_FOLDER = "photos"
#: How old a file no row names must be before :func:`remove_orphans` deletes it:
#: well past any unit of work still on its way to its commit.
ORPHAN_GRACE = dt.timedelta(days=1)

ACCEPTED = "Photos must be JPEG or PNG images"
_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png)")
_JPEG_QUALITY = 90
#: PNG pixel formats stored as they come (16-bit grey too); others become RGB(A).
_PNG_MODES = ("1", "L", "LA", "I;16", "RGB", "RGBA")


class InvalidPhoto(InvalidInput):
    """The bytes are not a JPEG or PNG photo that decodes in full."""


class PhotoTooLarge(GridgisError):
    """A photo over the size limit (413: the client should send a smaller one)."""

    http_status = 413


def describe_size(size: int) -> str:
    """``10 MB``, ``512 KB``, ``300 bytes``: how a limit or a size is told to a user."""
    if size >= 2**20:
        return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} bytes"


def check_size(size: int, max_bytes: int) -> None:
    """Refuse a photo of ``size`` bytes over ``max_bytes`` (also called before reading a body).

    Raises:
        PhotoTooLarge: The photo is larger than the limit; the message says both.
    """
    if size > max_bytes:
        raise PhotoTooLarge(
            f"The photo is larger than {describe_size(max_bytes)}, the most a photo may be "
            f"(this one is {describe_size(size)}). Send a smaller JPEG or PNG: a phone's "
            "'large' or 'medium' photo size fits."
        )


def add_photo(
    session: Session,
    incident_id: int,
    data: bytes,
    *,
    actor: Principal,
    media_dir: Path,
    max_bytes: int,
) -> IncidentPhoto:
    """Check, clean and store a photo of an incident (flushed; the caller commits).

    Args:
        session: The unit of work; the row and the incident event join it, and the
            file is deleted again if it rolls back.
        incident_id: The incident the photo shows.
        data: The uploaded bytes, as they came.
        actor: Who adds it (they must see the incident and report, work on or dispatch).
        media_dir: The media folder (:func:`gridgis.incidents.media.media_folder`).
        max_bytes: The largest upload accepted (``GRIDGIS_MAX_PHOTO_MB``).

    Returns:
        The new photo's row.

    Raises:
        Forbidden: The actor's role or key may not add photos.
        NotFound: No such incident, or one the actor may not see (the same answer).
        Conflict: The incident was merged into another (add the photo there).
        PhotoTooLarge: Over ``max_bytes``.
        InvalidPhoto: Not a JPEG or PNG, damaged, or too many pixels.
    """
    if not any(actor.can(p) for p in PHOTO_PERMISSIONS):
        raise Forbidden(
            "Your role may not add photos to incidents (it needs one of the permissions "
            f"{', '.join(PHOTO_PERMISSIONS)})."
        )
    incident = get_visible(session, incident_id, actor)
    if incident.merged_into_id is not None:
        raise Conflict(
            f"Incident {incident.id} was merged into incident {incident.merged_into_id}: "
            "add the photo there."
        )
    check_size(len(data), max_bytes)
    cleaned, content_type = clean_photo(data)
    extension = "png" if content_type == "image/png" else "jpg"
    photo = IncidentPhoto(
        incident_id=incident.id,
        stored_name=f"{secrets.token_hex(16)}.{extension}",
        content_type=content_type,
        size=len(cleaned),
        sha256=hashlib.sha256(cleaned).hexdigest(),
        uploaded_at=clock.now(),
        uploaded_by=actor.audit_name,
    )
    session.add(photo)
    session.flush()
    append_event(
        session,
        incident,
        actor,
        "photo",
        incident.status,
        incident.status,
        data={"photo": photo.id, "content_type": content_type, "size": photo.size},
    )
    # Last, after every database write: a failure before here leaves nothing on disk.
    path = write_private(media_dir / PHOTO_FOLDER, photo.stored_name, cleaned)
    delete_on_rollback(session, path)
    return photo


def photos_of(session: Session, incident_id: int, viewer: Principal) -> list[IncidentPhoto]:
    """The photos of an incident ``viewer`` may see, oldest first.

    Raises:
        NotFound: No such incident, or one the viewer may not see.
    """
    incident = get_visible(session, incident_id, viewer)
    return list(
        session.scalars(
            sa.select(IncidentPhoto)
            .where(IncidentPhoto.incident_id == incident.id)
            .order_by(IncidentPhoto.id)
        )
    )


def photo_file(
    session: Session, photo_id: int, viewer: Principal, media_dir: Path
) -> tuple[Path, str]:
    """Where a photo's file is and its content type, for a viewer who may see its incident.

    Raises:
        NotFound: No such photo, or one of an incident the viewer may not see (the
            same answer), or its file is missing from the media folder.
    """
    photo = session.scalar(
        sa.select(IncidentPhoto)
        .join(Incident, Incident.id == IncidentPhoto.incident_id)
        .where(IncidentPhoto.id == photo_id, visible_to(viewer))
    )
    if photo is None:
        raise NotFound(f"No photo {photo_id}.")
    # The name is ours (random hex), but a path is only ever built from a name of that form.
    path = media_dir / PHOTO_FOLDER / photo.stored_name
    if not _NAME.fullmatch(photo.stored_name) or not path.is_file():
        logger.warning("photo %s: its file is missing from the media folder", photo.id)
        raise NotFound(
            f"The file of photo {photo_id} is missing from the media folder; "
            "ask the administrator to restore it from the backup."
        )
    return path, photo.content_type


def clean_photo(data: bytes) -> tuple[bytes, str]:
    """Decode a JPEG or PNG and re-encode its pixels alone, upright.

    Returns:
        The new file's bytes and its content type (``image/jpeg`` or ``image/png``).

    Raises:
        InvalidPhoto: Empty, not a JPEG or PNG, damaged or cut short, or over
            :data:`MAX_PIXELS` pixels; the message says what is accepted.
    """
    if not data:
        raise InvalidPhoto(f"The photo is empty. {ACCEPTED}.")
    # Deliberately ours, not Pillow's default (89 million): Pillow warns past it and
    # refuses past twice it; the warning is made an error below, so both refuse.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. odd EXIF: it is dropped anyway
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=DECODERS) as image:
                content_type = CONTENT_TYPES[image.format or ""]
                image.load()  # a truncated file fails here, not half-stored
                return _reencode(image, content_type), content_type
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidPhoto(
            f"The photo has more than {MAX_PIXELS // 1_000_000} million pixels, the most "
            f"a photo may have. {ACCEPTED} of at most that size (a phone camera's "
            "photos fit)."
        ) from exc
    except UnidentifiedImageError as exc:
        kind = _looks_like(data)
        raise InvalidPhoto(
            f"This file is not a JPEG or PNG image{f' (it looks like {kind})' if kind else ''}. "
            f"{ACCEPTED}: convert it, or on a phone that saves HEIC photos choose "
            "'Most Compatible' (JPEG) in the camera's settings."
        ) from exc
    except Exception as exc:
        # Pillow's decoders answer hostile or broken input with many kinds of
        # error (OSError for a truncated file, SyntaxError, struct.error, ...):
        # every one of them means this is not a photo we can store.
        raise InvalidPhoto(
            "The photo could not be read in full: the file is damaged or was cut short "
            f"in sending. {ACCEPTED}; please send it again."
        ) from exc


def _reencode(image: Image.Image, content_type: str) -> bytes:
    upright = ImageOps.exif_transpose(image)
    if content_type == "image/jpeg":
        mode = "L" if upright.mode in ("1", "L") else "RGB"  # CMYK and the rest: RGB
    elif upright.mode in _PNG_MODES and "transparency" not in upright.info:
        mode = upright.mode
    else:  # a palette, or a transparent colour (kept in .info, which goes): plain pixels
        transparent = "transparency" in upright.info or upright.mode.endswith("A")
        grey = upright.mode in ("1", "L", "I;16")
        mode = ("LA" if grey else "RGBA") if transparent else ("L" if grey else "RGB")
    clean = upright if upright.mode == mode else upright.convert(mode)
    # Pillow carries metadata in .info (EXIF, XMP, ICC profile, comment, PNG text) and
    # its writers copy some of it (ICC into PNG, the JPEG comment): none may survive.
    clean.info.clear()
    out = io.BytesIO()
    if content_type == "image/jpeg":
        clean.save(out, "JPEG", quality=_JPEG_QUALITY)
    else:
        clean.save(out, "PNG")
    return out.getvalue()


#: Opening bytes of what people send instead of a photo, to name it in the refusal.
_SIGNATURES = (
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)
_FTYP = {b"heic": "a HEIC photo", b"heix": "a HEIC photo", b"mif1": "a HEIC photo"}


def _looks_like(data: bytes) -> str | None:
    head = data[:512]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "an AVIF image" if head[8:12] == b"avif" else None)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if b"<svg" in head.lower():
        return "an SVG drawing"
    return None


def remove_orphans(
    session: Session, media_dir: Path, *, older_than: dt.timedelta = ORPHAN_GRACE
) -> int:
    """Delete the photo folder's files that no row names; return how many.

    They come from a crash between a file's write and its commit, a temporary
    file left by a crash mid-write, or an incident deleted with its photos'
    rows. Only files older than ``older_than`` are touched: a younger one may
    belong to a unit of work not yet committed.
    """
    old = old_files(media_dir / PHOTO_FOLDER, older_than)
    names = [p.name for p in old if _NAME.fullmatch(p.name)]
    named: set[str] = set()
    for start in range(0, len(names), 5000):  # bounded statements, whatever the folder holds
        chunk = names[start : start + 5000]
        named.update(
            session.scalars(
                sa.select(IncidentPhoto.stored_name).where(IncidentPhoto.stored_name.in_(chunk))
            )
        )
    orphans = [p for p in old if p.name not in named]
    remove_files(orphans)
    if orphans:
        logger.info("removed %d photo files that no row names", len(orphans))
    return len(orphans)
