/* leadrank — a little vanilla JS on top of pages that work without it. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // Workspace switcher: switch as soon as another workspace is chosen.
  $$("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Selects whose options are URLs (page size).
  $$("select[data-nav-select]").forEach(function (select) {
    select.addEventListener("change", function () { window.location.assign(select.value); });
  });

  // Upload: show the chosen file's name; accept a dropped file.
  $$("form[data-dropzone]").forEach(function (form) {
    var input = $("input[type=file]", form), zone = $(".dropzone", form), label = $("[data-filename]", form);
    if (!input || !zone) return;
    var show = function () { label.textContent = input.files && input.files[0] ? input.files[0].name : ""; };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("is-over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("is-over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
    });
  });

  // Lead list: select all, selected count, export of the ticked leads.
  var exportForm = $("#export-form");
  if (exportForm) {
    var boxes = $$("input[data-select]"), all = $("input[data-select-all]");
    var count = $("[data-selected-count]"), scopeSelected = $("input[data-scope-selected]");
    var update = function () {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      if (count) count.textContent = String(n);
      if (all) { all.checked = n > 0 && n === boxes.length; all.indeterminate = n > 0 && n < boxes.length; }
      return n;
    };
    boxes.forEach(function (b) {
      b.addEventListener("change", function () { if (update() > 0 && scopeSelected) scopeSelected.checked = true; });
    });
    if (all) all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      if (update() > 0 && scopeSelected) scopeSelected.checked = true;
    });
    exportForm.addEventListener("submit", function (e) {
      if (scopeSelected && scopeSelected.checked && update() === 0) {
        e.preventDefault();
        window.alert("Tick the leads to export first, or choose “Top”.");
      }
    });
    update();
  }

  // Jobs: poll the job's JSON and move the progress bar; reload when it is finished.
  var fmt = function (n) { return Number(n || 0).toLocaleString("en-US"); };
  var leaving = false;  // the user clicked away: never reload over their navigation
  window.addEventListener("beforeunload", function () { leaving = true; });
  var poll = function (jobId, onUpdate) {
    var delay = 600;
    var tick = function () {
      if (leaving) return;
      fetch("/api/v1/jobs/" + encodeURIComponent(jobId), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (job) {
          // The answer can arrive after the user has already navigated away.
          if (leaving || onUpdate(job) === false) return;
          delay = Math.min(delay * 1.15, 2500);
          window.setTimeout(tick, delay);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    };
    window.setTimeout(tick, 300);
  };
  $$("[data-poll][data-job]").forEach(function (box) {
    var bar = $("[data-progress]", box), pct = $("[data-progress-percent]", box), text = $("[data-progress-text]", box);
    poll(box.getAttribute("data-job"), function (job) {
      if (job.status === "done" || job.status === "failed") { if (!leaving) window.location.reload(); return false; }
      if (bar && job.percent !== null && job.percent !== undefined) { bar.value = job.percent; if (pct) pct.textContent = Math.round(job.percent) + "%"; }
      if (text && job.status === "running") {
        var stage = job.progress && job.progress.stage;
        text.textContent = stage ? String(stage).replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); }) + "…"
          : (job.kind === "leads.upload" ? "Reading and storing rows…" : "Working…");
      }
      $$("[data-count]", box).forEach(function (el) { el.textContent = fmt(job.progress && job.progress[el.getAttribute("data-count")]); });
      return true;
    });
  });
  $$("[data-poll-follow]").forEach(function (box) {
    poll(box.getAttribute("data-poll-follow"), function (job) {
      if (job.status === "done" || job.status === "failed") { if (!leaving) window.location.reload(); return false; }
      return true;
    });
  });
})();
