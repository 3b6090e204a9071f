// The composer: variants that inherit the main text, reset, account toggles, UTM insert.
// No inline code (CSP); the live checks themselves are htmx attributes in the page.
(function () {
  "use strict";

  function form() { return document.getElementById("compose-form"); }
  function master() { var f = form(); return f ? f.querySelector("[data-master]") : null; }
  function variantInput(network) {
    var f = form();
    return f ? f.querySelector('textarea[name="variant_' + network + '"]') : null;
  }
  function fireInput(el) { el.dispatchEvent(new Event("input", { bubbles: true })); }

  function syncBadge(textarea) {
    var network = textarea.getAttribute("data-variant-input");
    var badge = document.querySelector('[data-inherits="' + network + '"]');
    if (badge) { badge.hidden = textarea.value.trim() !== ""; }
  }

  function syncPlaceholders() {
    var m = master();
    if (!m) { return; }
    form().querySelectorAll("[data-variant-input]").forEach(function (t) {
      t.setAttribute("placeholder", m.value.slice(0, 5000));
    });
  }

  function syncSections() {
    var f = form();
    if (!f) { return; }
    var chosen = {};
    f.querySelectorAll('input[name="accounts"]').forEach(function (box) {
      if (box.checked) { chosen[box.getAttribute("data-network")] = true; }
    });
    document.querySelectorAll("[data-variant]").forEach(function (section) {
      var network = section.getAttribute("data-variant");
      var input = variantInput(network);
      // A network with its own text stays visible, so the CM sees what would be lost.
      section.hidden = !(chosen[network] || (input && input.value.trim() !== "" && section.tagName === "SECTION"));
    });
  }

  function insertAt(textarea, value) {
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    var text = textarea.value;
    if (document.activeElement !== textarea || typeof start !== "number") { start = end = text.length; }
    var before = text.slice(0, start), after = text.slice(end);
    var pad = before && !/\s$/.test(before) ? " " : "";
    textarea.value = before + pad + value + after;
    textarea.focus();
    var caret = (before + pad + value).length;
    textarea.setSelectionRange(caret, caret);
  }

  document.addEventListener("input", function (event) {
    var t = event.target;
    if (t.matches && t.matches("[data-master]")) { syncPlaceholders(); }
    if (t.matches && t.matches("[data-variant-input]")) { syncBadge(t); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[name="accounts"]')) { syncSections(); }
  });

  document.addEventListener("click", function (event) {
    var reset = event.target.closest("[data-reset]");
    if (reset) {
      var input = variantInput(reset.getAttribute("data-reset"));
      if (input) {
        event.preventDefault();
        input.value = "";
        syncBadge(input);
        fireInput(input);
      }
      return;
    }
    var insert = event.target.closest("[data-insert-network]");
    if (insert) {
      event.preventDefault();
      var target = variantInput(insert.getAttribute("data-insert-network"));
      var m = master();
      if (!target) { target = m; }
      if (!target) { return; }
      if (target !== m && target.value.trim() === "" && m) { target.value = m.value; }
      insertAt(target, insert.getAttribute("data-insert-value") || "");
      if (target.matches("[data-variant-input]")) { syncBadge(target); }
      fireInput(target);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    syncSections();
    if (form()) { form().querySelectorAll("[data-variant-input]").forEach(syncBadge); }
  });
})();
