// Following the analysis run a capture asked for: machine readings (OCR, draft
// transcripts) made on the server after the capture was sealed, sealed apart from it.
//
// The capture's "done" event names the run ({number, href}); its events say which
// step it is at and each source it reads, and it ends "done" or "failed". The
// result always comes from GET .../analyses/{n} when the server answers. What the
// popup shows is kept in the capture's record as `analysis`, like everything else.

import { ApiError, call } from "./api.js";
import { readEvents } from "./sse.js";

const POLL_MS = 2_000;
/** Reading a long video can take a while; the popup stops following after this. */
const FOLLOW_LIMIT_MS = 30 * 60_000;
const ENDED = new Set(["done", "failed"]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `analysis` object of a capture request: only what the user asked for; null for the server's default. */
export function analysisRequest({ ocr = false, transcribe = false, language = "" } = {}) {
  if (!ocr && !transcribe) return null;
  const request = { ocr: Boolean(ocr), transcribe: Boolean(transcribe) };
  const spoken = String(language || "").trim().toLowerCase();
  if (transcribe && spoken) request.language = spoken;
  return request;
}

/** The record's `analysis` when the capture's "done" event names a run. */
export function analysisFrom(payload) {
  const run = payload && payload.analysis;
  if (!run || !Number.isInteger(run.number)) return null;
  return { number: run.number, state: "queued", stage: null, step: null, read: 0, readings: null, reasons: [], error: null };
}

export function analysisEnded(analysis) {
  return !analysis || ENDED.has(analysis.state) || Boolean(analysis.error);
}

/**
 * Follow the run until it ends, writing what it does through `update(patch)`,
 * where `patch.analysis` replaces the record's. Never throws: a problem is the
 * analysis's `error`, and the capture's own result stands.
 */
export async function followAnalysis(record, settings, update) {
  let analysis = { ...record.analysis };
  const save = (patch) => {
    analysis = { ...analysis, ...patch };
    return update({ analysis });
  };
  const path = `/api/v1/captures/${encodeURIComponent(record.id)}/analyses/${analysis.number}`;
  try {
    const response = await call(settings, `${path}/events`, { stream: true });
    for await (const { event, data } of readEvents(response.body)) {
      let payload = {};
      try {
        payload = JSON.parse(data) || {};
      } catch {
        continue;
      }
      if (event === "state") await save({ state: payload.stage === "queued" ? "queued" : "running", stage: payload.stage || null });
      else if (event === "reading") await save({ state: "running", step: payload.step || null, read: analysis.read + 1 });
      else if (ENDED.has(event)) break;
    }
  } catch (error) {
    console.warn("analysis events of", record.id, "broke off:", error);
  }
  const deadline = Date.now() + FOLLOW_LIMIT_MS;
  while (Date.now() < deadline) {
    try {
      const { data } = await call(settings, path);
      if (ENDED.has(data.status)) {
        // A finished run's "readings" is the list of them (a count while it runs).
        const readings = Array.isArray(data.readings) ? data.readings.length : Number(data.readings) || 0;
        return save({ state: data.status, readings, reasons: data.reasons || [], stage: null });
      }
    } catch (error) {
      const transient = error instanceof ApiError && (error.kind === "network" || error.status === 500);
      if (!transient) return save({ error: String(error.message || error) });
    }
    await sleep(POLL_MS);
  }
  return save({ error: "The reading did not finish in time; look it up on the dashboard." });
}

/** The popup's line for a run, in words, always saying what it is. */
export function describeAnalysis(analysis) {
  if (!analysis) return "";
  if (analysis.error) return `Reading (machine draft): ${analysis.error}`;
  if (analysis.state === "done") {
    const n = analysis.readings || 0;
    return `Read: ${n} reading${n === 1 ? "" : "s"} (machine draft, not evidence)`;
  }
  if (analysis.state === "failed") return "Reading failed (machine draft, nothing sealed)";
  if (analysis.state === "queued") return "Reading (machine draft): waiting in the queue…";
  const step = analysis.stage || analysis.step || "starting";
  const read = analysis.read ? ` (${analysis.read} source${analysis.read === 1 ? "" : "s"} read)` : "";
  return `Reading (machine draft): ${step}…${read}`;
}
