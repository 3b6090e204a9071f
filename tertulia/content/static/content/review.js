// The post page: buttons that insert an @mention into the comment box. No inline code (CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-mention]");
    if (!button) { return; }
    var picker = button.closest("[data-mention-target]");
    var box = picker && document.getElementById(picker.getAttribute("data-mention-target"));
    if (!box) { return; }
    var mention = "@" + button.getAttribute("data-mention") + " ";
    var start = box.selectionStart || box.value.length;
    var end = box.selectionEnd || start;
    var before = box.value.slice(0, start);
    if (before && !/\s$/.test(before)) { mention = " " + mention; }
    box.value = before + mention + box.value.slice(end);
    box.focus();
    var caret = before.length + mention.length;
    box.setSelectionRange(caret, caret);
  });
})();
