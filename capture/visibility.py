"""Whether the page's content could be seen when the derived records were taken.

A page can hold its whole article in the DOM and show none of it: an anti-flicker
snippet (Google Optimize's ``async-hide`` class, Adobe Target's ``at-body-style``)
hides the page until a testing script arrives, and when that script never does the
page stays blank. The screenshots and the visible-text record then show a blank page
faithfully, and an investigator must be told, or a blank page is sealed unknowingly.

One script, run once after the derived records are taken, measures the page; this
module then judges it. The script runs in an isolated world of its own
(:mod:`capture.page_world`): a page that redefines ``innerText`` or
``getComputedStyle`` for its own scripts does not change what is measured. It reads
and never writes: the page is left as it was.

What counts as hidden (each threshold is a constant below):

- ``html`` or ``body`` has ``display: none``, or an ``opacity`` under
  :data:`OPACITY_HIDDEN`: nothing inside can show, whatever its own style;
- ``body`` has ``visibility: hidden`` (its own or inherited from ``html``) and the
  visible text is under :data:`TEXT_FRACTION` of the DOM's (an element inside may
  set ``visibility: visible`` and show itself, so the text has to agree);
- or, whatever the styles, the DOM holds at least :data:`MIN_DOM_CHARS` characters
  of text and the visible text is under :data:`TEXT_FRACTION` of it.

Text is counted without whitespace (the DOM's indentation is not text a reader
misses), the DOM's without the contents of ``script``, ``style``, ``noscript`` and
``template``. A page that hides only a dialog or a cookie banner keeps most of its
text visible and is not reported.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from capture import page_world
from capture.cdp import CDPError
from capture.recorder import Recorder

#: The measuring script gets at most this long (a page whose script never yields
#: blocks the isolated world too), and at least FLOOR once the budget is spent: it
#: takes about a millisecond on an ordinary page, and a page that has not answered
#: the derived records by then will not answer it either.
CAP = 3.0
FLOOR = 0.5
#: Below this share of the DOM's text visible, the page's text counts as hidden.
TEXT_FRACTION = 0.10
#: With no hiding style on html or body, the DOM must hold at least this much text
#: (without whitespace) before little visible text counts as hidden: a short page
#: (a title and a line) is not a hidden one.
MIN_DOM_CHARS = 200
#: An opacity below this on html or body leaves nothing a reader can make out.
OPACITY_HIDDEN = 0.05
#: The isolated world's name (it shows in the browser's own tools, not to the page).
WORLD = "osint-capture-visibility"

# The names and numbers only; the judging is done here in Python, where it is tested.
# Runs in the isolated world: DOM prototypes and getComputedStyle are its own,
# untouched by the page's scripts. The rules that hide html or body are looked for
# only when one is hidden, so an ordinary page pays for the counts alone.
MEASURE_JS = """(() => {
  const started = performance.now();
  const html = document.documentElement;
  const body = document.body;
  const root = body || html;
  if (!root || typeof root.innerText !== "string") {
    return {applies: false, why: "the document has no HTML body to measure"};
  }
  const count = (text) => (text || "").replace(/\\s+/g, "").length;
  const skipped = "script, style, noscript, template";
  let dom = count(root.textContent);
  for (const el of root.querySelectorAll(skipped)) {
    if (!(el.parentElement && el.parentElement.closest(skipped))) dom -= count(el.textContent);
  }
  const styleOf = (el) => {
    if (!el) return null;
    const s = getComputedStyle(el);
    return {display: s.display, visibility: s.visibility, opacity: s.opacity};
  };
  const styles = {html: styleOf(html), body: styleOf(body)};
  const hidden = [];
  for (const name of ["html", "body"]) {
    const s = styles[name];
    if (!s) continue;
    if (s.display === "none") hidden.push({element: name, property: "display", value: "none"});
    if (parseFloat(s.opacity) < OPACITY_HIDDEN) {
      hidden.push({element: name, property: "opacity", value: s.opacity});
    }
  }
  const seen = styles.body || styles.html;
  if (seen.visibility !== "visible") {
    const who = styles.html.visibility !== "visible" ? "html" : "body";
    hidden.push({element: who, property: "visibility", value: styles[who].visibility});
  }
  const result = {applies: true, visible: count(root.innerText), dom: Math.max(dom, 0),
                  styles, hidden, causes: []};
  if (hidden.length) result.causes = causes(html, body, hidden);
  result.ms = performance.now() - started;
  return result;

  function causes(html, body, hidden) {
    const found = [];
    if (html.classList.contains("async-hide")) {
      found.push("Google Optimize's anti-flicker class async-hide on html");
    }
    if (document.getElementById("at-body-style")) {
      found.push("Adobe Target's pre-hiding style element #at-body-style");
    }
    for (const [name, el] of [["html", html], ["body", body]]) {
      const inline = el && el.getAttribute("style");
      if (inline && /display|visibility|opacity/i.test(inline)) {
        found.push(`inline style on ${name}: ${inline.slice(0, 200)}`);
      }
    }
    const props = new Set(hidden.map((h) => h.property));
    const budget = {rules: 5000, found: 5};
    for (const sheet of document.styleSheets) {
      let rules;
      try { rules = sheet.cssRules; } catch (e) { continue; }  // another origin's sheet
      const where = sheet.href ? `stylesheet ${sheet.href.slice(0, 200)}` : "a <style> element";
      scan(rules, where, props, [html, body], found, budget);
      if (budget.rules <= 0 || budget.found <= 0) break;
    }
    return found;
  }

  function scan(rules, where, props, elements, found, budget) {
    for (const rule of rules) {
      if (--budget.rules <= 0 || budget.found <= 0) return;
      if (rule.cssRules && !rule.selectorText) {
        scan(rule.cssRules, where, props, elements, found, budget);
        continue;
      }
      if (!rule.selectorText || !rule.style) continue;
      let matches = false;
      try { matches = elements.some((el) => el && el.matches(rule.selectorText)); } catch (e) {}
      if (!matches) continue;
      const set = [...props].filter((p) => hides(p, rule.style.getPropertyValue(p)))
        .map((p) => `${p}: ${rule.style.getPropertyValue(p)}` +
                    (rule.style.getPropertyPriority(p) ? " !important" : ""));
      if (set.length) {
        found.push(`rule "${rule.selectorText.slice(0, 100)} { ${set.join("; ")} }" in ${where}`);
        budget.found -= 1;
      }
    }
  }

  function hides(property, value) {
    if (property === "display") return value.trim() === "none";
    if (property === "visibility") return ["hidden", "collapse"].includes(value.trim());
    return value.trim() !== "" && parseFloat(value) < OPACITY_HIDDEN;
  }
})()""".replace("OPACITY_HIDDEN", str(OPACITY_HIDDEN))


@dataclass(frozen=True)
class Hiding:
    """One style of html or body that hides what is inside it."""

    element: str
    property: str
    value: str

    def __str__(self) -> str:
        return f"{self.element} has {self.property}:{self.value}"

    @property
    def covers_all(self) -> bool:
        """``display: none`` and opacity hide every descendant; ``visibility: hidden``
        does not (a descendant may set ``visibility: visible``)."""
        return self.property in ("display", "opacity")


@dataclass(frozen=True)
class Visibility:
    """What the measuring script found, or why there is nothing to judge."""

    #: Characters of visible text (``body.innerText``), whitespace not counted.
    visible_chars: int = 0
    #: Characters of text in the DOM (``body.textContent`` without scripts, styles,
    #: ``noscript`` and ``template``), whitespace not counted.
    dom_chars: int = 0
    hiding: tuple[Hiding, ...] = ()
    #: What set the hiding styles, as far as the page says cheaply: anti-flicker
    #: markers, inline styles, matching rules of stylesheets the page can read.
    causes: tuple[str, ...] = ()
    #: The computed display, visibility and opacity of html and body.
    styles: dict[str, Any] | None = None
    #: How long the script took in the page, in milliseconds.
    took_ms: float | None = None
    #: Set when the document has nothing to measure (no HTML body): nothing to judge.
    not_applicable: str = ""
    #: Set when the measuring failed: the capture cannot say the page was visible.
    error: str = ""

    @classmethod
    def of(cls, found: dict[str, Any]) -> Visibility:
        """The script's answer (a plain object, by value) as a typed result."""
        if not found.get("applies"):
            return cls(not_applicable=str(found.get("why") or "nothing to measure"))
        hiding = tuple(
            Hiding(str(h["element"]), str(h["property"]), str(h["value"]))
            for h in found.get("hidden") or ()
        )
        return cls(
            visible_chars=int(found["visible"]),
            dom_chars=int(found["dom"]),
            hiding=hiding,
            causes=tuple(str(c) for c in found.get("causes") or ()),
            styles=found.get("styles"),
            took_ms=round(float(found.get("ms") or 0.0), 2),
        )

    @property
    def text_hidden(self) -> bool:
        """Little of the DOM's text is visible (or none of it)."""
        return self.visible_chars < TEXT_FRACTION * self.dom_chars

    @property
    def text_blank(self) -> bool:
        """The visible-text record shows next to nothing (or nothing, on a page whose
        DOM has no text either)."""
        return self.text_hidden or self.visible_chars == 0

    @property
    def screens_blank(self) -> bool:
        """html or body is hidden by style, and nothing inside shows itself."""
        if any(h.covers_all for h in self.hiding):
            return True
        return bool(self.hiding) and self.text_blank

    @property
    def hidden(self) -> bool:
        """The page's content was hidden when its records were taken."""
        if self.error or self.not_applicable:
            return False
        return self.screens_blank or (self.dom_chars >= MIN_DOM_CHARS and self.text_hidden)

    def reason(self) -> str | None:
        """The manifest's reason, in plain words; None when there is nothing to say."""
        if self.error:
            return f"whether the page's content was visible could not be checked: {self.error}"
        if not self.hidden:
            return None
        counts = (
            f"visible text {self.visible_chars:,} characters against {self.dom_chars:,} "
            "in the DOM (whitespace not counted)"
        )
        if not self.screens_blank:
            return (
                f"most of the page's text was hidden when captured: {counts}; the screenshots "
                "and the visible-text record show only what was visible, the DOM record "
                "holds the rest"
            )
        what = "; ".join(str(h) for h in self.hiding)
        if self.causes:
            what += f" ({'; '.join(self.causes)})"
        shown = (
            "the screenshots and the visible-text record show a blank page, the DOM record "
            "holds the content"
            if self.text_blank
            else "the screenshots show a blank page; the visible-text record still holds the "
            "text (innerText counts text made transparent) and the DOM record the content"
        )
        return f"the page's content was hidden when captured: {what}; {counts}; {shown}"

    def facts(self) -> dict[str, Any]:
        """The measurements, for the page info."""
        if self.error:
            return {"measured": False, "error": self.error}
        if self.not_applicable:
            return {"measured": False, "not_applicable": self.not_applicable}
        return {
            "measured": True,
            "hidden": self.hidden,
            "visible_text_chars": self.visible_chars,
            "dom_text_chars": self.dom_chars,
            "hidden_by": [str(h) for h in self.hiding],
            "causes": list(self.causes),
            "styles": self.styles,
            "thresholds": {
                "text_fraction": TEXT_FRACTION,
                "min_dom_chars": MIN_DOM_CHARS,
                "opacity_hidden": OPACITY_HIDDEN,
            },
            "took_ms": self.took_ms,
        }


def time_for(deadline: float) -> float:
    """Seconds the measuring gets, given the capture's deadline (event-loop time)."""
    return min(CAP, max(FLOOR, deadline - asyncio.get_running_loop().time()))


async def measure(recorder: Recorder, timeout: float) -> Visibility:
    """Measure the page once, in an isolated world, within ``timeout`` seconds.

    Asked over the recorder's own session to the page (no detour through
    Playwright's driver): two commands, one script.
    """
    session, frame_id = recorder.page_session, recorder.main_frame_id
    if session is None or frame_id is None:
        return Visibility(error="the recorder holds no session to the page")
    try:
        found = await asyncio.wait_for(
            page_world.evaluate(session, frame_id, MEASURE_JS, world=WORLD, timeout=timeout),
            timeout,
        )
    except TimeoutError:
        return Visibility(error=f"the page did not answer within {timeout:.1f} s")
    except CDPError as exc:
        return Visibility(error=str(exc))
    try:
        return Visibility.of(found)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return Visibility(error=f"the measuring script answered in an unexpected shape ({exc!r})")
