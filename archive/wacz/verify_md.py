"""``evidence/VERIFY.md``: how a recipient checks a package, with or without osint-capture.

The first thing it says is what the recipient must bring, because that is what a
verdict rests on: the sender's key fingerprint, obtained from its holder through
another channel (never copied from the package), and the time-stamp authorities'
root certificates, obtained from the authorities. Then the one command that checks
everything and what its exit codes mean, then the same checks by hand with standard
tools (``sha256sum -c``, ``openssl dgst -verify``, ``openssl ts -verify``), then what
all of it proves and what it cannot. A test runs every command of it on a real export.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PackagedCapture:
    """What VERIFY.md names of one capture."""

    id: str
    url: str
    manifest_sha256: str
    #: Package paths of its time-stamp tokens.
    tokens: tuple[str, ...]
    #: Its analysis runs in the package (machine drafts sealed after it), by number.
    addenda: tuple[int, ...] = ()
    #: Package paths of the tokens over its addenda, with the run each stamps.
    addendum_tokens: tuple[tuple[int, str], ...] = ()


def verify_md(
    captures: Sequence[PackagedCapture],
    *,
    package_name: str,
    fingerprint: str,
    sums_path: str,
    has_custody: bool,
    has_anchors: bool,
) -> str:
    tokens = [(c, token) for c in captures for token in c.tokens]
    token_lines = "\n".join(
        f"openssl ts -verify -in {token} -data evidence/{c.id}.manifest.json -CAfile ROOT.pem"
        for c, token in tokens
    ) or (
        "# (no capture in this package has a time-stamp token: their times rest on the\n"
        "# capturing machine's clock alone)"
    )
    capture_list = "\n".join(
        f"- `{c.id}`: {_md_code(c.url)}, manifest SHA-256 `{c.manifest_sha256}`" for c in captures
    )
    values = {
        "package": package_name,
        "fingerprint": fingerprint,
        "captures": capture_list,
        "first": captures[0].id,
        "tokens": token_lines,
        "sums": sums_path,
        "addenda": _addenda_section(captures),
        "custody": (CUSTODY_SECTION + (ANCHORS_SECTION if has_anchors else NO_ANCHORS_SECTION))
        if has_custody
        else NO_CUSTODY_SECTION,
    }
    # One pass, so a captured URL that happens to contain "@tokens@" stays as it is.
    return re.sub(r"@(\w+)@", lambda m: values.get(m.group(1), m.group(0)), VERIFY_TEMPLATE)


def _addenda_section(captures: Sequence[PackagedCapture]) -> str:
    """How to check the machine readings' addenda; nothing when the package has none."""
    if not any(c.addenda for c in captures):
        return ""
    tokens = "\n".join(
        f"openssl ts -verify -in {token} -data evidence/{c.id}.analysis-{number}.addendum.json"
        " -CAfile ROOT.pem"
        for c in captures
        for number, token in c.addendum_tokens
    ) or (
        "# (no addendum in this package has a time-stamp token: when each was made rests\n"
        "# on the analysing machine's clock alone)"
    )
    return ADDENDA_SECTION.replace("@addendum_tokens@", tokens)


def _md_code(text: str) -> str:
    """A URL shown as inline code, so captured text never becomes Markdown or HTML.

    Backticks and unprintable characters (newlines, bidi controls) are dropped: this is
    a reminder of which capture is which; the URL itself is in the manifest.
    """
    clean = "".join(ch for ch in str(text) if ch.isprintable() and ch != "`")
    return f"`{clean}`"


