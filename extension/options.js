// Options: the server address, the token that pairs this browser with the
// server, and the operator's name. Saving asks the server whose token it is and
// shows "Paired as NAME (DEVICE)"; "Test connection" asks the server for its
// health with that token and says plainly what happened.

import { call, explain } from "./lib/api.js";
import { showWho, whoAmI } from "./lib/pairing.js";
import { DEFAULT_SERVER, getSettings, normalizeServer, saveSettings, serverOriginPattern } from "./lib/settings.js";

const $ = (id) => document.getElementById(id);

function say(id, text, kind) {
  const element = $(id);
  element.textContent = text;
  element.className = kind === "ok" ? "good" : kind === "error" ? "problem" : "";
  element.dataset.outcome = kind || "";
  element.hidden = !text;
}

async function load() {
  const settings = await getSettings();
  $("server").value = settings.server;
  $("token").value = settings.token;
  $("operator").value = settings.operator;
  $("show-token").addEventListener("change", () => {
    $("token").type = $("show-token").checked ? "text" : "password";
  });
  $("form").addEventListener("submit", (event) => {
    event.preventDefault();
    save().catch((error) => say("saved", String(error.message || error), "error"));
  });
  $("test").addEventListener("click", () => {
    test().catch((error) => say("result", String(error.message || error), "error"));
  });
  showPaired().catch((error) => console.warn("who am I", error));
}

/** Questions asked so far: only the last one's answer is shown (a save may overtake the first). */
let whoAsked = 0;

/** Ask the server whose the stored token is, and say it: "Paired as NAME (DEVICE)". */
async function showPaired() {
  const mine = ++whoAsked;
  const who = await whoAmI(await getSettings());
  if (mine === whoAsked) showWho($("paired"), who);
}

/**
 * Store the fields. The server's address must be reachable by the extension:
 * loopback is granted at install in Chrome, but another address (or Firefox,
 * where host permissions are the user's choice) needs the user's yes, asked
 * for here, inside the click.
 */
async function save() {
  say("saved", "");
  const server = normalizeServer($("server").value || DEFAULT_SERVER);
  if (!server) {
    say("saved", "The server address must be an http:// or https:// address, like http://127.0.0.1:8787.", "error");
    return null;
  }
  const asked = chrome.permissions.request({ origins: [serverOriginPattern(server)] }).catch(() => false);
  await saveSettings({ server, token: $("token").value, operator: $("operator").value });
  $("server").value = server;
  await showPaired();
  if (!(await asked)) {
    say("saved", `Saved, but the extension may not reach ${server}: allow it when the browser asks.`, "error");
  } else {
    say("saved", "Saved.", "ok");
  }
  return server;
}

async function test() {
  say("result", "Testing…", "");
  const server = await save();
  if (!server) {
    say("result", "");
    return;
  }
  const settings = await getSettings();
  try {
    const { data } = await call(settings, "/api/v1/health");
    await checkPairing(settings);
    const version = data && data.version ? ` (version ${data.version})` : "";
    const queued = Number((data && data.queued) || 0);
    const running = Number((data && data.running) || 0);
    say(
      "result",
      `Connected: the capture server at ${settings.server}${version} accepted the token. ` +
        `${running} capture${running === 1 ? "" : "s"} running, ${queued} queued.`,
      "ok",
    );
  } catch (error) {
    say("result", explain(error), "error");
  }
}

/**
 * The server takes captures from one paired extension only, and knows an
 * extension by the Origin header, which the browser sends with a POST but not
 * with a GET such as /health. An OPTIONS request carries it too and changes
 * nothing on the server, so it tells whether captures would be refused (403).
 */
async function checkPairing(settings) {
  try {
    await call(settings, "/api/v1/captures", { method: "OPTIONS" });
  } catch (error) {
    if (error.kind === "http" && error.status === 403) throw error;
    // anything else (405 from a server without the check) is no refusal
  }
}

load().catch((error) => say("result", String(error.message || error), "error"));
