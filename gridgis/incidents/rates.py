"""The three rates (三率): response, resolution, satisfaction — per grid, category, channel, period.

What a grid office reports to the 12345 hotline's assessment, counted here
from the incidents' own times. An incident belongs to the period in which it
was **reported** (its 受理时间, ``reported_at``, in the display time zone);
all three rates of a period are about the incidents reported in it, as they
stand at the time of the report (``as_of``).

- **响应率, response rate** = *responded on time* / *due for response*.
  Due for response: valid incidents (neither rejected nor merged) with a
  response deadline that the team has accepted (签收, ``responded_at``) or
  whose response deadline has passed by ``as_of``. On time: accepted at or
  before the deadline. An incident still within its deadline and not yet
  accepted is neither (``response_pending``).
- **办结率, resolution rate** (按期办结率) = *reported done on time* / *due
  for resolution*. Due for resolution: valid incidents with a resolution
  deadline, not parked (挂账: long-term issues a dispatcher took out of the
  deadlines), that were reported done (办结上报, ``resolved_at``) or whose
  resolution deadline has passed. On time: reported done at or before the
  deadline. An incident sent back or reopened counts by its latest report.
- **满意率, satisfaction rate** = *satisfied* / *rated*: closed incidents
  with the resident's answer at the follow-up call (回访); ``neutral`` does
  not count as satisfied. A reopened incident counts again once closed again.

Rejected incidents (不予立案) are not the team's work and merged ones (重复
诉求) are counted once, through the incident they were merged into: both are
shown, and left out of every rate. Unclassified incidents have no deadline:
shown, left out of the response and resolution rates, and counted in the
satisfaction rate once closed and rated. A rate is a fraction (0–1, four
decimals), null when nothing was due.

Every request is one aggregate statement, whatever the number of incidents:
``count(*) FILTER (WHERE ...)`` per measure, grouped by period and group. The
definitions above are written once more, per column, as :data:`DEFINITIONS`,
which the JSON answer and the CSV file carry beside the numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.periods import Window, period_of
from gridgis.incidents.views import visible_to
from gridgis.models import CHANNEL_TERMS, Category, Community, Grid, Incident
from gridgis.spreadsheets import safe_cell

GROUPINGS = ("grid", "category", "channel", "none")

#: Each column, as a grid office reads it (zh) and as a machine client does (en).
DEFINITIONS: dict[str, dict[str, str]] = {
    "period": {
        "zh": "统计周期：按受理时间在显示时区内的自然日、自然周（周一起）或自然月划分，"
        "首尾周期截至 from/to；range 为整个 from–to 区间。",
        "en": "Calendar days, weeks (from Monday) or months of the reported time, in the "
        "display time zone, cut at from and to; range is the whole window.",
    },
    "received": {
        "zh": "受理量：本期受理的全部事件（含不予立案、已合并、未分类）。",
        "en": "Incidents reported in the period, whatever their status.",
    },
    "rejected": {
        "zh": "不予立案：不是网格团队的工作，不计入三率。",
        "en": "Rejected (不予立案): not the team's work; left out of all three rates.",
    },
    "merged": {
        "zh": "已合并：重复诉求，经被合并入的事件计一次，本身不计入三率。",
        "en": "Merged into another incident as duplicates: counted once, through that "
        "incident; left out of all three rates.",
    },
    "unclassified": {
        "zh": "未分类：无类别、因而无时限的有效事件；不计入响应率、办结率，结案回访后计入满意率。",
        "en": "Valid incidents with no category, hence no deadline: left out of the response "
        "and resolution rates; counted in the satisfaction rate once closed and rated.",
    },
    "response_due": {
        "zh": "应响应：有响应时限的有效事件（非不予立案、非合并）中，已签收的，"
        "或截至统计时刻（as_of）响应时限已过的。",
        "en": "Valid incidents (neither rejected nor merged) with a response deadline that "
        "were accepted (签收) or whose response deadline had passed by as_of.",
    },
    "response_on_time": {
        "zh": "按时响应：应响应事件中签收时间不晚于响应时限的。",
        "en": "Of those, accepted at or before the response deadline.",
    },
    "response_pending": {
        "zh": "待响应：未签收、响应时限未到的有效事件（尚不计入响应率）。",
        "en": "Valid incidents not accepted yet, within their response deadline (not yet "
        "in the rate).",
    },
    "response_rate": {
        "zh": "响应率 = 按时响应 ÷ 应响应。",
        "en": "Response rate = response_on_time / response_due.",
    },
    "resolution_due": {
        "zh": "应办结：有办结时限、未挂账的有效事件中，已办结上报的，或截至统计时刻办结时限"
        "已过的；退回重办、重新派遣的以最近一次办结上报为准。",
        "en": "Valid incidents with a resolution deadline, not parked (挂账), that were "
        "reported done (办结上报) or whose resolution deadline had passed by as_of; one "
        "sent back or reopened counts by its latest report of done.",
    },
    "resolution_on_time": {
        "zh": "按时办结：应办结事件中办结上报时间不晚于办结时限的。",
        "en": "Of those, reported done at or before the resolution deadline.",
    },
    "resolution_pending": {
        "zh": "待办结：未办结上报、办结时限未到、未挂账的有效事件（尚不计入办结率）。",
        "en": "Valid incidents not parked, not reported done yet, within their resolution "
        "deadline (not yet in the rate).",
    },
    "resolution_rate": {
        "zh": "办结率（按期办结率）= 按时办结 ÷ 应办结。",
        "en": "Resolution rate = resolution_on_time / resolution_due.",
    },
    "closed": {
        "zh": "结案：已结案的事件（重新派遣后尚未再次结案的不计）。",
        "en": "Closed incidents (one reopened and not closed again is not).",
    },
    "rated": {
        "zh": "已回访：结案事件中有群众回访评价的（含未分类事件）。",
        "en": "Closed incidents with the resident's answer at the follow-up call (回访), "
        "unclassified ones included.",
    },
    "satisfied": {"zh": "满意", "en": "Rated satisfied."},
    "neutral": {"zh": "一般（不计为满意）", "en": "Rated neutral (not counted as satisfied)."},
    "unsatisfied": {"zh": "不满意", "en": "Rated unsatisfied."},
    "satisfaction_rate": {
        "zh": "满意率 = 满意 ÷ 已回访（按“满意+基本满意”统计的，用 (满意+一般) ÷ 已回访）。",
        "en": "Satisfaction rate = satisfied / rated (offices that count 基本满意 as "
        "satisfied use (satisfied + neutral) / rated).",
    },
    "rates": {
        "zh": "比率为 0–1 的小数，保留四位；分母为 0 时为空。",
        "en": "Rates are fractions from 0 to 1, four decimals; null when the denominator is 0.",
    },
}
RATES = {
    "response_rate": ("response_on_time", "response_due"),
    "resolution_rate": ("resolution_on_time", "resolution_due"),
    "satisfaction_rate": ("satisfied", "rated"),
}


def _measures(now: dt.datetime) -> dict[str, Any]:
    """Each count of :data:`DEFINITIONS` as an aggregate (``count(*) FILTER (WHERE ...)``)."""
    i, n = Incident, sa.func.count
    valid = i.status.not_in(("rejected", "merged"))
    timed = sa.and_(valid, i.status != "parked")
    closed = i.status == "closed"
    return {
        "received": n(),
        "rejected": n().filter(i.status == "rejected"),
        "merged": n().filter(i.status == "merged"),
        "unclassified": n().filter(valid, i.category_id.is_(None)),
        "response_due": n().filter(
            valid,
            i.response_due_at.is_not(None),
            sa.or_(i.responded_at.is_not(None), i.response_due_at < now),
        ),
        "response_on_time": n().filter(valid, i.responded_at <= i.response_due_at),
        "response_pending": n().filter(valid, i.responded_at.is_(None), i.response_due_at >= now),
        "resolution_due": n().filter(
            timed,
            i.resolution_due_at.is_not(None),
            sa.or_(i.resolved_at.is_not(None), i.resolution_due_at < now),
        ),
        "resolution_on_time": n().filter(timed, i.resolved_at <= i.resolution_due_at),
        "resolution_pending": n().filter(
            timed, i.resolved_at.is_(None), i.resolution_due_at >= now
        ),
        "closed": n().filter(closed),
        "rated": n().filter(closed, i.satisfaction.is_not(None)),
        "satisfied": n().filter(closed, i.satisfaction == "satisfied"),
        "neutral": n().filter(closed, i.satisfaction == "neutral"),
        "unsatisfied": n().filter(closed, i.satisfaction == "unsatisfied"),
    }


COUNTS = tuple(_measures(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
#: The columns that say which group a row is (besides the period).
GROUP_COLUMNS = {
    "grid": ("grid_id", "grid", "grid_name", "community"),
    "category": ("category", "category_name_zh", "category_name_en"),
    "channel": ("channel", "channel_name_zh", "channel_name_en"),
    "none": (),
}


def _group(by: str) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The grouping's key columns and its outer joins."""
    if by == "grid":
        return [Incident.grid_id, Grid.code, Grid.name, Community.code], [
            (Grid, Grid.id == Incident.grid_id),
            (Community, Community.id == Incident.community_id),
        ]
    if by == "category":
        return [Category.code, Category.name_zh, Category.name_en], [
            (Category, Category.id == Incident.category_id)
        ]
    if by == "channel":
        return [Incident.channel], []
    return [], []


