"""What each layer is: its fields in files and on the map, and the SQL that yields them.

Each layer (community, grids, compounds, buildings, units, staff) is described
once, by a :class:`LayerSpec`, and every surface reads it: the exporter
(:mod:`gridgis.shapes.exporting`) writes exactly the *file fields*, selected
through their expressions, in their order (under :attr:`FieldSpec.short` in a
Shapefile); the importer (:mod:`gridgis.shapes.places`, ``.staff``) reads
exactly those fields by name, short name or alias (编码, 名称, 户数, ...), parsed
by :mod:`gridgis.shapes.fields`; the GeoJSON views (:mod:`gridgis.maps.features`)
build each feature's properties from the *view fields*, in their order.

So an exported file always imports back, and the map and the files cannot
drift apart unnoticed. Where they legitimately differ the spec has one field
for each side: a compound's property company is a department *code* in files
(the importer looks departments up by code) and its *name* on the map; the
owners' committee is ``owners_committee`` in files, ``has_owners_committee`` on
the map. Values only the map shows (a grid's households and buildings, a
building's number of units) are view-only fields with their own SQL. Staff and
the community have no view: staff names and phones never reach a map layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnExpressionArgument
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from gridgis.geo.areas import building_in_grid
from gridgis.models import (
    Assignment,
    Base,
    Building,
    Community,
    Compound,
    Department,
    Grid,
    Layout,
    Staff,
    Unit,
)

__all__ = ["COORDINATE_DIGITS", "LAYER_SPECS", "FieldSpec", "Join", "LayerSpec"]

#: 7 decimals of a degree is about 1 cm: more digits only make documents longer.
COORDINATE_DIGITS = 7


@dataclass(frozen=True, eq=False)
class Join:
    """A table that field expressions need, and how it joins the layer's rows.

    Fields that need the same table share one ``Join`` object, so a query that
    selects several of them joins the table once (joins compare by identity:
    two joins of one table, say a unit's building and a staff member's
    building, are different joins).

    Attributes:
        target: The model (or alias) joined.
        on: The join condition.
        outer: A LEFT OUTER JOIN (a reference that may be empty) or an inner one.
    """

    target: Any
    on: ColumnElement[bool]
    outer: bool = True


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer: in files, in the GeoJSON view, or both.

    Attributes:
        name: The name written on export and looked for first on import; the
            property name in the view.
        kind: ``text``, ``int`` (a count, never negative), ``float`` (never
            negative) or ``bool``.
        max_len: Longest text the database column holds.
        short: Name used in Shapefiles when ``name`` is longer than 10 characters.
        aliases: Other names accepted on import (case-insensitive).
        in_file: Written on export and read on import.
        in_view: A property of the layer's GeoJSON features.
        sql: The expression that yields the value for one row of the layer.
        joins: The tables ``sql`` needs, in joining order.
    """

    name: str
    kind: str = "text"
    max_len: int | None = None
    short: str | None = None
    aliases: tuple[str, ...] = ()
    in_file: bool = True
    in_view: bool = True
    sql: ColumnExpressionArgument[Any] | None = field(default=None, compare=False)
    joins: tuple[Join, ...] = field(default=(), compare=False)

    @property
    def shapefile_name(self) -> str:
        return self.short or self.name

    def accepted_names(self) -> tuple[str, ...]:
        names = (self.name, *((self.short,) if self.short else ()), *self.aliases)
        return tuple(n.casefold() for n in names)

    def labelled(self) -> ColumnElement[Any]:
        """:attr:`sql` labelled with the field's name."""
        if self.sql is None:
            raise ValueError(f"field {self.name!r} has no SQL expression")
        return sa.label(self.name, self.sql)


