"""Draft layouts are plans, for planners and administrators only (issue 8, item 13)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.support.sample_community import COMMUNITY_CODE, LAYOUT_DRAFT, LAYOUT_NOW
from tests.support.web import ClientFor

DRAFT_PAGE = f"/communities/{COMMUNITY_CODE}?layout={LAYOUT_DRAFT}"
DRAFT_LAYER = f"/api/v1/communities/{COMMUNITY_CODE}/grids?layout={LAYOUT_DRAFT}"


@pytest.mark.parametrize("who", ["planner", "admin"])
def test_planners_and_administrators_see_drafts(client_for: ClientFor, who: str) -> None:
    client = client_for(who)
    assert client.get(DRAFT_PAGE).status_code == 200
    layer = client.get(DRAFT_LAYER)
    assert layer.status_code == 200
    assert [f["id"] for f in layer.json["features"]] == ["DRAFT-1"]


@pytest.mark.parametrize("who", ["viewer", "dispatcher", "grid_staff"])
def test_others_get_no_draft_and_no_draft_names(client_for: ClientFor, who: str) -> None:
    client = client_for(who)
    page = client.get(DRAFT_PAGE, headers={"Accept": "application/json"})
    assert page.status_code == 404
    layer = client.get(DRAFT_LAYER)
    assert layer.status_code == 404
    for answer in (page, layer):
        # The name asked for is echoed; the list of layouts names published ones only.
        listed = answer.json["error"]["message"].split("its layouts are:")[1]
        assert LAYOUT_DRAFT not in listed and repr(LAYOUT_NOW) in listed


def test_a_key_gets_no_draft(key_client: Callable[[str], FlaskClient]) -> None:
    answer = key_client("reader").get(DRAFT_LAYER)
    assert answer.status_code == 404
    assert LAYOUT_DRAFT not in answer.json["error"]["message"].split("its layouts are:")[1]