#: ``@name@`` marks what :func:`verify_md` fills in (the text is full of braces).
VERIFY_TEMPLATE = """\
# Checking this package

`@package@` is a WACZ file (a ZIP) made by osint-capture. It holds these captures:

@captures@

## What you must bring

A package carries its own public key, so anyone who rewrites it can sign it again
with a key of their own and every signature will still "verify". What makes the
check mean something is what you bring from outside the package:

1. **The fingerprint of the sender's key**, obtained from its holder through another
   channel: in person, by phone, from the organisation's published keys. Never copy
   it from this package. (This package says it was signed by `@fingerprint@`;
   compare the one you were given with it, do not take it from here.)
2. **The root certificate of each time-stamp authority** (`ROOT.pem` below), from the
   authority itself. The `.chain.pem` beside each token shows which root it chains to;
   do not trust a root only because it is in the package.

## All at once

With osint-capture installed:

```
osint-capture verify @package@ \\
    --key-fingerprint <the fingerprint the sender gave you> --tsa-trust ROOT.pem
```

The first line gives the verdict and what it rests on; the exit code says the same:

- `0`: verified: every byte accounted for, every signature by the key you pinned, and
  trusted time for the package and every capture, consistent with what each claims;
- `1`: failed: something was altered, is missing, or contradicts itself;
- `2`: the package (or a file you named) could not be read;
- `4`: intact, not authenticated: nothing was found altered, but something it rests
  on is not established (the signer's key, a time-stamp authority, trusted time);
  the first line says what, and how to establish it.

## By hand, with standard tools

`unzip`, `sha256sum`, `openssl` (1.1 or 3), `bash` and `python3` (for reading JSON
only). From the folder holding the package:

### 1. The whole file

```sh
sha256sum @package@
```

The sender's chain of custody records this hash in its `exported` event (in the
sender's log, not in this package: the package cannot contain its own hash).

### 2. Every file in it

```sh
mkdir unpacked && cd unpacked && unzip ../@package@
sha256sum -c @sums@
```

`@sums@` lists every file but itself, `datapackage.json` and
`datapackage-digest.json`: `datapackage.json` lists every file with its SHA-256
(`wacz validate -f ../@package@` checks that), and its hash is what the package
signature covers.

### 3. The package signature, and whose key made it

`datapackage-digest.json` holds a WACZ anonymous signature: ECDSA P-256 with SHA-256
over the text of its `hash` field, as raw `r || s` (64 bytes), with the public key
as base64 DER. In `bash`, from the unpacked folder:

```bash
field() {
  python3 -c 'import json, sys
print(json.load(open("datapackage-digest.json"))["signedData"][sys.argv[1]], end="")' "$1"
}
field publicKey | base64 -d > key.der
echo "sha256:$(sha256sum key.der | cut -d' ' -f1)"   # the key's fingerprint: compare it
openssl pkey -pubin -inform DER -in key.der -out key.pem
sig=$(field signature | base64 -d | od -An -v -tx1 | tr -d ' \\n')
printf 'asn1=SEQUENCE:sig\\n[sig]\\nr=INTEGER:0x%s\\ns=INTEGER:0x%s\\n' \\
  "${sig:0:64}" "${sig:64:64}" > sig.cnf
openssl asn1parse -genconf sig.cnf -out sig.der -noout
field hash > signed.txt
test "$(cat signed.txt)" = "sha256:$(sha256sum datapackage.json | cut -d' ' -f1)" \\
  && echo "datapackage.json: OK"
openssl dgst -sha256 -verify key.pem -signature sig.der signed.txt
```

The last line prints `Verified OK`. The fingerprint line must equal the one the
sender gave you: if it does not, the package was signed by someone else.

### 4. Each capture's files and its manifest signature

The manifest lists every file of the capture with its SHA-256 (the WARC is
`archive/<capture-id>.warc.gz`, the others `evidence/<capture-id>.<name>`):

```sh
id=@first@
python3 -c '
import json, sys
cid = sys.argv[1]
for a in json.load(open("evidence/" + cid + ".manifest.json"))["artifacts"]:
    where = "archive/" + a["path"] if a["kind"] == "warc" else "evidence/" + cid + "." + a["path"]
    print(a["sha256"] + "  " + where)
' "$id" | sha256sum -c
```

`evidence/<capture-id>.manifest.sig.json` is the signature made when the capture was
sealed, in the same form, over the manifest's bytes:

```bash
for record in evidence/*.manifest.sig.json; do
  get() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end="")' \\
      "$record" "$1"
  }
  get publicKey | base64 -d > mkey.der
  echo "$record: signed by sha256:$(sha256sum mkey.der | cut -d' ' -f1)"
  openssl pkey -pubin -inform DER -in mkey.der -out mkey.pem
  sig=$(get signature | base64 -d | od -An -v -tx1 | tr -d ' \\n')
  printf 'asn1=SEQUENCE:sig\\n[sig]\\nr=INTEGER:0x%s\\ns=INTEGER:0x%s\\n' \\
    "${sig:0:64}" "${sig:64:64}" > msig.cnf
  openssl asn1parse -genconf msig.cnf -out msig.der -noout
  openssl dgst -sha256 -verify mkey.pem -signature msig.der "${record%.sig.json}.json"
done
```

Every capture must be signed by the same key, the one whose fingerprint you were given.

### 5. Trusted time

RFC 3161 tokens from a time-stamp authority over each manifest's SHA-256 prove the
manifest existed no later than the authority's time:

```sh
@tokens@
openssl ts -reply -in TOKEN.tsr -text    # shows the authority's time (genTime)
```

Compare each token's time with the manifest's `finished_at` (the capturing machine's
own clock). The token's time is what is proven; a `finished_at` *later* than it is
impossible and means the claimed time is false; one long before it means the
capture's own clock is unproven for that long.

The package's own tokens are under `timestamps` in `datapackage-digest.json`,
base64, over the SHA-256 of the signature's bytes:

```bash
python3 - <<'END'
import base64, hashlib, json
digest = json.load(open("datapackage-digest.json"))
open("package.tsr", "wb").write(base64.b64decode(digest["timestamps"][0]["token"]))
signature = base64.b64decode(digest["signedData"]["signature"])
open("signed.sha256", "w").write(hashlib.sha256(signature).hexdigest())
END
signed=$(cat signed.sha256)
openssl ts -verify -in package.tsr -digest "$signed" -CAfile ROOT.pem
```

### 6. The WARC files

```sh
warcio check archive/*.warc.gz            # every record's digest (pip install warcio)
```

Replay: open `@package@` in ReplayWeb.page (https://replayweb.page) or add it to a
pywb collection.

@addenda@### 7. The chain of custody

@custody@
## What this proves, and what it cannot

If everything above holds, with the fingerprint you were given and roots you
obtained yourself: the holder of that key packaged these bytes, and not one has
changed since; each manifest, and so every byte of each capture, existed no later
than its token's time, on the word of an independent authority. Nothing here can
prove what the web server meant to send, or that it showed the same to anyone else:
only what the capturing browser received. See `evidence/report.html`, section "What
the signatures prove, and what they cannot".
"""

