"""Personal data the test fixtures hold, which no log record may ever contain.

``tests/conftest.py`` attaches :class:`LeakRecorder` to the root logger at
DEBUG for the whole run and fails the run if any record holds one of these.
"""

from __future__ import annotations

import csv
import logging
import traceback

from gridgis.config import PROJECT_ROOT

#: tests/sample_community.py (the web tests' community) and its test password.
SAMPLE = (
    *("张三", "李四光", "王五", "赵六", "钱七", "孙八"),
    *("13812341234", "13900005678", "13700001111", "13600002222", "13500003333", "13400004444"),
    "Grid-test-passw0rd",
)
#: tests/support/incidents.py (a resident who reports)
REPORTERS = ("陈居民", "13911112222")
#: tests/support/routing_city.py
ROUTING_CITY = (
    *("王网格", "李兼职", "赵楼长", "钱单元", "孙单元", "周红", "吴白"),
    *(f"1380000000{i}" for i in range(1, 8)),
)


def demo_staff() -> tuple[str, ...]:
    """Names and phones of the demo community's staff (data/shapes/staff.csv)."""
    with open(PROJECT_ROOT / "data" / "shapes" / "staff.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return tuple({r["name"] for r in rows} | {r["phone"] for r in rows if r["phone"]})


class LeakRecorder(logging.Handler):
    """Keeps every log record that holds a name, a phone number or a password."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.leaks: list[str] = []
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        if any(secret in text for secret in self.secrets):
            self.leaks.append(f"{record.name} {record.levelname}: {text[:300]}")
