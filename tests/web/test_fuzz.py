"""Hypothesis throws malformed requests at the routing API: never a 5xx, never a write.

Bodies that are not JSON, JSON that is not an object, unknown fields, NaN and
infinite coordinates, integers beyond any float, out-of-range latitudes,
unknown CRSs, GeoJSON with broken or enormous geometries, text made of JSON's
pieces (for the feature-by-feature GeoJSON reader), CSV of anything. Every
answer is a 200 or a 4xx with a JSON error naming the problem, and the
database holds exactly the rows it held before. A routed CSV never holds a
cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gridgis.spreadsheets import safe_cell
from tests.support.web import Accounts
from web.api.routing import SINGLE_FIELDS

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- values ---------------------------------------------------------------------------

HUGE = st.sampled_from([10**400, -(10**400), 10**20, 1e308, -1e308, 2**63, 5e-324])
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    HUGE,
    st.floats(min_value=-200, max_value=200),
    st.floats(min_value=114.29, max_value=114.31),  # near the sample community
)
COORDINATE = st.one_of(
    NUMBER,
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.sampled_from(["1e400", "nan", "-inf", "114.3", "0x10", " 30.5 ", "３０"]),
)
CRS = st.one_of(
    st.sampled_from(
        ["EPSG:4326", "gcj02", "bd09", "EPSG:3857", "EPSG:4490", "EPSG:32650", "EPSG:999999"]
    ),
    st.sampled_from(["epsg:abc", "", "wgs84", "EPSG:", "EPSG:-1", "+proj=longlat"]),
    st.integers(),
    st.text(max_size=16),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBER, st.text(max_size=20))
JSON_VALUE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
TEXT_FIELD = st.one_of(st.text(max_size=30), JSON_VALUE, st.just("x" * 600))
ROUTE_BODY = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "lon": COORDINATE,
            "lat": COORDINATE,
            "crs": CRS,
            "address": TEXT_FIELD,
            "category": TEXT_FIELD,
            "at": st.one_of(
                st.sampled_from(["2026-01-01T00:00:00+08:00", "2026-13-45T99:00+08:00"]),
                TEXT_FIELD,
            ),
            "community": TEXT_FIELD,
        },
    ),
    st.dictionaries(st.sampled_from([*SINGLE_FIELDS, "colour", ""]), JSON_VALUE, max_size=4),
    JSON_VALUE,
)


def positions(max_size: int = 6) -> st.SearchStrategy[Any]:
    position = st.one_of(
        st.lists(NUMBER, min_size=2, max_size=2),
        st.lists(NUMBER, max_size=4),
        JSON_VALUE,
    )
    return st.lists(position, max_size=max_size)


def enormous_ring(n: int) -> list[list[float]]:
    ring = [
        [114.3 + 0.01 * math.cos(2 * math.pi * i / n), 30.59 + 0.01 * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]
    return [*ring, ring[0]]


GEOMETRY = st.one_of(
    st.builds(lambda c: {"type": "Point", "coordinates": c}, positions(1).map(lambda p: p[:1])),
    st.builds(lambda c: {"type": "Point", "coordinates": c}, st.lists(NUMBER, max_size=3)),
    st.builds(lambda c: {"type": "LineString", "coordinates": c}, positions()),
    st.builds(lambda c: {"type": "Polygon", "coordinates": [c]}, positions()),
    st.builds(lambda c: {"type": "MultiPoint", "coordinates": c}, positions()),
    st.just({"type": "Polygon", "coordinates": [enormous_ring(20_000)]}),
    st.just({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
    st.just({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": []}]}),
    st.builds(lambda t: {"type": t, "coordinates": [1, 2]}, st.text(max_size=10)),
    JSON_VALUE,
)
FEATURE = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Feature"), "geometry": GEOMETRY},
        optional={
            "properties": st.one_of(st.dictionaries(st.text(max_size=6), SCALARS), JSON_VALUE)
        },
    ),
    JSON_VALUE,
)
GEOJSON = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("FeatureCollection"), "features": st.lists(FEATURE, max_size=5)}
    ),
    st.fixed_dictionaries({"type": st.text(max_size=20), "features": JSON_VALUE}),
    FEATURE,
    JSON_VALUE,
)
#: Cells a spreadsheet would run as formulas, and numbers that must stay numbers.
FORMULA_CELL = st.one_of(
    st.sampled_from(["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-122.4", "+30.5", "-"]),
    st.tuples(st.sampled_from(["=", "+", "-", "@", "\t", "\r"]), st.text(max_size=8)).map("".join),
)
CSV_BODY = st.one_of(
    st.text(max_size=200),
    st.lists(st.tuples(COORDINATE, COORDINATE).map(lambda p: f"{p[0]},{p[1]}"), max_size=8).map(
        lambda rows: "lon,lat\n" + "\n".join(rows)
    ),
    st.lists(st.tuples(FORMULA_CELL, COORDINATE, COORDINATE), max_size=8).map(
        lambda rows: "note,lon,lat\n" + "\n".join(f"{n},{x},{y}" for n, x, y in rows)
    ),
    st.just("lon,lat\n" + "114.3,30.59\n" * 3000),
)
#: Text made of JSON's pieces: mostly not JSON, sometimes nearly a FeatureCollection.
JSON_PIECES = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\n",
            '"type"',
            '"features"',
            '"FeatureCollection"',
            '"Feature"',
            '"geometry"',
            '"properties"',
            '{"type": "Point", "coordinates": [114.3, 30.59]}',
            "1",
            "-1e400",
            "NaN",
            "null",
            "true",
            '"x"',
            '"\\u00e9"',
            '"',
            "\\",
            "{}",
            "[]",
        ]
    ),
    max_size=40,
).map("".join)
OPTIONS = st.dictionaries(
    st.sampled_from(["crs", "lon_field", "lat_field", "category_field", "at", "community"]),
    st.text(max_size=12),
    max_size=3,
)

# --- the app and the database -----------------------------------------------------


@pytest.fixture
def fuzz_client(app: Any, sample_accounts: Accounts) -> FlaskClient:
    client: FlaskClient = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = sample_accounts.keys["router"]
    return client


@pytest.fixture
def row_counts(sample_database_url: str) -> Iterator[Any]:
    engine = sa.create_engine(sample_database_url, poolclass=sa.pool.NullPool)

    def counts() -> dict[str, int]:
        with engine.connect() as conn:
            tables = conn.scalars(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'spatial_ref_sys' ORDER BY tablename"
                )
            ).all()
            # Names from the catalog, quoted: identifiers cannot be bound parameters.
            return {t: conn.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) for t in tables}

    yield counts
    engine.dispose()


def check(response: Any) -> None:
    status = response.status_code
    assert status < 500, (status, response.data[:500])
    assert status == 200 or 400 <= status < 500, status
    if status != 200:
        error = response.get_json()["error"]
        assert error["status"] == status and error["message"], error


def dumps(value: Any) -> bytes:
    # json.dumps writes NaN and Infinity, as sloppy clients do; huge ints stay digits.
    try:
        return json.dumps(value).encode()
    except ValueError:  # an integer with more digits than Python converts
        return b'{"lon": 1' + b"0" * 5000 + b', "lat": 1}'


def test_route_never_fails_on_bad_input(fuzz_client: FlaskClient, row_counts: Any) -> None:
    before = row_counts()

    @FUZZ
    @given(body=ROUTE_BODY)
    @example(body={"lon": 10**400, "lat": 30})
    @example(body={"lon": float("nan"), "lat": 30})
    @example(body={"lon": 114.3, "lat": 95})
    def route(body: Any) -> None:
        check(fuzz_client.post("/api/v1/route", data=dumps(body), content_type="application/json"))

    @FUZZ
    @given(
        raw=st.binary(max_size=300), mimetype=st.sampled_from(["application/json", "text/plain"])
    )
    def raw_body(raw: bytes, mimetype: str) -> None:
        check(fuzz_client.post("/api/v1/route", data=raw, content_type=mimetype))

    route()
    raw_body()
    # Deeply nested JSON: a parser's recursion limit, not a 500.
    deep = b"[" * 100_000 + b"]" * 100_000
    check(fuzz_client.post("/api/v1/route", data=deep, content_type="application/json"))
    assert row_counts() == before


def test_batch_never_fails_on_bad_input(fuzz_client: FlaskClient, row_counts: Any) -> None:
    before = row_counts()

    @FUZZ
    @given(doc=GEOJSON, options=OPTIONS)
    @example(doc={"type": "FeatureCollection", "features": [True]}, options={})
    @example(doc={"type": "FeatureCollection", "features": [{"properties": [1]}]}, options={})
    @example(doc={"type": "FeatureCollection", "features": [{"geometry": [1, 2]}]}, options={})
    @example(
        doc={
            "type": "FeatureCollection",
            "features": [{"geometry": {"type": "Point", "coordinates": [10**400, 30]}}],
        },
        options={},
    )
    def geojson(doc: Any, options: dict[str, str]) -> None:
        response = fuzz_client.post(
            "/api/v1/route/batch",
            data=dumps(doc),
            content_type="application/geo+json",
            query_string=options,
        )
        check(response)

    @FUZZ
    @given(text=CSV_BODY, options=OPTIONS)
    @example(text="note,lon,lat\n=1+1,-122.4,37.7\n", options={})
    def csv_text(text: str, options: dict[str, str]) -> None:
        response = fuzz_client.post(
            "/api/v1/route/batch",
            data=text.encode("utf-8", "surrogatepass"),
            content_type="text/csv",
            query_string=options,
        )
        check(response)
        if response.status_code == 200:
            # No cell a spreadsheet would run; plain numbers stay as they were.
            out = csv.reader(io.StringIO(response.get_data(as_text=True), newline=""))
            for cell in (cell for row in out for cell in row):
                assert safe_cell(cell) == cell, cell

    @FUZZ
    @given(text=JSON_PIECES)
    @example(text='{"type": "FeatureCollection", "features": [{}, {}], "type": "x"}')
    @example(text='{"features": [], "type": "FeatureCollection"} {}')
    @example(text=' [{"type": "FeatureCollection"}]')
    def geojson_text(text: str) -> None:
        response = fuzz_client.post(
            "/api/v1/route/batch", data=text.encode(), content_type="application/geo+json"
        )
        check(response)

    geojson()
    csv_text()
    geojson_text()
    deep = b'{"type": "FeatureCollection", "features": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    check(fuzz_client.post("/api/v1/route/batch", data=deep, content_type="application/geo+json"))
    assert row_counts() == before
