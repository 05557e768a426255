// The background service worker (an event page in Firefox): context menus, the
// keyboard shortcut, and the captures themselves (lib/capture.js), which run
// here so that they go on when the popup closes.
//
// Listeners are registered synchronously at the top level, as MV3 requires for
// a worker woken up by the event.

import { ALARM, STATE_KEY, markSeen, refreshAlerts, scheduleAlerts } from "./lib/alerts.js";
import { capturable } from "./lib/asseen.js";
import { answerPermission, resumeCaptures, startCapture, updateBadge } from "./lib/capture.js";

const MENU_LINK = "capture-link";
const MENU_PAGE = "capture-page";
const WEB_PAGES = ["http://*/*", "https://*/*"];

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({
      id: MENU_LINK,
      title: "Capture link",
      contexts: ["link"],
      targetUrlPatterns: WEB_PAGES,
    });
    chrome.contextMenus.create({
      id: MENU_PAGE,
      title: "Capture this page",
      contexts: ["page"],
      documentUrlPatterns: WEB_PAGES,
    });
  });
});

chrome.runtime.onStartup.addListener(() => {
  updateBadge();
});

// Alerts on watched targets: asked for every minute, and whenever the worker
// starts (below); the badge follows what is stored, whoever stored it.
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARM) checkAlerts();
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== "local") return;
  if (changes[STATE_KEY]) updateBadge();
  // Paired again, or with another server: its alerts, not the old one's.
  if (changes.server || changes.token) checkAlerts();
});

async function checkAlerts() {
  try {
    return await refreshAlerts();
  } catch (error) {
    console.warn("alerts", error);
    return null;
  }
}

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === MENU_LINK && info.linkUrl) {
    quickCapture({ url: info.linkUrl, kind: "link", asSeen: false });
  } else if (info.menuItemId === MENU_PAGE && tab) {
    quickCapture({ url: info.pageUrl || tab.url, tabId: tab.id, title: tab.title, kind: "tab", asSeen: true });
  }
});

chrome.commands.onCommand.addListener(async (command, tab) => {
  if (command !== "capture-tab") return;
  if (!tab || tab.id === undefined) [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  if (!tab) return;
  quickCapture({ url: tab.url, tabId: tab.id, title: tab.title, kind: "tab", asSeen: true });
});

/**
 * A capture started without the popup (menu, shortcut): into the case last used
 * in the popup, with what the browser shows unless the user turned that off in
 * the popup last time; never with cookies, which are only sent when ticked.
 */
async function quickCapture(request) {
  const prefs = await chrome.storage.local.get({ lastCase: "", asSeenDefault: true });
  const asSeen = request.asSeen && prefs.asSeenDefault !== false && capturable(request.url);
  await startCapture({ ...request, asSeen, cookies: false, case: prefs.lastCase });
}

// The popup asks for captures here; it follows their progress in storage.
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || sender.id !== chrome.runtime.id) return false;
  if (message.type === "hello") {
    // Sent by the popup while it shows a running capture: it wakes a worker the
    // browser had stopped, whose start picks the capture up again (below).
    sendResponse({ ok: true });
    return false;
  }
  if (message.type === "alerts-refresh") {
    // The popup opened: fresh alerts for its list (and the badge).
    checkAlerts().then((state) => sendResponse({ state }));
    return true;
  }
  if (message.type === "alerts-seen") {
    markSeen(message.latest).then(
      (seen) => sendResponse({ seen }),
      (error) => sendResponse({ error: String((error && error.message) || error) }),
    );
    return true;
  }
  if (message.type === "permission") {
    answerPermission(message.key, message.granted);
    sendResponse({ ok: true });
    return false;
  }
  if (message.type !== "capture") return false;
  startCapture({
    url: message.url,
    tabId: message.tabId,
    title: message.title,
    kind: "tab",
    asSeen: Boolean(message.asSeen),
    cookies: Boolean(message.cookies),
    case: message.case,
    note: message.note,
    permissionFor: message.permissionFor || null,
    analysis: message.analysis || null,
  }).then(
    (key) => sendResponse({ key }),
    (error) => sendResponse({ error: String((error && error.message) || error) }),
  );
  return true;
});

resumeCaptures().catch((error) => console.error("resume", error));
scheduleAlerts().catch((error) => console.error("alerts alarm", error));
checkAlerts();
