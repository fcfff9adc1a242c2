"""Colours, popups and the legend of the community map (:mod:`gridgis.maps.community`).

Popup and legend HTML is built here from data, so every value is escaped here
and nowhere else. It carries no ``style`` attribute (the page's
Content-Security-Policy refuses inline styles): colours are classes, defined
in :data:`MAP_CSS`. Labels are English message ids passed through ``_`` (the
caller's gettext); ``N_`` marks ids that are translated later, so the
catalog test can find them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from gridgis.errors import N_
from gridgis.models.roles import role_name, team_name
from gridgis.staff.team import TeamMember

Gettext = Callable[[str], str]
Feature = dict[str, Any]


#: Tableau 10: distinct hues that stay apart for colour-blind readers too.
GRID_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
#: ColorBrewer Dark2 for buildings, one colour per compound.
COMPOUND_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
LOOSE_BUILDING_COLOUR = "#8a8a8a"
VOLUNTEER_COLOURS = {
    "red": "#d62728",
    "blue": "#1f77b4",
    "green": "#2ca02c",
    "orange": "#ff7f0e",
    "white": "#ffffff",
}

BOUNDARY_STYLE = {"color": "#222222", "weight": 3, "fill": False, "dashArray": "10 6"}
#: No fill: a click inside a compound belongs to the grid or building under it.
COMPOUND_STYLE = {"color": "#444444", "weight": 2, "fill": False, "dashArray": "6 4"}
#: Filled but transparent, so a click inside a unit still finds it (canvas hit test).
UNIT_STYLE = {"color": "#ffffff", "weight": 1.5, "fillOpacity": 0.0}
GRID_FILL_OPACITY = 0.14
BUILDING_FILL_OPACITY = 0.8

#: The map's own styles: legend, popups, and the plain background when there
#: are no tiles. Inline, so a saved map still looks right without our CSS.
_BASE_CSS = """
.leaflet-container { background: #f3f1ec; }
.gg-legend { background: rgba(255,255,255,.94); border-radius: 6px; padding: 4px 8px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 13px; line-height: 1.4;
  max-height: 45vh; overflow-y: auto; max-width: 70vw; }
.gg-legend summary { cursor: pointer; font-weight: 600; }
.gg-legend ul { list-style: none; margin: 4px 0 0; padding: 0; }
.gg-legend li { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.gg-legend li.gg-legend-h { font-weight: 600; margin-top: 6px; }
.gg-sw { display: inline-block; width: 18px; height: 12px; flex: none;
  border: 2px solid #333; box-sizing: border-box; }
.gg-sw-line { border: none; height: 0; }
.gg-sw-boundary { border-top: 3px dashed #222; }
.gg-sw-compound-line { border-top: 2px dashed #444; }
.gg-sw-building { border: 1px solid #333; }
.gg-popup h3 { margin: 0 0 4px; font-size: 15px; }
.gg-popup table { border-collapse: collapse; font-size: 13px; }
.gg-popup th { text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0; }
.gg-popup td { padding: 1px 0; }
.gg-popup ul { margin: 2px 0; padding-left: 0; list-style: none; font-size: 13px; }
.gg-popup .gg-note { color: #777; font-size: 11px; margin: 4px 0 0; }
.gg-label { background: rgba(255,255,255,.8); border: none; box-shadow: none;
  padding: 1px 4px; font-size: 12px; font-weight: 600; color: #333; }
.gg-label::before { display: none; }
.gg-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  border: 1px solid #555; margin-right: 4px; vertical-align: middle; background: #cccccc; }
"""


def _colour_css() -> str:
    """One class per palette colour: grid swatches, compound swatches, volunteer dots."""
    rules = [
        f".gg-grid-{i} {{ border-color: {c}; background: {_rgba(c, GRID_FILL_OPACITY * 2)}; }}"
        for i, c in enumerate(GRID_COLOURS)
    ]
    rules += [f".gg-compound-{i} {{ background: {c}; }}" for i, c in enumerate(COMPOUND_COLOURS)]
    grey = LOOSE_BUILDING_COLOUR
    rules.append(f".gg-loose {{ background: {grey}; }}")
    rules.append(
        ".gg-units { background: linear-gradient(to right,"
        f"{grey} 42%,#fff 42%,#fff 58%,{grey} 58%); }}"
    )
    rules += [f".gg-team-{team} {{ background: {c}; }}" for team, c in VOLUNTEER_COLOURS.items()]
    return "\n".join(rules) + "\n"


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


MAP_CSS = _BASE_CSS + _colour_css()


@dataclass(frozen=True)
class Palette:
    """The colour of each grid (by code) and of each compound's buildings."""

    grids: dict[str, str]
    compounds: dict[str, str]

    @classmethod
    def for_layers(cls, grids: dict[str, Any], compounds: dict[str, Any]) -> Palette:
        return cls(
            grids={
                f["id"]: GRID_COLOURS[i % len(GRID_COLOURS)]
                for i, f in enumerate(grids["features"])
            },
            compounds={
                f["id"]: COMPOUND_COLOURS[i % len(COMPOUND_COLOURS)]
                for i, f in enumerate(compounds["features"])
            },
        )

    def grid_style(self, code: str) -> dict[str, Any]:
        colour = self.grids.get(code, GRID_COLOURS[0])
        return {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": GRID_FILL_OPACITY}

    def building_colour(self, compound: str | None) -> str:
        return self.compounds.get(compound or "", LOOSE_BUILDING_COLOUR)

    def grid_class(self, code: str) -> str:
        """The legend class of a grid's colour (see MAP_CSS)."""
        return f"gg-grid-{GRID_COLOURS.index(self.grids.get(code, GRID_COLOURS[0]))}"

    def compound_class(self, compound: str) -> str:
        colour = self.compounds.get(compound)
        return "gg-loose" if colour is None else f"gg-compound-{COMPOUND_COLOURS.index(colour)}"

    def building_style(self, compound: str | None) -> dict[str, Any]:
        return {
            "color": "#333333",
            "weight": 1,
            "fillColor": self.building_colour(compound),
            "fillOpacity": BUILDING_FILL_OPACITY,
        }


# --- popups -------------------------------------------------------------------


def _number(value: int | None) -> str:
    return "—" if value is None else str(value)


def _popup(title: str, rows: list[tuple[str, str]], extra: str = "") -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<h3>{escape(title)}</h3><table>{cells}</table>{extra}"


def _team(members: list[TeamMember], _: Gettext, lang: str, *, empty: str | None = None) -> str:
    if not members:
        return f"<p class='gg-note'>{escape(_(empty))}</p>" if empty else ""
    items = []
    for m in members:
        label = role_name(m.role, lang)
        dot = ""
        if m.volunteer_team:
            team = team_name(m.volunteer_team, lang)
            known = m.volunteer_team in VOLUNTEER_COLOURS
            dot = f"<span class='gg-dot{f' gg-team-{m.volunteer_team}' if known else ''}'></span>"
            label = f"{label} · {team}"
        off_duty = _("off duty")
        off = f" ({off_duty})" if not m.on_duty else ""
        text = " ".join(p for p in (label + ":", m.name, m.phone or "") if p) + off
        items.append(f"<li>{dot}{escape(text)}</li>")
    if not any(m.masked for m in members):
        return f"<ul>{''.join(items)}</ul>"
    note = escape(_("Names and phone numbers are masked."))
    return f"<ul>{''.join(items)}</ul><p class='gg-note'>{note}</p>"


def grid_popup(feature: Feature, team: list[TeamMember], _: Gettext, lang: str) -> str:
    p = feature["properties"]
    rows = [
        (_("Code"), p["code"]),
        (_("Layout"), p["layout"]),
        (_("Households"), _number(p["households"])),
        (_("Buildings"), _number(p["buildings"])),
    ]
    title = _("Grid") + f": {p['name']}"
    return _popup(title, rows, _team(team, _, lang, empty=N_("No team assigned yet.")))


def compound_popup(feature: Feature, _: Gettext) -> str:
    p = feature["properties"]
    rows = [
        (_("Code"), p["code"]),
        (_("Property company"), p["property_company"] or "—"),
        (_("Owners' committee"), _("Yes") if p["has_owners_committee"] else _("No")),
    ]
    return _popup(_("Compound") + f": {p['name']}", rows)


def building_popup(
    feature: Feature,
    compound_names: dict[str, str],
    team: list[TeamMember],
    _: Gettext,
    lang: str,
) -> str:
    p = feature["properties"]
    compound = compound_names.get(p["compound"] or "", _("Not in a compound"))
    rows = [
        (_("Code"), p["code"]),
        (_("Address"), p["address"] or "—"),
        (_("Compound"), compound),
        (_("Floors"), _number(p["floors"])),
        (_("Households"), _number(p["households"])),
        (_("Units"), _number(p["units"])),
    ]
    title = _("Building") + f": {p['name'] or p['code']}"
    return _popup(title, rows, _team(team, _, lang))


def unit_popup(feature: Feature, team: list[TeamMember], _: Gettext, lang: str) -> str:
    p = feature["properties"]
    rows = [(_("Building"), p["building"]), (_("Households"), _number(p["households"]))]
    title = _("Unit {number}").format(number=p["number"])
    return _popup(title, rows, _team(team, _, lang))


# --- legend -------------------------------------------------------------------


def _swatch(classes: str) -> str:
    return f"<span class='gg-sw {classes}'></span>"


def legend_html(
    grids: dict[str, Any], compounds: dict[str, Any], palette: Palette, _: Gettext
) -> str:
    """The legend: what each colour and line on the map means."""

    def item(swatch: str, label: str) -> str:
        return f"<li>{swatch}{escape(label)}</li>"

    def heading(label: str) -> str:
        return f"<li class='gg-legend-h'>{escape(label)}</li>"

    lines = [item(_swatch("gg-sw-line gg-sw-boundary"), _("Community boundary"))]
    lines.append(heading(_("Grids")))
    for f in grids["features"]:
        lines.append(item(_swatch(palette.grid_class(f["id"])), f["properties"]["name"]))
    if not grids["features"]:
        lines.append(item("", _("No layout in force")))
    lines.append(heading(_("Buildings, by compound")))
    for f in compounds["features"]:
        swatch = _swatch(f"gg-sw-building {palette.compound_class(f['id'])}")
        lines.append(item(swatch, f["properties"]["name"]))
    lines.append(item(_swatch("gg-sw-building gg-loose"), _("Not in a compound")))
    lines.append(heading(_("Other lines")))
    lines.append(item(_swatch("gg-sw-line gg-sw-compound-line"), _("Compound outline")))
    lines.append(item(_swatch("gg-sw-building gg-units"), _("Unit divisions")))
    return (
        "<details open><summary>"
        + escape(_("Legend"))
        + f"</summary><ul>{''.join(lines)}</ul></details>"
    )
