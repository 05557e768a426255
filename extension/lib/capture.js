// One capture from start to end, run in the background service worker so that it
// carries on when the popup closes: collect what the browser shows, ask the
// server to capture, follow its events, keep the result.
//
// Every capture is a record in chrome.storage.local under "capture:<key>"; the
// popup renders the record and follows chrome.storage.onChanged, so storage is
// the only channel between the two. "recent" lists the keys, newest first.

import { alertBadge } from "./alerts.js";
import { analysisEnded, analysisFrom, followAnalysis } from "./analysis.js";
import { ApiError, call, captureLink, explain } from "./api.js";
import { capturable, gatherAsSeen } from "./asseen.js";
import { readEvents } from "./sse.js";
import { getSettings } from "./settings.js";

const RECENT_KEY = "recent";
const RECENT_LIMIT = 20;
const TERMINAL = new Set(["complete", "partial", "failed"]);
/** Progress writes to storage are spaced by this much at least. */
const PROGRESS_INTERVAL_MS = 250;
/** Extension API calls reset Chrome's 30 s idle timer for service workers. */
const KEEPALIVE_MS = 20_000;
const POLL_MS = 2_000;
/** How long a capture waits for the user to answer the browser's permission prompt. */
const PERMISSION_WAIT_MS = 120_000;
/** Polling gives up when the server has not answered for this long. */
const UNREACHABLE_LIMIT_MS = 60_000;
/** A capture is never followed for longer than this (its budget is far less). */
const FOLLOW_LIMIT_MS = 30 * 60_000;

export const recordKey = (key) => `capture:${key}`;

