// The real cluster page: polls /api/cluster and sends kill / start / put / get.
(function () {
  "use strict";
  const $ = function (id) { return document.getElementById(id); };
  const COLUMNS = ["node", "address", "pid", "state", "role", "term", "leader", "commit", "applied"];

  async function post(op, body) {
    const reply = await fetch("/api/cluster/" + op, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await reply.json();
    if (!reply.ok) { $("cluster-error").textContent = data.error; $("cluster-error").hidden = false; }
    else { $("cluster-error").hidden = true; $("cluster-out").textContent = data.ok; }
    poll();
  }

  async function poll() {
    const reply = await fetch("/api/cluster");
    const data = await reply.json();
    const body = $("real-nodes").querySelector("tbody");
    if (!reply.ok) { $("cluster-error").textContent = data.error; $("cluster-error").hidden = false; body.replaceChildren(); return; }
    $("cluster-where").textContent = data.protocol + " cluster in " + data.directory + " (durability " + data.durability + "), polled every second.";
    body.replaceChildren();
    data.nodes.forEach(function (row) {
      const tr = document.createElement("tr");
      tr.dataset.node = row.node;
      COLUMNS.forEach(function (c) {
        const td = document.createElement("td");
        td.className = c;
        td.textContent = row[c] === undefined || row[c] === null ? "–" : row[c];
        tr.appendChild(td);
      });
      const td = document.createElement("td");
      const button = document.createElement("button");
      const up = row.state !== "down";
      button.textContent = up ? "kill" : "start";
      button.className = up ? "kill" : "start";
      button.addEventListener("click", function () { post(up ? "kill" : "start", { node: row.node }); });
      td.appendChild(button);
      tr.appendChild(td);
      body.appendChild(tr);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("kv-put").addEventListener("click", function () { post("put", { key: $("kv-key").value, value: $("kv-value").value }); });
    $("kv-get").addEventListener("click", function () { post("get", { key: $("kv-key").value }); });
    poll();
    setInterval(poll, 1000);
  });
})();
