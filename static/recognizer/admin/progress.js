// Live training-run progress in the admin: while a run on the page is queued or running, poll the staff-only
// progress endpoint every two seconds and update its status badge, bar, percentage and stage. On a run's own page,
// reload once it finishes so its results and figures appear. No library, no CDN.
(function () {
  "use strict";
  var FINAL = ["succeeded", "skipped", "rejected", "failed"];
  var TONES = { queued: "info", running: "info", succeeded: "ok", skipped: "off", rejected: "warn", failed: "bad" };
  var INTERVAL_MS = 2000;

  function liveRuns() {
    return Array.prototype.filter.call(document.querySelectorAll(".digits-run[data-run]"), function (el) {
      return FINAL.indexOf(el.dataset.status) === -1;
    });
  }

  function update(el, run) {
    el.dataset.status = run.status;
    var badge = el.querySelector(".digits-badge");
    badge.textContent = run.status_display;
    badge.className = "digits-badge digits-badge--" + (TONES[run.status] || "off");
    el.querySelector("progress").value = run.progress;
    el.querySelector(".digits-run__pct").textContent = Math.round(run.progress) + "%";
    el.querySelector(".digits-run__stage").textContent = run.stage;
  }

  function poll() {
    var runs = liveRuns();
    if (!runs.length) return;
    var ids = runs.map(function (el) { return el.dataset.run; });
    fetch(runs[0].dataset.url + "?ids=" + ids.join(","), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        var finished = false;
        runs.forEach(function (el) {
          var run = data.runs[el.dataset.run];
          if (!run) return;
          update(el, run);
          finished = finished || run.final;
        });
        if (finished && document.body.classList.contains("change-form")) window.location.reload();
        else window.setTimeout(poll, INTERVAL_MS);
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 5); });
  }

  document.addEventListener("DOMContentLoaded", function () { window.setTimeout(poll, INTERVAL_MS); });
})();
