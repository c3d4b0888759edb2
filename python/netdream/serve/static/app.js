// netdream serve: the live page. Plain JavaScript, no dependencies.
// Everything the network computes happens on the server: this file draws,
// sends messages over one WebSocket and paints what comes back.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null, model: 0, ws: null, retry: 500, drawn: false, padColour: null,
  predicting: false, predictAgain: false, target: 3, job: null, jobKind: null,
  paused: false, frames: 0, tiles: [], foolTiles: [], tab: "causal",
};

// ---------------------------------------------------------------- helpers
function pct(p) {
  if (!Number.isFinite(p)) return "–";
  if (p >= 1) return ">99.99%";
  return (Math.floor(p * 1e4) / 100).toFixed(2) + "%";
}
function fmt(n) { return Math.round(n).toLocaleString("en-US"); }
function rate(n) {
  if (!n) return "–";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
  return n.toFixed(0);
}
let errorTimer = null;
function showError(text) {
  const el = $("error");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { el.hidden = true; }, 8000);
}
function paint(canvas, b64, stretch, shape) {  // uint8 pixels, base64 -> canvas
  // shape: [channels, height, width] (3 channels: RGB triples; default the
  // canvas's size, grey); the canvas takes the image's size
  const raw = atob(b64);
  const [c, h, w] = shape || [1, canvas.height, canvas.width];
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const n = c * w * h;
  let lo = 0, hi = 255;
  if (stretch) {  // display only: the 2nd percentile black, the 98th white
    const count = new Uint32Array(256);
    for (let i = 0; i < n; i++) count[raw.charCodeAt(i)]++;
    let seen = 0;
    lo = -1; hi = 255;
    for (let v = 0; v < 256; v++) {
      seen += count[v];
      if (lo < 0 && seen > 0.02 * n) lo = v;
      if (seen >= 0.98 * n) { hi = v; break; }
    }
    if (hi - lo < 8) { lo = 0; hi = 255; }
  }
  const k = 255 / (hi - lo);
  for (let i = 0; i < w * h; i++) {
    for (let j = 0; j < 3; j++) img.data[4 * i + j] = (raw.charCodeAt(c === 3 ? 3 * i + j : i) - lo) * k;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
function intValue(id) { return Number($(id).value); }

// ---------------------------------------------------------------- socket
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  state.ws = ws;
  setStatus("connecting", "connecting…");
  ws.onopen = () => { state.retry = 500; setStatus("open", "connected"); };
  ws.onclose = () => {
    setStatus("closed", "disconnected — retrying");
    state.predicting = false;
    endJob("stopped");
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 8000);
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
}
function setStatus(s, text) { const el = $("status"); el.dataset.state = s; el.textContent = text; }
function send(msg) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    showError("not connected to the server (is `netdream serve` still running?)");
    return false;
  }
  state.ws.send(JSON.stringify({ model: state.model, ...msg }));
  return true;
}
function onMessage(m) {
  switch (m.type) {
    case "prediction": return onPrediction(m);
    case "started": state.job = m.job; state.jobKind = m.kind; state.paused = false; syncButtons(); return;
    case "frame": return m.kind === "dream" ? onDreamFrame(m) : onFoolFrame(m);
    case "state": return onState(m);
    case "note": return onNote(m);
    case "gif": return download(new Blob([Uint8Array.from(atob(m.data), (c) => c.charCodeAt(0))],
      { type: "image/gif" }), `dream-${state.target}.gif`);
    case "error":
      if (m.for === "predict") state.predicting = false;
      return showError(m.message);
  }
}

