"""Generated rows for the catalog benchmark: N captures in 1,000 cases, their searchable
text for a share of them, and 10,000 watched targets, written with set-based SQL
(``generate_series``) into a PostgreSQL catalog's own tables, in the shape the catalog
writes them.

The catalog's insert path makes one row per call; a million calls would take the
benchmark's whole budget, so the rows are made inside PostgreSQL instead. Where the
shape is not obvious it is checked against the catalog's own code:

- ``capture_text.words`` is built by PostgreSQL's ``simple`` parser over text made
  only of ASCII letters and digits (URLs split at every other character first), which
  yields the same tokens, in the same positions, as the FTS5 tokenizer the catalog
  uses (:mod:`archive.catalog.pg_words`). :func:`check_words` recomputes a sample with
  ``pg_words.document`` and refuses the database if one row differs.
- Times are RFC 3339 text with microseconds and ``Z``, as ``archive.timeutil`` writes.
- Runs of a watched target carry its URL, case and ``target_id``; none is queued or
  running, so every due target is claimable, as after a quiet night.

Not generated (no measured operation reads them): artifacts, custody, timeline,
analyses. The seed is fixed, so two runs make the same database.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

import psycopg

from archive.catalog import pg_words
from archive.errors import Failed
from archive.timeutil import rfc3339

CASES = 1000
TARGETS = 10_000
#: Two cases of known size, so a listing compares like with like at any N.
PROBE_SIZES = (100, 1000)
#: Largest over smallest of the other cases (log-uniform between them).
CASE_SPREAD = 1000.0
#: One sealed capture in this many has its text indexed.
TEXT_EVERY = 5
#: Captures holding the rare word (spread evenly over the searchable ones).
RARE_DOCS = 20
RARE_WORD = "zyqvorith"
#: A watched target due now: active, and its id a multiple of this.
DUE_EVERY = 33
SEED = 0.42
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "bel", "dar", "gon", "hus")
_SYLLABLES += ("ja", "pe", "qi", "wen", "zu", "fa", "tor", "yel")


class GenerationFailed(Failed):
    """The generated rows are not what the catalog itself would have written."""


@dataclass(frozen=True)
class Made:
    """What was generated: counts the report names, and the probes measured."""

    captures: int
    searchable: int
    targets: int
    due: int
    case_sizes: dict[str, int]
    rare_docs: int
    common_word: str
    medium_word: str
    rare_word: str


def vocabulary() -> list[str]:
    """About 8,000 made-up words of ASCII letters (three syllables each), most common first."""
    words = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES]
    return list(dict.fromkeys(words))


def case_sizes(captures: int) -> list[int]:
    """Captures per case, case 1 first: the probes, then the others log-uniform, summing
    to ``captures`` (largest-remainder rounding)."""
    probes = [min(size, captures // 10) for size in PROBE_SIZES]
    rest = captures - sum(probes)
    others = CASES - len(probes)
    weights = [math.exp(math.log(CASE_SPREAD) * k / (others - 1)) for k in range(others)]
    exact = [rest * w / sum(weights) for w in weights]
    sizes = [math.floor(x) for x in exact]
    by_remainder = sorted(range(others), key=lambda k: exact[k] - sizes[k], reverse=True)
    for k in by_remainder[: rest - sum(sizes)]:
        sizes[k] += 1
    return probes + sizes


def capture_id(n: int) -> str:
    """The id of generated capture ``n``: UUID-shaped, in random order as uuid4 ids are."""
    digest = hashlib.md5(f"capture{n}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


#: RFC 3339 text of a timestamptz, as archive.timeutil.rfc3339 writes it.
_STAMP_FUNCTION = """
CREATE FUNCTION pg_temp.stamp(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$
"""

_CASES_SQL = """
INSERT INTO cases (id, name, created_at)
SELECT c, 'case-' || lpad(c::text, 4, '0'),
    pg_temp.stamp(timestamptz '2023-01-01 00:00:00+00' + c * interval '1 day')
FROM generate_series(1, {cases}) AS c
"""

#: Target t belongs to case (t - 1) % CASES + 1; one in DUE_EVERY active ones is due now,
#: the others a day or more from now (so none falls due while the benchmark runs).
_TARGETS_SQL = """
INSERT INTO targets (id, url, case_id, interval_seconds, state, next_run_at, last_run_at,
    operator, note, request, created_at)
SELECT t, 'https://watch' || t || '.example.org/feed/' || t, (t - 1) % {cases} + 1, every,
    state,
    pg_temp.stamp(CASE WHEN state = 'active' AND t % {due_every} = 0
        THEN now() - random() * every * interval '1 second'
        ELSE now() + (86400 + random() * every) * interval '1 second' END),
    pg_temp.stamp(now() - (every + random() * 60) * interval '1 second'),
    'investigator-' || (t % 40), NULL, '{{}}',
    pg_temp.stamp(timestamptz '2023-01-01 00:00:00+00' + t * interval '1 hour')
FROM (
    SELECT t, (ARRAY[3600, 21600, 86400, 604800])[t % 4 + 1] AS every,
        CASE WHEN t % 100 < 90 THEN 'active' WHEN t % 100 < 97 THEN 'paused'
            ELSE 'removed' END AS state
    FROM generate_series(1, {targets}) AS t
) s
"""

#: Every fourth capture of a case is a run of one of the case's targets (its URL too).
_CAPTURES_SQL = """
INSERT INTO captures (id, url, final_url, case_id, note, operator, status, reasons,
    started_at, finished_at, warc, manifest_sha256, created_at, attempts, request,
    timestamp, target_id)
SELECT id, url, CASE WHEN status IN ('complete', 'partial') THEN url END, case_id,
    CASE WHEN n % 50 = 0 THEN 'from a tip line' END, 'investigator-' || (n % 40), status,
    CASE status WHEN 'failed' THEN '["navigation failed: net::ERR_NAME_NOT_RESOLVED"]'
        WHEN 'partial' THEN '["behaviour scroll: deadline passed"]' ELSE '[]' END,
    CASE WHEN status <> 'queued' THEN pg_temp.stamp(at) END,
    CASE WHEN status IN ('complete', 'partial', 'failed')
        THEN pg_temp.stamp(at + (3 + n % 90) * interval '1 second') END,
    CASE WHEN status IN ('complete', 'partial') THEN id || '.warc.gz' END,
    CASE WHEN status IN ('complete', 'partial')
        THEN encode(sha256(convert_to(id, 'UTF8')), 'hex') END,
    pg_temp.stamp(at), CASE WHEN status = 'queued' THEN 0 ELSE 1 END, '{{}}',
    CASE WHEN status IN ('complete', 'partial') THEN 'stamped' ELSE 'none' END, target_id
FROM (
    SELECT s.*, md5('capture' || n)::uuid::text AS id,
        COALESCE(targets.url, 'https://site' || (n % 20000) || '.example.net/article/' || n)
            AS url,
        CASE WHEN s.target_id IS NOT NULL THEN
            CASE WHEN r < 0.90 THEN 'complete' WHEN r < 0.96 THEN 'partial' ELSE 'failed' END
        WHEN r < 0.85 THEN 'complete' WHEN r < 0.93 THEN 'partial'
        WHEN r < 0.99 THEN 'failed' WHEN r < 0.997 THEN 'queued' ELSE 'running' END AS status
    FROM (
        SELECT n, p.case_id, random() AS r,
            timestamptz '2023-01-01 00:00:00+00' + random() * interval '1095 days' AS at,
            CASE WHEN (n - p.first_n) % 4 = 0
                THEN p.case_id + {cases} * (((n - p.first_n) / 4) % {per_case}) END AS target_id
        FROM pg_temp.bench_plan p, generate_series(p.first_n, p.first_n + p.size - 1) AS n
    ) s LEFT JOIN targets ON targets.id = s.target_id
) g
"""

#: One sealed capture in TEXT_EVERY: a title of 4 words and a body of 80 to 159, drawn
#: log-uniformly from the vocabulary (a few words in nearly every page, most in few).
#: ``0 * i`` and ``c.id`` tie each draw to its row and word (else PostgreSQL draws once).
_TEXT_SQL = """
INSERT INTO capture_text (capture_id, url, title, body, words)
SELECT id, url, title, body,
    to_tsvector('simple', regexp_replace(url, '[^a-zA-Z0-9]+', ' ', 'g') || ' ' || title
        || ' ' || body)
FROM (
    SELECT c.id, c.url,
        (SELECT string_agg(v.words[1 + floor(random() * v.size)::int + 0 * i], ' ')
            FROM generate_series(1, 4 + 0 * length(c.id)) AS i) AS title,
        (SELECT string_agg(v.words[floor(exp(random() * ln(v.size)))::int + 0 * i], ' ')
            FROM generate_series(1, 80 + (hashtext(c.id) & 79)) AS i) AS body
    FROM captures c, (SELECT %(words)s::text[] AS words, %(size)s::int AS size) v
    WHERE c.status IN ('complete', 'partial') AND mod(hashtext(c.id), {text_every}) = 0
) s
"""

#: The rare word, appended to RARE_DOCS pages spread evenly over the searchable ones.
_RARE_SQL = """
UPDATE capture_text SET body = body || ' ' || %(word)s,
    words = words || to_tsvector('simple', %(word)s)
WHERE capture_id IN (
    SELECT capture_id FROM (
        SELECT capture_id, row_number() OVER (ORDER BY capture_id) AS k FROM capture_text
    ) numbered WHERE k %% %(step)s = 0 LIMIT %(docs)s
)
"""


def generate(conn: psycopg.Connection, captures: int) -> Made:
    """Fill an empty catalog's tables (``conn`` in autocommit mode), then VACUUM ANALYZE."""
    words = vocabulary()
    conn.execute("SELECT setseed(%s)", (SEED,))
    conn.execute(_STAMP_FUNCTION)
    conn.execute("CREATE TEMP TABLE bench_plan (case_id int, first_n bigint, size int)")
    sizes = case_sizes(captures)
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    with conn.cursor() as cur, cur.copy("COPY pg_temp.bench_plan FROM STDIN") as copy:
        for case, (first, size) in enumerate(zip(starts, sizes, strict=True), start=1):
            copy.write_row((case, first, size))
    shape = {"cases": CASES, "targets": TARGETS, "due_every": DUE_EVERY}
    shape |= {"per_case": TARGETS // CASES, "text_every": TEXT_EVERY}
    with conn.transaction():
        conn.execute(_CASES_SQL.format(**shape))
        conn.execute(_TARGETS_SQL.format(**shape))
        conn.execute(_CAPTURES_SQL.format(**shape))
        conn.execute(_TEXT_SQL.format(**shape), {"words": words, "size": len(words)})
        searchable = _count(conn, "SELECT count(*) FROM capture_text")
        step = max(1, searchable // RARE_DOCS)
        conn.execute(_RARE_SQL, {"word": RARE_WORD, "step": step, "docs": RARE_DOCS})
        for table in ("cases", "targets"):  # ids were given: move the identity past them
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
    conn.execute("VACUUM ANALYZE")
    due = _count(
        conn,
        "SELECT count(*) FROM targets WHERE state = 'active' AND next_run_at <= %s",
        (rfc3339(datetime.now().astimezone()),),
    )
    return Made(
        captures=_count(conn, "SELECT count(*) FROM captures"),
        searchable=searchable,
        targets=TARGETS,
        due=due,
        case_sizes={"probe_small": sizes[0], "probe_large": sizes[1], "largest": max(sizes)},
        rare_docs=_count(
            conn, "SELECT count(*) FROM capture_text WHERE words @@ %s::tsquery", (RARE_WORD,)
        ),
        common_word=words[0],
        medium_word=words[99],
        rare_word=RARE_WORD,
    )


def check_words(conn: psycopg.Connection, sample: int = 300) -> int:
    """Recompute ``sample`` rows' words with the catalog's own ``pg_words.document`` and
    refuse the database if one differs; the number of rows checked."""
    rows = conn.execute(
        "SELECT capture_id, url, title, body, words::text FROM capture_text"
        " ORDER BY capture_id LIMIT %s",
        (sample,),
    ).fetchall()
    rows += conn.execute(
        "SELECT capture_id, url, title, body, words::text FROM capture_text"
        " WHERE words @@ %s::tsquery",
        (RARE_WORD,),
    ).fetchall()
    for capture, url, title, body, made in rows:
        expected = conn.execute(
            "SELECT %s::tsvector::text", (pg_words.document(url, title, body),)
        ).fetchone()
        if expected is None or expected[0] != made:
            raise GenerationFailed(
                f"generated words of capture {capture} differ from the catalog's own"
                " (pg_words.document): the benchmark's text would not be what the catalog"
                " searches; fix bench/catalog_rows.py"
            )
    if not rows:
        raise GenerationFailed("no searchable capture was generated: nothing to check")
    return len(rows)


def _count(conn: psycopg.Connection, sql: str, params: tuple[object, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0
