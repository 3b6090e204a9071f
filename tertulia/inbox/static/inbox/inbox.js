// The inbox's keyboard shortcuts and bulk selection. No inline code: the CSP forbids it.
//
// j / k        next / previous conversation in the list (also from an open conversation)
// o / Enter    open it
// x            select it (for the bulk actions)
// a            assign to me      (the selected ones, or the current one)
// c            close             (the selected ones, or the current one)
// l            label             (focuses the label field)
// r            reply             (focuses the reply box; in the list, opens the conversation at it)
// ?            shows or hides the help
// Nothing fires while the focus is in a field, or with Ctrl, Alt or Cmd held.
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-inbox-list] [data-row]"));
  }

  var current = -1;

  // The list remembers its order (this tab only), so that j / k on an open conversation go
  // to the next / previous one of the list it was opened from.
  var STORE = "tertulia.inbox.list";

  function remember() {
    var all = rows();
    if (!all.length) { return; }
    try {
      window.sessionStorage.setItem(STORE, JSON.stringify(all.map(function (r) { return r.getAttribute("data-url"); })));
    } catch (e) { /* storage disabled: j / k stay within the list page */ }
  }

  function neighbour(step) {
    var here = document.querySelector("[data-conversation-url]");
    if (!here) { return null; }
    var urls;
    try { urls = JSON.parse(window.sessionStorage.getItem(STORE) || "[]"); } catch (e) { return null; }
    var i = urls.indexOf(here.getAttribute("data-conversation-url"));
    var j = i + step;
    return i >= 0 && j >= 0 && j < urls.length ? urls[j] : null;
  }

  function setCurrent(index) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row, i) {
      row.classList.toggle("is-current", i === current);
      if (i === current) { row.setAttribute("aria-current", "true"); } else { row.removeAttribute("aria-current"); }
    });
    var row = all[current];
    row.scrollIntoView({ block: "nearest" });
    var link = row.querySelector("[data-open]");
    if (link) { link.focus({ preventScroll: true }); }
  }

  function currentRow() {
    var all = rows();
    return current >= 0 && current < all.length ? all[current] : null;
  }

  function open(suffix) {
    var row = currentRow();
    if (row) { window.location.assign(row.getAttribute("data-url") + (suffix || "")); }
  }

  function shortcutTarget(key) {
    var el = document.querySelector("[data-key='" + key + "']");
    return el && !el.disabled ? el : null;
  }

  // A bulk button acts on the selected rows; with none selected, on the current row.
  function bulk(key) {
    var button = shortcutTarget(key);
    if (!button) { return false; }
    var form = button.form;
    if (form && form.id === "bulk-form") {
      var checked = form.querySelectorAll("[data-select]:checked");
      if (!checked.length) {
        var row = currentRow();
        var box = row && row.querySelector("[data-select]");
        if (!box) { return false; }
        box.checked = true;
      }
      form.requestSubmit(button);
      return true;
    }
    button.click();
    return true;
  }

  function toggleHelp() {
    var dialog = document.getElementById("shortcut-help");
    if (!dialog) { return; }
    if (dialog.open) { dialog.close(); } else { dialog.showModal(); }
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help-toggle]")) { toggleHelp(); }
  });

  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll("[data-inbox-list] [data-select]").forEach(function (box) { box.checked = all.checked; });
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (isTyping(event.target)) { return; }
    var dialog = document.getElementById("shortcut-help");
    if (dialog && dialog.open && event.key !== "?") { return; }
    var inList = rows().length > 0;
    var handled = true;
    switch (event.key) {
      case "j":
      case "k": {
        if (inList) {
          setCurrent(event.key === "j" ? current + 1 : (current < 0 ? 0 : current - 1));
        } else {
          var next = neighbour(event.key === "j" ? 1 : -1);
          if (next) { window.location.assign(next); } else { handled = false; }
        }
        break;
      }
      case "o": if (inList) { open(""); } else { handled = false; } break;
      case "Enter":
        // A focused link or button does its own thing.
        if (inList && !event.target.closest("a, button") && currentRow()) { open(""); } else { handled = false; }
        break;
      case "x": {
        var row = currentRow();
        var box = row && row.querySelector("[data-select]");
        if (box) { box.checked = !box.checked; } else { handled = false; }
        break;
      }
      case "a": handled = bulk("a"); break;
      case "c": handled = bulk("c"); break;
      case "l":
      case "r": {
        var field = shortcutTarget(event.key);
        if (field) {
          field.focus();
        } else if (event.key === "r" && inList && currentRow()) {
          open("#reply");
        } else {
          handled = false;
        }
        break;
      }
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // Opening a conversation at its reply box (r from the list) focuses the box.
  document.addEventListener("DOMContentLoaded", function () {
    remember();
    if (window.location.hash === "#reply") {
      var box = document.getElementById("reply-text");
      if (box) { box.focus(); }
    }
  });
})();