// ---------------------------------------------------------------- drawing
const pad = $("draw");
const pen = pad.getContext("2d");
function modelShape() { return state.info ? state.info.models[state.model].shape : [28, 28]; }
function colourModel() { const s = modelShape(); return s.length === 3 && s[0] === 3; }
function drawable() {  // grey and colour models: a 28x28 grey one's drawings are prepared as digits
  const s = modelShape();
  return s.length === 2 || (s.length === 3 && (s[0] === 1 || s[0] === 3));
}
function drawHint() {
  return drawable() ? "draw to see the answer"
    : `drawing is for grey or colour models; this one takes ${modelShape().join("×")} images`;
}
function fitPad() {  // the pad takes the model's proportions, 280 pixels wide
  const s = modelShape(), h = s[s.length - 2], w = s[s.length - 1];
  const height = Math.max(40, Math.min(840, Math.round(280 * h / w)));
  if (pad.height !== height || state.padColour !== colourModel()) {  // a drawing for another kind of model
    pad.height = height;
    pad.style.aspectRatio = `280 / ${height}`;
    $("seen").style.aspectRatio = `${w} / ${h}`;
    clearPad();
  }
  $("colours").hidden = !colourModel();
  const names = state.info ? state.info.models[state.model].class_names : [];
  const digits = s.length === 2 && s[0] === 28 && s[1] === 28 && names.join("") === "0123456789";
  $("draw-hint").textContent = `${digits ? "a digit" : "a picture"}, with mouse, pen or finger`;
}
function clearPad() {  // a colour model's pad takes the background colour chosen
  state.padColour = colourModel();
  pen.fillStyle = state.padColour ? $("pad-colour").value : "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  state.drawn = false;
  $("pred-digit").textContent = "–";
  $("pred-conf").textContent = drawHint();
  $("pred-ms").textContent = "";
  const seen = $("seen");
  seen.getContext("2d").clearRect(0, 0, seen.width, seen.height);
  renderBars(null);
}
function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
}
let last = null;
pad.addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  pad.setPointerCapture(ev.pointerId);
  last = padPoint(ev);
  stroke(last, last);
});
pad.addEventListener("pointermove", (ev) => {
  if (!last) return;
  const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
  for (const e of (events.length ? events : [ev])) { const p = padPoint(e); stroke(last, p); last = p; }
  predictSoon();
});
for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, () => { if (last) { last = null; predictSoon(); } });
}
function stroke(a, b) {
  pen.strokeStyle = colourModel() ? $("pen-colour").value : "#fff";
  pen.lineWidth = 20;
  pen.lineCap = pen.lineJoin = "round";
  pen.beginPath(); pen.moveTo(a[0], a[1]); pen.lineTo(b[0], b[1]); pen.stroke();
  state.drawn = true;
}
function predictSoon() {  // one request in flight; the newest drawing follows it
  if (!state.drawn) return;
  if (!drawable()) { $("pred-digit").textContent = "–"; $("pred-conf").textContent = drawHint(); return; }
  if (state.predicting) { state.predictAgain = true; return; }
  state.predicting = true;
  if (!send({ type: "predict", drawing: pad.toDataURL("image/png") })) state.predicting = false;
}
function onPrediction(m) {
  state.predicting = false;
  if (m.blank) { renderBars(null); }
  else {
    let best = 0;
    m.probs.forEach((p, k) => { if (p > m.probs[best]) best = k; });
    const names = state.info.models[state.model].class_names;
    $("pred-digit").textContent = names[best];
    $("pred-conf").textContent = pct(m.probs[best]);
    $("pred-ms").textContent = `${m.ms.toFixed(1)} ms on the server`;
    paint($("seen"), m.image, false, m.shape);
    renderBars(m.probs, best);
  }
  renderFeatureMaps(m.blank ? null : m.maps);
  if (state.predictAgain) { state.predictAgain = false; predictSoon(); }
}
function renderFeatureMaps(maps) {
  const box = $("fmaps"), grid = $("fmaps-grid");
  box.hidden = !maps;
  if (!maps) return;
  if (grid.childElementCount !== maps.length) {
    grid.innerHTML = "";
    maps.forEach((_, i) => grid.insertAdjacentHTML("beforeend",
      `<figure title="filter ${i}: click to dream of its channel"><img alt="filter ${i} on the drawing"><figcaption>${i}</figcaption></figure>`));
    grid.querySelectorAll("figure").forEach((f, i) => { f.onclick = () => dreamOf({ channel: [0, i] }); });
  }
  grid.querySelectorAll("img").forEach((img, i) => { img.src = maps[i]; });
}
function renderBars(probs, best) {
  const el = $("bars");
  const names = state.info ? state.info.models[state.model].class_names : [];
  const key = JSON.stringify(names);  // a model with as many classes may name them otherwise
  if (el.dataset.names !== key) {
    el.dataset.names = key;
    el.innerHTML = "";
    names.forEach((n) => {
      el.insertAdjacentHTML("beforeend",
        `<span class="k" title="${n.replace(/[<&>"]/g, "")}">${n.replace(/[<&>]/g, "")}</span><span class="bar"><i></i></span><span class="p">–</span>`);
    });
  }
  const bars = el.querySelectorAll(".bar"), ps = el.querySelectorAll(".p");
  bars.forEach((b, k) => {
    const p = probs ? probs[k] : 0;
    b.firstChild.style.width = `${(100 * p).toFixed(1)}%`;
    b.classList.toggle("best", probs !== null && k === best);
    ps[k].textContent = probs ? pct(p) : "–";
  });
}

