// Who the extension is paired as: the server's answer to GET /api/v1/me for the
// stored token ({user, role, device, cases}), in words for the options page and the
// popup. A token belongs to one person's device; the server knows whose it is.

import { ApiError, call } from "./api.js";

/** What a refused token (401) shows: per-person tokens are revoked, not retyped. */
export const REFUSED_TOKEN = "This token was revoked or is unknown: ask for a new one.";

/**
 * Ask the server who the stored token is. Returns `{outcome, text, me}`:
 * outcome "ok" (text "Paired as NAME (DEVICE)"), "refused" (a 401: the token is
 * revoked or unknown), or "unknown" (no token, the server not reached, or a server
 * that does not say: the connection test says why).
 */
export async function whoAmI(settings) {
  if (!settings.token) return { outcome: "unknown", text: "", me: null };
  try {
    const { data } = await call(settings, "/api/v1/me");
    if (!data || typeof data.user !== "string" || !data.user) {
      return { outcome: "unknown", text: "", me: null };
    }
    return { outcome: "ok", text: pairedAs(data), me: data };
  } catch (error) {
    if (error instanceof ApiError && error.kind === "http" && error.status === 401) {
      return { outcome: "refused", text: REFUSED_TOKEN, me: null };
    }
    return { outcome: "unknown", text: "", me: null };
  }
}

/** "Paired as amira (laptop)". */
export function pairedAs(me) {
  return me.device ? `Paired as ${me.user} (${me.device})` : `Paired as ${me.user}`;
}

/**
 * Show `who` (whoAmI's answer) in `element`: green when paired, red when refused,
 * hidden when the server did not say. `data-outcome` tells tests it is settled.
 */
export function showWho(element, who) {
  element.textContent = who.text;
  element.className = who.outcome === "ok" ? "good" : who.outcome === "refused" ? "problem" : "";
  element.dataset.outcome = who.outcome;
  element.dataset.user = who.me ? who.me.user : "";
  element.hidden = !who.text;
}
