"""The report's fixed texts: what the signatures prove and what they cannot, and a draft
declaration for the operator.

They are the words a court reads first, so they follow the verdicts of
``osint-capture verify`` (:mod:`archive.evidence.checks`): a package can be intact without
being authenticated, and only what the verifier brings (the key's fingerprint from
its holder, the time-stamp authorities' roots) turns one into the other.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.wacz.report import CaptureFacts


def escape(value: object) -> str:
    """Escape anything for HTML text and attributes; a missing value shows as a dash."""
    if value is None or value == "":
        return "—"
    return html.escape(str(value), quote=True)


_e = escape


def what_it_proves(key_fingerprint: str, created: str, package_name: str) -> str:
    return f"""
<h2>What the signatures prove, and what they cannot</h2>
<p><strong>Intact is not authentic.</strong> The package carries its own public key, so
anyone who rewrote it could sign it again with a key of their own, and every signature
would still verify. The signatures prove who made the package only when the verifier
brings the key's fingerprint from its holder, through another channel, never from the
package: <code>osint-capture verify</code> then says <em>verified</em> (exit 0). Without
that, or without trusted time it can check, it says <em>intact, not authenticated</em>
(exit 4) and names what is missing; anything altered, missing or contradictory is
<em>failed</em> (exit 1). The whole check is one command:</p>
<pre>osint-capture verify {_e(package_name)} \\
    --key-fingerprint &lt;the fingerprint its holder gave you&gt; \\
    --tsa-trust &lt;each time-stamp authority's root, from the authority&gt;</pre>