// ---------------------------------------------------------------- dreams
function dreamTargetLabel() {
  if (typeof state.target !== "object") return String(state.target);
  return state.target.hidden ? `unit ${state.target.hidden[1]}` : `channel ${state.target.channel[1]}`;
}
function renderClasses() {
  const el = $("classes");
  el.innerHTML = "";
  const names = state.info.models[state.model].class_names;
  names.forEach((n, k) => {
    const b = document.createElement("button");
    b.textContent = n; b.dataset.k = k;
    b.setAttribute("aria-pressed", String(state.target === k));
    b.onclick = () => selectTarget(k);
    el.appendChild(b);
  });
  if (typeof state.target === "object") {
    const b = document.createElement("button");
    b.className = "unit"; b.setAttribute("aria-pressed", "true");
    b.textContent = state.target.hidden
      ? `hidden unit ${state.target.hidden[1]} of layer ${state.target.hidden[0]}`
      : `channel ${state.target.channel[1]} of layer ${state.target.channel[0]}`;
    el.appendChild(b);
  }
  $("conf-label").textContent = typeof state.target === "object" ? "activation" : "confidence";
}
function selectTarget(t) { state.target = t; renderClasses(); }
function setupStage(n) {
  const stage = $("stage");
  stage.innerHTML = "";
  stage.style.setProperty("--cols", n <= 1 ? 1 : n <= 4 ? 2 : 4);
  stage.classList.toggle("many", n > 4);
  state.tiles = [];
  for (let i = 0; i < n; i++) {
    const tile = document.createElement("div");
    tile.className = "tile";
    const c = document.createElement("canvas");
    c.width = c.height = 28; c.id = `dream-${i}`;
    const tag = document.createElement("span");
    tag.className = "tag"; tag.textContent = "";
    tile.append(c, tag); stage.appendChild(tile);
    state.tiles.push({ canvas: c, tag });
  }
}
function runDream(average) {
  const runs = average ? intValue("avg-n") : intValue("runs");
  const msg = {
    type: "dream", target: state.target, runs, steps: intValue("steps"),
    start: $("start").value, objective: $("objective").value,
    step_size: Number($("step-size").value),
    smoothness: $("smooth").checked ? Number($("smooth-weight").value) : 0,
    average, pace: Number($("pace").value), seed: Math.floor(Math.random() * 2 ** 31),
  };
  if (msg.start === "drawing") {
    if (!state.drawn) { showError("draw something first to start a dream from it"); return; }
    msg.drawing = pad.toDataURL("image/png");
  }
  if (!send(msg)) return;
  state.average = average;
  setupStage(average ? Math.min(runs, 4) : Math.min(runs, 8));
  state.frames = 0;
  $("stage").dataset.frames = "0";
  resetReadout("starting…");
}
function resetReadout(text) {
  $("dream-conf").textContent = "–"; $("dream-conf").dataset.value = "0";
  $("candidates").textContent = "0"; $("rate").textContent = "–";
  $("progress-bar").style.width = "0"; $("dream-state").textContent = text;
  $("dream-note").hidden = true;
}
function onNote(m) {  // a dream stuck near its start: what to try
  if (m.job !== state.job) return;
  const el = $("dream-note");
  el.textContent = m.message; el.hidden = false;
}
function onDreamFrame(m) {
  if (m.job !== state.job && m !== state.last) return;
  state.last = m;
  m.images.forEach((b64, i) => {
    const t = state.tiles[i];
    if (!t) return;
    paint(t.canvas, b64, $("stretch").checked, m.shape);
    const c = m.confidence[i];
    t.tag.textContent = (state.average && i === 0 ? "average · " : "") +
      (typeof state.target === "object" ? c.toFixed(3) : pct(c));
  });
  const c0 = m.confidence[0];
  const conf = $("dream-conf");
  conf.textContent = typeof state.target === "object" ? c0.toFixed(3) : pct(c0);
  conf.dataset.value = String(c0);
  $("candidates").textContent = fmt(m.candidates);
  $("rate").textContent = rate(m.rate);
  $("progress-bar").style.width = `${(100 * Math.min(1, m.progress)).toFixed(1)}%`;
  state.frames += 1;
  $("stage").dataset.frames = String(state.frames);
}
function onState(m) {
  if (m.job !== state.job) return;
  if (m.kind === "dream") $("dream-state").textContent = m.state;
  else if (m.state !== "running") {
    const el = $("fool-state");
    el.textContent = el.textContent.startsWith("generation") ? `${el.textContent} · ${m.state}` : m.state;
  }
  state.paused = m.state === "paused";
  if (m.state === "done" || m.state === "stopped" || m.state === "failed") endJob(m.state);
  syncButtons();
}
function endJob() { state.job = null; state.jobKind = null; state.paused = false; syncButtons(); }
function syncButtons() {
  const dreaming = state.job !== null && state.jobKind === "dream";
  $("pause").disabled = !dreaming;
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  $("fool-stop").disabled = !(state.job !== null && state.jobKind === "evolve");
}
function savePng(canvases, name) {  // the images side by side, 10x, as the page shows them
  if (!canvases.length) { showError("nothing to save yet: run a search first"); return; }
  const w = canvases[0].width, h = canvases[0].height;
  const s = Math.max(1, Math.round(280 / Math.max(w, h))), gap = 8;  // about 280 pixels a side
  const out = document.createElement("canvas");
  out.width = canvases.length * (w * s + gap) - gap; out.height = h * s;
  const ctx = out.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  canvases.forEach((c, i) => ctx.drawImage(c, i * (w * s + gap), 0, w * s, h * s));
  out.toBlob((b) => download(b, name), "image/png");
}

