// deltagrad's step player: plays back the steps Python serialised into #dg-data.
// It computes nothing; it sets texts, fades and highlights elements of the drawing by id.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("dg-data").textContent);
  var steps = D.steps, at = 0, undo = [], lit = [], picked = [], timer = null;
  var byId = function (id) { return document.getElementById(id); };
  var graph = byId("dg-graph"), prev = byId("dg-prev"), next = byId("dg-next"), play = byId("dg-play");
  var sgd = byId("dg-sgd"), picks = D.picks || null;  // network mode: the SGD step, clickable neurons
  var PHASE = {start: "", end: "", forward: " · forward", err: " · forward", sgd: " · SGD step"};
  var delay = Math.max(60, Math.min(700, Math.round(30000 / steps.length)));
  // The drawing ships in its starting state: remember it, for Reset.  Also index, per
  // value, the backward terms where it is the parent: its chain-rule sum, for a click.
  var init = [], pending = [], terms = D.nodes.map(function () { return []; }), seed = null;
  steps.forEach(function (step) {
    if (step.kind === "seed") seed = step;
    (step.terms || []).forEach(function (t) { terms[t[0]].push([step, t]); });
    (step.set || []).forEach(function (s) { var el = byId(s[0]); if (el) init.push([el, el.textContent]); });
    each(step.show, function (el) { pending.push(el); });
  });

  function each(ids, fn) {
    (ids || []).forEach(function (id) { var el = byId(id); if (el) fn(el); });
  }
  function mark(list, ids, cls) {
    each(ids, function (el) { el.classList.add(cls); list.push([el, cls]); });
  }
  function unmark(list) {
    list.forEach(function (p) { p[0].classList.remove(p[1]); });
    list.length = 0;
  }
  // The lasting part of a step (texts, fading); returns what it replaced, for stepping back.
  function apply(step) {
    var back = [];
    (step.set || []).forEach(function (s) {
      var el = byId(s[0]);
      if (el) { back.push([el, el.textContent]); el.textContent = s[1]; }
    });
    each(step.show, function (el) { el.classList.remove("dg-pending"); });
    return back;
  }
  function revert(step, back) {
    for (var i = back.length - 1; i >= 0; i--) back[i][0].textContent = back[i][1];
    each(step.show, function (el) { el.classList.add("dg-pending"); });
  }
  function factor(x) { return x.charAt(0) === "-" ? "(" + x + ")" : x; }
  // A step's equations: its own lines, or for a backward step two per input, from its terms.
  function lines(step) {
    if (!step.terms) return step.lines || [];
    var n = D.nodes[step.node].name, out = [];
    step.terms.forEach(function (t) {
      var p = D.nodes[t[0]].name;
      out.push(p + ".grad += ∂" + n + "/∂" + p + " × " + n + ".grad = " + factor(t[1]) + " × " +
               factor(step.grad) + " = " + t[2]);
      out.push("    " + p + ".grad: " + t[3] + " + " + factor(t[2]) + " = " + t[4] +
               (t[6] ? "  (use " + t[6] + " of " + t[7] + ")" : ""));
    });
    return out;
  }
  function show() {
    var step = steps[at], list = byId("dg-lines");
    unmark(lit);
    mark(lit, step.edges, "dg-edge");
    mark(lit, step.recv, "dg-recv");
    mark(lit, step.cur, "dg-cur");
    byId("dg-counter").textContent = "Step " + (at + 1) + " of " + steps.length +
      (step.kind in PHASE ? PHASE[step.kind] : " · backward");
    byId("dg-say").textContent = step.say || "Forward: " + D.nodes[step.node].head;
    list.textContent = "";
    lines(step).forEach(function (line) {
      var li = document.createElement("li");
      li.textContent = line;
      if (line.charAt(0) === " ") li.className = "sum";
      list.appendChild(li);
    });
    prev.disabled = at === 0;
    next.disabled = at === steps.length - 1;
    if (sgd) sgd.disabled = at === D.sgd;
    if (next.disabled) stop();
    var cur = step.cur && byId(step.cur[0]);
    if (cur && cur.scrollIntoView) cur.scrollIntoView({block: "nearest", inline: "nearest"});
  }
  function forward(quiet) {
    if (at >= steps.length - 1) return false;
    at += 1;
    undo[at] = apply(steps[at]);
    if (!quiet) show();
    return true;
  }
  function back() {
    if (at === 0) return;
    revert(steps[at], undo[at]);
    at -= 1;
    show();
  }
  function reset() {
    stop();
    init.forEach(function (s) { s[0].textContent = s[1]; });
    pending.forEach(function (el) { el.classList.add("dg-pending"); });
    at = 0;
    undo = [apply(steps[0])];
    show();
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "Play";
    play.setAttribute("aria-pressed", "false");
  }
  function toggle() {
    if (timer !== null) { stop(); return; }
    if (at === steps.length - 1) reset();
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
    timer = setInterval(function () { if (!forward()) stop(); }, delay);
  }
  // explain's entry for a value: how it was computed, one line per term, then the sum
  // (explain pads the terms into a column for a terminal; here the rule just follows).
  function chain(i) {
    var name = D.nodes[i].name, out = [D.nodes[i].head], uses = [];
    if (seed && seed.node === i) {
      out.push("    " + name + ".grad = " + seed.grad + "  (where backward starts: ∂" + name + "/∂" + name + ")");
      return [out, uses];
    }
    terms[i].forEach(function (pair) {
      var step = pair[0], t = pair[1], c = D.nodes[step.node].name;
      out.push("    " + c + ".grad × ∂" + c + "/∂" + name + " = " + step.grad + " × " + factor(t[1]) +
               " = " + t[2] + "  [" + D.rules[t[5]] + "]");
      uses.push("n" + step.node);
    });
    var last = terms[i][terms[i].length - 1];
    var sum = terms[i].length > 1 ? terms[i].map(function (pair) { return pair[1][2]; }).join(" + ") + " = " : "";
    out.push("    " + name + ".grad = " + sum + (last ? last[1][4] : "0"));
    return [out, uses];
  }
  // Network mode: every step at a neuron (its u and o, its δ, its weights' gradients).
  function story(id) {
    var out = [];
    steps.forEach(function (step) {
      if (step.kind !== "end" && step.kind !== "sgd" && step.cur && step.cur[0] === id) out = out.concat(lines(step));
    });
    return out;
  }
  function pick(id) {
    if (picks) {
      if (!(id in picks)) return;
      unmark(picked);
      mark(picked, [id], "dg-pick");
      byId("dg-chain-head").textContent = "Steps of " + picks[id];
      byId("dg-chain").textContent = story(id).join("\n");
      return;
    }
    var i = Number(id.slice(1)), node = D.nodes[i];
    if (!node) return;
    var found = chain(i);
    unmark(picked);
    mark(picked, [id], "dg-pick");
    mark(picked, found[1], "dg-use");
    byId("dg-chain-head").textContent = "Chain rule for " + node.name;
    byId("dg-chain").textContent = found[0].join("\n");
  }

  byId("dg-reset").addEventListener("click", reset);
  prev.addEventListener("click", function () { stop(); back(); });
  next.addEventListener("click", function () { stop(); forward(); });
  play.addEventListener("click", toggle);
  if (sgd) sgd.addEventListener("click", function () {
    stop();
    if (at > D.sgd) return;
    while (at < D.sgd) forward(true);
    show();
  });
  byId("dg-fit").addEventListener("click", function () {
    var on = graph.classList.toggle("fit");
    this.setAttribute("aria-pressed", on ? "true" : "false");
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowRight") { stop(); forward(); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { stop(); back(); e.preventDefault(); }
    else if ((e.key === "Enter" || e.key === " ") && e.target.classList && e.target.classList.contains("node")) {
      pick(picks ? e.target.id : e.target.id.replace(/op$/, ""));
      e.preventDefault();
    }
  });
  graph.addEventListener("click", function (e) {
    var node = e.target.closest && e.target.closest("g.node");
    if (node && picks) pick(node.id);
    else if (node && /^n\d+(op)?$/.test(node.id)) pick(node.id.replace(/op$/, ""));
  });
  var focusable = picks ? Object.keys(picks).map(function (id) { return [id, "Show the steps of " + picks[id]]; })
    : D.nodes.map(function (node, i) { return ["n" + i, "Value " + node.name + ": show its chain rule"]; });
  focusable.forEach(function (pair) {
    var el = byId(pair[0]);
    if (!el) return;
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", pair[1]);
  });
  var svg = graph.querySelector("svg"), width = svg ? svg.getBoundingClientRect().width : 0;
  if (width > graph.clientWidth && width * 0.75 <= graph.clientWidth) {  // fit when text stays >= 75%
    graph.classList.add("fit");
    byId("dg-fit").setAttribute("aria-pressed", "true");
  }
  reset();
})();
