"""An independent recount of the weekly report's figures from the raw exports.

Standard library only: nothing here imports claimwatch, its readers or its report. Statuses, times
and counting rules are written again from the formats (`../shared/docs/youtube-formats.md`) and the
report's own definitions, so a figure that agrees was reached twice by different code.

Rules, as the report's definitions state them:
- a claim's observations (a daily claims report's row at the end of its day, an API claim at its last
  status change, each event of a claim history at its time) are taken in time order; a status that
  differs from the claim's previous one is a change of the week the observation falls in;
- a claim is new in the week of its first observation when its creation time, as known then, is in
  that week; otherwise it is first seen, created earlier or unknown;
- views gained per post between its first and last poll of the week, an interval across either end
  of the week split there in proportion to time.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DETAIL_STATUS = {  # a PENDING (or ACTIVE) claim's detail says which kind of pending it is
    "DISPUTED": "disputed",
    "APPEALED": "appealed",
    "POTENTIAL": "potential",
    "PENDING_FOR_REVIEW": "routed_for_review",
    "ROUTED_FOR_REVIEW": "routed_for_review",
}
HISTORY_STATUS = {"dispute_create": "disputed", "dispute_appeal": "appealed"}
ORIGINS = {
    "Audio match": "audio_match",
    "audioMatch": "audio_match",
    "Audio and video match": "audiovisual_match",
    "Melody match": "melody_match",
    "In-product (Studio)": "manual_studio",
    "Descriptive search": "descriptive_search",
    "Web upload": "partner_uploaded",
}
CONTENT_TYPES = {"audio": "audio", "visual": "visual", "video": "visual", "audiovisual": "audiovisual"}
RELEASED_FROM = {
    "disputed": "after_dispute",
    "appealed": "after_appeal",
    "pending": "potential_not_confirmed",
    "potential": "potential_not_confirmed",
    "routed_for_review": "potential_not_confirmed",
}
# A claim is created active, or pending review; any other status takes an action (a release, a
# dispute). Learning a claim's first status after its creation event is no change.
CREATED = ("active", "pending", "potential", "routed_for_review")
TAKEDOWN = ("takedown", "delayed_takedown", "takedown_under_review")
OPEN = ("disputed", "appealed")
DATE_IN_NAME = re.compile(r"(20\d\d)(\d\d)(\d\d)")


def snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def week_start(week: str) -> datetime:
    year, number = week.split("-W")
    return datetime.combine(date.fromisocalendar(int(year), int(number), 1), datetime.min.time(), tzinfo=UTC)


def day_of_name(path: Path) -> date | None:
    found = DATE_IN_NAME.search(path.name)
    return date(int(found[1]), int(found[2]), int(found[3])) if found else None


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    return [{snake(k): v for k, v in row.items()} for row in rows]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------ claims


@dataclass(frozen=True)
class Seen:
    """One observation of a claim."""

    time: datetime
    where: tuple[str, int]  # file and record: ties in time are taken in file order
    status: str | None  # None: the record says nothing of the status (a claim's creation)
    created: datetime | None
    daily: bool  # a row of a daily claims report (the inventory)
    fields: dict[str, str]  # asset, channel, content type, origin, policy: what this record says
    third_party: bool = False


def claim_observations(folder: Path) -> dict[str, list[Seen]]:
    seen: dict[str, list[Seen]] = defaultdict(list)
    for path in sorted((folder / "claims").iterdir()):
        name = path.name
        if name.startswith(("claims_report_studio_", "content_owner_active_claims_")):
            day = day_of_name(path)
            assert day is not None
            at = datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=UTC)
            for line, row in enumerate(read_csv(path), start=2):
                status: str | None = row["claim_status"].lower()
                detail = row.get("claim_status_detail", "")
                if status in ("pending", "active") and detail in DETAIL_STATUS:
                    status = DETAIL_STATUS[detail]
                created_date = row.get("claim_created_date")
                actions = {
                    action for action in ("monetize", "track", "block") if row.get(f"claim_policy_{action}", "").strip()
                }
                fields = {
                    "asset_id": row["asset_id"],
                    "channel_id": row["channel_id"],
                    "content_type": CONTENT_TYPES[row["claim_type"].lower()],
                    "origin": ORIGINS[row["claim_origin"]],
                }
                if actions:
                    fields["policy"] = next(a for a in ("block", "track", "monetize") if a in actions)
                seen[row["claim_id"]].append(
                    Seen(
                        at,
                        (str(path), line),
                        status,
                        datetime.fromisoformat(created_date).replace(tzinfo=UTC) if created_date else None,
                        True,
                        fields,
                    )
                )
        elif name.startswith("claims_api_"):
            for line, record in enumerate(read_jsonl(path), start=1):
                api_created = parse_time(record["timeCreated"]) if record.get("timeCreated") else None
                at = parse_time(record.get("timeStatusLastModified") or record["timeCreated"])
                fields = {"asset_id": record.get("assetId", ""), "content_type": CONTENT_TYPES[record["contentType"]]}
                fields["origin"] = ORIGINS[record["origin"]["source"]]
                seen[record["id"]].append(
                    Seen(
                        at,
                        (str(path), line),
                        record["status"].lower(),
                        api_created,
                        False,
                        fields,
                        bool(record.get("thirdPartyClaim")),
                    )
                )
        elif name.startswith("claim_history_"):
            for doc in json.loads(path.read_text(encoding="utf-8")):
                for event in doc["event"]:
                    at = parse_time(event["time"])
                    update = (event.get("typeDetails") or {}).get("updateStatus")
                    status = update.lower() if update else HISTORY_STATUS.get(event["type"])
                    made = at if event["type"] == "claim_create" else None
                    fields = {"channel_id": doc["uploaderChannelId"]}
                    seen[doc["id"]].append(Seen(at, (str(path), 1), status, made, False, fields))
    for observations in seen.values():
        observations.sort(key=lambda s: (s.time, s.where))
    return seen


@dataclass
class ClaimWeek:
    """A claim as the week saw it."""

    status: str
    daily: bool
    third_party: bool
    fields: dict[str, str]
    changes: Counter[str]
    first_seen_new: bool | None  # None: not first seen this week


def claims_of_week(observations: dict[str, list[Seen]], week: str) -> dict[str, ClaimWeek]:
    start = week_start(week)
    end = start + timedelta(days=7)
    out: dict[str, ClaimWeek] = {}
    for claim_id, seen in observations.items():
        status: str | None = None
        created: datetime | None = None
        third_party = False
        for number, s in enumerate(seen):
            created = s.created or created
            third_party = third_party or s.third_party
            # A creation event says nothing of the status: the claim's first status is the next one known.
            new_status = s.status or status
            old, status = status, new_status
            if not start <= s.time < end:
                continue
            week_row = out.setdefault(claim_id, ClaimWeek("unknown", False, False, {}, Counter(), None))
            week_row.status, week_row.third_party = new_status or "unknown", third_party
            week_row.daily |= s.daily
            week_row.fields.update({k: v for k, v in s.fields.items() if v})
            if number == 0:
                week_row.first_seen_new = created is not None and created >= start
            elif new_status not in (old, None) and (old is not None or new_status not in CREATED):
                week_row.changes[new_status] += 1
                if new_status == "inactive":
                    week_row.changes["released:" + RELEASED_FROM.get(old or "", "by_owner_or_expired")] += 1
    return out


def claims_summary(folder: Path, week: str) -> dict[str, Any]:
    claims = claims_of_week(claim_observations(folder), week)
    ours = {k: c for k, c in claims.items() if not c.third_party}
    listed = [c for c in ours.values() if c.daily]
    changes: Counter[str] = Counter()
    for c in ours.values():
        changes.update(c.changes)

    def by(name: str) -> dict[str, int]:
        return dict(Counter(c.fields[name] for c in listed if name in c.fields))

    return {
        "total": len(listed),
        "by_status": dict(Counter(c.status for c in listed)),
        "by_type": by("content_type"),
        "by_origin": by("origin"),
        "by_policy": by("policy"),
        "new": sum(1 for c in ours.values() if c.first_seen_new is True),
        "older_claims_first_seen": sum(1 for c in ours.values() if c.first_seen_new is False),
        "released": changes["inactive"],
        "disputed": changes["disputed"],
        "appealed": changes["appealed"],
        "taken_down": sum(changes[s] for s in TAKEDOWN),
        "released_by_outcome": {k.split(":")[1]: v for k, v in changes.items() if k.startswith("released:")},
        "status_changes": {k: v for k, v in changes.items() if ":" not in k},
        "third_party_claims": len(claims) - len(ours),
        "_ours": ours,
    }


def busiest(summary: dict[str, Any], top: int = 10) -> tuple[list[tuple[str, int, int]], list[tuple[str, int]]]:
    """The assets (id, changes, claims of the week) and channels (id, changes) with the most status
    changes of the week, most first; ties by more claims, then id."""
    changed: Counter[str] = Counter()
    claims: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    for c in summary["_ours"].values():
        n = sum(v for k, v in c.changes.items() if ":" not in k) + (c.first_seen_new is True)
        if c.fields.get("asset_id"):
            claims[c.fields["asset_id"]] += 1
            changed[c.fields["asset_id"]] += n
        if c.fields.get("channel_id"):
            by_channel[c.fields["channel_id"]] += n
    assets = sorted((a for a in changed if changed[a]), key=lambda a: (-changed[a], -claims[a], a))[:top]
    channels = sorted((c for c in by_channel if by_channel[c]), key=lambda c: (-by_channel[c], c))[:top]
    return [(a, changed[a], claims[a]) for a in assets], [(c, by_channel[c]) for c in channels]


def open_disputes(summary: dict[str, Any]) -> set[str]:
    """Our claims disputed or appealed at the end of the week."""
    return {k for k, c in summary["_ours"].items() if c.status in OPEN}


def assets(summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per asset, our claims of the week that are not released: how many, open disputes, new."""
    out: dict[str, dict[str, int]] = {}
    for c in summary["_ours"].values():
        if c.status == "inactive" or not c.fields.get("asset_id"):
            continue
        row = out.setdefault(c.fields["asset_id"], {"claims": 0, "open_disputes_and_appeals": 0, "new_claims": 0})
        row["claims"] += 1
        row["open_disputes_and_appeals"] += c.status in OPEN
        row["new_claims"] += c.first_seen_new is True
    return out