// ---------------------------------------------------------------- fooling images
function renderFoolTargets() {
  const sel = $("fool-target");
  sel.innerHTML = '<option value="all">all (MAP-Elites)</option>';
  state.info.models[state.model].class_names.forEach((n, k) => {
    sel.insertAdjacentHTML("beforeend", `<option value="${k}">${n.replace(/[<&>"]/g, "")}</option>`);
  });
}
function runFool() {
  const v = $("fool-target").value;
  const target = v === "all" ? "all" : Number(v);
  if (!send({ type: "evolve", target, population: intValue("population"), steps: intValue("generations"),
    seed: Math.floor(Math.random() * 2 ** 31) })) return;
  const grid = $("fool-grid");
  grid.innerHTML = "";
  state.foolTiles = [];
  const names = state.info.models[state.model].class_names;
  const n = target === "all" ? names.length : 1;
  for (let i = 0; i < n; i++) {
    const f = document.createElement("figure");
    const c = document.createElement("canvas"); c.width = c.height = 28;
    const cap = document.createElement("figcaption");
    cap.textContent = target === "all" ? names[i] : names[target];
    f.append(c, cap); grid.appendChild(f);
    state.foolTiles.push({ canvas: c, cap, name: cap.textContent });
  }
  $("fool-state").textContent = "starting…";
}
function onFoolFrame(m) {
  if (m.job !== state.job) return;
  m.images.forEach((b64, i) => {
    const t = state.foolTiles[i];
    if (!t) return;
    paint(t.canvas, b64, false, m.shape);
    t.cap.textContent = `${t.name}: ${pct(m.confidence[i])}`;
  });
  $("fool-state").textContent = `generation ${fmt(m.generation)} · ${rate(m.rate)} images/s`;
}

