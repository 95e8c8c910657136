// archlab dashboard: theme, copy buttons, and running a claim with live progress (SSE).
(function () {
  "use strict";
  const saved = localStorage.getItem("archlab-theme");
  const dark = saved ? saved === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = dark ? "dark" : "light";

  function toggleTheme() {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("archlab-theme", next);
  }
  window.archlabToggleTheme = toggleTheme;

  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("theme").addEventListener("click", toggleTheme);
    document.addEventListener("keydown", function (e) {
      if (e.key === "t" && !/INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) toggleTheme();
    });
    document.querySelectorAll("button.copy").forEach(function (b) {
      b.addEventListener("click", function () {
        const text = document.getElementById(b.dataset.copy).textContent;
        if (navigator.clipboard) navigator.clipboard.writeText(text);
        b.textContent = "copied";
        setTimeout(function () { b.textContent = "copy"; }, 1200);
      });
    });
    const form = document.getElementById("run-form");
    if (form) setUpRun(form);
  });

  function setUpRun(form) {
    const profile = document.getElementById("profile");
    profile.addEventListener("change", function () {
      form.querySelectorAll("input[data-quick]").forEach(function (i) {
        i.value = i.dataset[profile.value];
      });
    });
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      const box = document.getElementById("progress");
      const text = document.getElementById("progress-text");
      const bar = box.querySelector(".bar span");
      const error = document.getElementById("run-error");
      const verdict = document.getElementById("verdict");
      error.hidden = true;
      const reply = await fetch("/api/run", { method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.fromEntries(new FormData(form))) });
      const data = await reply.json();
      if (!reply.ok) { error.textContent = data.error; error.hidden = false; return; }
      document.getElementById("run").disabled = true;
      box.hidden = false;
      verdict.textContent = "running";
      verdict.className = "verdict not-run";
      text.textContent = "queued";
      const source = new EventSource(data.events);
      source.addEventListener("progress", function (m) {
        const p = JSON.parse(m.data);
        const share = p.total ? Math.min(1, p.completed / p.total) : 0;
        bar.style.width = (100 * share).toFixed(1) + "%";
        text.textContent = p.task + (p.total ? " " + p.completed + "/" + p.total : "");
      });
      source.addEventListener("running", function () { text.textContent = "running"; });
      source.addEventListener("done", function (m) {
        source.close();
        const d = JSON.parse(m.data);
        bar.style.width = "100%";
        verdict.textContent = d.verdict;
        verdict.className = "verdict " + d.verdict;
        text.textContent = d.state === "failed" ? d.error : d.verdict + " in " + d.seconds + " s: " + d.summary;
        document.getElementById("run").disabled = false;
        setTimeout(function () { location.hash = "result"; location.reload(); }, 300);
      });
    });
  }
})();
