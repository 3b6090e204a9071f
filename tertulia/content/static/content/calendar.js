// The editorial calendar: drag a post to another day, or move it with the keyboard.
// No inline code (the CSP forbids it). Every move is a POST to the post's move URL; the
// server answers JSON and the post is moved in the page only once the server agreed.
(function () {
  "use strict";

  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) { return headers["X-CSRFToken"]; }
    } catch (e) { /* fall through */ }
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function announce(message, isError) {
    var status = document.getElementById("cal-status");
    if (!status) { return; }
    status.textContent = message;
    status.classList.toggle("error", !!isError);
  }

  function cellFor(date) {
    return document.querySelector('td.cal-day[data-date="' + date + '"]');
  }

  function shiftDate(iso, days) {
    var parts = iso.split("-");
    var d = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function move(post, date) {
    if (!post || !date || post.getAttribute("data-date") === date || post.classList.contains("busy")) { return; }
    var body = new FormData();
    body.append("date", date);
    body.append("time", post.getAttribute("data-time") || "");
    body.append("version", post.getAttribute("data-version") || "");
    post.classList.add("busy");
    fetch(post.getAttribute("data-move-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false, message: response.statusText }; });
    }).then(function (data) {
      post.classList.remove("busy");
      if (!data.ok) { announce(data.message, true); return; }
      post.setAttribute("data-version", data.version);
      post.setAttribute("data-date", data.date);
      post.setAttribute("data-time", data.time);
      var version = post.querySelector("input[name=version]");
      if (version) { version.value = data.version; }
      var dateInput = post.querySelector("input[name=date]");
      if (dateInput) { dateInput.value = data.date; }
      var timeInput = post.querySelector("input[name=time]");
      if (timeInput) { timeInput.value = data.time; }
      var timeEl = post.querySelector("time");
      if (timeEl) { timeEl.setAttribute("datetime", data.local); timeEl.textContent = data.time; }
      var cell = cellFor(data.date);
      if (cell) {
        cell.querySelector(".cal-posts").appendChild(post);
        post.focus();
      } else {
        post.parentNode.removeChild(post); // moved out of the period shown
      }
      announce(data.message, false);
    }).catch(function () {
      post.classList.remove("busy");
      var status = document.getElementById("cal-status");
      announce(status ? status.getAttribute("data-error") : "", true);
    });
  }

  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var post = event.target.closest && event.target.closest(".cal-post[data-move-url]");
    if (!post) { return; }
    dragged = post;
    post.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", post.getAttribute("data-post-id"));
  });
  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });
  document.addEventListener("dragover", function (event) {
    var cell = dragged && event.target.closest && event.target.closest("td.cal-day");
    if (!cell) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    cell.classList.add("drop-target");
  });
  document.addEventListener("dragleave", function (event) {
    var cell = event.target.closest && event.target.closest("td.cal-day");
    if (cell && !cell.contains(event.relatedTarget)) { cell.classList.remove("drop-target"); }
  });
  document.addEventListener("drop", function (event) {
    var cell = dragged && event.target.closest && event.target.closest("td.cal-day");
    if (!cell) { return; }
    event.preventDefault();
    cell.classList.remove("drop-target");
    move(dragged, cell.getAttribute("data-date"));
  });

  // Shortcuts: P/N previous and next period, T today, M/W/L the views (links marked
  // data-shortcut). Never while typing in a field or with a modifier held.
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) { return; }
    var target = event.target;
    if (target.closest && target.closest("input, select, textarea, [contenteditable]")) { return; }
    var key = (event.key || "").toLowerCase();
    if (key.length !== 1) { return; }
    var link = document.querySelector('a[data-shortcut="' + key + '"]');
    if (link) { event.preventDefault(); link.click(); }
  });

  // Keyboard: with a post focused, Alt+Left/Right moves it a day, Alt+Up/Down a week.
  var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
  document.addEventListener("keydown", function (event) {
    var post = event.target;
    if (!event.altKey || !(event.key in steps) || !post.matches || !post.matches(".cal-post[data-move-url]")) { return; }
    event.preventDefault();
    move(post, shiftDate(post.getAttribute("data-date"), steps[event.key]));
  });
})();
