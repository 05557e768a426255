// "As seen": what the investigator's own browser shows for a tab, collected
// to go with a capture request. The server captures the page again on its own;
// this is a separate, labelled account of what the user saw (possibly logged in).

const SETTLE_MS = 400;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the extension may capture `url` at all (http and https only). */
export function capturable(url) {
  try {
    const { protocol } = new URL(url);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * The match pattern for the site of `url` ("https://example.org/*"). Without the
 * port: Firefox's match patterns take none, and Chrome's then match every port.
 */
export function originPattern(url) {
  const { protocol, hostname } = new URL(url);
  return `${protocol}//${hostname}/*`;
}

/**
 * Collect the as-seen object for `tabId`.
 *
 * `view` (screenshot and DOM) and `cookies` are chosen separately. Cookies are
 * read for this request only: they go into the returned object and nowhere else.
 */
export async function gatherAsSeen(tabId, { view = true, cookies = false } = {}) {
  let tab = await chrome.tabs.get(tabId);
  if (!capturable(tab.url)) throw new Error("This page can't be captured (only http and https pages).");
  const asSeen = { url: tab.url, user_agent: navigator.userAgent };
  if (view) {
    const shot = await screenshot(tab);
    asSeen.screenshot = shot.dataUrl;
    asSeen.captured_at = shot.at;
    const [injection] = await chrome.scripting.executeScript({
      target: { tabId },
      func: () => ({
        dom: "<!doctype html>\n" + document.documentElement.outerHTML,
        title: document.title,
        url: location.href,
        user_agent: navigator.userAgent,
        viewport: { width: window.innerWidth, height: window.innerHeight },
      }),
    });
    const page = injection && injection.result;
    if (!page || typeof page.dom !== "string") throw new Error("The page's content could not be read.");
    asSeen.dom = page.dom;
    asSeen.title = page.title;
    asSeen.user_agent = page.user_agent;
    asSeen.viewport = page.viewport;
    tab = await chrome.tabs.get(tabId);
    asSeen.url = tab.url;
  } else {
    asSeen.title = tab.title || "";
    asSeen.captured_at = new Date().toISOString();
  }
  if (cookies) {
    const found = await chrome.cookies.getAll({ url: asSeen.url });
    asSeen.cookies = found.map((cookie) => {
      const out = {
        name: cookie.name,
        value: cookie.value,
        domain: cookie.domain,
        path: cookie.path,
        secure: cookie.secure,
        httpOnly: cookie.httpOnly,
        sameSite: cookie.sameSite,
      };
      if (cookie.expirationDate !== undefined) out.expirationDate = cookie.expirationDate;
      return out;
    });
  }
  return asSeen;
}

/**
 * A PNG of the visible part of `tab`. captureVisibleTab takes whatever tab is
 * active in the window, so the target tab is brought to the front first and the
 * tab that was in front (the popup, when it runs in a tab) is put back after.
 */
async function screenshot(tab) {
  const [front] = await chrome.tabs.query({ active: true, windowId: tab.windowId });
  const switched = !front || front.id !== tab.id;
  if (switched) {
    await chrome.tabs.update(tab.id, { active: true });
    await sleep(SETTLE_MS);
  }
  try {
    const at = new Date().toISOString();
    const dataUrl = await chrome.tabs.captureVisibleTab(tab.windowId, { format: "png" });
    return { dataUrl, at };
  } finally {
    if (switched && front) {
      try {
        await chrome.tabs.update(front.id, { active: true });
      } catch {
        // that tab is gone; nothing to put back
      }
    }
  }
}
