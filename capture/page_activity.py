"""What the page itself has pending: timers, animation frames, fetches, the document's load.

The recorder sees requests once the browser has made them; it cannot see a page
that is about to make one: a timer due in 200 ms, a callback waiting for the next
frame, a ``fetch`` whose promise the page's script is still reading. Counted here,
they let the behaviours tell a page that has nothing left to do (quiet after a
short floor) from one that may still act (quiet only after the full window, as
without this count).

A small script is added before the page's own scripts run, in the page's main
world (where its timers live; an isolated world sees none of them). It wraps
``setTimeout``, ``setInterval``, ``requestAnimationFrame``, ``requestIdleCallback``,
``fetch`` and ``XMLHttpRequest.send`` to keep a count, and calls the originals:
no captured byte changes, and what the page schedules runs as it would. Each
wrapper is a proxy of the original, so the page still sees a native function (its
name, its length, ``[native code]`` as its source). The count sits behind a name
made afresh for each capture, which the page cannot guess. A frame the script
cannot reach (another origin's), or a page that replaced the functions before our
script ran, makes the answer "cannot tell": the behaviours then keep the full quiet
window.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from playwright.async_api import Page

from capture.cdp import CDPError, CDPSession

#: A timer due within this long counts as pending; one due later (a carousel's next
#: slide, an advert's refresh) is not what a capture waits for.
HORIZON_MS = 1000
#: The page is asked for its count at most this long.
ASK_TIMEOUT = 1.0


@dataclass(frozen=True)
class Activity:
    """The page's answer: whether it has nothing pending, and if not, what."""

    idle: bool
    #: What keeps it from being idle, in words ("2 timers, 1 fetch"); "" when idle.
    pending: str = ""


UNKNOWN = Activity(False, "the page did not say what it has pending")


def new_key() -> str:
    """The name the count hides behind for one capture."""
    return "__osint_capture_" + secrets.token_hex(8)


def init_script(key: str) -> str:
    """The script added to every new document of the page, before its own scripts."""
    return _INIT_JS.replace("__KEY__", key).replace("__HORIZON__", str(HORIZON_MS))


async def install(page: Page, key: str) -> None:
    """Add the counting script to the page's new documents (before navigation).

    Through Playwright, which has the Page domain enabled and adds the script to
    every frame, out-of-process ones included."""
    await page.add_init_script(script=init_script(key))


async def ask(session: CDPSession, key: str) -> Activity:
    """What the page has pending now, or :data:`UNKNOWN` if it cannot be told."""
    try:
        reply = await session.send(
            "Runtime.evaluate",
            {"expression": _ASK_JS.replace("__KEY__", key), "returnByValue": True},
            timeout=ASK_TIMEOUT,
        )
    except (CDPError, TimeoutError):
        return UNKNOWN
    value = reply.get("result", {}).get("value")
    if not isinstance(value, dict) or "idle" not in value:
        return UNKNOWN
    return Activity(bool(value["idle"]), str(value.get("pending", "")))


# Each wrapped function counts what it schedules and calls the page's original. A
# callback that throws still uncounts itself (finally). Intervals count while set.
_INIT_JS = r"""(() => {
  const key = "__KEY__", horizon = __HORIZON__, w = window;
  if (Object.prototype.hasOwnProperty.call(w, key)) return;
  const timers = new Set(), intervals = new Set(), frames = new Set(), idles = new Set();
  let requests = 0;
  // A proxy of the original: its name, its length and its source ("[native code]") stay
  // the browser's, so a script that checks whether fetch is native sees that it is.
  const disguise = (original, counting) =>
    new Proxy(original, {apply: (target, self, args) => counting.apply(self, args)});
  const wrap = (name, make) => {
    const original = w[name];
    if (typeof original !== "function") return;
    w[name] = disguise(original, make(original));
  };
  const uncount = (set, name) => {
    const cancel = w[name];
    if (typeof cancel !== "function") return;
    w[name] = disguise(cancel, function (id) { set.delete(id); return cancel.call(this, id); });
  };
  const soon = (delay) => Number(delay || 0) <= horizon;
  wrap("setTimeout", (original) => function (fn, delay, ...rest) {
    if (typeof fn !== "function" || !soon(delay)) return original.call(this, fn, delay, ...rest);
    let id;
    const run = function (...a) { timers.delete(id); return fn.apply(this, a); };
    id = original.call(this, run, delay, ...rest);
    timers.add(id);
    return id;
  });
  uncount(timers, "clearTimeout");
  wrap("setInterval", (original) => function (fn, delay, ...rest) {
    const id = original.call(this, fn, delay, ...rest);
    if (soon(delay)) intervals.add(id);
    return id;
  });
  uncount(intervals, "clearInterval");
  wrap("requestAnimationFrame", (original) => function (fn) {
    let id;
    id = original.call(this, function (t) { frames.delete(id); return fn.call(this, t); });
    frames.add(id);
    return id;
  });
  uncount(frames, "cancelAnimationFrame");
  wrap("requestIdleCallback", (original) => function (fn, ...rest) {
    let id;
    id = original.call(this, function (d) { idles.delete(id); return fn.call(this, d); }, ...rest);
    idles.add(id);
    return id;
  });
  uncount(idles, "cancelIdleCallback");
  wrap("fetch", (original) => function (...args) {
    requests += 1;
    let answer;
    try { answer = original.apply(this, args); } catch (e) { requests -= 1; throw e; }
    const done = () => { requests -= 1; };
    Promise.resolve(answer).then(done, done);
    return answer;
  });
  const XHR = w.XMLHttpRequest && w.XMLHttpRequest.prototype;
  if (XHR && typeof XHR.send === "function") {
    const send = XHR.send;
    XHR.send = disguise(send, function (...args) {
      requests += 1;
      this.addEventListener("loadend", () => { requests -= 1; }, {once: true});
      try { return send.apply(this, args); } catch (e) { requests -= 1; throw e; }
    });
  }
  const count = () => ({
    ready: document.readyState === "complete",
    timers: timers.size, intervals: intervals.size, frames: frames.size,
    idles: idles.size, requests: requests,
  });
  Object.defineProperty(w, key, {value: count, enumerable: false});
})();"""

# The main frame's count and every child frame's; a frame that cannot be asked (another
# origin's, or one our script never ran in) makes the whole answer unknown.
_ASK_JS = r"""(() => {
  const key = "__KEY__", names = ["timers", "intervals", "frames", "idles", "requests"];
  const total = {timers: 0, intervals: 0, frames: 0, idles: 0, requests: 0};
  let ready = true;
  const visit = (w) => {
    let count;
    try { count = w[key]; } catch (e) { return false; }
    if (typeof count !== "function") return false;
    const c = count();
    ready = ready && c.ready;
    for (const n of names) total[n] += c[n];
    for (let i = 0; i < w.frames.length; i++) if (!visit(w.frames[i])) return false;
    return true;
  };
  if (!visit(window)) return {idle: false, pending: "a frame that cannot be asked"};
  const pending = names.filter((n) => total[n] > 0).map((n) => total[n] + " " + n);
  if (!ready) pending.unshift("the document still loading");
  return {idle: pending.length === 0, pending: pending.join(", ")};
})()"""