@dataclass
class Report:
    """The rates of one request: the window, the rows, the total, the definitions."""

    as_of: dt.datetime
    window: Window
    by: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer."""
        return {
            "as_of": clock.local(self.as_of).isoformat(timespec="seconds"),
            "from": clock.local(self.window.start).isoformat(timespec="seconds"),
            "to": clock.local(self.window.end).isoformat(timespec="seconds"),
            "timezone": str(clock.local(self.as_of).tzinfo),
            "period": self.window.period,
            "by": self.by,
            "definitions": DEFINITIONS,
            "rows": self.rows,
            "total": self.total,
        }


def compute(
    session: Session,
    *,
    viewer: Principal,
    by: str = "grid",
    window: Window,
    community: str | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """The three rates of the incidents ``viewer`` may see, by ``by`` and period: one query.

    Args:
        session: Where to read.
        viewer: Who asks (grid staff: their own area's incidents only).
        by: ``grid``, ``category``, ``channel`` or ``none``.
        window: From when to when, in which periods (:func:`parse_window`).
        community: Only this community's incidents (its code).
        now: The time deadlines are compared with (default: the clock's).

    Raises:
        InvalidInput: An unknown grouping.
        NotFound: No community with that code.
    """
    if by not in GROUPINGS:
        raise InvalidInput(f"by must be one of {', '.join(GROUPINGS)}; got {by!r}.")
    now = now or clock.now()
    zone = str(clock.local(now).tzinfo)
    keys, joins = _group(by)
    bucket = (
        []
        if window.period == "range"
        else [sa.func.date_trunc(window.period, sa.func.timezone(zone, Incident.reported_at))]
    )
    measures = _measures(now)
    query = sa.select(*bucket, *keys, *measures.values()).select_from(Incident)
    for model, on in joins:
        query = query.outerjoin(model, on)
    query = query.where(
        Incident.reported_at >= window.start,
        Incident.reported_at < window.end,
        visible_to(viewer),
    )
    if community is not None:
        community_id = session.scalar(sa.select(Community.id).where(Community.code == community))
        if community_id is None:
            raise NotFound(f"No community {community!r}.")
        query = query.where(Incident.community_id == community_id)
    grouped = [*bucket, *keys]
    if grouped:
        query = query.group_by(*grouped).order_by(*(c.asc().nulls_last() for c in grouped))
    rows = []
    for row in session.execute(query):
        values = list(row)
        start = values.pop(0) if bucket else None
        labels = _labels(by, values[: len(keys)])
        counts = dict(zip(COUNTS, (int(v) for v in values[len(keys) :])))
        if counts["received"]:
            rows.append({**period_of(window, start), **labels, **counts, **_rates(counts)})
    total = {c: sum(r[c] for r in rows) for c in COUNTS}
    return Report(now, window, by, rows, {**total, **_rates(total)})


def _labels(by: str, values: list[Any]) -> dict[str, Any]:
    if by == "channel":
        term = CHANNEL_TERMS.get(values[0])
        return {
            "channel": values[0],
            "channel_name_zh": term.zh if term else None,
            "channel_name_en": term.en if term else None,
        }
    return dict(zip(GROUP_COLUMNS[by], values))


def _rates(counts: dict[str, int]) -> dict[str, float | None]:
    return {
        name: round(counts[top] / counts[bottom], 4) if counts[bottom] else None
        for name, (top, bottom) in RATES.items()
    }


def as_csv(report: Report) -> str:
    """The report as CSV: ``#`` lines first (the window and every definition), then the table.

    A spreadsheet shows the ``#`` lines above the table; a program skips
    lines that start with ``#`` (pandas: ``comment="#"``). The last row is
    the total. Every cell passes :func:`gridgis.spreadsheets.safe_cell`.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = report.as_dict()
    for key in ("as_of", "from", "to", "timezone", "period", "by"):
        writer.writerow(["#", key, safe_cell(head[key])])
    for key, text in DEFINITIONS.items():
        writer.writerow(["#", key, safe_cell(text["zh"]), safe_cell(text["en"])])
    columns = ["period", "period_end", *GROUP_COLUMNS[report.by], *COUNTS, *RATES]
    writer.writerow(columns)
    for row in report.rows:
        writer.writerow([safe_cell(row[c]) for c in columns])
    total = {"period": "total", **report.total}
    writer.writerow([safe_cell(total.get(c)) for c in columns])
    return out.getvalue()