ADDENDA_SECTION = """\
### 6b. Machine readings (analysis addenda): drafts, not evidence

Files named `evidence/<capture-id>.analysis-N.*` (and
`archive/<capture-id>.analysis-N.warc.gz`) are machine drafts: text read by software
(OCR, draft transcripts, machine translation) from a capture *after* it was sealed.
They never change the capture (its manifest does not list them) and are not
evidence in themselves: check what they say against the source each reading names.
Each run's `analysis-N.addendum.json` names the capture's manifest by its SHA-256 and
lists the run's files with theirs; `analysis-N.addendum.sig.json` signs it as a
manifest is signed; `analysis-N.token-M.tsr` are time-stamps over its SHA-256. From
the unpacked folder:

```bash
for addendum in evidence/*.analysis-*.addendum.json; do
  id=${addendum#evidence/}; id=${id%%.analysis-*}
  python3 - "$addendum" "$id" <<'END'
import hashlib, json, sys
path, cid = sys.argv[1], sys.argv[2]
addendum = json.load(open(path))
manifest = open("evidence/" + cid + ".manifest.json", "rb").read()
assert addendum["refers_to"]["sha256"] == hashlib.sha256(manifest).hexdigest(), path
assert addendum["machine_draft"] is True, path
for a in addendum["artifacts"]:
    top = "archive/" if a["kind"] == "analysis-warc" else "evidence/"
    where = top + cid + "." + a["path"]
    assert hashlib.sha256(open(where, "rb").read()).hexdigest() == a["sha256"], where
    print(where + ": OK")
END
  record=${addendum%.json}.sig.json
  get() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end="")' \\
      "$record" "$1"
  }
  get publicKey | base64 -d > akey.der
  echo "$addendum: signed by sha256:$(sha256sum akey.der | cut -d' ' -f1)"
  openssl pkey -pubin -inform DER -in akey.der -out akey.pem
  sig=$(get signature | base64 -d | od -An -v -tx1 | tr -d ' \\n')
  printf 'asn1=SEQUENCE:sig\\n[sig]\\nr=INTEGER:0x%s\\ns=INTEGER:0x%s\\n' \\
    "${sig:0:64}" "${sig:64:64}" > asig.cnf
  openssl asn1parse -genconf asig.cnf -out asig.der -noout
  openssl dgst -sha256 -verify akey.pem -signature asig.der "$addendum"
done
```

Each addendum must be signed by the same key as the manifests. Its tokens prove the
addendum existed no later than the authority's time (which is after the capture):

```sh
@addendum_tokens@
```

"""

CUSTODY_SECTION = """\
`evidence/custody.jsonl` holds the sender's custody events from the first one
about these captures to the log's end when the package was made, exactly as
logged. Each line's `hash` is the SHA-256 of the event's canonical JSON without
`hash`; each `prev` is the hash of the line before:

```python
import hashlib, json

prev = None
for number, line in enumerate(open("evidence/custody.jsonl", "rb"), start=1):
    event = json.loads(line)
    body = {k: v for k, v in event.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == event["hash"], f"line {number}"
    assert prev is None or event["prev"] == prev, f"line {number}: chain broken"
    prev = event["hash"]
print("custody chain OK up to", prev)
```
"""

NO_CUSTODY_SECTION = """\
This package holds no custody events: none of its captures is named in the
sender's chain of custody (they were sealed before osint-capture kept one).
"""

ANCHORS_SECTION = """
A chain proves nothing against whoever could re-chain it. `evidence/custody-head.json`
names the last event at export, and each `evidence/custody-anchor-<seq>-<n>.tsr` is a
time-stamp over one event's `hash`: it proves the log up to that event existed, as it
is, no later than the authority's time. From the unpacked folder:

```bash
python3 - <<'END' > anchors.txt
import json, sys
head = json.load(open("evidence/custody-head.json"))
events = [json.loads(line) for line in open("evidence/custody.jsonl", "rb")]
assert (events[-1]["seq"], events[-1]["hash"]) == (head["seq"], head["hash"]), "head"
hashes = {event["seq"]: event["hash"] for event in events}
for anchor in head["anchors"]:
    assert hashes[anchor["seq"]] == anchor["hash"], anchor["path"]
    print(anchor["path"], anchor["hash"])
print("custody head OK: seq", head["seq"], file=sys.stderr)
END
while read -r path hash; do
  openssl ts -verify -in "$path" -digest "$hash" -CAfile ROOT.pem
done < anchors.txt
```
"""

NO_ANCHORS_SECTION = """
This package carries no custody anchors (no time-stamp authority was configured at
export): nothing outside the sender's machine vouches for the slice beyond the
package signature.
"""
