"""Photos over HTTP: upload, list and fetch, as each role would, on the sample community.

The app keeps its media folder in ``tmp_path`` (``MEDIA_DIR``) with a 1 MB photo
limit (``MAX_PHOTO_MB``); incidents are taken in on the test's rolled-back
connection: one in building B01 (网格一, 张三's grid), one in B05 (网格三).
"""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, request
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from gridgis.errors import InvalidInput
from gridgis.incidents.intake import take_in
from gridgis.incidents.media import media_folder
from gridgis.incidents.photos import PHOTO_FOLDER, add_photo
from gridgis.models import IncidentEvent, IncidentPhoto
from tests.support import factories as make
from tests.support.incidents import person, report
from tests.support.web import USERS, Accounts, login, rolled_back_app
from web import db as web_db
from web.api.photos import MULTIPART_OVERHEAD
from web.security import current_principal, requires

IN_B01 = (114.301, 30.5911)
IN_B05 = (114.3047, 30.5926)
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (30.0, 35.0, 28.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (114.0, 18.0, 4.0),
}


@dataclass
class World:
    app: Flask
    accounts: Accounts
    media: Path
    db: Session
    in_grid_1: int
    in_grid_3: int

    def client(self, who: str) -> FlaskClient:
        client = self.app.test_client()
        if who.startswith("key:"):
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.accounts.keys[who[4:]]}"
            return client
        return login(client, self.accounts.ids[USERS.get(who, who)])

    def rows(self) -> int:
        return self.db.scalar(sa.select(sa.func.count()).select_from(IncidentPhoto)) or 0

    def files(self) -> list[Path]:
        return sorted(self.media.rglob("*.*")) if self.media.exists() else []


@pytest.fixture
def world(sample_database_url: str, sample_accounts: Accounts, tmp_path: Path) -> Iterator[World]:
    media = tmp_path / "media"
    with rolled_back_app(sample_database_url, MEDIA_DIR=str(media), MAX_PHOTO_MB=1) as app:
        session = app.extensions["gridgis"].sessions()
        make.category(session, "photo_test", name_zh="测试类别", name_en="Test category")
        dispatcher = person("dispatcher")
        one, three = (
            take_in(session, report(where, category="photo_test"), actor=dispatcher).incident.id
            for where in (IN_B01, IN_B05)
        )
        session.commit()  # a savepoint of the test's transaction: requests see them
        try:
            yield World(app, sample_accounts, media, session, one, three)
        finally:
            session.close()