@dataclass(frozen=True, eq=False)
class LayerSpec:
    """One layer: where its rows come from, its fields and its geometry.

    Attributes:
        name: The layer's name (``buildings``).
        source: The model whose rows are the layer's features.
        owner: The id of what holds a feature: the layout for grids, the
            community for every other layer. Exports and views filter on it.
        fields: File and view fields, in the order files and views write them.
        geometry: The geometry column (None: staff have none).
        joins: Tables every query of the layer joins (``owner`` needs them).
        key: The view fields that name a feature within its owner; the view's
            feature id joins their values with ``/`` and the view is ordered by them.
    """

    name: str
    source: type[Base]
    owner: QueryableAttribute[int]
    fields: tuple[FieldSpec, ...]
    geometry: QueryableAttribute[Any] | None = None
    joins: tuple[Join, ...] = ()
    key: tuple[str, ...] = ("code",)

    @property
    def file_fields(self) -> tuple[FieldSpec, ...]:
        """The fields export writes and import reads, in file order."""
        return tuple(f for f in self.fields if f.in_file)

    @property
    def view_fields(self) -> tuple[FieldSpec, ...]:
        """The properties of the layer's GeoJSON features, in order (none: no view)."""
        return tuple(f for f in self.fields if f.in_view)

    @property
    def identity(self) -> ColumnElement[int]:
        """The source's primary key: files keep this order, views break ties with it."""
        return sa.inspect(self.source).primary_key[0]

    def from_clause(self, fields: Iterable[FieldSpec] = ()) -> FromClause:
        """The source with the layer's joins and those ``fields`` need, each once."""
        joins: list[Join] = []
        for join in (*self.joins, *(j for f in fields for j in f.joins)):
            if join not in joins:
                joins.append(join)
        clause: FromClause = sa.inspect(self.source).selectable
        for join in joins:
            clause = clause.join(join.target, join.on, isouter=join.outer)
        return clause

    def select(self, fields: Sequence[FieldSpec], *extra: Any) -> sa.Select[Any]:
        """SELECT ``fields`` (labelled by name), then ``extra``, from the layer's rows."""
        return sa.select(*(f.labelled() for f in fields), *extra).select_from(
            self.from_clause(fields)
        )

    def file_select(self) -> sa.Select[Any]:
        """The file fields, then the geometry as WKB (if any), in the source's order."""
        extra = [] if self.geometry is None else [sa.func.ST_AsBinary(self.geometry)]
        return self.select(self.file_fields, *extra).order_by(self.identity)

    def view_select(self) -> sa.Select[Any]:
        """The view fields, then the geometry as GeoJSON text, ordered by the key.

        The geometry follows RFC 7946: exterior rings counter-clockwise,
        :data:`COORDINATE_DIGITS` decimals, no crs member and no bbox.
        """
        if self.geometry is None or not self.view_fields:
            raise ValueError(f"the {self.name} layer has no GeoJSON view")
        geometry = sa.func.ST_AsGeoJSON(
            sa.func.ST_ForcePolygonCCW(self.geometry), COORDINATE_DIGITS, 0
        )
        by_name = {f.name: f for f in self.view_fields}
        order = [by_name[k].labelled().element for k in self.key]
        return self.select(self.view_fields, geometry).order_by(*order, self.identity)

    def feature_id(self, properties: dict[str, Any]) -> str:
        """A view feature's id: its key values, joined by ``/`` (a unit: ``B01/2``)."""
        return "/".join(str(properties[k]) for k in self.key)


def _code(column: QueryableAttribute[Any]) -> FieldSpec:
    return FieldSpec("code", max_len=64, aliases=("id", "编码", "编号"), sql=column)


def _name(column: QueryableAttribute[Any]) -> FieldSpec:
    return FieldSpec("name", max_len=200, aliases=("名称",), sql=column)


def _households(column: QueryableAttribute[Any]) -> FieldSpec:
    return FieldSpec("households", "int", aliases=("户数",), sql=column)


def _file_only(*fields: FieldSpec) -> tuple[FieldSpec, ...]:
    return tuple(replace(f, in_view=False) for f in fields)


# --- grids: the map also shows the layout and what the grid holds ---------------

_GRID_LAYOUT = Join(Layout, Layout.id == Grid.layout_id, outer=False)
# The buildings that belong to the grid (one rule, gridgis.geo.areas), of its
# own community: a neighbour's building under an overlapping edge is not ours.
_IN_GRID = sa.and_(Building.community_id == Layout.community_id, building_in_grid(Building, Grid))
# One pass over the grid's buildings for both tallies (LATERAL: once per grid).
_grid_tally = (
    sa.select(
        sa.func.coalesce(sa.func.sum(Building.households), 0).label("households"),
        sa.func.count(Building.id).label("buildings"),
    )
    .where(_IN_GRID)
    .lateral("grid_tally")
)
# An aggregate without GROUP BY yields one row even for an empty grid.
_GRID_TALLY = Join(_grid_tally, sa.true(), outer=False)

# --- compounds, buildings, units: references travel as codes -------------------

_PROPERTY_COMPANY = Join(Department, Department.id == Compound.property_company_id)
_BUILDING_COMPOUND = Join(Compound, Compound.id == Building.compound_id)
_UNIT_BUILDING = Join(Building, Building.id == Unit.building_id, outer=False)
_BUILDING_UNITS = (
    sa.select(sa.func.count())
    .select_from(Unit)
    .where(Unit.building_id == Building.id)
    .correlate(Building)
    .scalar_subquery()
)

# --- staff: one row per role, places as codes ----------------------------------

_ASSIGNMENT = Join(Assignment, Assignment.staff_id == Staff.id)
_ASSIGNED_GRID = Join(Grid, Grid.id == Assignment.grid_id)
_ASSIGNED_BUILDING = Join(Building, Building.id == Assignment.building_id)
_ASSIGNED_UNIT = Join(Unit, Unit.id == Assignment.unit_id)
_unit_building = aliased(Building, name="unit_building")
_ASSIGNED_UNIT_BUILDING = Join(_unit_building, _unit_building.id == Unit.building_id)

