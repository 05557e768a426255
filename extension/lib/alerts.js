// Alerts on watched targets: changes, takedowns and restorations the user has not
// seen yet, counted on the toolbar badge and listed in the popup.
//
// The worker asks the server for the alerts after the last one marked seen
// (GET /api/v1/alerts?after=N) every minute (chrome.alarms), when it starts, and
// when the popup opens. The answer is kept in chrome.storage.local under
// "alerts"; the id marked seen is kept per server under "alertsSeen", since ids
// from one server mean nothing to another.

import { call, explain } from "./api.js";
import { getSettings } from "./settings.js";

export const ALARM = "osint-capture-alerts";
/** How often the server is asked (Chrome allows an alarm every 30 s at most). */
export const POLL_MINUTES = 1;
export const STATE_KEY = "alerts";
const SEEN_KEY = "alertsSeen";

/** Badge colours: a takedown among the alerts stands out from mere changes. */
export const TAKEDOWN_COLOR = "#b02a1f";
export const ALERT_COLOR = "#6a3d9a";

/** Make sure the periodic check is scheduled (alarms survive worker restarts). */
export async function scheduleAlerts() {
  const existing = await chrome.alarms.get(ALARM);
  if (!existing || existing.periodInMinutes !== POLL_MINUTES) {
    await chrome.alarms.create(ALARM, { delayInMinutes: POLL_MINUTES, periodInMinutes: POLL_MINUTES });
  }
}

async function seenFor(server) {
  const stored = await chrome.storage.local.get({ [SEEN_KEY]: {} });
  const seen = stored[SEEN_KEY] || {};
  return Number(seen[server]) || 0;
}

/** The stored alerts, as the popup and the badge read them. */
export async function loadAlerts() {
  const stored = await chrome.storage.local.get({ [STATE_KEY]: null });
  return stored[STATE_KEY];
}

function unseen(alerts, seen) {
  return (alerts || []).filter((alert) => Number(alert.id) > seen);
}

function stateOf(server, alerts, extra = {}) {
  const latest = alerts.length ? alerts[alerts.length - 1].id : null;
  return {
    server,
    alerts,
    count: alerts.length,
    latest,
    takedowns: alerts.filter((alert) => alert.kind === "takedown").length,
    checkedAt: new Date().toISOString(),
    error: null,
    ...extra,
  };
}

/**
 * Ask the server for the alerts not yet seen and store them. A failure keeps
 * what was known from the same server and says why in `error`, in plain words.
 */
export async function refreshAlerts() {
  const settings = await getSettings();
  const previous = await loadAlerts();
  let state;
  if (!settings.token) {
    state = stateOf(settings.server, [], { error: "Pair the extension to see alerts on watched targets." });
  } else {
    try {
      const after = await seenFor(settings.server);
      const { data } = await call(settings, `/api/v1/alerts?after=${after}`);
      // Marked seen while the answer was on its way: those stay seen.
      const seen = await seenFor(settings.server);
      state = stateOf(settings.server, unseen(data && data.alerts, seen));
    } catch (error) {
      const known = previous && previous.server === settings.server ? previous.alerts : [];
      state = stateOf(settings.server, known, { error: explain(error) });
    }
  }
  await chrome.storage.local.set({ [STATE_KEY]: state });
  return state;
}

/** Everything up to alert `latest` has been seen: store it and empty the list. */
export async function markSeen(latest) {
  const settings = await getSettings();
  const stored = await chrome.storage.local.get({ [SEEN_KEY]: {} });
  const seen = { ...(stored[SEEN_KEY] || {}) };
  seen[settings.server] = Math.max(Number(seen[settings.server]) || 0, Number(latest) || 0);
  const previous = await loadAlerts();
  const left = previous && previous.server === settings.server ? unseen(previous.alerts, seen[settings.server]) : [];
  await chrome.storage.local.set({ [SEEN_KEY]: seen, [STATE_KEY]: stateOf(settings.server, left) });
  return seen[settings.server];
}

/** What the badge shows for alerts: `{text, color}`, or null when there is nothing new. */
export async function alertBadge() {
  const state = await loadAlerts();
  if (!state || !state.count) return null;
  return {
    text: state.count > 99 ? "99+" : String(state.count),
    color: state.takedowns ? TAKEDOWN_COLOR : ALERT_COLOR,
  };
}

/** The dashboard's page of a target, on the server the extension is paired with. */
export function targetLink(server, targetId) {
  return `${server}/targets/${encodeURIComponent(targetId)}`;
}

/** A kind of alert in words. */
export const KIND_WORDS = { changed: "Changed", takedown: "Taken down", restored: "Restored" };
