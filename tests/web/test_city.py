"""The city view (/city): communities with their grids' figures, the city map, who sees what."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.incidents.intake import Report, take_in
from gridgis.maps import city
from tests.support import factories as make
from tests.support.incidents import person
from tests.support.sample_community import COMMUNITY_CODE, COMMUNITY_NAME
from tests.support.web import STAFF_NAMES, STAFF_PHONES, ClientFor
from tests.web.test_maps import resources
from web import assets

#: Inside B01 (张三's grid 网格一) and inside B04 (网格三).
IN_B01 = (114.3009, 30.5911)
IN_B04 = (114.3046, 30.5911)

#: What SQL says a community holds, written plainly (one subquery per figure),
#: to compare with the page's grouped statements.
TRUTH = sa.text(
    """
    SELECT c.code,
      (SELECT count(*) FROM grid g JOIN layout l ON l.id = g.layout_id
        WHERE l.community_id = c.id AND l.status = 'published' AND l.valid_from <= now()
          AND (l.valid_to IS NULL OR l.valid_to > now())),
      (SELECT count(*) FROM building b WHERE b.community_id = c.id),
      (SELECT count(*) FROM unit u JOIN building b ON b.id = u.building_id
        WHERE b.community_id = c.id),
      (SELECT coalesce(sum(households), 0) FROM building b WHERE b.community_id = c.id),
      (SELECT count(*) FROM incident i WHERE i.community_id = c.id
        AND i.status NOT IN ('closed', 'rejected', 'merged'))
    FROM community c WHERE c.code = :code
    """
)


def rows(html: str) -> dict[str, list[str]]:
    """The table's figures by community code, as shown."""
    found = {}
    for code, cells in re.findall(r'<tr data-code="([^"]+)">(.*?)</tr>', html, re.S):
        found[code] = re.findall(r'<td class="gg-num">([^<]*)</td>', cells)
    return found


def incident(db: Session, where: tuple[float, float]) -> None:
    report = Report(
        channel="walk_in",
        category="garbage",
        description="楼道口堆放装修垃圾",
        lon=where[0],
        lat=where[1],
        reporter_name="陈居民",
        reporter_phone="13911112222",
    )
    take_in(db, report, actor=person("dispatcher"))
    db.commit()


def test_the_table_shows_what_sql_counts(client: FlaskClient, db: Session) -> None:
    incident(db, IN_B01)
    incident(db, IN_B04)
    html = client.get("/city").get_data(as_text=True)
    assert "<title>城市总览 · gridgis</title>" in html
    assert COMMUNITY_NAME in html and f'href="/communities/{COMMUNITY_CODE}"' in html
    truth = db.execute(TRUTH, {"code": COMMUNITY_CODE}).one()
    assert rows(html) == {COMMUNITY_CODE: [str(v) for v in truth[1:]]}
    assert rows(html)[COMMUNITY_CODE] == ["3", "5", "4", "128", "2"]
    assert "未办结事件" in html and "1 个社区" in html


def test_english_and_the_nav_link(client_for: ClientFor) -> None:
    html = client_for("planner").get("/city?lang=en").get_data(as_text=True)
    assert "<title>City view · gridgis</title>" in html and "Communities: 1" in html
    assert '<a href="/city" aria-current="page">City view</a>' in html
    # On the community map too, for everyone but grid staff (they have /my).
    assert 'href="/city"' in client_for("viewer").get("/").get_data(as_text=True)
    assert 'href="/city"' not in client_for("grid_staff").get("/my").get_data(as_text=True)


def test_districts_filter_by_code_prefix(client: FlaskClient) -> None:
    district = client.get("/city?district=420106").get_data(as_text=True)
    assert list(rows(district)) == [COMMUNITY_CODE]
    assert '<option value="420106" selected>420106 (1)</option>' in district
    street = client.get("/city?district=420106001").get_data(as_text=True)
    assert list(rows(street)) == [COMMUNITY_CODE]
    elsewhere = client.get("/city?district=420111").get_data(as_text=True)
    assert rows(elsewhere) == {} and "这里没有社区" in elsewhere
    for bad in ("/city?district=42%25", "/city?district=x'y", "/city?page=0", "/city?page=a"):
        assert client.get(bad).status_code == 400, bad


def test_pages_of_many_communities(client: FlaskClient, db: Session) -> None:
    for k in range(city.PER_PAGE + 5):
        x = 115 + k * 0.01
        make.community(db, f"420111003{k:03d}", make.box(x, 30.0, x + 0.005, 30.005))
    db.commit()
    first = client.get("/city?district=420111").get_data(as_text=True)
    assert len(rows(first)) == city.PER_PAGE and "第 1/2 页" in first
    assert 'href="/city?district=420111&amp;page=2' in first
    second = client.get("/city?district=420111&page=2").get_data(as_text=True)
    assert list(rows(second)) == [f"420111003{k:03d}" for k in range(city.PER_PAGE, 55)]
    assert rows(second)["420111003050"] == ["0", "0", "0", "0", "0"]
    whole = client.get("/city").get_data(as_text=True)
    assert '<option value="420111">420111 (55)</option>' in whole


def test_grid_staff_see_their_area_only(client_for: ClientFor, db: Session) -> None:
    incident(db, IN_B01)
    incident(db, IN_B04)
    html = client_for("grid_staff").get("/city").get_data(as_text=True)
    # 张三's grid 网格一: B01 (2 units, 24) and B02 (36); the incident in B01, not B04's.
    assert rows(html) == {COMMUNITY_CODE: ["1", "2", "2", "60", "1"]}
    assert "仅显示您负责区域的数字" in html
    for secret in (*STAFF_NAMES, *STAFF_PHONES, "陈居民", "13911112222"):
        assert secret not in html


def test_viewers_get_no_incident_column(client_for: ClientFor) -> None:
    html = client_for("viewer").get("/city").get_data(as_text=True)
    assert rows(html) == {COMMUNITY_CODE: ["3", "5", "4", "128"]}
    assert "未办结事件" not in html


def test_the_map_is_vector_tiles_served_here(client: FlaskClient) -> None:
    html = client.get("/city").get_data(as_text=True)
    urls = resources(html)
    assert "/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in urls
    assert not re.search(r"https?://", html)
    for url in urls:
        if url.startswith("/"):
            with client.get(url) as response:
                assert response.status_code == 200, url
    for layer in ("communities", "grids", "compounds", "buildings", "units"):
        assert f'"url": "/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"' in html, layer
    assert '"minZoom": 14' in html  # buildings: not below the tiles' MIN_ZOOM (13)
    assert '"communityUrl": "/communities/CODE"' in html


def test_login_needed(anon_client: FlaskClient) -> None:
    assert anon_client.get("/city").status_code == 302


def test_a_clear_error_without_make_assets(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(assets, "VECTORGRID_DIR", tmp_path)
    response = client.get("/city", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert "make assets" in response.json["error"]["message"]
    missing = client.get(f"/static/vendor/vectorgrid/{assets.VECTORGRID_JS}")
    assert missing.status_code == 500
    # The community map still draws, inline.
    assert client.get("/").status_code == 200
