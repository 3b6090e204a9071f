/* The idea board: drag cards between columns and within one (HTML5 drag and drop). The move is
   posted to the card's move URL (status + position); on failure the page reloads so the board
   shows what the server has. The ← ↑ ↓ → buttons are plain forms and work without this file. */
(function () {
  "use strict";
  var board = document.querySelector(".idea-board");
  if (!board || board.getAttribute("data-can-edit") !== "1") { return; }
  var status = document.getElementById("idea-status");
  var dragged = null;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(text) { if (status) { status.textContent = text; } }

  function cardsOf(list) {
    return Array.prototype.filter.call(list.children, function (el) { return el.classList.contains("idea-card"); });
  }

  function refreshColumn(list) {
    var empty = list.querySelector(".idea-empty");
    var cards = cardsOf(list);
    if (empty && cards.length) { empty.remove(); }
    if (!empty && !cards.length) {
      empty = document.createElement("li");
      empty.className = "idea-empty";
      empty.textContent = board.getAttribute("data-empty-text") || "";
      list.appendChild(empty);
    }
    var count = list.parentNode.querySelector(".idea-count");
    if (count) { count.textContent = String(cards.length); }
  }

  function cardAfter(list, y) {
    var best = null, bestOffset = -Infinity;
    cardsOf(list).forEach(function (card) {
      if (card === dragged) { return; }
      var box = card.getBoundingClientRect();
      var offset = y - box.top - box.height / 2;
      if (offset < 0 && offset > bestOffset) { bestOffset = offset; best = card; }
    });
    return best;
  }

  function send(card, list) {
    var position = cardsOf(list).indexOf(card);
    var body = new URLSearchParams();
    body.set("status", list.getAttribute("data-status"));
    body.set("position", String(position));
    fetch(card.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      say(board.getAttribute("data-moved-text"));
    }).catch(function () {
      say(board.getAttribute("data-error-text"));
      window.setTimeout(function () { window.location.reload(); }, 1200);
    });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".idea-card[draggable=true]");
    if (!card) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
  });

  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    Array.prototype.forEach.call(board.querySelectorAll(".drop-target"), function (el) { el.classList.remove("drop-target"); });
    dragged = null;
  });

  board.addEventListener("dragover", function (event) {
    var list = event.target.closest && event.target.closest(".idea-cards");
    if (!dragged || !list) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    list.classList.add("drop-target");
  });

  board.addEventListener("dragleave", function (event) {
    var list = event.target.closest && event.target.closest(".idea-cards");
    if (list && !list.contains(event.relatedTarget)) { list.classList.remove("drop-target"); }
  });

  board.addEventListener("drop", function (event) {
    var list = event.target.closest && event.target.closest(".idea-cards");
    if (!dragged || !list) { return; }
    event.preventDefault();
    list.classList.remove("drop-target");
    var from = dragged.parentNode;
    var after = cardAfter(list, event.clientY);
    if (after) { list.insertBefore(dragged, after); } else { list.appendChild(dragged); }
    refreshColumn(list);
    if (from !== list) { refreshColumn(from); }
    send(dragged, list);
  });
})();
