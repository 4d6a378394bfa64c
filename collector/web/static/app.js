// The collector's web UI: pages drawn from the JSON API (/api/v0/web/...), refreshed every few
// seconds. No framework: each page is a function that fetches and returns HTML, or updates the page
// in place and returns null (the graph keeps its zoom, live debugging keeps its stream).
"use strict";

const REFRESH_MS = 3000;
const main = document.getElementById("main");

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function rate(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 1e6) return (value / 1e6).toFixed(1) + "M/s";
  if (value >= 1e3) return (value / 1e3).toFixed(1) + "k/s";
  return (value >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1)) + "/s";
}

function num(value) { return value === null || value === undefined ? "—" : Number(value).toLocaleString(); }

function bytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
  return value.toFixed(i ? 1 : 0) + " " + units[i];
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.floor(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + (s % 60) + "s";
}

function percent(fill) { return fill === null || fill === undefined ? "—" : (fill * 100).toFixed(1) + " %"; }

function badge(health) {
  const derived = health.derived ? " (from counters)" : "";
  return `<span class="badge ${esc(health.state)}">${esc(health.state)}</span> <span class="muted">${esc(health.message)}${derived}</span>`;
}

function componentLink(id) { return `<a href="/component/${encodeURIComponent(id)}">${esc(id)}</a>`; }

