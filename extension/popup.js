// The toolbar popup: what to capture, and how the last capture went.
//
// The capture itself runs in the service worker (lib/capture.js). The popup asks
// for it with one message and then only renders the capture's record from
// chrome.storage.local, following chrome.storage.onChanged; closing the popup
// changes nothing, and reopening it shows the last capture again.
//
// popup.html?tab=<tabId> targets that tab instead of the active one (for tests,
// and for a popup opened in a tab, which would otherwise target itself).

import { KIND_WORDS, STATE_KEY, loadAlerts, targetLink } from "./lib/alerts.js";
import { analysisEnded, analysisRequest, describeAnalysis } from "./lib/analysis.js";
import { call, explain } from "./lib/api.js";
import { capturable, originPattern } from "./lib/asseen.js";
import { recordKey } from "./lib/capture.js";
import { showWho, whoAmI } from "./lib/pairing.js";
import { getSettings } from "./lib/settings.js";

const $ = (id) => document.getElementById(id);

/** The server's stage names (capture/pipeline.py), in words. */
const STAGES = {
  queued: "Waiting in the queue",
  prepare: "Preparing",
  browser: "Opening a fresh browser",
  load: "Loading the page",
  behaviours: "Scrolling the page",
  cut: "Stopping what still loads",
  derived: "Screenshots, page and text",
  "as-seen": "Adding what your browser showed",
  media: "Saving video and audio",
  seal: "Sealing",
  done: "Done",
  failed: "Failed",
};

const params = new URLSearchParams(location.search);
const explicitTab = params.has("tab") ? Number(params.get("tab")) : null;

let target = null;
let shownKey = null;
let pinger = null;

/** How often the popup wakes the worker while it shows a running capture. */
const PING_MS = 5_000;

async function findTarget() {
  if (explicitTab !== null && Number.isInteger(explicitTab)) return chrome.tabs.get(explicitTab);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab || null;
}

function showBanner(text) {
  $("banner").textContent = text || "";
  $("banner").hidden = !text;
}

async function init() {
  const prefs = await chrome.storage.local.get({ lastCase: "", asSeenDefault: true, lastKey: null });
  $("case").value = prefs.lastCase;
  $("as-seen").checked = prefs.asSeenDefault !== false;
  $("cookies").checked = false;
  $("cookies").addEventListener("change", () => {
    $("cookies-hint").hidden = !$("cookies").checked;
  });
  $("form").addEventListener("submit", onCapture);
  $("sha256").addEventListener("focus", () => $("sha256").select());
  $("open-options").addEventListener("click", (event) => {
    event.preventDefault();
    chrome.runtime.openOptionsPage();
  });
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area !== "local" || !shownKey) return;
    const change = changes[recordKey(shownKey)];
    if (change && change.newValue) render(change.newValue);
  });

  try {
    target = await findTarget();
  } catch {
    target = null;
  }
  if (target) {
    $("target-title").textContent = target.title || "";
    $("target-url").textContent = target.url || "";
  }
  if (!target || !capturable(target.url)) {
    $("capture").disabled = true;
    showBanner("This page can't be captured (only http and https pages).");
  }

  if (prefs.lastKey) await show(prefs.lastKey);

  const settings = await getSettings();
  if (!settings.token) {
    $("capture").disabled = true;
    showBanner("Pair the extension: open Options and paste the token from `osint-capture token`.");
    return;
  }
  const who = await whoAmI(settings);
  showWho($("paired"), who);
  if (who.outcome === "refused") {
    $("capture").disabled = true;
    return;
  }
  try {
    const { data } = await call(settings, "/api/v1/cases");
    const list = $("cases");
    list.replaceChildren();
    for (const item of (data && data.cases) || []) {
      const option = document.createElement("option");
      option.value = item.name;
      list.append(option);
    }
  } catch (error) {
    showBanner(explain(error));
  }
}