// ---------------------------------------------------------------- looking inside
async function showInside(tab) {
  state.tab = tab;
  document.querySelectorAll(".tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
  const el = $("inside"), note = $("inside-note");
  el.innerHTML = ""; note.textContent = "loading…";
  const r = await fetch(`/api/models/${state.model}/${tab}`);
  const d = await r.json();
  if (!r.ok) { note.textContent = d.error; return; }
  const names = state.info.models[state.model].class_names;
  const add = (src, caption, onclick, title) => {
    const f = document.createElement("figure");
    const img = document.createElement("img"); img.src = src; img.alt = caption;
    if (title) f.title = title;
    const cap = document.createElement("figcaption"); cap.textContent = caption;
    f.append(img, cap); f.onclick = onclick; el.appendChild(f);
  };
  if (tab === "causal") {
    d.maps.forEach((src, k) => add(src, names[k], () => dreamOf(k), `dream of ${names[k]}`));
    note.textContent = "Red: ink there raises the class; blue: lowers it. Click a class to dream of it.";
  } else if (tab === "fields" && d.kind === "channel") {
    d.maps.forEach((src, i) => add(src, `filter ${d.units[i]}`,
      () => dreamOf({ channel: [d.layer, d.units[i]] }), `dream of channel ${d.units[i]}`));
    note.textContent = (d.colour ? "The first convolution's filters in colour (grey: a zero weight; a colour: the colour there that excites the channel most)."
      : "The first convolution's filters (red: ink there excites the channel, blue: inhibits it).") +
      " Click one to dream of what makes its channel fire most.";
  } else if (tab === "fields") {
    d.maps.forEach((src, i) => add(src, `${d.units[i]} · ${d.focus[i].toFixed(2)}`,
      () => dreamOf({ hidden: [d.layer, d.units[i]] }), `dream of hidden unit ${d.units[i]}`));
    note.textContent = "Incoming weights of the first hidden layer's units, most focused first (unit · focus). Click one to dream of it.";
  } else {
    d.images.forEach((src, i) => add(src, `${names[d.true[i]]}→${names[d.predicted[i]]} ${Math.round(100 * d.confidence[i])}%`,
      () => dreamOf(d.predicted[i]), `dream of ${names[d.predicted[i]]}`));
    note.textContent = `${fmt(d.wrong)} of ${fmt(d.total)} test images are misclassified; the most confident mistakes first (true→predicted).`;
  }
}
function dreamOf(target) {
  selectTarget(target);
  // a channel is off everywhere on a blank image: no one-pixel change moves it
  if (target && target.channel && $("start").value === "blank") $("start").value = "grey";
  $("dream-card").scrollIntoView({ behavior: "smooth", block: "start" });
  runDream(false);
}

// ---------------------------------------------------------------- start
async function init() {
  const r = await fetch("/api/info");
  state.info = await r.json();
  const sel = $("model");
  state.info.models.forEach((m) => {
    const o = document.createElement("option");
    o.value = m.index; o.textContent = m.name; sel.appendChild(o);
  });
  const lim = state.info.limits;
  $("runs").max = Math.min(lim.shown, lim.runs);
  $("steps").max = lim.steps;
  $("avg-n").max = lim.runs;
  $("population").max = lim.population;
  $("generations").max = lim.generations;
  sel.onchange = () => { chooseModel(Number(sel.value)); };
  chooseModel(0);
  clearPad();
  setupStage(1);
  connect();
  $("clear").onclick = clearPad;
  $("pad-colour").onchange = clearPad;
  $("run").onclick = () => runDream(false);
  $("run-average").onclick = () => runDream(true);
  $("pause").onclick = () => send({ type: state.paused ? "resume" : "pause" });
  $("reset").onclick = () => {
    if (state.job !== null) send({ type: "stop" });
    setupStage(intValue("runs") > 1 ? Math.min(intValue("runs"), 8) : 1);
    resetReadout("ready");
  };
  $("dream-from-drawing").onclick = () => {
    $("start").value = "drawing";
    $("dream-card").scrollIntoView({ behavior: "smooth", block: "start" });
    runDream(false);
  };
  $("save-png").onclick = () => savePng(state.frames ? state.tiles.map((t) => t.canvas) : [],
    `dream-${dreamTargetLabel().replace(" ", "-")}.png`);
  $("fool-png").onclick = () => savePng(state.foolTiles.map((t) => t.canvas), "fooling-images.png");
  $("save-gif").onclick = () => send({ type: "gif" });
  $("fool-run").onclick = runFool;
  $("fool-stop").onclick = () => send({ type: "stop" });
  $("stretch").onchange = () => { if (state.last) onDreamFrame(state.last); };
  $("step-size").oninput = () => { $("step-size-out").textContent = Number($("step-size").value).toFixed(2); };
  document.querySelectorAll(".tabs button").forEach((b) => { b.onclick = () => showInside(b.dataset.tab); });
}
function chooseModel(i) {
  state.model = i;
  const m = state.info.models[i];
  $("model-summary").textContent = m.summary;
  document.querySelector('.tabs button[data-tab="fields"]').textContent =
    m.convolutional ? "Filters" : "Receptive fields";
  if (typeof state.target !== "number" || state.target >= m.classes) state.target = Math.min(3, m.classes - 1);
  // the causal index has no meaning for a CNN: show its filters instead
  if (m.convolutional && state.tab === "causal") state.tab = "fields";
  renderClasses();
  renderFoolTargets();
  renderBars(null);
  $("dream-from-drawing").disabled = !drawable();
  fitPad();
  if (!state.drawn) $("pred-conf").textContent = drawHint();
  if (state.drawn) predictSoon();
  if (state.info) showInside(state.tab);
}
init().catch((e) => showError(`could not load the page's data: ${e}`));
