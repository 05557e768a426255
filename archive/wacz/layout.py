"""What a package of ours is made of: its member names, its format, its index.

One definition for the writer (:mod:`archive.wacz.export`), the dashboard's replay
view (:mod:`archive.wacz.replay`) and the verifier (:mod:`archive.wacz.verify` and
the checks it hands these names to), so that what is written and what is checked
cannot drift apart.

Layout of the package::

    archive/<capture-id>.warc.gz            the sealed WARC, copied untouched (ZIP_STORED)
    archive/<capture-id>.analysis-N.warc.gz each analysis run's WARC (an addendum's)
    indexes/index.cdxj                      CDXJ of every WARC (cdxj-indexer, as py-wacz)
    pages/pages.jsonl                       one page per capture
    evidence/<capture-id>.manifest.json     every other sealed file of each capture,
    evidence/<capture-id>.manifest.sig.json   its name prefixed with the capture id
    evidence/<capture-id>.screenshot.png
    evidence/<capture-id>.timestamp-N.tsr   (and .chain.pem, media files, ...)
    evidence/custody.jsonl                  the custody events, one per line, as logged
    evidence/custody-embedded.jsonl         a migrated capture's events before migrate (team mode)
    evidence/custody-head.json              the slice's last event and its anchors
    evidence/custody-anchor-<seq>-<n>.tsr   each anchor of the slice (archive.evidence.anchors)
    evidence/custody-embedded-head.json     the embedded slice's last event and its anchors
    evidence/custody-embedded-anchor-<seq>-<n>.tsr  the embedded log's own (before migrate)
    evidence/report.html                    (and report.pdf when a renderer is given)
    evidence/VERIFY.md
    evidence/SHA256SUMS                     every file above; not datapackage*.json
    datapackage.json
    datapackage-digest.json

Why ``evidence/<capture-id>.<name>`` and not ``captures/<capture-id>/<name>``:
py-wacz's validator (``wacz validate``) names each file by its last two path
components and looks that up in ``datapackage.json``, so any file that is not
exactly one folder deep fails validation. A flat folder, with the capture id
in each name, keeps every file checkable by the reference validator.
"""

from __future__ import annotations

from archive import __version__
from archive.evidence.addendum import ANALYSIS_WARC

WACZ_VERSION = "1.1.1"
SOFTWARE = f"osint-capture {__version__}"
WACZ_SUFFIX = ".wacz"
#: Read-only: the package file once in place, and every entry in it.
EXPORT_MODE = 0o444

ARCHIVE_DIR = "archive"
EVIDENCE_DIR = "evidence"
INDEX_PATH = "indexes/index.cdxj"
PAGES_PATH = "pages/pages.jsonl"
CUSTODY_PATH = f"{EVIDENCE_DIR}/custody.jsonl"
#: A migrated capture's events from before ``migrate``: the imported embedded log's slice
#: (from the first event about the captures to its head, which custody.jsonl's
#: ``migrated`` event names).
IMPORTED_CUSTODY_PATH = f"{EVIDENCE_DIR}/custody-embedded.jsonl"
REPORT_PATH = f"{EVIDENCE_DIR}/report.html"
REPORT_PDF_PATH = f"{EVIDENCE_DIR}/report.pdf"
VERIFY_PATH = f"{EVIDENCE_DIR}/VERIFY.md"
SUMS_PATH = f"{EVIDENCE_DIR}/SHA256SUMS"
DATAPACKAGE = "datapackage.json"
DATAPACKAGE_DIGEST = "datapackage-digest.json"

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
#: Record types replay needs. Metadata records are left out of the index: osint-capture
#: writes them at real URLs (TLS details at ``https://origin/``, media info at the media's
#: URL), where a replay tool could serve the JSON in place of the page or the video.
INDEX_RECORDS = "response,revisit,resource"
#: As py-wacz: referrers for page detection, cookies for replay of cookie-keyed responses.
INDEX_FIELDS = "referrer,req.http:cookie"


def package_path(capture_id: str, kind: str, name: str) -> str:
    """Where a capture's sealed file ``name`` (of the catalog's ``kind``) goes in the package.

    The capture's WARC keeps its own name (it is already the capture id); an analysis
    WARC is replayable and indexed like it, named by the capture, since every capture
    has an ``analysis-1``; every other file goes to ``evidence/``, prefixed by the id.
    """
    if kind == "warc":
        return f"{ARCHIVE_DIR}/{name}"
    if kind == ANALYSIS_WARC:
        return f"{ARCHIVE_DIR}/{capture_id}.{name}"
    return f"{EVIDENCE_DIR}/{capture_id}.{name}"