async function onCapture(event) {
  event.preventDefault();
  if (!target) return;
  const asSeen = $("as-seen").checked;
  const cookies = $("cookies").checked;
  // Access to the page's site is asked for inside the click (browsers only allow
  // it then). Cookies always need it; what the browser shows is covered by
  // activeTab when the popup came from the toolbar, so it is only asked for
  // when the popup names its tab (popup.html?tab=).
  const permissionFor = cookies || (asSeen && explicitTab !== null) ? originPattern(target.url) : null;
  const caseName = $("case").value.trim();
  // The request goes first and the permission prompt second, both before any
  // await: the prompt may close the popup, and the worker waits for the answer.
  const replied = chrome.runtime.sendMessage({
    type: "capture",
    url: target.url,
    tabId: target.id,
    title: target.title,
    case: caseName,
    note: $("note").value,
    asSeen,
    cookies,
    permissionFor,
    analysis: analysisRequest({
      ocr: $("read-ocr").checked,
      transcribe: $("read-transcribe").checked,
      language: $("read-language").value,
    }),
  });
  const permission = permissionFor ? chrome.permissions.request({ origins: [permissionFor] }).catch(() => false) : null;
  $("capture").disabled = true;
  try {
    await chrome.storage.local.set({ lastCase: caseName, asSeenDefault: asSeen });
    const reply = await replied;
    if (!reply || reply.error) {
      showBanner((reply && reply.error) || "The extension did not answer; try again.");
      return;
    }
    $("cookies").checked = false;
    $("cookies-hint").hidden = true;
    await show(reply.key);
    if (permission) {
      const granted = await permission;
      await chrome.runtime.sendMessage({ type: "permission", key: reply.key, granted: Boolean(granted) });
    }
  } catch (error) {
    showBanner(String((error && error.message) || error));
  } finally {
    $("capture").disabled = !target || !capturable(target.url);
  }
}

async function show(key) {
  shownKey = key;
  const stored = await chrome.storage.local.get(recordKey(key));
  const record = stored[recordKey(key)];
  if (record) render(record);
}

function stateOf(record) {
  if (record.phase !== "finished") return "running";
  if (record.error) return "error";
  return record.status === "failed" ? "failed" : "done";
}

function describe(record) {
  switch (record.phase) {
    case "preparing":
      return "Starting…";
    case "permission":
      return "Waiting for your permission to read this site…";
    case "collecting":
      return "Taking what your browser shows…";
    case "sending":
      return "Sending to the capture server…";
    case "following":
      return record.status === "queued" ? "Waiting in the server's queue…" : "Capturing…";
    default:
      if (record.error) return "Not captured";
      return { complete: "Complete", partial: "Partial", failed: "Failed" }[record.status] || String(record.status);
  }
}

/**
 * While the capture shown is running, say hello to the worker now and then: the
 * browser may have stopped it (it stops idle workers), and a message starts it
 * again, and with it the following of the capture.
 */
function keepWorkerAwake(running) {
  if (running && !pinger) {
    const ping = () => chrome.runtime.sendMessage({ type: "hello" }).catch(() => {});
    ping();
    pinger = setInterval(ping, PING_MS);
  } else if (!running && pinger) {
    clearInterval(pinger);
    pinger = null;
  }
}

function render(record) {
  const state = stateOf(record);
  keepWorkerAwake(state === "running" || !analysisEnded(record.analysis));
  const progress = $("progress");
  progress.hidden = false;
  progress.dataset.state = state;
  progress.dataset.key = record.key;
  $("progress-title").textContent = record.kind === "link" ? "Link capture" : "Capture";
  $("progress-url").textContent = record.url;
  $("state").textContent = describe(record);
  const stage = record.stage ? STAGES[record.stage] || record.stage : "—";
  $("stage").textContent = state === "done" ? "Sealed" : state === "failed" ? `${stage} (where it stopped)` : stage;
  $("records").textContent = String(record.recorded || 0);
  $("mb").textContent = size(record.bytes || 0);

  const finished = state === "done" || state === "failed";
  $("result").hidden = !finished;
  $("result").dataset.id = record.id || "";
  if (finished) {
    $("status").textContent = record.status;
    $("reasons").replaceChildren(
      ...(record.reasons || []).map((reason) => {
        const item = document.createElement("li");
        item.textContent = typeof reason === "string" ? reason : JSON.stringify(reason);
        return item;
      }),
    );
    $("sha256").value = record.manifestSha256 || "";
    $("sha256").hidden = !record.manifestSha256;
    $("sha256").previousElementSibling.hidden = !record.manifestSha256;
  }
  if (record.link) {
    $("link").href = record.link;
    $("link").textContent = finished ? "Open the capture" : "The capture on the server";
    $("link").hidden = false;
    // Reachable while running too, under the progress.
    if (!finished) $("progress").append($("link"));
    else $("result").append($("link"));
  } else {
    $("link").hidden = true;
  }

  renderAnalysis(record.analysis);

  $("error").textContent = record.error || "";
  $("error").hidden = !record.error;

  const note = $("as-seen-note");
  if (record.joined) {
    note.textContent =
      "This address was already being captured: you are following that capture. What your browser showed was not added to it.";
    note.hidden = false;
  } else if (record.asSeen && record.asSeen.sent) {
    const cookies = record.asSeen.cookieCount;
    const parts = [];
    if (record.asSeen.requested) parts.push("what your browser showed (screenshot and page)");
    if (cookies !== null && cookies !== undefined) parts.push(`${cookies} cookie${cookies === 1 ? "" : "s"} for this capture only`);
    note.textContent = `Sent with it: ${parts.join(" and ")}.`;
    note.hidden = parts.length === 0;
  } else {
    note.hidden = true;
  }
}