/** Captures this worker is following now, by key (a restarted worker starts empty). */
const following = new Map();
let keepAlive = null;
let recentLock = Promise.resolve();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Start a capture and return its key once the record exists; the capture goes
 * on in the background. `request`:
 *   {url, tabId?, title?, kind: "tab"|"link", asSeen: bool, cookies: bool, case?, note?,
 *    permissionFor?: the origin pattern the popup asked the user for,
 *    analysis?: {ocr, transcribe, language?} machine readings to ask for; absent: the server's default}
 */
export async function startCapture(request) {
  const key = crypto.randomUUID();
  const record = {
    key,
    kind: request.kind || "tab",
    url: request.url,
    title: request.title || "",
    case: (request.case || "").trim(),
    note: (request.note || "").trim(),
    asSeen: { requested: Boolean(request.asSeen), cookies: Boolean(request.cookies), sent: false },
    phase: "preparing",
    id: null,
    link: null,
    server: null,
    status: null,
    stage: null,
    recorded: 0,
    bytes: 0,
    reasons: [],
    manifestSha256: null,
    // The analysis run the capture asked for, once the server names it (lib/analysis.js).
    analysis: null,
    error: null,
    startedAt: new Date().toISOString(),
    finishedAt: null,
  };
  const job = { record, lastWrite: 0, pending: null };
  following.set(key, job);
  await write(job);
  await remember(key);
  updateKeepAlive();
  updateBadge();
  run(job, request).catch((error) => console.error("capture", key, error));
  return key;
}

async function run(job, request) {
  const record = job.record;
  try {
    const settings = await getSettings();
    record.server = settings.server;
    if (!settings.token) throw new ApiError("unpaired", { server: settings.server });
    if (!capturable(record.url)) throw new UserError("This page can't be captured (only http and https pages).");

    const body = { url: record.url };
    let collected = false;
    let cookieCount = null;
    // What the browser shows is taken first, as close to the click as can be.
    if (request.tabId !== undefined && (request.asSeen || request.cookies)) {
      if (request.permissionFor) {
        await update(job, { phase: "permission" });
        const granted = await waitForPermission(job, request.permissionFor);
        if (!granted && request.cookies) {
          throw new UserError(
            `Your cookies for ${new URL(record.url).origin} can only be sent if you allow the extension to read that site. Nothing was sent.`,
          );
        }
      }
      await update(job, { phase: "collecting" });
      try {
        body.as_seen = await gatherAsSeen(request.tabId, { view: Boolean(request.asSeen), cookies: Boolean(request.cookies) });
      } catch (error) {
        throw new UserError(asSeenProblem(error, request));
      }
      collected = true;
      cookieCount = body.as_seen.cookies ? body.as_seen.cookies.length : null;
      if (!record.title && body.as_seen.title) record.title = body.as_seen.title;
    }
    if (record.case) {
      await ensureCase(settings, record.case);
      body.case = record.case;
    }
    if (record.note) body.note = record.note;
    if (settings.operator) body.operator = settings.operator;
    if (request.analysis) body.analysis = request.analysis;

    await update(job, { phase: "sending" });
    let answer;
    try {
      answer = await call(settings, "/api/v1/captures", { method: "POST", body });
    } finally {
      // The cookies (and the page) were for this request only.
      delete body.as_seen;
    }
    const { data } = answer;
    record.asSeen.sent = collected;
    record.asSeen.cookieCount = cookieCount;
    await update(job, {
      phase: "following",
      id: data.id,
      status: data.status || "queued",
      link: captureLink(settings.server, data.id),
      // The server was already capturing this address: this request joined that
      // capture, and what was sent with it was not added.
      joined: data.created === false,
    });
    await follow(job, settings);
    await readings(job, settings);
  } catch (error) {
    let message = error instanceof UserError ? error.message : explain(error, record.id ? "" : "capture");
    if (record.id) message = `The server accepted this capture (${record.id}), but following it failed: ${message}`;
    await update(job, {
      phase: "finished",
      error: message,
      finishedAt: new Date().toISOString(),
    });
  } finally {
    following.delete(record.key);
    updateKeepAlive();
    updateBadge();
  }
}

class UserError extends Error {}

/** Follow the analysis run the capture's "done" named, if any, to its end. */
async function readings(job, settings) {
  if (analysisEnded(job.record.analysis)) return;
  await followAnalysis(job.record, settings, (patch) => update(job, patch));
}

/**
 * Wait until the origin `pattern` is granted. The popup asks for it (only a
 * click may), but the browser's prompt can close the popup, so the answer is
 * watched here; the popup also reports a refusal when it is still open.
 */
async function waitForPermission(job, pattern) {
  const until = Date.now() + PERMISSION_WAIT_MS;
  for (;;) {
    if (await chrome.permissions.contains({ origins: [pattern] })) return true;
    if (job.permissionAnswer === false || Date.now() > until) return false;
    await sleep(300);
  }
}

/** The popup's word on the permission it asked for capture `key`. */
export function answerPermission(key, granted) {
  const job = following.get(key);
  if (job) job.permissionAnswer = Boolean(granted);
}

function asSeenProblem(error, request) {
  let why = String((error && error.message) || error).replace(/\.?$/, ".");
  if (/activeTab|all_urls|Cannot access|permission/i.test(why)) {
    why = `the browser did not let the extension see this tab (${why.replace(/\.$/, "")}).`;
  }
  const what = request.cookies && !request.asSeen ? "Your cookies for this site" : "What your browser shows";
  return (
    `${what} could not be collected: ${why} Nothing was sent. ` +
    (request.cookies
      ? "Allow the extension to read this site when asked, or untick the cookies box."
      : 'Open the popup from the toolbar on that tab, or untick "Send what my browser shows".')
  );
}

async function ensureCase(settings, name) {
  const { data } = await call(settings, "/api/v1/cases");
  const known = ((data && data.cases) || []).some((item) => item.name === name);
  if (known) return;
  try {
    await call(settings, "/api/v1/cases", { method: "POST", body: { name } });
  } catch (error) {
    if (error instanceof ApiError && error.kind === "http" && ![401, 403, 421].includes(error.status)) {
      throw new UserError(`The case "${name}" could not be created: ${explain(error)}`);
    }
    throw error;
  }
}

/**
 * Follow the capture's events until it is done or failed; if the stream breaks
 * or ends early, ask the server for the capture's state until it is final. The
 * result always comes from GET /captures/{id} when the server answers it.
 */
async function follow(job, settings) {
  const record = job.record;
  const path = `/api/v1/captures/${encodeURIComponent(record.id)}`;
  const deadline = Date.now() + FOLLOW_LIMIT_MS;
  let final = null;
  try {
    const response = await call(settings, `${path}/events`, { stream: true });
    for await (const message of readEvents(response.body)) {
      final = await onEvent(job, message);
      if (final) break;
    }
  } catch (error) {
    console.warn("events of", record.id, "broke off:", error);
  }
  let unreachableSince = null;
  let disagreements = 0;
  while (Date.now() < deadline) {
    try {
      const { data } = await call(settings, path);
      unreachableSince = null;
      if (TERMINAL.has(data.status)) {
        return finish(job, {
          status: data.status,
          reasons: data.reasons || (final && final.reasons) || [],
          manifestSha256: data.manifest_sha256 || (final && final.manifestSha256) || null,
        });
      }
      // The stream said it ended but the server's record lags: give it a moment,
      // then keep the stream's word.
      if (final && ++disagreements > 3) return finish(job, final);
      if (!final) await update(job, { status: data.status, stage: data.stage || record.stage });
    } catch (error) {
      if (final) return finish(job, final);
      const transient = error instanceof ApiError && (error.kind === "network" || error.status === 500);
      if (!transient) throw error;
      unreachableSince = unreachableSince || Date.now();
      if (Date.now() - unreachableSince > UNREACHABLE_LIMIT_MS) throw error;
    }
    await sleep(POLL_MS);
  }
  throw new UserError("The capture did not finish in time; look it up on the server.");
}

async function onEvent(job, { event, data }) {
  let payload = {};
  try {
    payload = JSON.parse(data);
  } catch {
    return null;
  }
  payload = payload && typeof payload === "object" ? payload : {};
  switch (event) {
    case "state":
      await update(job, {
        status: payload.stage === "queued" ? "queued" : "running",
        stage: payload.stage || job.record.stage,
      });
      return null;
    case "resource":
      await update(
        job,
        {
          status: "running",
          recorded: numberOr(payload.recorded, job.record.recorded),
          bytes: numberOr(payload.bytes, job.record.bytes),
        },
        { progress: true },
      );
      return null;
    case "behaviour":
      await update(job, { status: "running", behaviour: payload.name || null }, { progress: true });
      return null;
    case "done":
      if (analysisFrom(payload)) await update(job, { analysis: analysisFrom(payload) });
      return {
        status: payload.status || "complete",
        manifestSha256: payload.manifest_sha256 || null,
        reasons: payload.reasons || [],
      };
    case "failed":
      return { status: "failed", manifestSha256: null, reasons: payload.reasons || [] };
    default:
      return null;
  }
}

function numberOr(value, fallback) {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

async function finish(job, result) {
  await update(job, {
    phase: "finished",
    status: result.status,
    reasons: result.reasons || [],
    manifestSha256: result.manifestSha256 || null,
    finishedAt: new Date().toISOString(),
  });
}

/** Change the record and store it; progress-only changes are written at most every 250 ms. */
async function update(job, patch, { progress = false } = {}) {
  Object.assign(job.record, patch);
  if (!progress) return write(job);
  const due = job.lastWrite + PROGRESS_INTERVAL_MS - Date.now();
  if (due <= 0) return write(job);
  if (!job.pending) {
    job.pending = setTimeout(() => {
      job.pending = null;
      write(job).catch(() => {});
    }, due);
  }
  return undefined;
}

async function write(job) {
  if (job.pending) {
    clearTimeout(job.pending);
    job.pending = null;
  }
  job.lastWrite = Date.now();
  job.record.updatedAt = new Date().toISOString();
  await chrome.storage.local.set({ [recordKey(job.record.key)]: job.record });
}

/** Put `key` first in the list of recent captures, dropping the oldest beyond the limit. */
function remember(key) {
  recentLock = recentLock.then(async () => {
    const { [RECENT_KEY]: recent = [] } = await chrome.storage.local.get(RECENT_KEY);
    const next = [key, ...recent.filter((item) => item !== key)];
    const dropped = next.splice(RECENT_LIMIT);
    await chrome.storage.local.set({ [RECENT_KEY]: next, lastKey: key });
    if (dropped.length) await chrome.storage.local.remove(dropped.map(recordKey));
  });
  return recentLock;
}

/** The records of recent captures, newest first. */
export async function recentRecords() {
  const { [RECENT_KEY]: recent = [] } = await chrome.storage.local.get(RECENT_KEY);
  if (!recent.length) return [];
  const stored = await chrome.storage.local.get(recent.map(recordKey));
  return recent.map((key) => stored[recordKey(key)]).filter(Boolean);
}

/**
 * Pick up captures that a previous run of the service worker was following
 * when it was stopped. A capture that had not reached the server is marked as
 * interrupted: whether the server got it is unknown.
 */
export async function resumeCaptures() {
  for (const record of await recentRecords()) {
    if (following.has(record.key)) continue;
    if (record.phase === "finished") {
      if (!analysisEnded(record.analysis)) resumeReadings(record);
      continue;
    }
    const job = { record, lastWrite: 0, pending: null };
    following.set(record.key, job);
    if (!record.id) {
      following.delete(record.key);
      await update(job, {
        phase: "finished",
        error: "The browser stopped the extension before the server confirmed this capture. Check the server's list of captures before trying again.",
        finishedAt: new Date().toISOString(),
      });
      continue;
    }
    updateKeepAlive();
    (async () => {
      try {
        await follow(job, await getSettings());
        await readings(job, await getSettings());
      } catch (error) {
        await update(job, { phase: "finished", error: explain(error), finishedAt: new Date().toISOString() });
      } finally {
        following.delete(record.key);
        updateKeepAlive();
        updateBadge();
      }
    })();
  }
  updateBadge();
}

/** An analysis run a stopped worker was following, followed again. */
function resumeReadings(record) {
  const job = { record, lastWrite: 0, pending: null };
  following.set(record.key, job);
  updateKeepAlive();
  getSettings()
    .then((settings) => readings(job, settings))
    .catch((error) => console.warn("analysis of", record.id, error))
    .finally(() => {
      following.delete(record.key);
      updateKeepAlive();
      updateBadge();
    });
}

function updateKeepAlive() {
  if (following.size && !keepAlive) {
    keepAlive = setInterval(() => chrome.runtime.getPlatformInfo().catch(() => {}), KEEPALIVE_MS);
  } else if (!following.size && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

/**
 * The toolbar badge: "…" while a capture runs; else the number of unseen alerts
 * on watched targets (lib/alerts.js), if any; else "✓" or "!" for the last capture.
 */
export async function updateBadge() {
  try {
    let text = "";
    let color = "#17375e";
    const alerts = following.size ? null : await alertBadge();
    if (following.size) {
      text = "…";
    } else if (alerts) {
      ({ text, color } = alerts);
    } else {
      const [last] = await recentRecords();
      if (last && last.phase === "finished") {
        if (!last.error && last.status === "complete") {
          text = "✓";
          color = "#1e7e34";
        } else {
          text = "!";
          color = last.status === "partial" ? "#b36b00" : "#b02a1f";
        }
      }
    }
    await chrome.action.setBadgeBackgroundColor({ color });
    await chrome.action.setBadgeText({ text });
  } catch (error) {
    console.warn("badge", error);
  }
}
