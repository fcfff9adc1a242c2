"""The one-sentence explanation of a routing result, in Chinese and in English.

Stored with every incident's snapshot (DESIGN.md, Routing rule 6) and shown
with every routing answer; made from the result's own fields only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridgis.routing.results import RoutingResult


def explain(r: RoutingResult) -> tuple[str, str]:
    """The one-sentence explanation of a result, in Chinese and in English."""
    if r.rule == "ambiguous_address":
        names = "、".join(str(c["address"] or c["name"]) for c in r.candidates[:5])
        zh = (
            f"地址不唯一，请从候选中选择：{names}。"
            if r.candidates
            else "找不到该地址，请输入坐标或更完整的地址。"
        )
        en = (
            f"The address matches {len(r.candidates)} buildings; choose one of the candidates."
            if r.candidates
            else "No building matches that address; give coordinates or a fuller address."
        )
        return zh, en
    if r.rule == "outside_your_area":
        return (
            "该位置不在您负责的网格范围内，请联系受理员。",
            "The location is outside your area; ask a dispatcher.",
        )
    if r.rule == "invalid_location":
        zh = f"位置无效：{r.reason}。"
        en = f"Invalid location: {r.reason}."
    elif r.rule == "outside_coverage":
        zh = "该位置不在任何社区范围内，无法派遣。"
        en = "The location is outside every community gridgis covers; it cannot be routed."
    elif r.rule == "unrouted":
        if r.reason == "no layout in force":
            zh = (
                f"该位置属于社区 {r.community_code}，但该时刻没有生效的网格方案，转社区受理员处理。"
            )
            en = (
                f"The location is in community {r.community_code}, but no grid layout was in "
                "force at that time; it goes to the community's dispatcher queue."
            )
        else:
            zh = f"该位置在社区 {r.community_code} 内，但不在任何网格容差范围内，转社区受理员处理。"
            en = (
                f"The location is in community {r.community_code} but {r.reason}; "
                "it goes to the community's dispatcher queue."
            )
    elif r.rule == "nearest_grid":
        zh = (
            f"该位置不在任何网格内，距最近的网格 {r.grid_code}（{r.grid_name}）"
            f"{r.distance_m:.1f} 米，归该网格处理。"
        )
        en = (
            f"The location is in no grid; the nearest grid, {r.grid_code} ({r.grid_name}), "
            f"is {r.distance_m:.1f} m away and takes it."
        )
    else:
        # Only the rule's own sentence is formatted (a batch explains every result it stores).
        if r.rule == "unit":
            place_zh = f"{r.building_name or r.building_code} {r.unit_number} 单元"
            place_en = f"unit {r.unit_number} of building {r.building_code}"
        elif r.rule == "building":
            place_zh = f"楼栋 {r.building_name or r.building_code}"
            place_en = f"building {r.building_code}"
        elif r.rule == "address":
            place_zh = f"地址“{r.matched_address}”所在楼栋 {r.building_name or r.building_code}"
            place_en = f"building {r.building_code} at the address {r.matched_address!r}"
        elif r.rule == "grid":
            place_zh = f"网格 {r.grid_code}"
            place_en = f"grid {r.grid_code}"
        else:
            raise KeyError(r.rule)
        zh = f"该位置位于{place_zh}，属网格 {r.grid_code}（{r.grid_name}）。"
        en = f"The location is in {place_en}, which belongs to grid {r.grid_code} ({r.grid_name})."
    return zh, en
