"""The monthly report's columns: their names and what each figure means, in Chinese and English.

Written once, next to the figures, the way :mod:`gridgis.incidents.rates`
writes the three rates: the page shows these definitions under the tables,
the CSV carries them as ``#`` lines above them, and the workbook on a sheet of
its own. The visits' figures are defined where their rule lives
(:data:`gridgis.staff.visits.MONTH_DEFINITIONS`) and quoted from there.
"""

from __future__ import annotations

import re

from gridgis.models import CHANNEL_TERMS, CHANNELS, ROUND_KIND_TERMS, ROUND_KINDS
from gridgis.staff.visits import MONTH_DEFINITIONS

CHANNEL_COLUMNS = tuple(f"reported_{c}" for c in CHANNELS)
ROUND_COLUMNS = tuple(f"rounds_{k}" for k in ROUND_KINDS)

#: One row per grid (and a total).
GRID_COLUMNS = (
    "grid",
    "grid_name",
    "households",
    "visits_required",
    "visits_done",
    "visits_logged",
    "never_visited",
    "reported",
    *CHANNEL_COLUMNS,
    "handled",
    "overdue",
    *ROUND_COLUMNS,
    "rounds",
)
#: One row per staff member.
STAFF_COLUMNS = (
    "staff",
    "name",
    "roles",
    "grids",
    "visits_logged",
    "households_visited",
    "households",
    "visits_required",
    "visits_done",
    "never_visited",
    "reported",
    "reported_visit",
    "handled",
    "overdue",
    *ROUND_COLUMNS,
    "rounds",
)
#: The columns that are counts (summed in the total row).
COUNT_COLUMNS = tuple(c for c in GRID_COLUMNS if c not in ("grid", "grid_name"))

#: Column headings (zh, en), and the names of the other defined terms.
LABELS: dict[str, tuple[str, str]] = {
    "month": ("统计月份", "Month"),
    "as_of": ("统计时刻", "As of"),
    "staff_area": ("人员负责区域", "A person's places"),
    "grid": ("网格编码", "Grid"),
    "grid_name": ("网格名称", "Grid name"),
    "staff": ("人员编码", "Staff"),
    "name": ("姓名", "Name"),
    "roles": ("岗位", "Roles"),
    "grids": ("所在网格", "Grids"),
    "households": ("关爱户数", "Flagged households"),
    "visits_required": ("应访次数", "Visits due"),
    "visits_done": ("已访次数", "Visits done"),
    "visits_logged": ("走访记录", "Visits logged"),
    "households_visited": ("走访户数", "Households visited"),
    "never_visited": ("从未走访户", "Never visited"),
    "reported": ("上报事件", "Incidents reported"),
    "reported_visit": ("其中走访上报", "Of which from visits"),
    "handled": ("办结事件", "Incidents handled"),
    "overdue": ("超期事件", "Incidents overdue"),
    "rounds": ("四进活动", "Rounds"),
    **{f"reported_{c}": (f"上报·{t.zh}", f"Reported: {t.en}") for c, t in CHANNEL_TERMS.items()},
    **{f"rounds_{k}": (t.zh, t.en) for k, t in ROUND_KIND_TERMS.items()},
}

_CJK = re.compile(r"[\u3400-\u9fff]")


def _bilingual(text: str) -> dict[str, str]:
    """A definition written "English. 中文。" as ``{"en": ..., "zh": ...}``."""
    found = _CJK.search(text)
    if found is None:
        return {"zh": text, "en": text}
    # Back to the start of the Chinese sentence (its term may open with a Latin letter).
    start = text.rfind(". ", 0, found.start())
    cut = start + 2 if start >= 0 else found.start()
    return {"en": text[:cut].strip(), "zh": text[cut:].strip()}


