// The dashboard's only script: forms that cannot be undone ask first; machine readings
// point at where they were read (a line's box on the screenshot, a time in the video);
// and pages that show work in progress (a running capture, an analysis run, an active
// target) reload themselves now and then, unless the reader is typing, has something
// open or is watching a video. No inline script: everything is bound here.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // An OCR line and its box light up together, whichever the pointer (or focus) is on.
  function light(key, on) {
    document.querySelectorAll("[data-line]").forEach(function (el) {
      if (el.dataset.line === key) el.classList.toggle("lit", on);
    });
  }
  document.querySelectorAll("[data-line]").forEach(function (el) {
    const key = el.dataset.line;
    ["mouseenter", "focus"].forEach(function (type) {
      el.addEventListener(type, function () { light(key, true); });
    });
    ["mouseleave", "blur"].forEach(function (type) {
      el.addEventListener(type, function () { light(key, false); });
    });
  });

  // A transcript segment's or a frame's time plays the video from there.
  function seek(player, seconds) {
    if (!player || !Number.isFinite(seconds)) return;
    player.currentTime = seconds;
    player.scrollIntoView({ block: "nearest" });
  }
  document.querySelectorAll("button.seek").forEach(function (button) {
    button.addEventListener("click", function () {
      seek(document.getElementById(button.dataset.player), Number(button.dataset.seek));
    });
  });

  // A search hit's link: open its run, then seek its media or light its line.
  const target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (target) {
    if (target.tagName === "DETAILS") target.open = true;
    const query = new URLSearchParams(window.location.search);
    if (query.has("t")) {
      target.querySelectorAll("video[data-media]").forEach(function (video) {
        if (video.dataset.media === query.get("media")) seek(video, Number(query.get("t")));
      });
    } else if (query.has("box")) {
      target.querySelectorAll("li[data-rect]").forEach(function (li) {
        if (li.dataset.rect === query.get("box")) {
          light(li.dataset.line, true);
          li.scrollIntoView({ block: "center" });
        }
      });
    }
  }

  const seconds = Number(document.body.dataset.refresh || 0);
  if (!seconds) return;
  setInterval(function () {
    const active = document.activeElement;
    const typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA");
    const reading = document.querySelector("details[open]:not(.run)");
    const watching = Array.prototype.some.call(document.querySelectorAll("video"), function (v) {
      return !v.paused;
    });
    if (!typing && !reading && !watching && document.visibilityState === "visible") {
      window.location.reload();
    }
  }, seconds * 1000);
})();
