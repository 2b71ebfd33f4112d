"""Every reader with valid and malformed input; nothing bad crashes, nothing is dropped silently."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from claimwatch.ingest.readers import read_file, read_paths, recognise
from schemas import CatalogItem, ClaimEvent, MetricObservation, OwnershipConflict, RightsRecord
from tests.conftest import write

REPORTING_HEADER = (
    "claim_id,channel_id,asset_id,video_id,claim_status,claim_status_detail,claim_origin,claim_type,"
    "video_title,views,claim_policy_monetize,claim_policy_block,claim_created_date,brand_new_column\n"
)


def test_reporting_api_claims_csv(tmp: Path) -> None:
    path = write(
        tmp / "content_owner_active_claims_a3_20261110.csv",
        REPORTING_HEADER
        + "C1,UCx,A1,V1,ACTIVE,,Audio match,Audio,Song,1200,US|CA,DE,2026-11-09,kept\n"
        + "C2,UCy,A1,V2,PENDING,DISPUTED,In-product (Studio),Visual,Song 2,50,,,20261101,\n"
        + "C3,UCz,A2,V3,SOMETHING_NEW,,Future match,Weird,x,7,,,,\n",
    )
    result = read_file(path)
    assert result.source == "claims_reporting_api"
    assert result.quarantined == []
    c1, c2, c3 = result.events
    assert isinstance(c1, ClaimEvent)
    assert c1.status == "active" and c1.origin == "audio_match" and c1.content_type == "audio"
    assert c1.policy_action_by_territory == {"US": "monetize", "CA": "monetize", "DE": "block"}
    assert c1.extra == {"brand_new_column": "kept"}
    assert c1.event_time.isoformat() == "2026-11-10T23:59:59+00:00"
    assert c2.status == "disputed" and c2.status_raw == "PENDING" and c2.origin == "manual_studio"  # type: ignore[union-attr]
    # Open enums: unknown values are kept raw, never fatal.
    assert c3.status == "unknown" and c3.status_raw == "SOMETHING_NEW"  # type: ignore[union-attr]
    assert c3.origin == "other" and c3.origin_raw == "Future match"  # type: ignore[union-attr]


def test_studio_claims_csv_title_case_with_bom_and_gzip(tmp: Path) -> None:
    text = "Claim ID,Asset ID,Video ID,Claim Status,Claim Status Detail,Views\nC9,A9,V9,Pending,POTENTIAL,10\n"
    path = write(tmp / "claims_2026-11-03.csv.gz", text, gz=True, bom=True)
    assert recognise(path) == "claims_studio"
    result = read_file(path)
    (event,) = result.events
    assert isinstance(event, ClaimEvent)
    assert event.source == "studio_claims_csv" and event.status == "potential" and event.views_lifetime == 10


def test_wrong_types_are_quarantined_with_line_and_field(tmp: Path) -> None:
    path = write(
        tmp / "claims_20261110.csv",
        REPORTING_HEADER
        + "C1,UCx,A1,V1,ACTIVE,,Audio match,Audio,Song,lots,,,2026-11-09,\n"
        + ",UCx,A1,V1,ACTIVE,,Audio match,Audio,Song,3,,,2026-11-09,\n"
        + "C3,UCx,A1,V1,ACTIVE,,Audio match,Audio,Song,3,,,31/12/2026,\n"
        + "C4,UCx,A1,V1,ACTIVE,,Audio match,Audio,Song,-5,,,,\n"
        + "C5,UCx,A1,V1,ACTIVE,,Audio match,Audio,ok,5,,,,\n",
    )
    result = read_file(path)
    assert [e.claim_id for e in result.events] == ["C5"]  # type: ignore[union-attr]
    assert [(q.line, q.field) for q in result.quarantined] == [
        (2, "views"),
        (3, "claim_id"),
        (4, "claim_created_date"),
        (5, "views"),
    ]
    assert "not a number" in result.quarantined[0].reason
    assert result.records == 5


def test_header_only_file_reads_nothing_and_complains_about_nothing(tmp: Path) -> None:
    result = read_file(write(tmp / "conflicts.csv", "asset_id,conflicting_owner,conflicting_country_code\n"))
    assert result.source == "asset_conflicts"
    assert result.events == [] and result.quarantined == [] and result.records == 0


def test_truncated_gzip_keeps_what_was_read_and_reports_the_rest(tmp: Path) -> None:
    lines = "".join(
        json.dumps(
            {
                "platform": "youtube",
                "platform_content_id": f"v{i}",
                "observed_at": "2026-11-10T10:00:00Z",
                "views_total": i,
            }
        )
        + "\n"
        for i in range(2000)
    )
    full = gzip.compress(lines.encode())
    path = tmp / "polls.jsonl.gz"
    path.write_bytes(full[: len(full) // 2])
    result = read_file(path)
    assert result.source == "polls"
    assert 0 < len(result.events) < 2000
    assert len(result.quarantined) == 1
    assert "truncated" in result.quarantined[0].reason


def test_truncated_gzip_csv(tmp: Path) -> None:
    rows = "".join(f"2026111{i % 9},UC1,v{i},{i}\n" for i in range(5000))
    full = gzip.compress(("date,channel_id,video_id,views\n" + rows).encode())
    path = tmp / "analytics.csv.gz"
    path.write_bytes(full[: len(full) * 2 // 3])
    result = read_file(path)
    assert result.source == "analytics"
    assert result.events and any("truncated" in q.reason for q in result.quarantined)


def test_analytics_rows_are_summed_per_video_and_day(tmp: Path) -> None:
    path = write(
        tmp / "a.csv",
        "date,channel_id,video_id,country_code,subscribed_status,views,likes,shares,watch_time_minutes\n"
        "20261110,UC1,v1,US,subscribed,100,5,1,10.5\n"
        "20261110,UC1,v1,GB,not_subscribed,50,2,0,4\n"
        "20261110,UC1,v2,US,subscribed,7,0,0,1\n"
        "20261111,UC1,v1,US,subscribed,x,0,0,1\n",
    )
    result = read_file(path)
    assert result.source == "analytics"
    by_video = {(e.platform_content_id, e.period_start.date().isoformat()): e for e in result.events}  # type: ignore[union-attr]
    v1 = by_video[("v1", "2026-11-10")]
    assert isinstance(v1, MetricObservation)
    assert (v1.views, v1.likes, v1.shares, v1.rows_summed, v1.watch_time_minutes) == (150, 7, 1, 2, 14.5)
    assert v1.source == "channel_basic" and v1.granularity == "day"
    assert [(q.line, q.field) for q in result.quarantined] == [(5, "views")]


def test_content_owner_basic_is_recognised_by_its_dimensions(tmp: Path) -> None:
    path = write(
        tmp / "b.csv", "date,channel_id,video_id,claimed_status,uploader_type,views\n20261110,UC1,v1,claimed,self,3\n"
    )
    (event,) = read_file(path).events
    assert event.source == "content_owner_basic"  # type: ignore[union-attr]


def test_claim_api_json_and_jsonl(tmp: Path) -> None:
    record = {
        "kind": "youtubePartner#claim",
        "id": "C1",
        "assetId": "A1",
        "videoId": "V1",
        "status": "ROUTED_FOR_REVIEW",
        "contentType": "video",
        "origin": {"source": "descriptiveSearch"},
        "thirdPartyClaim": True,
        "timeCreated": "2026-11-10T10:00:00Z",
        "timeStatusLastModified": "2026-11-10T11:00:00.5Z",
        "videoViews": "123456",
        "matchInfo": {"longestMatch": {"durationSecs": "4"}},
    }
    doc = write(tmp / "one.json", json.dumps({"kind": "youtubePartner#claimList", "items": [record]}))
    lines = write(
        tmp / "many.jsonl",
        json.dumps(record) + "\n{not json\n" + json.dumps({**record, "id": "C2", "videoViews": "-1"}) + "\n",
    )
    (event,) = read_file(doc).events
    assert isinstance(event, ClaimEvent)
    assert (
        event.status == "routed_for_review" and event.content_type == "visual" and event.origin == "descriptive_search"
    )
    assert event.views_lifetime == 123456 and event.third_party_claim is True and event.longest_match_s == 4.0
    result = read_file(lines)
    assert len(result.events) == 1
    assert [(q.line, q.field) for q in result.quarantined] == [(2, None), (3, "videoViews")]


def test_claim_history_events_and_a_bad_event(tmp: Path) -> None:
    history = [
        {
            "kind": "youtubePartner#claimHistory",
            "id": "C1",
            "uploaderChannelId": "UCu",
            "event": [
                {"time": "2026-11-01T00:00:00Z", "type": "claim_create"},
                {
                    "time": "2026-11-03T05:00:00Z",
                    "type": "dispute_create",
                    "typeDetails": {"disputeReason": "fairUse", "disputeNotes": "<b>mine</b>"},
                },
                {"type": "dispute_appeal"},
                {"time": "2026-11-06T00:00:00Z", "type": "claim_update", "typeDetails": {"updateStatus": "inactive"}},
                {"time": "2026-11-07T00:00:00Z", "type": "brand_new_event"},
            ],
        }
    ]
    result = read_file(write(tmp / "h.json", json.dumps(history)))
    assert result.source == "claim_history"
    types = [(e.event_type, e.status) for e in result.events]  # type: ignore[union-attr]
    assert types == [
        ("claim_created", "unknown"),  # a creation says nothing of the status
        ("dispute_created", "disputed"),
        ("claim_released", "inactive"),
        ("other", "unknown"),
    ]
    assert result.events[1].dispute_reason == "fair_use"  # type: ignore[union-attr]
    assert [(q.line, q.field) for q in result.quarantined] == [(1, "event[2].time")]


def test_catalog_csv_and_jsonl_with_hostile_titles(tmp: Path) -> None:
    hostile = '<script>alert("x")</script>'
    csv_path = write(
        tmp / "cat.csv",
        "content_id,title,artist,asset_id,youtube,tiktok,release_date,mood\n"
        f'CW-1,"{hostile.replace(chr(34), chr(34) * 2)}",=cmd,A1,yt1|yt2,tt1,2024-01-02,happy\n'
        ",no id,,,,,,\n"
        f"CW-2,{'x' * 5000},,,,,2024-13-40,\n",
    )
    result = read_file(csv_path)
    assert result.source == "catalog"
    (item,) = result.events
    assert isinstance(item, CatalogItem)
    assert item.title == hostile and item.artist == "=cmd"
    assert item.platform_ids == {"youtube": ["yt1", "yt2"], "tiktok": ["tt1"]} and item.extra == {"mood": "happy"}
    assert [(q.line, q.field) for q in result.quarantined] == [(3, "content_id"), (4, "release_date")]
    jsonl = write(tmp / "cat.jsonl", json.dumps({"content_id": "CW-3", "title": "y" * 5000, "youtube": "v"}) + "\n")
    (item3,) = read_file(jsonl).events
    assert len(item3.title) == 1000  # type: ignore[union-attr]


def test_rights_records(tmp: Path) -> None:
    path = write(
        tmp / "rights.csv",
        "asset_id,custom_id,isrc,owner,right_type,territories,share_pct,valid_from\n"
        "A1,,,us,general,US|CA,60,2026-01-01\n"
        "A1,,,them,Sync,WW,40,\n"
        "A1,,,bad,general,WW,140,\n"
        ",,,nobody,general,WW,10,\n"
        "A2,,,x,lyrics,WW,10,\n",
    )
    result = read_file(path)
    assert result.source == "rights"
    first, second, third = result.events
    assert isinstance(first, RightsRecord) and first.territories == ["US", "CA"]
    assert second.right_type == "synchronization"  # type: ignore[union-attr]
    assert third.right_type == "other" and third.right_type_raw == "lyrics"  # type: ignore[union-attr]
    assert [(q.line, q.field) for q in result.quarantined] == [(4, "share_pct"), (5, "asset_id")]


def test_asset_conflicts_and_video_report(tmp: Path) -> None:
    conflicts = write(
        tmp / "content_owner_asset_conflict_a3_20261110.csv",
        "asset_id,conflicting_owner,conflicting_country_code,approx_daily_views\nA1,Rival,US|GB,900\nA2,,US,1\n",
    )
    result = read_file(conflicts)
    assert isinstance(result.events[0], OwnershipConflict) and result.events[0].territories == ["US", "GB"]
    assert [(q.line, q.field) for q in result.quarantined] == [(3, "conflicting_owner")]
    videos = write(
        tmp / "video_metadata_20261110.csv",
        "video_id,channel_id,claim_id,asset_id,claimed_by_this_owner,other_owners_claiming,views\n"
        "V1,UC1,,A1,true,Rival|Other,5000\nV2,UC1,,A2,maybe,,1\n",
    )
    result = read_file(videos)
    assert result.source == "video_report"
    assert result.events[0].other_owners_claiming == ["Rival", "Other"]  # type: ignore[union-attr]
    assert [(q.line, q.field) for q in result.quarantined] == [(3, "claimed_by_this_owner")]


def test_polls_csv_and_jsonl(tmp: Path) -> None:
    csv_path = write(
        tmp / "polls.csv",
        "platform,platform_content_id,observed_at,views_total,likes_total\n"
        "TikTok,t1,2026-11-10T10:00:00+02:00,100,5\n"
        "myspace,m1,2026-11-10T10:00:00Z,1,\n"
        "youtube,y1,yesterday,1,1\n"
        "youtube,y1,2026-11-10T10:00:00Z,,\n",
    )
    result = read_file(csv_path)
    assert result.source == "polls"
    first, second = result.events
    assert first.platform == "tiktok" and first.event_time.isoformat() == "2026-11-10T08:00:00+00:00"  # type: ignore[union-attr]
    assert second.platform == "myspace"  # type: ignore[union-attr]
    assert [(q.line, q.field) for q in result.quarantined] == [(4, "observed_at"), (5, "views_total")]


def test_unrecognised_and_empty_files_are_reported_not_fatal(tmp: Path) -> None:
    write(tmp / "in" / "weird.csv", "foo,bar\n1,2\n")
    write(tmp / "in" / "empty.csv", "")
    write(tmp / "in" / "binary.bin", "\x00\x01\x02")
    result = read_paths([tmp / "in"])
    sources = sorted((f.source, f.quarantined[0].reason.split(" (")[0]) for f in result.files)
    assert sources == [
        ("unrecognised", "empty file"),
        ("unrecognised", "unrecognised format"),
        ("unrecognised", "unrecognised format"),
    ]


def test_malformed_csv_row_with_too_many_cells(tmp: Path) -> None:
    path = write(tmp / "cat.csv", "content_id,title\nCW-1,a,b,c\nCW-2,ok\n")
    result = read_file(path)
    assert [e.content_id for e in result.events] == ["CW-2"]  # type: ignore[union-attr]
    assert result.quarantined[0].line == 2 and "cells" in result.quarantined[0].reason


def test_counts_reconcile_records_with_events_and_quarantine(tmp: Path) -> None:
    write(tmp / "d" / "c.csv", "content_id,title\nCW-1,a\n,b\nCW-3,c\n")
    write(
        tmp / "d" / "p.jsonl",
        '{"platform":"x","platform_content_id":"1","observed_at":"2026-11-10T00:00:00Z","views_total":1}\nnope\n',
    )
    counts = read_paths([tmp / "d"]).counts()
    assert counts["catalog"] == {"files": 1, "records": 3, "accepted": 2, "events": 2, "quarantined": 1}
    assert counts["polls"] == {"files": 1, "records": 2, "accepted": 1, "events": 1, "quarantined": 1}


def test_swapped_rights_cells_are_quarantined_not_turned_into_shares(tmp: Path) -> None:
    """Cells of a rights row in another column's place used to become shares (an owner named
    'general' or 'WW' holding 100 %) and raise false high rights_conflict alerts."""
    header = "asset_id,custom_id,isrc,owner,right_type,territories,share_pct,valid_from\n"
    good = "A1,CU1,USRC17607839,our-label,general,WW,100,2024-01-01\n"
    swapped = [
        "A1,CU1,USRC17607839,general,our-label,WW,100,2024-01-01\n",  # owner ↔ right type
        "A1,CU1,USRC17607839,WW,general,our-label,100,2024-01-01\n",  # owner ↔ territories
        "A1,CU1,USRC17607839,100,general,WW,100,2024-01-01\n",  # a share as the owner
        "A1,CU1,USRC17607839,2024-01-01,general,WW,100,\n",  # a date as the owner
        "A1,CU1,A1,our-label,general,WW,100,2024-01-01\n",  # the asset id as the ISRC
        "A1,CU1,USRC17607839,A1,general,WW,100,2024-01-01\n",  # the asset id as the owner
        "A1,CU1,USRC17607839,rival,50,WW,100,2024-01-01\n",  # a share as the right type
        "WW,CU1,USRC17607839,rival,general,WW,100,2024-01-01\n",  # a territory as the asset id
    ]
    result = read_file(write(tmp / "rights.csv", header + good + "".join(swapped)))
    assert len(result.events) == 1 and len(result.quarantined) == len(swapped)
    assert (
        [q.field for q in result.quarantined]
        == """
        owner owner owner owner isrc owner right_type asset_id
        """.split()
    )
    assert all("swapped" in q.reason or "ISRC" in q.reason for q in result.quarantined)