<p>Obtain the fingerprint from the key's holder through another channel (in person, by
phone, from the organisation's published keys), never from this report or the package.
<code>evidence/VERIFY.md</code> gives the same checks by hand with standard tools.</p>
<p><strong>The package signature</strong> (<code>datapackage-digest.json</code>) is an ECDSA
P-256 signature over the SHA-256 of <code>datapackage.json</code>, which lists the SHA-256 of
every other file in the package. If it verifies with the public key whose fingerprint is
<span class="hash">{_e(key_fingerprint)}</span>, and that is the fingerprint its holder gave
you, it proves that <em>the holder of that key</em> packaged exactly these bytes, and that
not one byte has changed since. <strong>Each capture's manifest signature</strong>
(<code>manifest.sig.json</code>) proves the same for the capture, at the moment it was
sealed: the manifest lists every file of the capture with its SHA-256.</p>
<p><strong>Times.</strong> Packaging started at {_e(created)}; the package signature records
when it was signed (<code>signedData.created</code>), and each manifest
says when its capture started and finished: those times come from the machines' own clocks,
which no signature can vouch for. <strong>Time-stamp tokens</strong> (RFC 3161), signed by
an independent authority, prove that a manifest, or the package's signature, existed no
later than the authority's time: that is the proven bound, shown with each capture below.
A token earlier than the time a manifest claims contradicts the claim; one much later
leaves the claim unproven for that long.</p>
<p><strong>The chain of custody</strong> (<code>evidence/custody.jsonl</code>) shows every
action on these captures in a hash-linked log; where the package carries anchors
(time-stamps over the log's head), they prove the log up to that event existed at the
authority's time.</p>
<p><strong>They cannot prove</strong>:</p>
<ul>
<li>who holds the key: only the fingerprint you obtain from its holder can;</li>
<li>what the web server meant to send, or that it sent the same to anyone else: the
capture shows what this browser received, from the addresses listed, at the times listed
(TLS protects a connection; it does not let a server's answer be proven to a third
party);</li>
<li>that nothing was shown to other users, in other places or at other times, that this
capture did not see;</li>
<li>that the capturing machine was honest before the first time-stamp: a capture is proven
to exist no earlier than the moment it was sealed and stamped, not to have been made
faithfully.</li>
</ul>
"""


def declaration(
    captures: Sequence[CaptureFacts],
    package_name: str,
    created: str,
    software: str,
    key_fingerprint: str,
) -> str:
    blank = "<span class='blank'>&nbsp;</span>"
    rows = "".join(
        f"<tr><td class='mono'>{_e(c.capture_id)}</td><td class='url'>{_e(c.manifest.get('url'))}"
        f"</td><td>{_e(c.manifest.get('started_at'))}</td>"
        f"<td>{_e(c.manifest.get('operator'))}</td>"
        f"<td class='hash'>{_e(c.manifest_sha256)}</td></tr>"
        for c in captures
    )
    browsers = sorted(
        {str((c.manifest.get("software") or {}).get("chromium", "")) for c in captures} - {""}
    )
    tools = sorted(
        {str((c.manifest.get("software") or {}).get("osint-capture", "")) for c in captures} - {""}
    )
    return f"""
<section class="declaration">
<h2>Draft declaration for the operator</h2>
<p class="warning"><strong>DRAFT, not legal advice.</strong> This follows the form of the
certifications that US Federal Rules of Evidence 902(13) (records generated by an electronic
process or system that produces an accurate result) and 902(14) (data copied from an
electronic device, storage medium or file, authenticated by a process of digital
identification) allow in place of live testimony. Those rules require a certification by a
qualified person that meets Rule 902(11) or 902(12), and reasonable written notice to the
adverse party. Have counsel review it and adapt it to the court and jurisdiction; complete
every blank, strike anything that is not true, and sign only what you know to be true.</p>

<h3>Declaration of {blank} regarding web captures and their hash values</h3>
<p>I, {blank} [full name], declare:</p>
<ol>
<li>I am over eighteen years of age. I am {blank} [position] at {blank} [organisation]. I am
qualified to make this declaration because {blank} [training and experience with the
capture software and web capture in general], and I have personal knowledge of the facts
stated here.</li>
<li><strong>The process (Rule 902(13)).</strong> I made the captures listed below with
osint-capture (version {_e(", ".join(tools) or "____")}), which loads a web page in the
Chromium browser (version {_e(", ".join(browsers) or "____")}), records every request the
browser made and every response it received into a WARC file (ISO 28500), and computes the
SHA-256 hash value of every file as the file is written. It then writes a manifest listing
every file of the capture with its hash value and signs the manifest with a private key
held on the capturing installation. Every action on the captures is recorded in a
hash-linked chain-of-custody log. This process produces an accurate record of what the
browser received from the web servers at the time of capture. I know this because
{blank} [how you know: testing, validation, comparison with the live page, experience].
</li>
<li><strong>The captures.</strong> [I made / I supervised] each of the following captures,
on the dates and at the times shown (UTC, from the capturing machine's clock):
<table><thead><tr><th>Capture id</th><th>URL requested</th><th>Started (UTC)</th>
<th>Operator</th><th>Manifest SHA-256</th></tr></thead><tbody>{rows}</tbody></table></li>
<li><strong>The copy and its hash values (Rule 902(14)).</strong> The file
<span class="mono">{_e(package_name)}</span> was packaged from the captures as sealed,
starting at {_e(created)}, by {_e(software)}, and signed with the key whose fingerprint is
<span class="hash">{_e(key_fingerprint)}</span>. SHA-256 is a process of digital
identification: two files with the same SHA-256 hash value are, to a practical certainty,
identical. On {blank} [date] I computed the SHA-256 hash value of that file and found it to
be {blank}{blank}. I checked every file in it against the hash values it lists
(<code>evidence/SHA256SUMS</code> and <code>datapackage.json</code>) using {blank} [tool]
and found that they match.</li>
<li>On {blank} [date] I checked the file with <code>osint-capture verify</code>, pinning
the key fingerprint above and trusting the root certificate of each time-stamp authority,
which I obtained from {blank} [where], and it reported {blank} [its first line]. The
trusted time of each capture is the time its time-stamp token proves, not the capturing
machine's clock: {blank} [times, from the report or the verification].</li>
</ol>
<p>I declare under penalty of perjury under the laws of {blank} [the United States of
America, or the applicable jurisdiction] that the foregoing is true and correct.</p>
<p class="signature-line">Executed on {blank} [date] at {blank} [place].</p>
<p class="signature-line">{blank}<br>Signature</p>
<p>{blank}<br>Printed name</p>
</section>
"""
