// The osint-capture server's HTTP API, and its errors in plain words.

/** Why a call did not succeed. `kind` is "unpaired", "network" or "http". */
export class ApiError extends Error {
  constructor(kind, { server = "", status = 0, error = "", detail = "" } = {}) {
    super(detail || error || kind);
    this.name = "ApiError";
    this.kind = kind;
    this.server = server;
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

/**
 * Call the server: `path` is below the server address ("/api/v1/health").
 * Returns `{data, response}` (the JSON body, the Response), or the bare
 * Response with `stream: true`. Throws ApiError.
 */
export async function call(settings, path, { method = "GET", body, signal, stream = false } = {}) {
  const server = settings.server;
  if (!settings.token) throw new ApiError("unpaired", { server });
  const headers = { Authorization: `Bearer ${settings.token}`, Accept: stream ? "text/event-stream" : "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(server + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      // Never send the browser's own cookies for the server's address: the
      // token is the only credential, and a loopback site's cookies are not ours.
      credentials: "omit",
      redirect: "error",
    });
  } catch (error) {
    if (signal && signal.aborted) throw error;
    throw new ApiError("network", { server, detail: String(error && error.message) });
  }
  if (!response.ok) {
    let payload = {};
    try {
      payload = await response.json();
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError("http", {
      server,
      status: response.status,
      error: String((payload && payload.error) || ""),
      detail: String((payload && payload.detail) || ""),
    });
  }
  if (stream) return response;
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      throw new ApiError("http", { server, status: response.status, detail: "The server's answer was not JSON." });
    }
  }
  return { data, response };
}

/** The address where the user can look at a capture. */
export function captureLink(server, id) {
  return `${server}/api/v1/captures/${encodeURIComponent(id)}`;
}

/**
 * One sentence for the user about `error`. `context` is "capture" when the
 * call was the capture request itself (422 then means the page's address).
 */
export function explain(error, context = "") {
  if (!(error instanceof ApiError)) {
    return String((error && error.message) || error || "Something went wrong.");
  }
  const detail = error.detail || error.error;
  switch (error.kind) {
    case "unpaired":
      return "Pair the extension: open Options and paste the token from `osint-capture token`.";
    case "network":
      return `The capture server is not running at ${error.server}. Start it with \`make run\`.`;
    default:
      break;
  }
  switch (error.status) {
    case 401:
      return "The server did not accept the token (401). Copy it again from `osint-capture token` and paste it in Options.";
    case 403:
      // A token belongs to the first extension that presented it, and the server never
      // takes requests from web pages; a role may lack a permission.
      return detail
        ? `The server refused this extension (403 Forbidden): ${detail}.`
        : "The server refused this extension (403 Forbidden). Its token may belong to another browser or extension: " +
            "make one for this browser (`osint-capture token create --user NAME --name DEVICE`) and paste it in Options.";
    case 413:
      return (
        "What was sent is too large for the server (413)" +
        (detail ? `: ${detail}` : "") +
        '. Try again without "Send what my browser shows".'
      );
    case 421:
      return (
        "The server does not answer to the address it was reached at (421 Misdirected Request)" +
        (detail ? `: ${detail}` : "") +
        ". Set the server address in Options to http://127.0.0.1:PORT or http://localhost:PORT."
      );
    case 422:
      if (context === "capture") return "This page can't be captured (only http and https pages).";
      break;
    default:
      break;
  }
  return detail ? `${detail} (${error.status})` : `The server answered ${error.status}.`;
}
