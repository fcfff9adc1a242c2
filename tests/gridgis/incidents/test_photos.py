"""Photos of incidents: only real JPEGs and PNGs, re-encoded without location, kept privately.

Every photo is a real file made with Pillow in ``tmp_path``; the media folder is
``tmp_path/media``. What a user would notice: the GPS position is gone from the
stored file, the photo still stands upright, anything else is refused with a
message saying what is accepted and leaves nothing behind, and a photo of an
incident outside one's area does not exist for them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image, ImageCms, PngImagePlugin
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden
from gridgis.config import PROJECT_ROOT
from gridgis.errors import Conflict, NotFound
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import move
from gridgis.incidents.media import media_folder
from gridgis.incidents.photos import (
    MAX_PIXELS,
    PHOTO_FOLDER,
    InvalidPhoto,
    PhotoTooLarge,
    add_photo,
    photo_file,
    photos_of,
    remove_orphans,
)
from gridgis.models import Incident, IncidentEvent, IncidentPhoto
from tests.support.incidents import IN_GRID_B, person, report, staff_member

DISPATCHER = person("dispatcher")
MAX_BYTES = 10 * 2**20
RED, BLUE = (255, 0, 0), (0, 0, 255)
#: 30°30'05"N 114°18'02"E: where the photo was taken, which must not leave with it.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (30.0, 30.0, 5.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (114.0, 18.0, 2.0),
}
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'exif:GPSLatitude="30,30.08N" exif:GPSLongitude="114,18.03E"/></rdf:RDF></x:xmpmeta>'
)


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    return exif


def red_left_blue_right(size: tuple[int, int] = (40, 20), mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size, RED if mode == "RGB" else (*RED, 255))
    image.paste(BLUE if mode == "RGB" else (*BLUE, 255), (size[0] // 2, 0, *size))
    return image


def made(tmp_path: Path, name: str, image: Image.Image, fmt: str, **params: object) -> bytes:
    """Save ``image`` as a file in ``tmp_path`` (as a phone would) and read it back."""
    path = tmp_path / name
    image.save(path, fmt, **params)
    return path.read_bytes()


def phone_jpeg(tmp_path: Path) -> bytes:
    """A phone's photo: held sideways (orientation 6), with GPS, XMP, a comment, an ICC profile."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return made(
        tmp_path,
        "IMG_0001.jpg",
        red_left_blue_right(),
        "JPEG",
        exif=phone_exif(orientation=6),
        xmp=XMP,
        comment=b"taken at home",
        icc_profile=srgb,
    )


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def incident(db_session: Session, city: dict[str, object]) -> Incident:
    """An incident in unit 1 of building X, grid A (GW's team)."""
    return take_in(db_session, report(), actor=DISPATCHER).incident


def stored_files(media: Path) -> list[Path]:
    return sorted(media.rglob("*")) if media.exists() else []


def photo_rows(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(IncidentPhoto)) or 0


def photo_events(session: Session) -> list[IncidentEvent]:
    return list(session.scalars(sa.select(IncidentEvent).where(IncidentEvent.action == "photo")))


def test_gps_and_every_other_tag_are_gone_and_the_photo_stands_upright(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    upload = phone_jpeg(tmp_path)
    sent = Image.open(io.BytesIO(upload))
    assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo) == GPS  # the input does carry it
    assert sent.size == (40, 20) and sent.getexif()[ExifTags.Base.Orientation] == 6

    photo = add_photo(
        db_session, incident.id, upload, actor=DISPATCHER, media_dir=media, max_bytes=MAX_BYTES
    )
    path, content_type = photo_file(db_session, photo.id, DISPATCHER, media)
    stored = path.read_bytes()
    kept = Image.open(path)
    exif = kept.getexif()
    assert ExifTags.Base.GPSInfo not in exif and exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert len(exif) == 0  # no make, no orientation, nothing
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(kept.info)
    for marker in (b"Exif\x00\x00", b"adobe:ns:meta", b"GPSLatitude", b"ICC_PROFILE", b"taken"):
        assert marker not in stored
    # Orientation 6 (rotate 90° clockwise to view): the wide photo now stands, red on top.
    assert kept.size == (20, 40)
    top, bottom = kept.convert("RGB").getpixel((10, 5)), kept.convert("RGB").getpixel((10, 35))
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]
    # The row describes the stored file, not the upload.
    assert content_type == "image/jpeg" == photo.content_type
    assert photo.size == len(stored) and photo.sha256 == hashlib.sha256(stored).hexdigest()
    assert photo.uploaded_by == "user:dispatcher" and photo.uploaded_at is not None
    [event] = photo_events(db_session)
    assert event.incident_id == incident.id and event.actor == "user:dispatcher"
    assert event.from_status == event.to_status == "received"
    assert event.data == {"photo": photo.id, "content_type": "image/jpeg", "size": photo.size}


