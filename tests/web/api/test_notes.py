"""Notes over HTTP (``POST /api/v1/incidents/<id>/notes``), against the sample community."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.web import ClientFor

#: Inside building B01 (unit B01/1) of 网格一, 张三's grid; inside B04 of 网格三.
B01 = (114.3009, 30.5911)
B04 = (114.3047, 30.5911)


def dispatched(client: FlaskClient, where: tuple[float, float] = B01) -> int:
    """An incident taken in, registered and dispatched by the dispatcher ``client``."""
    made = client.post(
        "/api/v1/incidents", json={"channel": "walk_in", "lon": where[0], "lat": where[1]}
    )
    assert made.status_code == 201, made.get_json()
    incident = int(made.get_json()["id"])
    for action in ("register", "dispatch"):
        assert client.post(f"/api/v1/incidents/{incident}/actions/{action}").status_code == 200
    return incident


def test_the_team_adds_a_note_and_it_shows_in_the_history(
    client: FlaskClient, client_for: ClientFor
) -> None:
    incident = dispatched(client)
    zhangsan = client_for("grid_staff")
    answer = zhangsan.post(
        f"/api/v1/incidents/{incident}/notes", json={"note": " 物业已到场，明早清运 "}
    )
    assert answer.status_code == 201, answer.get_json()
    note = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/incidents/{incident}"
    assert {k: note[k] for k in ("incident_id", "action", "action_name", "from", "to", "note")} == {
        "incident_id": incident,
        "action": "note",
        "action_name": "备注",
        "from": "dispatched",
        "to": "dispatched",
        "note": "物业已到场，明早清运",
    }
    assert (note["created"], note["client_id"]) == (True, None)
    shown = client.get(f"/api/v1/incidents/{incident}?lang=en").get_json()
    assert shown["status"] == "dispatched"
    assert shown["history"][-1]["id"] == note["id"]
    assert (shown["history"][-1]["action_name"], shown["may_note"]) == ("Note", True)
    # The dispatcher notes too (a call to the resident).
    assert (
        client.post(f"/api/v1/incidents/{incident}/notes", json={"note": "已回访"}).status_code
        == 201
    )


def test_a_note_sent_again_with_its_client_id_is_answered_not_added(
    client: FlaskClient, client_for: ClientFor
) -> None:
    incident = dispatched(client)
    zhangsan = client_for("grid_staff")
    body = {"note": "已联系物业", "client_id": "6f1c0c1e-4b7e-4a55-9d6e-2b0c3c1f9a01"}
    first = zhangsan.post(f"/api/v1/incidents/{incident}/notes", json=body)
    again = zhangsan.post(f"/api/v1/incidents/{incident}/notes", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["created"] is False
    history = client.get(f"/api/v1/incidents/{incident}").get_json()["history"]
    assert [h["action"] for h in history].count("note") == 1


def test_who_may_note_and_who_may_not(client: FlaskClient, client_for: ClientFor) -> None:
    mine, elsewhere = dispatched(client), dispatched(client, B04)
    url = "/api/v1/incidents/{}/notes"
    note = {"note": "看过了"}
    # Seen but not to act on: a planner reads every incident and works on none.
    planner = client_for("planner").post(url.format(mine), json=note)
    assert planner.status_code == 403
    assert "your role lacks" in planner.get_json()["error"]["message"]
    # Not seen: another grid's incident is "not found" for 张三, as one that does not exist.
    hidden = client_for("grid_staff").post(url.format(elsewhere), json=note)
    assert hidden.status_code == 404
    assert hidden.get_json()["error"]["message"] == f"No incident {elsewhere}."
    assert client.post(url.format(999999), json=note).status_code == 404
    # A viewer reads no incidents: the gate refuses before anything is looked up.
    assert client_for("viewer").post(url.format(mine), json=note).status_code == 403
    assert client_for("admin").post(url.format(mine), json=note).status_code == 201


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (None, "The body must be a JSON object"),
        ({}, "Write the note: it is empty."),
        ({"note": "   "}, "Write the note: it is empty."),
        ({"note": 5}, "'note' must be a string; got 5."),
        ({"note": "长" * 2001}, "A note may be at most 2000 characters; this one is 2001."),
        ({"note": "x", "colour": "red"}, "Unknown field(s) colour"),
        ({"note": "x", "client_id": 7}, "'client_id' must be a string"),
        ({"note": "x", "client_id": "no spaces please"}, "client_id is at most 64"),
    ],
)
def test_bad_notes_are_refused_with_a_reason(client: FlaskClient, body: object, words: str) -> None:
    incident = dispatched(client)
    answer = client.post(f"/api/v1/incidents/{incident}/notes", json=body)
    assert answer.status_code == 400
    assert words in answer.get_json()["error"]["message"]
    history = client.get(f"/api/v1/incidents/{incident}").get_json()["history"]
    assert "note" not in [h["action"] for h in history]


def test_a_note_without_the_csrf_token_is_refused(
    client: FlaskClient, client_for: ClientFor
) -> None:
    incident = dispatched(client)
    zhangsan = client_for("grid_staff")
    zhangsan.environ_base.pop("HTTP_X_CSRF_TOKEN", None)
    answer = zhangsan.post(f"/api/v1/incidents/{incident}/notes", json={"note": "x"})
    assert answer.status_code == 403 and "CSRF" in answer.get_json()["error"]["message"]