async function getJSON(path) {
  const response = await fetch(path, {cache: "no-store"});
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// --- Alloy "bodies" as Alloy text ----------------------------------------------------------------
function value(v, indent) {
  switch (v.type) {
    case "null": return "null";
    case "string": return JSON.stringify(v.value);
    case "number": case "bool": return String(v.value);
    case "capsule": case "function": return v.value;
    case "array": return "[" + v.value.map((x) => value(x, indent)).join(", ") + "]";
    case "object": {
      if (!v.value.length) return "{}";
      const pad = "  ".repeat(indent + 1);
      return "{\n" + v.value.map((kv) => `${pad}${JSON.stringify(kv.key)} = ${value(kv.value, indent + 1)},`).join("\n") + "\n" + "  ".repeat(indent) + "}";
    }
    default: return JSON.stringify(v.value);
  }
}

function body(statements, indent = 0) {
  const pad = "  ".repeat(indent);
  return statements.map((s) => s.type === "attr"
    ? `${pad}${s.name} = ${value(s.value, indent)}`
    : `${pad}${s.name}${s.label ? ` "${s.label}"` : ""} {\n${body(s.body, indent + 1)}${s.body.length ? "\n" : ""}${pad}}`).join("\n");
}

// --- pages ---------------------------------------------------------------------------------------
async function componentsPage() {
  const list = await getJSON("/api/v0/web/components");
  const rows = list.map((c) => `<tr data-id="${esc(c.localID)}">
    <td>${componentLink(c.localID)}</td><td>${esc(c.kind)}</td><td>${esc(c.name)}</td><td>${esc(c.label)}</td>
    <td>${badge(c.health)}</td><td class="num">${rate(c.itemsPerSecond.in)}</td><td class="num">${rate(c.itemsPerSecond.out)}</td></tr>`);
  return `<h1>Components <span class="muted">(${list.length})</span></h1>
    <table><thead><tr><th>Component</th><th>Kind</th><th>Name</th><th>Label</th><th>Health</th>
    <th class="num">In</th><th class="num">Out</th></tr></thead><tbody>${rows.join("")}</tbody></table>
    <p class="muted">Items per second over the last few seconds, from the components' own counters; "—" means the component keeps no such counter.</p>`;
}

function sizedNum(value, sizer) { return sizer === "bytes" ? bytes(value) : num(value); }

// A load balancer's current backends (otelcol.exporter.loadbalancing), or "" for other components.
function lbBackends(list) {
  if (!list) return "";
  const rows = list.map((b) => `<tr><td>${esc(b.endpoint)}</td><td class="num">${num(b.items)}</td></tr>`).join("");
  return `<div><h2>Backends <span class="muted">(${list.length} in the ring)</span></h2><table>
    <thead><tr><th>Endpoint</th><th class="num">Items routed</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

// An exporter's sending queue (the collector_exporter_queue_* gauges), or "" without one.
function sendingQueue(q) {
  if (!q) return "";
  const unit = q.sizer === "requests" ? "batches" : q.sizer === "items" ? "items" : "";
  const used = {requests: q.requests, items: q.items, bytes: q.bytes}[q.sizer];
  return `<div><h2>Sending queue <span class="muted">(${esc(q.storage === "disk" ? "on disk" : "in memory")})</span></h2><table><tbody>
      <tr><th>Batches</th><td class="num">${num(q.requests)}</td></tr>
      <tr><th>Items</th><td class="num">${num(q.items)}</td></tr>
      <tr><th>Bytes</th><td class="num">${bytes(q.bytes)}${q.capacityBytes ? ` / ${bytes(q.capacityBytes)} (${percent(q.bytesFill)})` : ""}</td></tr>
      ${q.storage === "disk" ? `<tr><th>Segment files</th><td class="num">${bytes(q.fileBytes)}</td></tr>` : ""}
      <tr><th>Capacity</th><td class="num">${sizedNum(used, q.sizer)} / ${sizedNum(q.capacity, q.sizer)} ${esc(unit)} (${percent(q.fill)})</td></tr>
      <tr><th>Oldest undelivered</th><td class="num">${q.oldestAgeSeconds ? duration(q.oldestAgeSeconds) : "—"}</td></tr>
    </tbody></table></div>`;
}

async function detailPage(id) {
  const c = await getJSON("/api/v0/web/components/" + encodeURIComponent(id));
  const counters = c.counters;
  const bySignal = (dir) => Object.entries(c.itemsPerSecondBySignal[dir]).map(([s, r]) => `${esc(s)} ${rate(r)}`).join(", ") || "—";
  const links = (ids) => ids.length ? ids.map(componentLink).join("<br>") : '<span class="muted">none</span>';
  const edges = c.edges.map((e) => `<tr><td>${componentLink(e.source)}</td><td>${componentLink(e.target)}</td>
    <td>${esc(e.signal ?? e.kind)}</td><td class="num">${e.signal ? rate(e.rate) : ""}</td></tr>`).join("");
  const errors = c.recentErrors.length
    ? "<ul>" + c.recentErrors.map((e) => `<li><span class="muted">${esc(e.time)}</span> ${esc(e.message)}</li>`).join("") + "</ul>"
    : '<p class="muted">No errors reported (health messages and failure counters are the sources).</p>';
  const watchable = c.edges.some((e) => e.source === c.localID && e.kind === "otlp");
  const debugLink = watchable
    ? ` <a class="button" id="live-debugging" href="/debug/${encodeURIComponent(c.localID)}">Live debugging</a>` : "";
  return `<h1>${esc(c.localID)}</h1>
    <p>${badge(c.health)} <span class="muted">since ${esc(c.health.updatedTime)}</span>${debugLink}</p>
    <div class="grid">
    <div><h2>Items per second</h2><table><tbody>
      <tr><th>In</th><td>${bySignal("in")}</td></tr><tr><th>Out</th><td>${bySignal("out")}</td></tr></tbody></table></div>
    <div><h2>Counters (totals)</h2><table><tbody>
      <tr><th>Accepted</th><td class="num">${num(counters.accepted)}</td></tr>
      <tr><th>Refused</th><td class="num">${num(counters.refused)}</td></tr>
      <tr><th>Sent</th><td class="num">${num(counters.sent)}</td></tr>
      <tr><th>Failed</th><td class="num">${num(counters.failed)}</td></tr>
      <tr><th>Dropped</th><td class="num">${num(counters.dropped)}</td></tr>
      <tr><th>Queue</th><td class="num">${num(counters.queue.size)} / ${num(counters.queue.capacity)} (${percent(counters.queue.fill)})</td></tr>
    </tbody></table></div>
    ${sendingQueue(c.sendingQueue)}
    ${lbBackends(c.backends)}
    <div><h2>References to</h2><p>${links(c.referencesTo)}</p><h2>Referenced by</h2><p>${links(c.referencedBy)}</p></div>
    </div>
    <h2>Data flow</h2><table><thead><tr><th>From</th><th>To</th><th>Signal</th><th class="num">Rate</th></tr></thead><tbody>${edges}</tbody></table>
    <h2>Recent errors</h2>${errors}
    <h2>Arguments</h2><pre class="body">${esc(body(c.arguments)) || '<span class="muted">(all defaults)</span>'}</pre>
    <h2>Exports</h2><pre class="body">${esc(body(c.exports || [])) || '<span class="muted">(none)</span>'}</pre>`;
}

// --- graph: fitted to the window, zoom (wheel, + / −), pan (drag), direction -----------------------
const graphState = {view: null, direction: localStorage.getItem("graphDirection") || "TB", drag: null, moved: false};
const ZOOM_STEP = 1.25, MAX_FIT_SCALE = 1.25;

function graphFull(svg) { return {w: Number(svg.dataset.width), h: Number(svg.dataset.height)}; }

// The scale and origin that show the whole graph, centred, in the box (never blown up past MAX_FIT_SCALE).
function fitView(full, box) {
  const scale = Math.min(box.clientWidth / full.w, box.clientHeight / full.h, MAX_FIT_SCALE);
  return {scale, x: (full.w - box.clientWidth / scale) / 2, y: (full.h - box.clientHeight / scale) / 2};
}

function applyView() {
  const box = document.getElementById("graph"), svg = box && box.querySelector("svg");
  if (!svg) return;
  if (!svg.dataset.width) {  // first sight of this SVG: remember its size, let the box size it
    svg.dataset.width = svg.getAttribute("width");
    svg.dataset.height = svg.getAttribute("height");
    svg.setAttribute("width", "100%");
    svg.setAttribute("height", "100%");
  }
  const v = graphState.view || fitView(graphFull(svg), box);
  svg.setAttribute("viewBox", `${v.x.toFixed(1)} ${v.y.toFixed(1)} ${(box.clientWidth / v.scale).toFixed(1)} ${(box.clientHeight / v.scale).toFixed(1)}`);
  box.dataset.scale = v.scale.toFixed(4);
}

function sizeGraphBox() {
  const box = document.getElementById("graph");
  if (!box) return;
  box.style.height = Math.max(240, window.innerHeight - (box.getBoundingClientRect().top + window.scrollY) - 24) + "px";
  applyView();
}

// Zoom by `factor` keeping the graph point under (px, py) (pixels in the box) where it is.
function zoom(factor, px, py) {
  const box = document.getElementById("graph"), svg = box.querySelector("svg");
  const v = graphState.view || fitView(graphFull(svg), box);
  if (px === undefined) { px = box.clientWidth / 2; py = box.clientHeight / 2; }
  const scale = Math.min(Math.max(v.scale * factor, 0.05), 8);
  graphState.view = {scale, x: v.x + px / v.scale - px / scale, y: v.y + py / v.scale - py / scale};
  applyView();
}

function wireGraph() {
  const box = document.getElementById("graph");
  document.getElementById("zoom-in").onclick = () => zoom(ZOOM_STEP);
  document.getElementById("zoom-out").onclick = () => zoom(1 / ZOOM_STEP);
  document.getElementById("zoom-fit").onclick = () => { graphState.view = null; applyView(); };
  document.getElementById("direction").onclick = () => {
    graphState.direction = graphState.direction === "TB" ? "LR" : "TB";
    localStorage.setItem("graphDirection", graphState.direction);
    graphState.view = null;
    main.dataset.page = "";  // redraw the page for the other layout
    refresh();
  };
  box.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = box.getBoundingClientRect();
    zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
  }, {passive: false});
  box.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    const svg = box.querySelector("svg");
    graphState.drag = {x: event.clientX, y: event.clientY, start: graphState.view || fitView(graphFull(svg), box)};
    graphState.moved = false;
  });
  window.onpointermove = (event) => {
    const drag = graphState.drag;
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!graphState.moved && Math.hypot(dx, dy) < 4) return;
    graphState.moved = true;
    box.classList.add("dragging");
    graphState.view = {scale: drag.start.scale, x: drag.start.x - dx / drag.start.scale, y: drag.start.y - dy / drag.start.scale};
    applyView();
  };
  window.onpointerup = () => { graphState.drag = null; box.classList.remove("dragging"); };
  // a drag that ends on a node must not open it
  box.addEventListener("click", (event) => { if (graphState.moved) { event.preventDefault(); event.stopPropagation(); graphState.moved = false; } }, true);
  window.onresize = sizeGraphBox;
}

async function graphPage() {
  const response = await fetch("/api/v0/web/graph.svg?direction=" + graphState.direction, {cache: "no-store"});
  if (!response.ok) throw new Error("graph: HTTP " + response.status);
  const svg = await response.text();
  if (main.dataset.page === "graph" && document.getElementById("graph")) {
    if (!graphState.drag) {  // refresh the rates and health in place, keeping zoom and pan
      document.getElementById("graph").innerHTML = svg;
      applyView();
    }
    return null;
  }
  const swatches = [["receiver", "#2563eb"], ["processor", "#7c3aed"], ["connector", "#0d9488"], ["exporter", "#ea580c"],
    ["prometheus", "#c2410c"], ["discovery", "#4d7c0f"]].map(([k, c]) => `<span><span class="swatch" style="background:${c}"></span>${k}</span>`).join("");
  main.innerHTML = `<h1>Graph</h1>
    <div class="legend">${swatches}<span>· border: <b style="color:#16a34a">healthy</b> <b style="color:#dc2626">unhealthy</b> <b style="color:#9ca3af">unknown</b></span>
    <span>· edges: <b style="color:#b45309">metrics</b> <b style="color:#047857">logs</b> <b style="color:#1d4ed8">traces</b> with items/s (the source's output rate)</span></div>
    <div class="tools"><button id="zoom-in" title="Zoom in">+</button><button id="zoom-out" title="Zoom out">−</button>
    <button id="zoom-fit" title="Show the whole graph">Fit</button>
    <button id="direction" title="Lay the graph out the other way">${graphState.direction === "TB" ? "Left to right" : "Top to bottom"}</button>
    <span class="muted">mouse wheel: zoom · drag: pan · click a component for its details</span></div>
    <div class="graph-box" id="graph">${svg}</div>`;
  main.dataset.page = "graph";
  wireGraph();
  sizeGraphBox();
  return null;
}

// --- live debugging: the items leaving one component, streamed ------------------------------------
const debugState = {id: null, controller: null, paused: false, shown: 0, dropped: 0, probability: "1"};
const DEBUG_MAX_LINES = 1000;

function debugMatches(line) {
  const filter = document.getElementById("debug-filter").value.trim().toLowerCase();
  return !filter || line.dataset.text.includes(filter);
}

function debugCount() {
  document.getElementById("debug-count").textContent =
    `${debugState.shown} items · ${debugState.dropped} dropped` + (debugState.paused ? " · paused" : "");
}

function debugAppend(record) {
  const log = document.getElementById("debug-log");
  const line = document.createElement("div");
  const time = new Date().toLocaleTimeString();
  if ("dropped" in record && !("signal" in record)) {
    debugState.dropped += record.dropped;
    line.className = "notice";
    line.textContent = `${time}  ${record.dropped} items not shown (${record.reason})`;
  } else {
    debugState.shown += 1;
    line.className = "item " + (record.signal || "");
    const text = JSON.stringify(record);
    line.textContent = `${time}  ${text}`;
  }
  line.dataset.text = line.textContent.toLowerCase();
  line.hidden = !debugMatches(line);
  log.prepend(line);  // newest first
  while (log.childElementCount > DEBUG_MAX_LINES) log.lastElementChild.remove();
}

async function debugStream() {
  const id = debugState.id, controller = new AbortController();
  debugState.controller = controller;
  const status = document.getElementById("debug-status");
  try {
    const response = await fetch(`/api/v0/web/debug/${encodeURIComponent(id)}?sampleProb=${debugState.probability}`,
      {cache: "no-store", signal: controller.signal});
    if (!response.ok) {
      status.innerHTML = `<span class="bad">${esc(await response.text())}</span>`;
      return;
    }
    status.textContent = "watching: items appear as they leave the component (newest first)";
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      const records = buffer.split("|;|");
      buffer = records.pop();
      for (const text of records) if (text.trim()) debugAppend(JSON.parse(text));
      debugCount();
    }
    status.textContent = "the stream ended (collector stopped or reloaded without live debugging)";
  } catch (err) {
    if (err.name !== "AbortError") status.innerHTML = `<span class="bad">${esc(err.message)}</span>`;
  }
}

function debugRestart() {
  if (debugState.controller) debugState.controller.abort();
  debugState.controller = null;
  if (!debugState.paused) debugStream();
  debugCount();
}

async function debugPage(id) {
  if (main.dataset.page === "debug" && debugState.id === id) return null;  // keep the stream
  debugState.id = id;
  const rates = ["1", "0.1", "0.01", "0.001"].map((p) => `<option value="${p}"${p === debugState.probability ? " selected" : ""}>${Number(p) * 100} %</option>`).join("");
  main.innerHTML = `<h1>Live debugging <span class="muted">${componentLink(id)}</span></h1>
    <p class="muted">The spans, log records and metric data points leaving this component, sampled. Nothing is
    tapped while nobody watches; a slow page loses items (counted) instead of slowing the pipeline.</p>
    <div class="tools">
      <button id="debug-pause">Pause</button> <button id="debug-clear">Clear</button>
      <label>Sample rate <select id="debug-rate">${rates}</select></label>
      <input id="debug-filter" type="search" placeholder="Filter: text the item contains" size="36">
      <span id="debug-count" class="muted"></span></div>
    <p id="debug-status" class="muted">connecting…</p>
    <div id="debug-log" class="debug-log"></div>`;
  main.dataset.page = "debug";
  document.getElementById("debug-pause").onclick = (event) => {
    debugState.paused = !debugState.paused;
    event.target.textContent = debugState.paused ? "Resume" : "Pause";
    debugRestart();
  };
  document.getElementById("debug-clear").onclick = () => {
    document.getElementById("debug-log").replaceChildren();
    debugState.shown = debugState.dropped = 0;
    debugCount();
  };
  document.getElementById("debug-rate").onchange = (event) => { debugState.probability = event.target.value; debugRestart(); };
  document.getElementById("debug-filter").oninput = () => {
    for (const line of document.getElementById("debug-log").children) line.hidden = !debugMatches(line);
  };
  debugRestart();
  return null;
}

// Rings a previous run left, listed while the workers drain them (they disappear once released).
function adoptedRings(list) {
  const rows = list.flatMap((p) => (p.adoptedRings || []).map((r) => `<tr data-ring="${esc(r.name)}"><td>${esc(p.key)}</td>
    <td>${esc(r.name)}</td><td class="num">${num(r.records)}</td><td class="num">${bytes(r.usedBytes)}</td></tr>`));
  if (!rows.length) return "";
  return `<h2>Adopted rings <span class="muted">(draining)</span></h2><table><thead><tr><th>Process</th><th>Ring</th>
    <th class="num">Records when adopted</th><th class="num">Still used</th></tr></thead><tbody>${rows.join("")}</tbody></table>
    <p class="muted">Rings a previous run of this collector left (a crash, or a stop that could not deliver in time); each worker delivers what they hold, then releases them.</p>`;
}

function pssCell(m) {
  if (!m) return `<td class="num">—</td>`;
  return `<td class="num">${bytes(m.pssBytes)} <span class="muted">(${bytes(m.anonBytes)} · ${bytes(m.fileBytes)} · ${bytes(m.shmemBytes)})</span></td>`;
}

async function processesPage() {
  const list = await getJSON("/api/v0/web/processes");
  const rows = list.map((p) => `<tr data-key="${esc(p.key)}"><td>${esc(p.key)}</td><td>${esc(p.role)}</td><td>${esc(p.signal ?? "")}</td>
    <td class="num">${p.pid ?? "—"}</td><td>${p.running ? (p.ready ? "ready" : "starting") : "not running"}</td>
    <td class="num">${duration(p.uptimeSeconds)}</td><td class="num">${p.restarts}</td>
    <td class="num">${p.cpuPercent === null || p.cpuPercent === undefined ? "—" : p.cpuPercent.toFixed(1) + " %"}</td>
    <td class="num">${bytes(p.rssBytes)}</td>${pssCell(p.memory)}<td class="num">${percent(p.ringFill)}</td></tr>`);
  return `<h1>Processes</h1><table><thead><tr><th>Process</th><th>Role</th><th>Signal</th><th class="num">PID</th><th>State</th>
    <th class="num">Uptime</th><th class="num">Restarts</th><th class="num">CPU</th><th class="num">RSS</th><th class="num">PSS (heap · code · rings)</th><th class="num">Ring fill</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table>
    <p class="muted">PSS: memory shared between processes counted once over all of them; heap is anonymous memory (interpreter, imported modules, buffers), code is mapped from files (interpreter, libraries), rings are shared-memory ring pages. Ring fill: the fullest shared-memory ring the process writes (receivers) or reads (workers).</p>
    ${adoptedRings(list)}`;
}

async function statusLine() {
  const s = await getJSON("/api/v0/web/status");
  const reload = s.lastReload
    ? `last reload ${esc(s.lastReload.time)}: <span class="${s.lastReload.ok ? "" : "bad"}">${s.lastReload.ok ? "ok" : "failed"} — ${esc(s.lastReload.message)}</span>`
    : `loaded ${esc(s.startedTime)}, no reload since`;
  return `${s.ready ? "ready" : '<span class="bad">not ready</span>'} · ${s.components} components · config ${esc(s.configHash.slice(0, 12))} · ${reload}`;
}

function route() {
  const path = location.pathname;
  if (path.startsWith("/component/")) return ["components", () => detailPage(decodeURIComponent(path.slice("/component/".length)))];
  if (path.startsWith("/debug/")) return ["components", () => debugPage(decodeURIComponent(path.slice("/debug/".length)))];
  if (path === "/graph") return ["graph", graphPage];
  if (path === "/processes") return ["processes", processesPage];
  return ["components", componentsPage];
}

async function refresh() {
  const [nav, page] = route();
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
  try {
    const html = await page();
    if (html !== null) {
      main.innerHTML = html;
      main.dataset.page = "";
    }
    main.dataset.loaded = "true";
  } catch (err) {
    main.innerHTML = `<p class="bad">Could not load this page: ${esc(err.message)}</p>`;
  }
  try { document.getElementById("status").innerHTML = await statusLine(); } catch (err) { /* the page shows the error */ }
}

refresh();
setInterval(refresh, REFRESH_MS);