def phone_jpeg(tmp_path: Path) -> bytes:
    """A wide photo held sideways (orientation 6), with its GPS position."""
    image = Image.new("RGB", (60, 30), (255, 0, 0))
    image.paste((0, 0, 255), (30, 0, 60, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    path = tmp_path / "IMG_2041.JPG"
    image.save(path, "JPEG", exif=exif)
    return path.read_bytes()


def png(tmp_path: Path, size: tuple[int, int] = (30, 20), *, noise: bool = False) -> bytes:
    image = Image.effect_noise(size, 100).convert("RGB") if noise else Image.new("RGB", size)
    path = tmp_path / "screen.png"
    image.save(path, "PNG")
    return path.read_bytes()


def fetch(client: FlaskClient, url: str) -> TestResponse:
    """GET ``url`` and close the response (an image is served from an open file)."""
    with client.get(url) as response:
        response.get_data()
    return response


def multipart(data: bytes, filename: str = "photo.jpg", mimetype: str = "image/jpeg") -> dict:
    return {
        "data": {"file": (io.BytesIO(data), filename, mimetype)},
        "content_type": "multipart/form-data",
    }


def test_a_dispatcher_uploads_a_phone_photo_and_gets_it_back_without_its_location(
    world: World, tmp_path: Path
) -> None:
    client = world.client("dispatcher")
    sent = phone_jpeg(tmp_path)
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(ExifTags.IFD.GPSInfo) == GPS
    response = client.post(f"/api/v1/incidents/{world.in_grid_1}/photos", **multipart(sent))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["url"] == f"/api/v1/photos/{body['id']}" == response.headers["Location"]
    assert body["incident_id"] == world.in_grid_1 and body["content_type"] == "image/jpeg"
    assert body["uploaded_by"] == "user:dispatcher1"

    image = fetch(client, body["url"])
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/jpeg"
    assert image.headers["Cache-Control"] == "private, no-store"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Disposition"].startswith("inline")
    served = Image.open(io.BytesIO(image.data))
    exif = served.getexif()
    assert ExifTags.Base.GPSInfo not in exif and exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert b"Exif" not in image.data
    assert served.size == (30, 60)  # upright: orientation applied, then dropped
    assert len(image.data) == body["size"]

    # The file is where the app's media folder says, private, and nowhere in the database.
    [stored] = world.files()
    assert stored.parent == world.media / PHOTO_FOLDER and stored.read_bytes() == image.data
    assert stat.S_IMODE(world.media.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    events = world.db.scalars(
        sa.select(IncidentEvent.action).where(IncidentEvent.incident_id == world.in_grid_1)
    ).all()
    assert events[-1] == "photo"


def test_grid_staff_send_a_raw_png_and_list_their_incidents_photos(
    world: World, tmp_path: Path
) -> None:
    staff = world.client("grid_staff")  # 张三, 网格一
    url = f"/api/v1/incidents/{world.in_grid_1}/photos"
    posted = staff.post(url, data=png(tmp_path), content_type="image/png")
    assert posted.status_code == 201, posted.json
    assert posted.json["content_type"] == "image/png"
    listed = staff.get(url)
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json["photos"]] == [posted.json["id"]]
    assert listed.json["photos"][0]["url"] == posted.json["url"]
    fetched = fetch(staff, posted.json["url"])
    assert fetched.status_code == 200 and fetched.headers["Content-Type"] == "image/png"


def test_a_photo_of_another_grid_is_not_found_for_grid_staff(world: World, tmp_path: Path) -> None:
    dispatcher = world.client("dispatcher")
    elsewhere = dispatcher.post(
        f"/api/v1/incidents/{world.in_grid_3}/photos", **multipart(phone_jpeg(tmp_path))
    ).json
    staff = world.client("grid_staff")
    not_theirs = staff.get(elsewhere["url"])
    no_such = staff.get(f"/api/v1/photos/{elsewhere['id'] + 1000}")
    assert not_theirs.status_code == no_such.status_code == 404
    assert not_theirs.json["error"]["message"] == f"No photo {elsewhere['id']}."
    assert no_such.json["error"]["message"] == f"No photo {elsewhere['id'] + 1000}."
    assert not_theirs.headers["Content-Type"] == "application/json"
    assert staff.get(f"/api/v1/incidents/{world.in_grid_3}/photos").status_code == 404
    uploaded = staff.post(
        f"/api/v1/incidents/{world.in_grid_3}/photos", **multipart(phone_jpeg(tmp_path))
    )
    assert uploaded.status_code == 404 and world.rows() == 1
    # B01's building head sees B01's incident, and still not 网格三's.
    head = world.client("qianqi")
    assert head.get(f"/api/v1/incidents/{world.in_grid_1}/photos").status_code == 200
    assert head.get(elsewhere["url"]).status_code == 404


@pytest.mark.parametrize(
    ("who", "read", "upload"),
    [
        ("admin", 200, 201),
        ("planner", 200, 403),
        ("viewer", 403, 403),
        ("key:router", 403, 403),
        ("anonymous", 401, 401),
    ],
)
def test_who_may_look_and_who_may_add(
    world: World, tmp_path: Path, who: str, read: int, upload: int
) -> None:
    photo = world.client("dispatcher").post(
        f"/api/v1/incidents/{world.in_grid_1}/photos", **multipart(phone_jpeg(tmp_path))
    )
    client = world.app.test_client() if who == "anonymous" else world.client(who)
    assert fetch(client, photo.json["url"]).status_code == read
    assert client.get(f"/api/v1/incidents/{world.in_grid_1}/photos").status_code == read
    added = client.post(
        f"/api/v1/incidents/{world.in_grid_1}/photos", **multipart(phone_jpeg(tmp_path))
    )
    assert added.status_code == upload
    assert world.rows() == (2 if upload == 201 else 1)


def gif(tmp_path: Path) -> bytes:
    path = tmp_path / "animated.gif"
    Image.new("P", (10, 10)).save(path, "GIF")
    return path.read_bytes()


def pdf(tmp_path: Path) -> bytes:
    path = tmp_path / "scan.jpg"  # a PDF renamed .jpg
    Image.new("RGB", (10, 10)).save(path, "PDF")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("make_upload", "how", "says"),
    [
        (gif, "multipart", "looks like a GIF image"),
        (pdf, "multipart", "looks like a PDF document"),
        (pdf, "raw", "looks like a PDF document"),
        (lambda p: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "raw", "like an SVG drawing"),
        (lambda p: phone_jpeg(p)[:300], "raw", "could not be read in full"),
    ],
    ids=["gif", "pdf as a .jpg", "pdf as image/jpeg", "svg as image/jpeg", "truncated jpeg"],
)
def test_what_is_not_a_jpeg_or_png_is_refused_and_nothing_is_stored(
    world: World, tmp_path: Path, make_upload: object, how: str, says: str
) -> None:
    data = make_upload(tmp_path)  # type: ignore[operator]
    kwargs = multipart(data) if how == "multipart" else {"data": data, "content_type": "image/jpeg"}
    response = world.client("dispatcher").post(
        f"/api/v1/incidents/{world.in_grid_1}/photos", **kwargs
    )
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert says in message and "Photos must be JPEG or PNG images" in message
    assert world.rows() == 0 and world.files() == []


def test_a_body_that_is_no_photo_at_all_says_how_to_send_one(world: World) -> None:
    client = world.client("dispatcher")
    url = f"/api/v1/incidents/{world.in_grid_1}/photos"
    typed = client.post(url, data=b"%PDF-1.4", content_type="application/pdf")
    assert typed.status_code == 400
    assert typed.json["error"]["message"].startswith("Unsupported Content-Type 'application/pdf'")
    assert "image/jpeg or image/png" in typed.json["error"]["message"]
    empty_form = client.post(url, data={"photo": "x"}, content_type="multipart/form-data")
    assert empty_form.status_code == 400
    assert "No file in the form field 'file'" in empty_form.json["error"]["message"]


def encoded_multipart(data: bytes) -> dict:
    """A multipart body in memory (the test client spools big ones to a file it never closes)."""
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), "big.png")})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_a_photo_over_the_limit_is_a_413_that_says_the_limit(world: World, tmp_path: Path) -> None:
    big = png(tmp_path, (1000, 700), noise=True)
    assert len(big) > 2**20 + MULTIPART_OVERHEAD
    client = world.client("dispatcher")
    url = f"/api/v1/incidents/{world.in_grid_1}/photos"
    for kwargs in (
        encoded_multipart(big),  # refused by the body's length, before it is parsed
        encoded_multipart(big[: 2**20 + 1]),  # a body within reach: refused by the file's size
        {"data": big, "content_type": "image/png"},
    ):
        response = client.post(url, **kwargs)
        assert response.status_code == 413
        assert "larger than 1 MB, the most a photo may be" in response.json["error"]["message"]
    assert world.rows() == 0 and world.files() == []


