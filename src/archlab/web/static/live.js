// The live cluster page: draws the server's LiveCluster state and sends the user's actions.
// The simulation itself runs on the server (archlab.web.live); the URL holds the whole view.
(function () {
  "use strict";
  let sid = null, state = null, playing = false, busy = false, timer = null;
  const $ = function (id) { return document.getElementById(id); };
  const NS = "http://www.w3.org/2000/svg";

  function params() {
    const q = new URLSearchParams(location.search);
    return { protocol: q.get("protocol") || "raft", seed: q.get("seed") || "0",
      nodes: q.get("nodes") || "3", actions: q.get("actions") || "", step: q.get("step") || "0" };
  }

  function syncUrl() {
    const s = state.spec;
    const q = new URLSearchParams({ protocol: s.protocol, seed: s.seed, nodes: s.nodes, step: state.step });
    if (state.actions) q.set("actions", state.actions);
    history.replaceState(null, "", "/live?" + q.toString());
  }

  async function call(url, body) {
    const reply = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}) });
    const data = await reply.json();
    const error = $("live-error");
    if (!reply.ok) { error.textContent = data.error; error.hidden = false; return null; }
    error.hidden = true;
    return data;
  }

  async function start(p) {
    const data = await call("/api/live", p);
    if (!data) return;
    sid = data.sid;
    const form = $("spec");
    form.protocol.value = data.state.spec.protocol;
    form.seed.value = data.state.spec.seed;
    form.nodes.value = data.state.spec.nodes;
    render(data.state);
  }

  async function op(name, body) {
    if (!sid || busy) return;
    busy = true;
    try {
      const data = await call("/api/live/" + sid + "/" + name, body);
      if (data) render(data.state);
    } finally { busy = false; }
  }

  function positions(nodes) {
    const out = {}, n = nodes.length, cx = 200, cy = 140, r = 105;
    nodes.forEach(function (node, i) {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      out[node.address] = [cx + r * Math.cos(a), cy + r * Math.sin(a)];
    });
    return out;
  }

  // Raft's and Zab's terms (epochs) are numbers; a Paxos ballot is shown as it is (b3.1).
  function term(t) { return typeof t === "number" ? "t" + t : String(t); }

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function draw(s) {
    const svg = $("cluster");
    svg.replaceChildren();
    const pos = positions(s.nodes);
    s.clients.forEach(function (c, i) { pos[c] = [170 + 60 * i, 315]; });
    const cut = new Set(s.isolated);
    const blocked = new Set(s.blocked.map(function (l) { return l[0] + ">" + l[1]; }));
    for (let i = 0; i < s.nodes.length; i++) {
      for (let j = i + 1; j < s.nodes.length; j++) {
        const a = s.nodes[i].address, b = s.nodes[j].address;
        const broken = blocked.has(a + ">" + b) || blocked.has(b + ">" + a);
        svg.appendChild(el("line", { x1: pos[a][0], y1: pos[a][1], x2: pos[b][0], y2: pos[b][1],
          class: "link" + (broken ? " cut" : "") }));
      }
    }
    s.messages.forEach(function (m) {
      const a = pos[m.src], b = pos[m.dst];
      if (!a || !b) return;
      const x = a[0] + (b[0] - a[0]) * m.progress, y = a[1] + (b[1] - a[1]) * m.progress;
      const dot = el("circle", { cx: x, cy: y, r: 4, class: "msg" + (m.src[0] === "c" || m.dst[0] === "c" ? " client" : "") });
      dot.appendChild(el("title", {}, m.kind + " " + m.src + "→" + m.dst));
      svg.appendChild(dot);
    });
    s.nodes.forEach(function (n) {
      const p = pos[n.address];
      const role = n.status !== "up" ? "down" : n.role.split(" ")[0];
      const g = el("g", { class: "node " + role + (cut.has(n.address) ? " cut" : ""), "data-address": n.address });
      g.appendChild(el("circle", { cx: p[0], cy: p[1], r: 28 }));
      g.appendChild(el("text", { x: p[0], y: p[1] - 2 }, n.address));
      g.appendChild(el("text", { x: p[0], y: p[1] + 12 }, n.term === null ? n.status : term(n.term)));
      g.appendChild(el("text", { x: p[0], y: p[1] + 44 }, n.status !== "up" ? n.status : n.role));
      svg.appendChild(g);
    });
    s.clients.forEach(function (c) {
      const p = pos[c];
      svg.appendChild(el("rect", { x: p[0] - 16, y: p[1] - 12, width: 32, height: 22, rx: 4,
        fill: "none", stroke: "currentColor" }));
      svg.appendChild(el("text", { x: p[0], y: p[1] + 4 }, c));
    });
  }

  function render(s) {
    state = s;
    draw(s);
    $("clock").textContent = "step " + s.step + " · t = " + s.time.toFixed(3) + " s · leader " + (s.leader || "none");
    const scrub = $("scrub");
    scrub.max = Math.max(Number(scrub.max), s.step, 500);
    scrub.value = s.step;
    const body = $("nodes").querySelector("tbody");
    body.replaceChildren();
    const target = $("target"), chosen = target.value;
    target.replaceChildren();
    s.nodes.forEach(function (n) {
      const tr = document.createElement("tr");
      tr.dataset.address = n.address;
      [n.address, n.status === "up" ? n.role : n.status, n.term, n.commit, n.last,
        n.clock_error ? "clock " + (n.clock_error > 0 ? "+" : "") + n.clock_error + " s" : ""
      ].forEach(function (v, i) {
        const td = document.createElement("td");
        td.textContent = v === null ? "–" : v;
        td.className = ["address", "role", "term", "commit", "last", "note"][i];
        tr.appendChild(td);
      });
      body.appendChild(tr);
      target.appendChild(new Option(n.address + (n.address === s.leader ? " (leader)" : ""), n.address));
    });
    target.value = chosen || s.leader || s.nodes[0].address;
    if (!target.value) target.value = s.nodes[0].address;
    const logs = $("logs");
    logs.replaceChildren();
    s.nodes.forEach(function (n) {
      const div = document.createElement("div");
      div.className = "log";
      div.textContent = n.address + " ";
      if (!n.log.length) div.append(n.last === null ? "(down)" : "last " + n.last + ", commit " + n.commit);
      n.log.forEach(function (e) {
        const span = document.createElement("span");
        span.className = "entry" + (e.index <= n.commit ? " committed" : "");
        span.textContent = e.index + "·" + term(e.term) + " " + e.text;
        div.appendChild(span);
      });
      logs.appendChild(div);
    });
    fill($("history"), s.history.map(function (e) {
      return "p" + e.process + " " + e.type + " " + e.f + " " + e.key + " " + JSON.stringify(e.value) + " @" + e.time;
    }).concat(s.pending ? [s.pending + " queued"] : []));
    fill($("events"), s.events.map(function (e) { return "step " + e.step + ": " + e.text; }).reverse());
    $("command").textContent = s.command;
    const kinds = {};
    s.messages.forEach(function (m) { kinds[m.kind] = (kinds[m.kind] || 0) + 1; });
    $("inflight").textContent = s.messages.length + " message(s) in flight" +
      (s.messages.length ? ": " + Object.keys(kinds).sort().map(function (k) { return k + " ×" + kinds[k]; }).join(", ") : "");
    syncUrl();
  }

  function fill(list, lines) {
    list.replaceChildren();
    lines.forEach(function (line) {
      const li = document.createElement("li");
      li.textContent = line;
      list.appendChild(li);
    });
  }

  function setPlaying(on) {
    playing = on;
    $("play").textContent = on ? "pause" : "play";
    clearInterval(timer);
    if (on) timer = setInterval(function () { op("step", { n: Number($("speed").value) }); }, 100);
  }

  function act(kind) {
    const node = $("target").value;
    const args = kind === "heal" ? [] : kind === "skew" ? [node, "0.2"] : [node];
    op("act", { kind: kind, args: args });
  }

  function submit() {
    const f = $("op").value, key = $("key").value, value = $("value").value.trim();
    let args = [key];
    if (f === "write") args.push(value);
    if (f === "cas") args = args.concat(value.split(",").map(function (v) { return v.trim(); }));
    op("act", { kind: f, args: args });
  }

  async function check() {
    if (!sid) return;
    const out = $("verdict-live");
    out.textContent = "checking…";
    const reply = await fetch("/api/live/" + sid + "/check");
    const data = await reply.json();
    out.textContent = data.summary || data.error;
    out.className = "verdict " + (data.valid === true ? "holds" : data.valid === false ? "refuted" : "nuanced");
    const link = $("timeline");
    link.href = "/live/" + sid + "/timeline";
    link.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("spec").addEventListener("submit", function (e) {
      e.preventDefault();
      setPlaying(false);
      const f = e.target;
      start({ protocol: f.protocol.value, seed: f.seed.value, nodes: f.nodes.value, actions: "", step: 0 });
    });
    $("play").addEventListener("click", function () { setPlaying(!playing); });
    $("step").addEventListener("click", function () { op("step", { n: Number($("speed").value) }); });
    $("back").addEventListener("click", function () {
      if (state) op("goto", { step: Math.max(0, state.step - Number($("speed").value)) });
    });
    $("scrub").addEventListener("change", function (e) { op("goto", { step: Number(e.target.value) }); });
    document.querySelectorAll("button[data-act]").forEach(function (b) {
      b.addEventListener("click", function () { act(b.dataset.act); });
    });
    $("submit").addEventListener("click", submit);
    $("check").addEventListener("click", check);
    document.addEventListener("keydown", function (e) {
      if (/INPUT|SELECT|TEXTAREA/.test(e.target.tagName) || e.ctrlKey || e.metaKey || e.altKey) return;
      const keys = { " ": function () { setPlaying(!playing); }, ArrowRight: function () { $("step").click(); },
        ArrowLeft: function () { $("back").click(); }, p: function () { act("isolate"); },
        h: function () { act("heal"); }, x: function () { act("crash"); }, r: function () { act("restart"); },
        s: submit, c: check };
      if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
    });
    start(params());
  });
})();
