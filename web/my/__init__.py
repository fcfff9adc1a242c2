"""``/my``: a grid staff member's own area on a phone (issue 10).

Grid staff (网格员, 楼栋长, 单元长, volunteers) land here after logging in. One
page, mobile first: the map of exactly their area with its buildings coloured
by open incidents and visits due, their team card, the incidents of the area
(nearest or most urgent first) with the moves grid staff make, a form to
report a new one from where they stand, the households due a visit, and the
rounds (四进).

- :mod:`web.my.page` — the page, its service worker, a fresh CSRF token, and
  whether a point lies in the area.
- :mod:`web.my.team` — the team card: posts, the "1+1+1+N" team, partners.
- :mod:`web.my.field` — households due a visit, logging visits and rounds.

Incidents go through the JSON API the console uses (``/api/v1/incidents``:
list, take in, move, photos); nothing here is a second way to do those.

**A weak network is normal.** The service worker (``static/sw.js``, served as
``/my/sw.js`` so that its scope covers ``/my``) keeps the scripts and styles,
and the last page and data it fetched, so the page opens and reads offline.
Actions are queued in the browser (IndexedDB) and sent when the network is
back, each with a fresh CSRF token (``/my/token.json``); each carries a
client-made id so that sending it again after a lost answer does not act
twice:

- a new incident: ``external_id`` on channel ``visit`` (intake returns the
  first incident for a second delivery);
- a move (accept, report done): refused as a conflict the second time, the
  script then reads the incident's history and counts the move delivered when
  the move out of the state it saw is this user's own;
- a photo: before sending it again, the script counts the incident's photos;
- a note: its ``client_id``, looked up for that incident and author before a
  second one is added (:mod:`gridgis.incidents.notes`);
- a visit or a round: identified by who, where and when (to the millisecond the
  phone recorded); a second delivery answers with the first (:mod:`web.my.field`).

An action the server refuses when it finally arrives stays on the page with
the reason until the person dismisses it: never silently lost.
"""

from web.my import field, page, team
from web.my.blueprint import bp

__all__ = ["bp", "field", "page", "team"]
