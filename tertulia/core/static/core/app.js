// Tertulia's own small script. No inline code: the CSP forbids it.
(function () {
  "use strict";
  // The brand switcher navigates on change (a <noscript> button covers no-JS).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-autonav-select]");
    if (select && select.value && select.value.charAt(0) === "/") {
      window.location.assign(select.value);
    }
  });
})();
