// Settings kept in chrome.storage.local: where the server is, the token that
// pairs this browser with it, and the operator name written into each capture.

export const DEFAULT_SERVER = "http://127.0.0.1:8787";

/**
 * The server address as the extension uses it: an http(s) URL without a
 * trailing slash, or null when `text` is not one.
 */
export function normalizeServer(text) {
  let url;
  try {
    url = new URL(String(text || "").trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return url.origin + url.pathname.replace(/\/+$/, "");
}

export async function getSettings() {
  const stored = await chrome.storage.local.get({ server: DEFAULT_SERVER, token: "", operator: "" });
  return {
    server: normalizeServer(stored.server) || DEFAULT_SERVER,
    token: String(stored.token || "").trim(),
    operator: String(stored.operator || "").trim(),
  };
}

export async function saveSettings({ server, token, operator }) {
  const values = {};
  if (server !== undefined) values.server = normalizeServer(server) || DEFAULT_SERVER;
  if (token !== undefined) values.token = String(token).trim();
  if (operator !== undefined) values.operator = String(operator).trim();
  await chrome.storage.local.set(values);
}

/** The match pattern that covers the server (any port: Firefox patterns take none). */
export function serverOriginPattern(server) {
  const { protocol, hostname } = new URL(server);
  return `${protocol}//${hostname}/*`;
}
