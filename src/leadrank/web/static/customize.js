/* leadrank — customization panel: live what-if figures while weights and rules change.
   The panel is one form that saves without JavaScript; this posts the same form to
   /customize/what-if (debounced) and shows what the change would do before it is saved. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-customize]");
  if (!form) return;
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var status = document.querySelector("[data-whatif-status]");
  var token = (form.querySelector("input[name=csrf_token]") || {}).value || "";
  var timer = null, inflight = null, seq = 0;
  var MINUS = "\u2212";

  var fmtValue = function (v, fmt) {
    if (v === null || v === undefined) return "—";
    if (fmt === "pct") return (v * 100).toFixed(1) + "%";
    if (fmt === "f4") return Number(v).toFixed(4);
    return Number(v).toFixed(3);
  };
  var signed = function (v, digits) {
    var r = Number(v).toFixed(digits);
    if (Number(r) === 0) return Number(0).toFixed(digits);
    return (v > 0 ? "+" : MINUS) + Math.abs(v).toFixed(digits);
  };
  var fmtChange = function (v, fmt) {
    if (v === null || v === undefined) return "—";
    if (fmt === "pct") return signed(v * 100, 1) + " pts";
    return signed(v, fmt === "f4" ? 4 : 3);
  };
  var num = function (n) { return Number(n || 0).toLocaleString("en-US"); };

  var render = function (fig) {
    var ho = fig.holdout;
    $$("tr[data-metric]").forEach(function (row) {
      var key = row.getAttribute("data-metric"), fmt = row.getAttribute("data-format");
      var better = row.getAttribute("data-better");
      if (!ho) return;
      row.querySelector("[data-fig-current]").textContent = fmtValue(ho.current[key], fmt);
      row.querySelector("[data-fig-proposed]").textContent = fmtValue(ho.proposed[key], fmt);
      var change = ho.change[key], cell = row.querySelector("[data-fig-change]");
      cell.textContent = fmtChange(change, fmt);
      cell.classList.remove("text-up", "text-down", "muted");
      if (change === null || Math.abs(change) < 1e-9) cell.classList.add("muted");
      else cell.classList.add((change > 0) === (better === "up") ? "text-up" : "text-down");
    });
    var ws = fig.workspace || {};
    $$("[data-ws]").forEach(function (el) { el.textContent = num(ws[el.getAttribute("data-ws")]); });
    $$("[data-rule-matches]").forEach(function (el) {
      var n = (ws.rule_matches || {})[el.getAttribute("data-rule-matches")];
      if (n !== undefined) el.textContent = num(n) + " leads";
    });
    seq += 1;
    form.setAttribute("data-measured", String(seq));
    if (status) status.textContent = "Measured in " + Number(fig.seconds || 0).toFixed(2) + " s — not saved yet.";
  };

  var measure = function () {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    if (status) status.textContent = "Measuring…";
    var body = new URLSearchParams(new FormData(form));
    fetch("/customize/what-if", {
      method: "POST", body: body, signal: inflight.signal, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": token }
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      inflight = null;
      if (!res.ok) {
        if (status) status.textContent = (res.data && res.data.error && res.data.error.message) || "This change cannot be measured.";
        return;
      }
      render(res.data);
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      if (status) status.textContent = "Could not measure this change; try again.";
    });
  };
  var schedule = function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(measure, 250);
  };

  $$("input[type=range]", form).forEach(function (input) {
    var out = document.getElementById(input.id + "-v");
    var show = function () { if (out) out.textContent = Number(input.value).toFixed(1) + "×"; };
    input.addEventListener("input", function () { show(); schedule(); });
    show();
  });
  form.addEventListener("change", function (e) {
    if (e.target && e.target.type !== "range" && e.target.name !== "note") schedule();
  });
  form.addEventListener("input", function (e) {
    var t = e.target;
    if (t && (t.type === "number" || (t.type === "text" && t.name !== "note"))) schedule();
  });
})();
