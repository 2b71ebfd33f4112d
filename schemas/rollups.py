"""The roll-up rows of the stream → batch contract: what the detection core leaves for the weekly
report (``rollups.jsonl`` of a run folder, the compacted roll-ups topic) and the file tallies.

The core builds these as plain dicts on its hot path (``claimwatch/detect/rollup.py`` says when each
field is set); the report job validates every row it reads against :data:`ROLLUP_ROW` and works on
the typed rows. A row that fails is refused and counted, never guessed at. Times are epoch seconds
(UTC), days ``YYYY-MM-DD``, weeks ``YYYY-Www``.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

_STRICT = ConfigDict(extra="forbid")


@with_config(_STRICT)
class RiskDriver(TypedDict):
    """One reason for a dispute risk score and its weight in it."""

    driver: str
    weight: float


@with_config(_STRICT)
class ClaimRow(TypedDict):
    """``claim|<week>|<claim id>``: the claim's latest status in the week, its ids, the week's status
    changes (``new``, ``seen_first_time``, a status name, ``released:<outcome>``) and its risk."""

    kind: Literal["claim"]
    week: str
    records: dict[str, int]  # records seen this week, per source
    days: dict[str, list[str]]  # days seen this week, per source
    claim_id: str
    status: str
    status_time: float
    transitions: dict[str, int]
    asset_id: NotRequired[str]
    video_id: NotRequired[str]
    channel_id: NotRequired[str]
    channel_title: NotRequired[str]
    video_title: NotRequired[str]
    content_id: NotRequired[str]
    content_type: NotRequired[str]
    origin: NotRequired[str]
    policy: NotRequired[str]
    created_at: NotRequired[float]
    third_party: NotRequired[bool]
    risk: NotRequired[float]
    risk_drivers: NotRequired[list[RiskDriver]]
    dispute_at: NotRequired[float]
    appeal_at: NotRequired[float]
    isrc: NotRequired[str]  # as the claims report gives them: the metadata check's input
    asset_title: NotRequired[str]


@with_config(_STRICT)
class PostRow(TypedDict):
    """``post|<week>|<platform>|<post id>``: the week's first and last poll as ``[time, views,
    reactions]``, analytics views per day, the poll findings of the week and the daily band."""

    kind: Literal["post"]
    week: str
    records: dict[str, int]
    days: dict[str, list[str]]
    platform: str
    platform_content_id: str
    findings: dict[str, int]
    content_id: NotRequired[str]
    first: NotRequired[tuple[float, int, int]]
    last: NotRequired[tuple[float, int, int]]
    analytics_views: NotRequired[dict[str, int]]
    # Per day: views, their usual and its variance, reactions, theirs and its variance, over the
    # buckets judged that day (``claimwatch/detect/posts.py``, ``WindowFigures``).
    band: NotRequired[dict[str, tuple[float, float, float, float, float, float]]]


@with_config(_STRICT)
class AssetRow(TypedDict):
    """``asset|<week>|<asset id>``: the asset's own dispute risk from its context, as last computed."""

    kind: Literal["asset"]
    week: str
    records: dict[str, int]
    days: dict[str, list[str]]
    asset_id: str
    risk: float
    risk_drivers: list[RiskDriver]
    risk_time: float
    content_id: NotRequired[str]


@with_config(_STRICT)
class CatalogRow(TypedDict):
    """``catalog|<content id>``: names to show beside ids."""

    kind: Literal["catalog"]
    content_id: str
    title: str | None
    artist: str | None
    isrc: NotRequired[str]
    asset_id: NotRequired[str]
    custom_id: NotRequired[str]


@with_config(_STRICT)
class LateRow(TypedDict):
    """``late|<day>``: records past the roll-up horizon on that day, counted instead of rolled up."""

    kind: Literal["late"]
    day: str
    late_beyond_rollup: int


@with_config(_STRICT)
class FileRow(TypedDict):
    """One file read (``files.jsonl``): what it gave, the day its data is about, its columns."""

    kind: Literal["file"]
    path: str
    source: str
    day: str | None
    records: int
    accepted: int
    quarantined: int
    events: int
    duplicates: NotRequired[int]
    columns: NotRequired[list[str]]
    uncatalogued: NotRequired[int]


RollupRow = Annotated[
    ClaimRow | PostRow | AssetRow | CatalogRow | LateRow | FileRow,
    Field(discriminator="kind"),
]
ROLLUP_ROW: TypeAdapter[RollupRow] = TypeAdapter(RollupRow)
