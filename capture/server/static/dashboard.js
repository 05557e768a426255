// The dashboard's only script: forms that cannot be undone ask first, and pages that
// show work in progress (a running capture, an active target) reload themselves now
// and then, unless the reader is typing or has something open.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  const seconds = Number(document.body.dataset.refresh || 0);
  if (!seconds) return;
  setInterval(function () {
    const active = document.activeElement;
    const typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA");
    const reading = document.querySelector("details[open]");
    if (!typing && !reading && document.visibilityState === "visible") {
      window.location.reload();
    }
  }, seconds * 1000);
})();