_SPECS = (
    LayerSpec(
        "community",
        Community,
        owner=Community.id,
        geometry=Community.boundary,
        fields=_file_only(
            _code(Community.code),
            _name(Community.name),
            FieldSpec("gap_tolerance_m", "float", short="gap_tol_m", sql=Community.gap_tolerance_m),
            FieldSpec("households_min", "int", short="hh_min", sql=Community.households_min),
            FieldSpec("households_max", "int", short="hh_max", sql=Community.households_max),
        ),
    ),
    LayerSpec(
        "grids",
        Grid,
        owner=Grid.layout_id,
        geometry=Grid.geom,
        fields=(
            _code(Grid.code),
            _name(Grid.name),
            FieldSpec("layout", in_file=False, sql=Layout.name, joins=(_GRID_LAYOUT,)),
            FieldSpec(
                "households",
                "int",
                in_file=False,
                sql=_grid_tally.c.households,
                joins=(_GRID_LAYOUT, _GRID_TALLY),
            ),
            FieldSpec(
                "buildings",
                "int",
                in_file=False,
                sql=_grid_tally.c.buildings,
                joins=(_GRID_LAYOUT, _GRID_TALLY),
            ),
        ),
    ),
    LayerSpec(
        "compounds",
        Compound,
        owner=Compound.community_id,
        geometry=Compound.geom,
        fields=(
            _code(Compound.code),
            _name(Compound.name),
            # Files carry the department's code, which the importer looks up;
            # the map shows people the company's name.
            FieldSpec(
                "property_company",
                max_len=64,
                short="prop_comp",
                aliases=("物业",),
                in_view=False,
                sql=Department.code,
                joins=(_PROPERTY_COMPANY,),
            ),
            FieldSpec(
                "property_company", in_file=False, sql=Department.name, joins=(_PROPERTY_COMPANY,)
            ),
            FieldSpec(
                "owners_committee",
                "bool",
                short="owners_cmt",
                aliases=("业委会",),
                in_view=False,
                sql=Compound.has_owners_committee,
            ),
            FieldSpec(
                "has_owners_committee", "bool", in_file=False, sql=Compound.has_owners_committee
            ),
        ),
    ),
    LayerSpec(
        "buildings",
        Building,
        owner=Building.community_id,
        geometry=Building.geom,
        fields=(
            _code(Building.code),
            _name(Building.name),
            FieldSpec("address", max_len=300, aliases=("地址",), sql=Building.address),
            FieldSpec("floors", "int", aliases=("层数",), sql=Building.floors),
            _households(Building.households),
            FieldSpec(
                "compound",
                max_len=64,
                aliases=("小区",),
                sql=Compound.code,
                joins=(_BUILDING_COMPOUND,),
            ),
            FieldSpec("units", "int", in_file=False, sql=_BUILDING_UNITS),
        ),
    ),
    LayerSpec(
        "units",
        Unit,
        owner=Building.community_id,
        geometry=Unit.geom,
        joins=(_UNIT_BUILDING,),
        key=("building", "number"),
        fields=(
            FieldSpec(
                "building",
                max_len=64,
                aliases=("楼栋",),
                sql=Building.code,
                joins=(_UNIT_BUILDING,),
            ),
            FieldSpec("number", max_len=32, aliases=("单元", "单元号"), sql=Unit.number),
            _households(Unit.households),
        ),
    ),
    LayerSpec(
        "staff",
        Staff,
        owner=Staff.community_id,
        fields=_file_only(
            FieldSpec("code", max_len=64, aliases=("id", "编码", "编号", "工号"), sql=Staff.code),
            FieldSpec("name", max_len=100, aliases=("姓名",), sql=Staff.name),
            FieldSpec("phone", max_len=32, aliases=("电话",), sql=Staff.phone),
            FieldSpec("role", max_len=32, sql=Assignment.role, joins=(_ASSIGNMENT,)),
            FieldSpec("grid", max_len=64, sql=Grid.code, joins=(_ASSIGNMENT, _ASSIGNED_GRID)),
            # A unit head's building is the unit's: the file names the unit by
            # building and number, as the units layer does.
            FieldSpec(
                "building",
                max_len=64,
                sql=sa.func.coalesce(Building.code, _unit_building.code),
                joins=(_ASSIGNMENT, _ASSIGNED_BUILDING, _ASSIGNED_UNIT, _ASSIGNED_UNIT_BUILDING),
            ),
            FieldSpec("unit", max_len=32, sql=Unit.number, joins=(_ASSIGNMENT, _ASSIGNED_UNIT)),
            FieldSpec("team", max_len=16, sql=Assignment.volunteer_team, joins=(_ASSIGNMENT,)),
            FieldSpec("on_duty", "bool", sql=Assignment.on_duty, joins=(_ASSIGNMENT,)),
        ),
    ),
)

#: Every layer by name, in the order they are usually loaded.
LAYER_SPECS: dict[str, LayerSpec] = {spec.name: spec for spec in _SPECS}
