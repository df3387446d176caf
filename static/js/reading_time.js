/* The minimum time on a page: the server enforces it; this only disables the Next button and says how long
   is left. Reads data-min-seconds from the form #page-form and counts down on the button #next. */
(function () {
  "use strict";
  var form = document.getElementById("page-form");
  var next = document.getElementById("next");
  var left = form ? parseInt(form.dataset.minSeconds || "0", 10) : 0;
  if (left <= 0 || !next) { return; }
  var label = next.textContent;
  next.disabled = true;
  next.textContent = label + " (" + left + " s)";
  var timer = setInterval(function () {
    left -= 1;
    next.textContent = left > 0 ? label + " (" + left + " s)" : label;
    if (left <= 0) { next.disabled = false; clearInterval(timer); }
  }, 1000);
})();