# ------------------------------------------------------------------------------------- polls


@dataclass(frozen=True)
class Point:
    time: datetime
    views: int
    engaged: int


def polls(folder: Path) -> tuple[dict[tuple[str, str], list[Point]], int, list[datetime]]:
    """Each post's polls in time order (a repeated reading once), how many readings only repeated
    another, and the time of every repeat."""
    posts: dict[tuple[str, str], dict[datetime, Point]] = defaultdict(dict)
    repeats: list[datetime] = []
    for path in sorted((folder / "polls").iterdir()):
        for record in read_jsonl(path):
            at = parse_time(record["observed_at"])
            post = (record["platform"], record["platform_content_id"])
            engaged = sum(int(record.get(f"{k}_total") or 0) for k in ("likes", "comments", "shares"))
            if at in posts[post]:
                repeats.append(at)
                continue
            posts[post][at] = Point(at, int(record["views_total"]), engaged)
    return {post: [by_time[t] for t in sorted(by_time)] for post, by_time in posts.items()}, len(repeats), repeats


def _at(before: Point, after: Point, when: datetime) -> Point:
    share = (when - before.time) / (after.time - before.time)
    return Point(
        when,
        round(before.views + (after.views - before.views) * share),
        round(before.engaged + (after.engaged - before.engaged) * share),
    )


