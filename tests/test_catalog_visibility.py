"""Cases as the unit of access, in the catalog: who collected what, and every listing,
search and alert filtered to what one person may see, in the query itself. On a real
SQLite file and a real PostgreSQL database (``catalog_url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archive.catalog import (
    Catalog,
    QueuedRequest,
    RunPlan,
    StateConflict,
    TextLine,
    Visibility,
    open_catalog,
)
from archive.hashing import sha256_bytes

T = "2026-11-26T12:00:00.000000Z"
LATER = "2026-11-26T13:00:00.000000Z"

AMIRA = Visibility("amira", frozenset({"aleppo"}))
OMAR = Visibility("omar", frozenset({"mosul"}))
NOBODY = Visibility("sami", frozenset())


@pytest.fixture
def cat(catalog_url: str) -> Iterator[Catalog]:
    with open_catalog(catalog_url) as opened:
        for name, role in (("amira", "investigator"), ("omar", "investigator")):
            opened.add_user(name, role, password_hash=None, created_by=None)
        opened.add_user("sami", "reviewer", password_hash=None, created_by=None)
        yield opened


def seal(cat: Catalog, capture_id: str, case: str | None, collector: str, text: str) -> None:
    """A sealed, searchable capture of ``case`` collected by ``collector``."""
    cat.start_capture(
        capture_id,
        f"https://example.org/{capture_id}",
        case=case,
        note=None,
        operator="a label",
        started_at=T,
        collector=collector,
        device="laptop",
    )
    cat.finish_capture(
        capture_id,
        status="complete",
        reasons=[],
        final_url=None,
        finished_at=T,
        warc=None,
        manifest_sha256=sha256_bytes(capture_id.encode()),
        artifacts=[],
    )
    cat.index_text(capture_id, url=f"https://example.org/{capture_id}", title="", text=text)


def test_a_capture_names_who_collected_it_and_through_what(cat: Catalog) -> None:
    seal(cat, "a1", "aleppo", "amira", "convoy")
    row = cat.get_capture("a1")
    assert row is not None
    assert (row.collector, row.device, row.operator) == ("amira", "laptop", "a label")
    queued, created = cat.enqueue_capture(
        "q1",
        "https://example.org/q",
        case=None,
        note=None,
        operator=None,
        request={},
        collector="omar",
        device="phone",
    )
    assert created and (queued.collector, queued.device) == ("omar", "phone")
    [(batch, _)] = cat.enqueue_captures(
        [
            QueuedRequest(
                "q2", "https://example.org/r", None, None, None, {}, collector="sami", device="cli"
            )
        ]
    )
    assert (batch.collector, batch.device) == ("sami", "cli")


def test_a_person_lists_their_cases_and_what_they_collected_under_none(cat: Catalog) -> None:
    seal(cat, "a1", "aleppo", "amira", "convoy")
    seal(cat, "a2", "aleppo", "omar", "convoy")  # omar collected it, but it is aleppo's
    seal(cat, "m1", "mosul", "omar", "convoy")
    seal(cat, "u-amira", None, "amira", "convoy")
    seal(cat, "u-omar", None, "omar", "convoy")
    seen = {row.id for row in cat.list_captures(visible_to=AMIRA)}
    assert seen == {"a1", "a2", "u-amira"}
    assert {row.id for row in cat.list_captures(visible_to=OMAR)} == {"m1", "u-omar"}
    assert cat.list_captures(visible_to=NOBODY) == []
    assert cat.list_captures(case="mosul", visible_to=AMIRA) == []
    assert [row.id for row in cat.list_captures(case="mosul", visible_to=OMAR)] == ["m1"]
    assert len(cat.list_captures()) == 5  # no filter: the system's own view
    both = Visibility("amira", frozenset({"aleppo", "mosul"}))
    assert {row.id for row in cat.list_captures(visible_to=both)} == {"a1", "a2", "m1", "u-amira"}


def test_search_counts_only_what_the_person_may_see(cat: Catalog) -> None:
    for n in range(5):
        seal(cat, f"m{n}", "mosul", "omar", "the convoy crossed the checkpoint")
    seal(cat, "a1", "aleppo", "amira", "a convoy at dawn")
    # A limit of one still finds amira's one hit among omar's five.
    assert [h.capture_id for h in cat.search_text("convoy", limit=1, visible_to=AMIRA)] == ["a1"]
    assert {h.capture_id for h in cat.search_text("convoy", visible_to=OMAR)} == {
        f"m{n}" for n in range(5)
    }
    assert cat.search_text("convoy", visible_to=NOBODY) == []
    run, _ = cat.queue_analysis("m0", request={}, operator=None)
    cat.claim_analysis("m0", run.number, started_at=T)
    cat.finish_analysis(
        "m0",
        run.number,
        addendum_sha256=sha256_bytes(b"addendum"),
        finished_at=T,
        summary={},
        reasons=[],
        artifacts=[],
    )
    cat.index_analysis_text("m0", run.number, [TextLine("ocr", {"box": [1, 2, 3, 4]}, "tanks")])
    assert [h.capture_id for h in cat.search_text("tanks", visible_to=OMAR)] == ["m0"]
    assert cat.search_text("tanks", visible_to=AMIRA) == []
    assert cat.search_analysis_text("tanks", limit=5, visible_to=AMIRA) == []
    assert len(cat.search_analysis_text("tanks", limit=5, visible_to=OMAR)) == 1


def test_targets_their_runs_and_alerts_follow_the_same_rule(cat: Catalog) -> None:
    watched = {
        name: cat.add_target(
            f"https://example.org/{name}",
            interval_seconds=3600,
            case=case,
            operator=None,
            note=None,
            next_run_at=T,
            collector=collector,
            device="laptop",
        )
        for name, case, collector in (
            ("aleppo", "aleppo", "amira"),
            ("mosul", "mosul", "omar"),
            ("mine", None, "amira"),
        )
    }
    assert watched["mine"].collector == "amira" and watched["mine"].device == "laptop"
    listed = {t.url.rsplit("/", 1)[1] for t in cat.list_targets(visible_to=AMIRA)}
    assert listed == {"aleppo", "mine"}
    assert [t.case for t in cat.list_targets(visible_to=OMAR)] == ["mosul"]
    plans = {t.id: RunPlan(f"run-{name}", LATER, {"timeout": 30.0}) for name, t in watched.items()}
    runs = {row.id: row for row in cat.claim_due_targets(now=T, plans=plans)}
    assert (runs["run-mine"].collector, runs["run-mine"].device) == ("amira", "laptop")
    assert {row.id for row in cat.list_captures(visible_to=AMIRA)} == {"run-aleppo", "run-mine"}
    for name, target in watched.items():
        cat.add_timeline_event(target.id, "takedown", f"{name} is gone", capture_id=None)
    assert {e.summary for e in cat.alerts(visible_to=AMIRA)} == {
        "aleppo is gone",
        "mine is gone",
    }
    assert [e.summary for e in cat.alerts(visible_to=OMAR)] == ["mosul is gone"]
    assert cat.alerts(visible_to=NOBODY) == [] and len(cat.alerts()) == 3


def test_a_new_case_is_created_with_its_first_member_once(cat: Catalog) -> None:
    case = cat.create_case("raqqa", member="amira", added_by="amira")
    assert case.name == "raqqa" and cat.members("raqqa") == ["amira"]
    with pytest.raises(StateConflict, match="already a case called 'raqqa'"):
        cat.create_case("raqqa", member="omar", added_by="omar")
    assert cat.members("raqqa") == ["amira"]  # the second never joined by racing


def test_adopting_uncased_evidence_adopts_its_watches_too(cat: Catalog) -> None:
    old = {"case": None, "note": None, "operator": None}  # made before there were accounts
    cat.start_capture("old", "https://example.org/old", started_at=T, **old)
    target = cat.add_target("https://example.org/w", interval_seconds=60, next_run_at=T, **old)
    assert cat.list_captures(visible_to=AMIRA) == [] and cat.list_targets(visible_to=AMIRA) == []
    assert cat.adopt_uncased_captures("amira") == 1
    assert [row.id for row in cat.list_captures(visible_to=AMIRA)] == ["old"]
    assert [t.id for t in cat.list_targets(visible_to=AMIRA)] == [target.id]


def test_a_url_is_queued_once_per_case_and_never_handed_to_another(cat: Catalog) -> None:
    def queue(capture_id: str, case: str | None, collector: str) -> tuple[str, bool]:
        row, created = cat.enqueue_capture(
            capture_id,
            "https://example.org/same",
            case=case,
            note=None,
            operator=None,
            request={},
            collector=collector,
        )
        return row.id, created

    assert queue("a1", "aleppo", "amira") == ("a1", True)
    assert queue("a2", "aleppo", "omar") == ("a1", False)  # the case's capture, one
    assert queue("m1", "mosul", "omar") == ("m1", True)  # never aleppo's
    assert queue("u1", None, "amira") == ("u1", True)
    assert queue("u2", None, "amira") == ("u1", False)
    assert queue("u3", None, "omar") == ("u3", True)  # never amira's own
