"""Planning: the undo/redo history of a draft's edits (``layout_edit``).

Alembic migrations (``migrations/``) are the schema's only source; these models
must agree with them (``tests/gridgis/models/test_migrations.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.models.base import Base, created

__all__ = ["LayoutEdit"]


class LayoutEdit(Base):
    """One edit of a draft, with the grids it changed before and after, for undo and redo.

    ``before`` and ``after`` hold the grids the edit touched, made or removed,
    each with its code, name, polygon and team, exactly as stored, so undoing
    writes back the very polygons (repainting would cut them anew). ``seq``
    counts a layout's edits; an undone edit keeps its row (``undone``) until a
    new edit drops the redo branch.
    """

    __tablename__ = "layout_edit"
    __table_args__ = (UniqueConstraint("layout_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("layout.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = created()
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB)
    before: Mapped[dict[str, Any]] = mapped_column(JSONB)
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    undone: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