@dataclass(frozen=True)
class Gain:
    views: int
    engaged: int
    days: float

    @property
    def per_day(self) -> float:
        return self.views / self.days if self.days else 0.0


def gains(posts: dict[tuple[str, str], list[Point]], week: str) -> dict[tuple[str, str], Gain]:
    start = week_start(week)
    end = start + timedelta(days=7)
    out = {}
    for post, points in posts.items():
        inside = [p for p in points if start <= p.time < end]
        if not inside:
            continue
        first, last = inside[0], inside[-1]
        before = [p for p in points if p.time < start]
        after = [p for p in points if p.time >= end]
        if before and first.time - before[-1].time <= timedelta(days=7):
            first = _at(before[-1], first, start)
        if after:
            last = _at(last, after[0], end)
        if last.time > first.time:
            out[post] = Gain(
                max(0, last.views - first.views),
                max(0, last.engaged - first.engaged),
                (last.time - first.time) / timedelta(days=1),
            )
    return out


def trends(folder: Path, week: str) -> dict[str, Any]:
    posts, _, _ = polls(folder)
    now = gains(posts, week)
    before = gains(posts, (week_start(week) - timedelta(days=1)).strftime("%G-W%V"))
    per_platform: dict[str, dict[str, Any]] = {}
    for platform in sorted({p for p, _ in now}):
        mine = [g for (p, _), g in now.items() if p == platform]
        views = sum(g.views for g in mine)
        engaged = sum(g.engaged for g in mine)
        per_day = round(sum(g.per_day for g in mine))
        last = sum(g.per_day for (p, _), g in before.items() if p == platform)
        per_platform[platform] = {
            "views": views,
            "engagements": engaged,
            "posts": len(mine),
            "views_per_day": per_day,
            "views_per_day_last_week": round(last) if before else None,
            "change_pct": round(100 * (per_day - last) / last, 1) if before and last else None,
            "engagement_rate": round(engaged / views, 4) if views else None,
        }
    movers = sorted(
        (
            (g.per_day / before[k].per_day, k, g, before[k])
            for k, g in now.items()
            if k in before and before[k].views >= 1000 and g.views >= 1000 and before[k].per_day and g.days >= 1
        ),
        key=lambda m: (-abs(math.log(m[0])), m[1]),
    )
    start = week_start(week)
    poll_days = {
        p.time.date() for points in posts.values() for p in points if start <= p.time < start + timedelta(days=7)
    }
    daily: Counter[str] = Counter()
    for path in sorted((folder / "analytics").iterdir()):
        for row in read_csv(path):
            day = datetime.strptime(row["date"], "%Y%m%d").date()
            if start.date() <= day < start.date() + timedelta(days=7):
                daily[day.isoformat()] += int(row["views"])
    return {
        "per_platform": per_platform,
        "days_with_polls": len(poll_days),
        "daily_views": dict(daily),
        "top_movers": [
            {
                "platform": k[0],
                "platform_content_id": k[1],
                "views_per_day": round(g.per_day),
                "views_per_day_last_week": round(old.per_day),
                "ratio": round(ratio, 3),
            }
            for ratio, k, g, old in movers[:10]
        ],
    }


def poll_quality(folder: Path, week: str) -> dict[str, int]:
    """The week's poll readings (by their own time, whatever file holds them) and the repeats among them."""
    start = week_start(week)
    end = start + timedelta(days=7)
    posts, _, repeat_times = polls(folder)
    readings = sum(1 for points in posts.values() for p in points if start <= p.time < end)
    repeats = sum(1 for t in repeat_times if start <= t < end)
    return {"records": readings + repeats, "accepted": readings, "quarantined": repeats}
