/* Researcher dashboard: refresh the live counts and grid progress from live.json every few seconds. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.fetch) { return; }
  var url = root.dataset.liveUrl;
  var interval = parseInt(root.dataset.interval || "5000", 10);
  var state = document.getElementById("live-state");

  // The twin of studies.dashboard.duration_text.
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) { return "\u2013"; }
    var total = Math.round(seconds);
    var minutes = Math.floor(total / 60);
    return minutes ? minutes + " min " + (total % 60) + " s" : total + " s";
  }

  function setText(element, value) {
    if (element && element.textContent !== String(value)) { element.textContent = value; }
  }

  function updatePopulation(name, data) {
    var table = root.querySelector("table.counts[data-population='" + name + "']");
    if (table) {
      data.conditions.forEach(function (row) {
        var tr = table.querySelector("tr[data-condition='" + row.slug + "']");
        if (!tr) { return; }
        Object.keys(row).forEach(function (column) {
          setText(tr.querySelector("[data-column='" + column + "']"), row[column]);
        });
      });
      var total = table.querySelector("tr[data-condition='total']");
      Object.keys(data.totals).forEach(function (column) {
        setText(total && total.querySelector("[data-column='" + column + "']"), data.totals[column]);
      });
    }
    var figures = root.querySelector("dl.dash-figures[data-population='" + name + "']");
    if (!figures) { return; }
    ["balance", "attention_failures", "not_consented", "declined"].forEach(function (key) {
      setText(figures.querySelector("[data-figure='" + key + "']"), data[key]);
    });
    setText(figures.querySelector("[data-figure='median_completion_seconds']"),
            formatDuration(data.median_completion_seconds));
  }

  function updateGrids(grids) {
    grids.forEach(function (grid) {
      var tr = root.querySelector("#grids tr[data-condition='" + grid.condition + "']");
      if (!tr) { return; }
      var bar = tr.querySelector(".progress");
      if (bar) {
        bar.setAttribute("aria-valuenow", grid.progress);
        var fill = bar.querySelector(".progress-bar");
        fill.style.width = grid.progress + "%";
        fill.classList.toggle("failed", grid.status === "failed");
      }
      setText(tr.querySelector(".grid-progress"), grid.progress + " %");
      var status = tr.querySelector(".grid-status");
      setText(status, grid.status + (grid.error ? " " + grid.error : ""));
    });
  }

  function refresh() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        updatePopulation("real", data.real);
        updatePopulation("simulated", data.simulated);
        updateGrids(data.grids);
        var status = document.getElementById("study-status");
        if (status) { status.className = "status status-" + data.status; }
        setText(state, "live: updated " + new Date().toLocaleTimeString());
      })
      .catch(function (error) { setText(state, "live: update failed (" + error.message + "), retrying"); })
      .then(function () { window.setTimeout(refresh, interval); });
  }
  window.setTimeout(refresh, interval);
})();