/** The analysis run the capture asked for: always labelled a machine draft. */
function renderAnalysis(analysis) {
  const line = $("analysis");
  line.hidden = !analysis;
  line.dataset.state = analysis ? analysis.error ? "error" : analysis.state : "";
  line.textContent = describeAnalysis(analysis);
  const reasons = (analysis && analysis.reasons) || [];
  $("analysis-reasons").replaceChildren(
    ...reasons.map((reason) => {
      const item = document.createElement("li");
      item.textContent = String(reason);
      return item;
    }),
  );
  $("analysis-reasons").hidden = reasons.length === 0;
}

/** Bytes as the popup shows them: kB below a megabyte, MB above. */
function size(bytes) {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Alerts listed at most; the rest are counted, and on the dashboard. */
const ALERTS_SHOWN = 20;
/** The newest alert the list shows: "Mark seen" marks up to it, not beyond. */
let alertsLatest = null;

/**
 * Unseen alerts on watched targets: what is stored at once, then fresh ones
 * (the worker asks the server, which also updates the badge).
 */
async function initAlerts() {
  $("alerts-seen").addEventListener("click", onMarkSeen);
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === "local" && changes[STATE_KEY]) renderAlerts(changes[STATE_KEY].newValue);
  });
  renderAlerts(await loadAlerts());
  const reply = await chrome.runtime.sendMessage({ type: "alerts-refresh" });
  if (reply && reply.state) renderAlerts(reply.state);
}

async function onMarkSeen() {
  if (alertsLatest === null) return;
  $("alerts-seen").disabled = true;
  try {
    const reply = await chrome.runtime.sendMessage({ type: "alerts-seen", latest: alertsLatest });
    if (reply && reply.error) showAlertsError(reply.error);
  } finally {
    $("alerts-seen").disabled = false;
  }
}

function showAlertsError(text) {
  $("alerts-error").textContent = text || "";
  $("alerts-error").hidden = !text;
}

function renderAlerts(state) {
  const section = $("alerts");
  const alerts = (state && state.alerts) || [];
  const server = (state && state.server) || "";
  section.dataset.count = String(alerts.length);
  alertsLatest = alerts.length ? alerts[alerts.length - 1].id : null;
  // Newest first, as a list of news is read.
  const shown = alerts.slice(-ALERTS_SHOWN).reverse();
  $("alerts-list").replaceChildren(
    ...shown.map((alert) => {
      const item = document.createElement("li");
      item.dataset.kind = alert.kind;
      item.dataset.id = String(alert.id);
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = KIND_WORDS[alert.kind] || alert.kind;
      const link = document.createElement("a");
      link.className = "url";
      link.href = targetLink(server, alert.target_id);
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = alert.url || `target ${alert.target_id}`;
      const summary = document.createElement("div");
      summary.className = "summary";
      summary.textContent = alert.summary;
      item.append(kind, " ", link, summary);
      return item;
    }),
  );
  const more = alerts.length - shown.length;
  $("alerts-more").textContent = more > 0 ? `and ${more} more on the dashboard's targets page` : "";
  $("alerts-more").hidden = more <= 0;
  // A problem reaching the server is already the banner's when pairing is the problem.
  const error = state && state.error && state.error !== $("banner").textContent ? state.error : "";
  showAlertsError(error && alerts.length ? `Alerts may be out of date: ${error}` : "");
  section.hidden = alerts.length === 0;
}

init().catch((error) => showBanner(String((error && error.message) || error)));
initAlerts().catch((error) => {
  if ($("banner").hidden) showBanner(String((error && error.message) || error));
});
