"""Photos of incidents over HTTP: upload, list, and the image itself.

- ``POST /api/v1/incidents/<id>/photos``: a multipart upload with the photo in
  ``file``, or the photo as the body (``Content-Type: image/jpeg`` or
  ``image/png``). 201 with the photo's id and URL; 400 for anything that is not
  a JPEG or PNG (the message says what is accepted), 413 past
  ``GRIDGIS_MAX_PHOTO_MB`` (the message says the limit).
- ``GET /api/v1/incidents/<id>/photos``: the incident's photos.
- ``GET /api/v1/photos/<photo_id>``: the image, never cached, never sniffed.

The gate asks ``incidents:report`` to upload (every role that works on incidents
holds it) and ``incidents:read`` to look; the domain
(:mod:`gridgis.incidents.photos`) then allows only incidents the principal may
see: grid staff their own area's, and a photo of any other incident is "not
found", as one that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file, url_for

from gridgis.errors import InvalidInput
from gridgis.incidents.media import media_folder
from gridgis.incidents.photos import add_photo, check_size, photo_file, photos_of
from gridgis.models import IncidentPhoto
from web import db
from web.security import current_principal, requires

bp = Blueprint("photos", __name__)

#: Raw bodies accepted as a photo (the bytes decide what it really is).
RAW_TYPES = ("image/jpeg", "image/png")
#: What a multipart body adds around the file (boundaries, headers), at most.
MULTIPART_OVERHEAD = 64 * 1024
SEND_A_PHOTO = (
    "Send the photo as multipart form data with the file in 'file', or as the body "
    "with Content-Type: image/jpeg or image/png."
)


def max_photo_bytes() -> int:
    return db.state().settings.max_photo_mb * 1024 * 1024


def media_dir() -> Path:
    return media_folder(db.state().settings.media_dir)


def uploaded_photo(max_bytes: int) -> bytes:
    """The photo's bytes; a body over the limit is refused before it is read."""
    length = request.content_length
    if request.mimetype == "multipart/form-data":
        if length is not None and length > max_bytes + MULTIPART_OVERHEAD:
            check_size(length, max_bytes)
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput(f"No file in the form field 'file'. {SEND_A_PHOTO}")
        stream = upload.stream
        stream.seek(0, 2)  # werkzeug spooled it: its size without reading it into memory
        check_size(stream.tell(), max_bytes)
        stream.seek(0)
        return stream.read()
    if request.mimetype in RAW_TYPES:
        if length is not None:
            check_size(length, max_bytes)
        return request.get_data(cache=False)
    raise InvalidInput(f"Unsupported Content-Type {request.mimetype or '(none)'!r}. {SEND_A_PHOTO}")


def _shown(photo: IncidentPhoto) -> dict[str, Any]:
    return {
        "id": photo.id,
        "incident_id": photo.incident_id,
        "url": url_for("api.photos.photo", photo_id=photo.id),
        "content_type": photo.content_type,
        "size": photo.size,
        "sha256": photo.sha256,
        "uploaded_at": photo.uploaded_at.isoformat(),
        "uploaded_by": photo.uploaded_by,
    }


@bp.post("/incidents/<int:incident_id>/photos")
@requires("incidents:report")
def upload(incident_id: int) -> tuple[Response, int]:
    """Add a photo (JPEG or PNG) to an incident; its location and other metadata are removed."""
    max_bytes = max_photo_bytes()
    photo = add_photo(
        db.get_session(),
        incident_id,
        uploaded_photo(max_bytes),
        actor=current_principal(),
        media_dir=media_dir(),
        max_bytes=max_bytes,
    )
    shown = _shown(photo)
    response = jsonify(shown)
    response.headers["Location"] = shown["url"]
    return response, 201


@bp.get("/incidents/<int:incident_id>/photos")
@requires("incidents:read")
def photos(incident_id: int) -> Response:
    """The photos of an incident, oldest first."""
    found = photos_of(db.get_session(), incident_id, current_principal())
    return jsonify({"incident_id": incident_id, "photos": [_shown(p) for p in found]})


@bp.get("/photos/<int:photo_id>")
@requires("incidents:read")
def photo(photo_id: int) -> Response:
    """One photo's image, for those who may see its incident."""
    path, content_type = photo_file(db.get_session(), photo_id, current_principal(), media_dir())
    extension = "png" if content_type == "image/png" else "jpg"
    response = send_file(path, mimetype=content_type, conditional=False, etag=False)
    # Residents and their homes: kept out of shared caches and the browser's disk,
    # served only as the type we stored (never sniffed into HTML), shown not saved.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="photo-{photo_id}.{extension}"'
    return response
