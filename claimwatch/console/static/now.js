// Now: new alerts as they fire (server-sent events). Rows are built with textContent only: a title
// is hostile input and never becomes markup.
(function () {
  "use strict";
  var body = document.getElementById("alerts");
  if (!body || !window.EventSource) { return; }
  var params = new URLSearchParams();
  params.set("since", body.dataset.since || "0");
  ["severity", "type", "platform", "item"].forEach(function (k) { if (body.dataset[k]) { params.set(k, body.dataset[k]); } });
  var shown = document.getElementById("shown");
  var total = document.getElementById("total");
  var source = new EventSource("/events?" + params.toString());
  source.onmessage = function (message) {
    var row = JSON.parse(message.data);
    var tr = document.createElement("tr");
    tr.className = "sev-" + row.severity + " fresh";
    var cells = [row.at, null, row.type, null, row.item, row.platform];
    cells.forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 1) {
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = row.severity;
        td.appendChild(badge);
      } else if (i === 3) {
        var a = document.createElement("a");
        a.href = "/alerts/" + encodeURIComponent(row.id);
        a.textContent = row.title;
        td.appendChild(a);
      } else {
        td.textContent = text;
      }
      tr.appendChild(td);
    });
    body.insertBefore(tr, body.firstChild);
    if (shown) { shown.textContent = String(body.rows.length); }
    if (total) { total.textContent = String(Number(total.textContent) + 1); }
  };
})();
