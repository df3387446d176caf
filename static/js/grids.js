// Stimulus grids (issue 4): click-to-enlarge for participants, live progress bars for researchers.
(function () {
  "use strict";

  function setUpEnlarge() {
    document.querySelectorAll(".stimulus-grid").forEach(function (grid) {
      var dialog = grid.nextElementSibling;
      if (!dialog || !dialog.classList.contains("stimulus-grid__dialog") || typeof dialog.showModal !== "function") return;
      var image = dialog.querySelector(".stimulus-grid__dialog-image");
      var opener = null;
      grid.addEventListener("click", function (event) {
        var button = event.target.closest("td > button[data-full]");
        if (!button) return;
        opener = button;
        image.src = grid.dataset.media + button.dataset.full;  // the cell's own file, at full resolution
        image.alt = button.getAttribute("aria-label").replace(/: enlarge$/, ", enlarged");
        dialog.showModal();
      });
      dialog.addEventListener("click", function (event) {
        if (event.target === dialog) dialog.close();  // a click on the backdrop closes
      });
      dialog.addEventListener("close", function () { if (opener) opener.focus(); });
    });
  }

  function poll(box) {
    var bar = box.querySelector("progress");
    var percent = box.querySelector(".grid-progress__percent");
    var status = box.querySelector(".grid-progress__status");
    var error = box.querySelector(".grid-progress__error");
    var wasRunning = false;
    function tick() {
      fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
        .then(function (data) {
          bar.value = data.progress;
          bar.textContent = data.progress + "%";
          percent.textContent = data.progress + "%";
          status.textContent = data.status;
          box.dataset.status = data.status;
          if (data.error) { error.hidden = false; error.textContent = data.error; }
          if (data.status === "ready" || data.status === "failed") {
            if (wasRunning) window.location.reload();  // show the cells and the links to the files
            return;
          }
          wasRunning = true;
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    }
    tick();
  }

  function setUpProgress() {
    document.querySelectorAll("[data-progress-url]").forEach(function (box) {
      if (box.dataset.status === "ready" || box.dataset.status === "failed") return;
      poll(box);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUpEnlarge(); setUpProgress(); });
  } else { setUpEnlarge(); setUpProgress(); }
})();
