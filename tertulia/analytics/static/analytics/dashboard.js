// Analytics: each chart's table can be shown or hidden. Without JavaScript the tables stay visible.
(function () {
  "use strict";
  function setUp(root) {
    root.querySelectorAll("[data-chart-toggle]").forEach(function (button) {
      if (button.dataset.ready) { return; }
      var table = document.getElementById(button.dataset.chartToggle);
      if (!table) { return; }
      button.dataset.ready = "1";
      button.hidden = false;
      table.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", function () {
        table.hidden = !table.hidden;
        button.setAttribute("aria-expanded", table.hidden ? "false" : "true");
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
})();