#: What each figure means, as a grid office reads it (zh) and as a machine client does (en).
DEFINITIONS: dict[str, dict[str, str]] = {
    "month": {
        "zh": "统计月份：显示时区（默认 Asia/Shanghai）的自然月，从当月1日0时到次月1日0时。",
        "en": "A calendar month in the display time zone (Asia/Shanghai by default), from "
        "midnight on the 1st to midnight on the 1st of the next month.",
    },
    "as_of": {
        "zh": "统计时刻：往月为月末，本月为此刻；超期按事件在该时刻的状态（依事件历史）判断。",
        "en": "Past months are counted as of their end, the current month as of now; "
        "overdue is judged on each incident as it stood then, from its history.",
    },
    "grid": {
        "zh": "网格：统计时刻生效的网格方案中的网格；关爱户按其楼栋所属网格归入，事件按受理时的"
        "定位网格归入（事后调整网格不改写历史），四进活动按登记的网格归入。",
        "en": "Grids of the layout in force at as_of; households count in the grid their "
        "building belongs to, incidents in the grid they were routed to when taken in "
        "(later redraws never rewrite them), rounds in the grid they were logged in.",
    },
    "households": _bilingual(MONTH_DEFINITIONS["households"]),
    "visits_required": _bilingual(MONTH_DEFINITIONS["required"]),
    "visits_done": _bilingual(MONTH_DEFINITIONS["done"]),
    "visits_logged": {
        "zh": "走访记录：当月登记的走访次数（不封顶；人员表中为本人登记的）。",
        "en": "Visits logged in the month, uncapped (in the staff table: the person's own).",
    },
    "households_visited": {
        "zh": "走访户数：本人当月走访过的不同户数。",
        "en": "Different households the person visited in the month.",
    },
    "never_visited": _bilingual(MONTH_DEFINITIONS["never_visited"]),
    "reported": {
        "zh": "上报事件：当月受理的事件（按受理时间，含不予立案、已合并、未分类），与三率的“受理量”"
        "一致；按渠道分列，“走访”为网格员自行上报。人员表中为本人账号登记的事件。",
        "en": "Incidents reported in the month (by reported time, whatever their status), "
        "as the three rates' received; by channel, 'visit' being what staff reported "
        "themselves. In the staff table: incidents taken in by the person's own account.",
    },
    "reported_visit": {
        "zh": "其中走访上报：本人上报事件中渠道为“走访”的。",
        "en": "Of those, the ones with channel 'visit'.",
    },
    "handled": {
        "zh": "办结事件：当月有“办结上报”或“结案”的事件（不论何月受理），每件计一次；人员表中为"
        "本人办结上报的。",
        "en": "Incidents reported done (办结上报) or closed (结案) in the month, whenever "
        "reported, each once; in the staff table: those the person reported done.",
    },
    "overdue": {
        "zh": "超期事件：统计时刻仍在办（未结案、未挂账、未不予立案或合并），且响应时限已过未签收、"
        "或办结时限已过未办结上报的事件（与派遣台“超期”同一规则）；人员表中为其负责区域"
        "（网格、楼栋或单元）的。",
        "en": "Incidents open at as_of with a deadline passed and its step undone: not "
        "accepted by the response deadline, or not reported done by the resolution "
        "deadline (the console's rule); in the staff table: those of the places the "
        "person answers for (grid, building or unit).",
    },
    "rounds": {
        "zh": "四进活动：当月开始的活动，按类别；人员表中为本人参加的。",
        "en": "Rounds started in the month, by kind; in the staff table: those the person "
        "took part in.",
    },
    "staff_area": {
        "zh": "人员表的关爱户、应访、已访、从未走访、超期：其负责区域内的（网格员、兼职网格员、"
        "志愿者为网格，楼栋长为楼栋，单元长为单元），同一网格的人员之间会重复，不可相加。",
        "en": "In the staff table, households, visits due and done, never visited and "
        "overdue are those of the places the person answers for (a grid for grid roles "
        "and volunteers, a building for building heads, a unit for unit heads): "
        "they repeat across a grid's staff and do not add up.",
    },
}


def label(column: str, lang: str = "zh") -> str:
    """A column's heading in ``lang`` (zh or en)."""
    zh, en = LABELS[column]
    return en if lang == "en" else zh