def test_an_upload_whose_request_then_fails_leaves_nothing_reachable(
    world: World, tmp_path: Path
) -> None:
    @requires("incidents:report")
    def upload_then_fail(incident_id: int) -> str:
        settings = web_db.state().settings
        photo = add_photo(
            web_db.get_session(),
            incident_id,
            request.get_data(),
            actor=current_principal(),
            media_dir=media_folder(settings.media_dir),
            max_bytes=2**20,
        )
        assert (world.media / PHOTO_FOLDER / photo.stored_name).is_file()
        raise InvalidInput(f"A later step failed after photo {photo.id} was stored.")

    world.app.add_url_rule(
        "/api/v1/test/<int:incident_id>/upload-then-fail",
        view_func=upload_then_fail,
        methods=["POST"],
    )
    client = world.client("dispatcher")
    response = client.post(
        f"/api/v1/test/{world.in_grid_1}/upload-then-fail",
        data=phone_jpeg(tmp_path),
        content_type="image/jpeg",
    )
    assert response.status_code == 400
    photo_id = int(response.json["error"]["message"].split("photo ")[1].split(" ")[0])
    # The request's unit of work rolled back: no row, no event, and the file is gone too.
    assert world.rows() == 0 and world.files() == []
    assert client.get(f"/api/v1/photos/{photo_id}").status_code == 404