def test_a_png_stays_a_png_with_its_transparency_and_without_its_metadata(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "陈居民家门口")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    image = red_left_blue_right(mode="RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    upload = made(tmp_path, "screen.png", image, "PNG", exif=phone_exif(), pnginfo=text)
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(ExifTags.IFD.GPSInfo) == GPS

    photo = add_photo(
        db_session, incident.id, upload, actor=DISPATCHER, media_dir=media, max_bytes=MAX_BYTES
    )
    path, content_type = photo_file(db_session, photo.id, DISPATCHER, media)
    kept = Image.open(path)
    assert content_type == "image/png" and kept.format == "PNG" and path.suffix == ".png"
    assert kept.mode == "RGBA" and kept.getpixel((0, 0)) == (0, 0, 0, 0)
    assert kept.getpixel((30, 10)) == (*BLUE, 255)
    assert len(kept.getexif()) == 0 and not kept.text
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "Comment"} & set(kept.info)
    for marker in (b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"iCCP", b"GPS"):
        assert marker not in path.read_bytes()


def test_a_palette_png_with_a_transparent_colour_keeps_its_transparency(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    image = red_left_blue_right().convert("P")
    upload = made(tmp_path, "icon.png", image, "PNG", transparency=image.getpixel((0, 0)))
    photo = add_photo(
        db_session, incident.id, upload, actor=DISPATCHER, media_dir=media, max_bytes=MAX_BYTES
    )
    kept = Image.open(photo_file(db_session, photo.id, DISPATCHER, media)[0])
    assert kept.mode == "RGBA" and kept.getpixel((0, 0))[3] == 0
    assert kept.getpixel((30, 0)) == (*BLUE, 255)


def truncated_jpeg(tmp_path: Path) -> bytes:
    whole = made(tmp_path, "whole.jpg", Image.effect_noise((200, 200), 50).convert("RGB"), "JPEG")
    return whole[: len(whole) // 2]


def bomb(tmp_path: Path, size: tuple[int, int]) -> bytes:
    """A small PNG that decodes to a huge canvas (a one-bit image compresses to nothing)."""
    return made(tmp_path, "bomb.png", Image.new("1", size), "PNG")


NOT_JPEG_OR_PNG = "This file is not a JPEG or PNG image"
DAMAGED = "The photo could not be read in full"
TOO_MANY = f"more than {MAX_PIXELS // 1_000_000} million pixels"
#: name -> (how to make the upload, what the refusal says)
REFUSED = {
    "gif": (lambda p: made(p, "a.gif", red_left_blue_right(), "GIF"), "looks like a GIF image"),
    "webp": (lambda p: made(p, "a.webp", red_left_blue_right(), "WEBP"), "like a WebP image"),
    "bmp": (lambda p: made(p, "a.bmp", red_left_blue_right(), "BMP"), "like a BMP image"),
    "tiff": (lambda p: made(p, "a.tif", red_left_blue_right(), "TIFF"), "like a TIFF image"),
    "pdf renamed .jpg": (
        lambda p: made(p, "scan.jpg", red_left_blue_right(), "PDF"),
        "looks like a PDF document",
    ),
    "svg": (
        lambda p: (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>'
            b"alert(1)</script></svg>"
        ),
        "looks like an SVG drawing",
    ),
    "heic": (
        lambda p: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "looks like a HEIC photo",
    ),
    "text": (lambda p: "陈居民 13911112222".encode(), NOT_JPEG_OR_PNG),
    "empty": (lambda p: b"", "The photo is empty"),
    "truncated jpeg": (truncated_jpeg, DAMAGED),
    "jpeg header only": (lambda p: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", DAMAGED),
    # Past Pillow's limit (set to ours): its warning, made a refusal ...
    "bomb past the limit": (lambda p: bomb(p, (8000, 8000)), TOO_MANY),
    # ... and past twice the limit, where Pillow itself raises.
    "bomb past twice the limit": (lambda p: bomb(p, (12000, 10000)), TOO_MANY),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_anything_but_a_whole_jpeg_or_png_is_refused_and_nothing_is_kept(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path, kind: str
) -> None:
    make_upload, says = REFUSED[kind]
    with pytest.raises(InvalidPhoto, match=says) as refused:
        add_photo(
            db_session,
            incident.id,
            make_upload(tmp_path),
            actor=DISPATCHER,
            media_dir=media,
            max_bytes=MAX_BYTES,
        )
    assert refused.value.http_status == 400
    assert "JPEG or PNG" in refused.value.user_msg  # what is accepted, every time
    assert photo_rows(db_session) == 0 and not photo_events(db_session)
    assert stored_files(media) == []


def test_a_photo_over_the_limit_is_refused_with_the_limit(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    upload = made(tmp_path, "big.png", Image.effect_noise((100, 100), 80), "PNG")
    assert len(upload) > 2048
    with pytest.raises(PhotoTooLarge, match="larger than 2 KB, the most a photo may be") as big:
        add_photo(
            db_session, incident.id, upload, actor=DISPATCHER, media_dir=media, max_bytes=2048
        )
    assert big.value.http_status == 413
    assert photo_rows(db_session) == 0 and stored_files(media) == []
    # At the limit exactly, it is taken.
    add_photo(
        db_session, incident.id, upload, actor=DISPATCHER, media_dir=media, max_bytes=len(upload)
    )
    assert photo_rows(db_session) == 1


def test_the_file_is_outside_the_database_in_private_folders(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    photo = add_photo(
        db_session,
        incident.id,
        phone_jpeg(tmp_path),
        actor=DISPATCHER,
        media_dir=media,
        max_bytes=MAX_BYTES,
    )
    path, _ = photo_file(db_session, photo.id, DISPATCHER, media)
    assert path == media / PHOTO_FOLDER / photo.stored_name and path.is_file()
    # A random name that says nothing of the incident, the place or the person.
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", photo.stored_name)
    assert [p.name for p in stored_files(media)] == [PHOTO_FOLDER, photo.stored_name]
    assert stat.S_IMODE(media.stat().st_mode) == 0o700
    assert stat.S_IMODE((media / PHOTO_FOLDER).stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The database holds what describes the file, never its bytes.
    types = db_session.scalars(
        sa.text(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'incident_photo'"
        )
    ).all()
    assert types and "bytea" not in types


def test_a_media_folder_made_open_by_someone_else_is_made_private(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    media.mkdir(mode=0o755)
    media.chmod(0o755)
    add_photo(
        db_session,
        incident.id,
        phone_jpeg(tmp_path),
        actor=DISPATCHER,
        media_dir=media,
        max_bytes=MAX_BYTES,
    )
    assert stat.S_IMODE(media.stat().st_mode) == 0o700


def test_the_media_folder_is_var_media_unless_set() -> None:
    assert media_folder("") == PROJECT_ROOT / "var" / "media"
    assert media_folder("/srv/gridgis/media") == Path("/srv/gridgis/media")
    assert media_folder("media2") == PROJECT_ROOT / "media2"


def test_grid_staff_add_and_see_photos_of_their_area_only(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    elsewhere = take_in(db_session, report(IN_GRID_B), actor=DISPATCHER).incident
    theirs = add_photo(
        db_session,
        elsewhere.id,
        phone_jpeg(tmp_path),
        actor=DISPATCHER,
        media_dir=media,
        max_bytes=MAX_BYTES,
    )
    worker = staff_member(db_session, "GW")  # grid A's grid worker
    mine = add_photo(
        db_session,
        incident.id,
        phone_jpeg(tmp_path),
        actor=worker,
        media_dir=media,
        max_bytes=MAX_BYTES,
    )
    assert photo_file(db_session, mine.id, worker, media)[1] == "image/jpeg"
    assert [p.id for p in photos_of(db_session, incident.id, worker)] == [mine.id]
    # Grid B's photo does not exist for them: the same answer as an id nobody has.
    with pytest.raises(NotFound) as not_theirs:
        photo_file(db_session, theirs.id, worker, media)
    with pytest.raises(NotFound) as no_such:
        photo_file(db_session, theirs.id + 1000, worker, media)
    assert not_theirs.value.user_msg == f"No photo {theirs.id}."
    assert no_such.value.user_msg == f"No photo {theirs.id + 1000}."
    with pytest.raises(NotFound):
        photos_of(db_session, elsewhere.id, worker)
    with pytest.raises(NotFound):
        add_photo(
            db_session,
            elsewhere.id,
            phone_jpeg(tmp_path),
            actor=worker,
            media_dir=media,
            max_bytes=MAX_BYTES,
        )
    assert photo_rows(db_session) == 2


def test_planners_see_photos_but_add_none_and_viewers_neither(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    photo = add_photo(
        db_session,
        incident.id,
        phone_jpeg(tmp_path),
        actor=person("admin"),
        media_dir=media,
        max_bytes=MAX_BYTES,
    )
    planner = person("planner")
    assert photo_file(db_session, photo.id, planner, media)[0].is_file()
    with pytest.raises(Forbidden, match="may not add photos"):
        add_photo(
            db_session,
            incident.id,
            phone_jpeg(tmp_path),
            actor=planner,
            media_dir=media,
            max_bytes=MAX_BYTES,
        )
    # Viewers see no incident at all: the photo does not exist for them either.
    with pytest.raises(NotFound, match=f"^No photo {photo.id}.$"):
        photo_file(db_session, photo.id, person("viewer"), media)


def test_a_merged_incident_sends_its_photos_to_the_one_it_joined(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    duplicate = take_in(db_session, report(), actor=DISPATCHER).incident
    move(db_session, duplicate.id, "merge", actor=DISPATCHER, reason="同一辆车", into=incident.id)
    with pytest.raises(Conflict, match=f"merged into incident {incident.id}: add the photo there"):
        add_photo(
            db_session,
            duplicate.id,
            phone_jpeg(tmp_path),
            actor=DISPATCHER,
            media_dir=media,
            max_bytes=MAX_BYTES,
        )


def upload(session: Session, incident: Incident, media: Path, tmp_path: Path) -> IncidentPhoto:
    return add_photo(
        session,
        incident.id,
        phone_jpeg(tmp_path),
        actor=DISPATCHER,
        media_dir=media,
        max_bytes=MAX_BYTES,
    )


def test_a_rolled_back_upload_leaves_no_row_no_event_and_no_file(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError), db_session.begin_nested():
        photo = upload(db_session, incident, media, tmp_path)
        photo_id, path = photo.id, media / PHOTO_FOLDER / photo.stored_name
        assert path.is_file()
        raise RuntimeError("the request failed after the upload")
    assert not path.exists() and list((media / PHOTO_FOLDER).iterdir()) == []
    assert photo_rows(db_session) == 0 and not photo_events(db_session)
    with pytest.raises(NotFound):
        photo_file(db_session, photo_id, DISPATCHER, media)


def test_a_file_goes_with_the_outer_rollback_even_after_its_savepoint_was_released(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    with db_session.begin_nested():
        photo = upload(db_session, incident, media, tmp_path)
    kept_for_now = media / PHOTO_FOLDER / photo.stored_name
    with db_session.begin_nested():
        upload(db_session, incident, media, tmp_path)
    assert len(list((media / PHOTO_FOLDER).iterdir())) == 2
    db_session.rollback()  # the whole unit of work
    assert not kept_for_now.exists() and list((media / PHOTO_FOLDER).iterdir()) == []


def test_a_committed_upload_keeps_its_file(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    photo = upload(db_session, incident, media, tmp_path)
    path = media / PHOTO_FOLDER / photo.stored_name
    db_session.commit()
    db_session.close()  # the next unit of work's end must not touch it
    assert path.is_file()


def test_the_sweep_removes_old_files_no_row_names_and_only_those(
    db_session: Session, incident: Incident, media: Path, tmp_path: Path
) -> None:
    photo = upload(db_session, incident, media, tmp_path)
    folder = media / PHOTO_FOLDER
    orphan = folder / ("ab" * 16 + ".jpg")  # a crash between the write and the commit
    orphan.write_bytes(b"\xff\xd8")
    half_written = folder / ".upload-x1y2z3"  # a crash mid-write
    half_written.write_bytes(b"\xff")
    assert remove_orphans(db_session, media) == 0  # young: perhaps a commit on its way
    with clock.frozen(clock.now() + dt.timedelta(days=2)):
        assert remove_orphans(db_session, media) == 2
    assert sorted(p.name for p in folder.iterdir()) == [photo.stored_name]
    assert remove_orphans(db_session, tmp_path / "nothing-here") == 0
