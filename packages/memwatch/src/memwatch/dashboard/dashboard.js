// memwatch's dashboard: reads the memwatch HTTP API with the token the user gives it.
// The page itself carries no data. The token lives in this script's memory (or in the
// URL fragment, which browsers never send); requests carry it as a bearer header, never
// in a query string or a cookie. Every value from the API is written with textContent.
"use strict";

(function () {
  const API = location.pathname.replace(/\/ui\/?$/, "").replace(/\/$/, "");
  const POLL_MS = 2000;
  const PROBES = {
    rss: "process RSS", peak_rss: "peak process RSS", tracemalloc: "traced bytes (tracemalloc)",
    mallinfo2: "malloc in use (mallinfo2)", cgroup: "cgroup memory",
  };
  const state = {
    token: tokenFromFragment(), pid: null, samplesRoute: true, workersRoute: true,
    history: { time: [], reading: [], baseline: [] }, leaks: [], limit: null,
    selected: null, profiles: [], writable: true, chart: null,
  };
  const $ = (id) => document.getElementById(id);

  function tokenFromFragment() {
    const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // -- formatting, as memwatch formats sizes ------------------------------------------
  function size(bytes) {
    if (typeof bytes !== "number") return "–";
    const abs = Math.abs(bytes);
    const two = (v) => String(Number(v.toFixed(2)));
    if (abs > 1048576) return two(bytes / 1048576) + " mb";
    if (abs > 1024) return two(bytes / 1024) + " kb";
    return bytes + " bytes";
  }
  const count = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");
  const signed = (n) => (n > 0 ? "+" : "") + count(n);
  const shortTime = (ts) => (ts ? String(ts).slice(0, 19).replace("T", " ") : "");
  const seconds = (ts) => Date.parse(ts) / 1000;

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }
  function button(label, onClick, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  // -- the API ----------------------------------------------------------------------
  async function call(method, path) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let response;
    try {
      response = await fetch(API + path, { method, headers, cache: "no-store", credentials: "omit" });
    } catch (err) {
      return { status: 0, ok: false, body: null, detail: "the service did not answer" };
    }
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    const detail = body && typeof body.detail === "string" ? body.detail : response.statusText;
    if (response.status === 401) needToken(detail);
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    return { status: response.status, ok: response.ok, body, detail, retryAfter };
  }

  // A census already running (429) or a worker that did not act in time (503) is
  // temporary: the API says when to ask again, so an action asks again, a few times.
  const BUSY = [429, 503], BUSY_ATTEMPTS = 5, BUSY_WAIT_MAX_S = 10;
  async function act(method, path, doing) {
    for (let attempt = 1; ; attempt += 1) {
      const answer = await call(method, path);
      if (!BUSY.includes(answer.status) || attempt === BUSY_ATTEMPTS) return answer;
      const wait = Math.min(Math.max(answer.retryAfter, 1), BUSY_WAIT_MAX_S);
      say(doing + ": " + answer.detail + "; asking again in " + wait + " s…");
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }
  const withPid = (path) => (state.pid ? path + (path.includes("?") ? "&" : "?") + "pid=" + encodeURIComponent(state.pid) : path);

  function needToken(detail) {
    $("main").hidden = true;
    $("token-form").hidden = false;
    $("token-error").textContent = state.token ? "Refused: " + detail : "";
    $("connection").textContent = "not connected";
  }

  // -- figures ----------------------------------------------------------------------
  function showStatus(status) {
    const watcher = status.watcher || {}, gcStats = status.lastGC || {}, leak = status.lastLeak || {};
    const process = status.process || {};
    $("answered-by").textContent = "pid " + (process.pid ?? "?") + ", Python " + (process.python_version || "?");
    $("reading-label").textContent = PROBES[watcher.probe] || ("heap reading" + (watcher.probe ? " (" + watcher.probe + ")" : ""));
    const sampled = Boolean(watcher.samples);
    $("reading").textContent = sampled ? size(watcher.heap_bytes) : "no sample yet";
    $("baseline").textContent = sampled ? size(gcStats.estimated_base) : "–";
    $("trend").textContent = sampled ? (gcStats.usage_trend >= 0 ? "+" : "") + Number(gcStats.usage_trend || 0).toFixed(1) + "%" : "–";
    $("last-event").textContent = status.lastEvent || "none yet";
    const memory = status.memory || {};
    state.limit = typeof memory.limit_bytes === "number" ? memory.limit_bytes : null;
    $("limit-figure").hidden = state.limit === null;
    if (state.limit !== null) {
      const headroom = typeof memory.headroom_bytes === "number" ? ", headroom " + size(memory.headroom_bytes) : "";
      $("limit").textContent = size(state.limit) + headroom;
    }
    const leakLine = $("leak");
    if (leak.timestamp) {
      leakLine.textContent = "LEAK " + leak.reason + " (reported " + shortTime(leak.timestamp) + " UTC)";
      leakLine.className = "leaking";
    } else {
      leakLine.textContent = "no leak reported";
      leakLine.className = "muted";
    }
    if (!state.selected) showDiff(status.lastDiff, "latest, from status", null);
    if (!state.samplesRoute && sampled) {
      const h = state.history;
      h.time.push(Date.now() / 1000); h.reading.push(watcher.heap_bytes); h.baseline.push(gcStats.estimated_base);
      for (const key of Object.keys(h)) if (h[key].length > 720) h[key].shift();
      if (leak.timestamp && !state.leaks.some((l) => l.timestamp === leak.timestamp)) state.leaks.push(leak);
      drawChart();
    }
  }

  // -- the chart --------------------------------------------------------------------
  function markLeaks(u) {
    const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (const leak of state.leaks) {
      const start = seconds(leak.start || leak.timestamp), end = seconds(leak.end || leak.timestamp);
      const x0 = u.valToPos(start, "x", true), x1 = u.valToPos(end, "x", true);
      ctx.fillStyle = "rgba(198, 40, 40, 0.12)";
      ctx.fillRect(Math.min(x0, x1), top, Math.max(2, Math.abs(x1 - x0)), height);
      const x = u.valToPos(seconds(leak.timestamp), "x", true);
      ctx.strokeStyle = "#c62828"; ctx.lineWidth = 2 * devicePixelRatio;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
    }
    if (state.limit !== null) {
      const y = u.valToPos(state.limit, "y", true);
      if (y >= top && y <= top + height) {
        ctx.strokeStyle = "#8e44ad"; ctx.setLineDash([6, 4]); ctx.lineWidth = devicePixelRatio;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
      }
    }
    ctx.restore();
    const chart = $("chart");
    chart.dataset.points = String(u.data[0].length);
    chart.dataset.leaks = String(state.leaks.length);
    if (!document.body.dataset.firstChartMs && u.data[0].length) {
      // performance.now() counts from the navigation: this is load to first chart drawn.
      document.body.dataset.firstChartMs = String(Math.round(performance.now()));
    }
  }

  function yRange(u, low, high) {
    const top = state.limit !== null && state.limit < high * 2 ? Math.max(high, state.limit) : high;
    const pad = (top - low) * 0.08 || top * 0.05 || 1;
    return [Math.max(0, low - pad), top + pad];
  }

  function drawChart() {
    const h = state.history;
    const data = [h.time, h.reading, h.baseline];
    if (!window.uPlot) return;
    if (!state.chart) {
      const container = $("chart");
      state.chart = new uPlot({
        width: Math.max(320, container.clientWidth), height: 300,
        scales: { x: { time: true }, y: { range: yRange } },
        axes: [{}, { values: (u, ticks) => ticks.map(size), size: 80 }],
        series: [
          {},
          { label: $("reading-label").textContent, stroke: "#2b7bb9", width: 1.5, value: (u, v) => size(v) },
          { label: "heap baseline", stroke: "#1e9e5a", width: 2, value: (u, v) => size(v) },
        ],
        hooks: { draw: [markLeaks] },
      }, data, container);
      new ResizeObserver(() => state.chart.setSize({ width: Math.max(320, container.clientWidth), height: 300 })).observe(container);
    } else {
      state.chart.setData(data);
    }
    const events = $("events");
    events.replaceChildren(...state.leaks.map((leak) => {
      const li = document.createElement("li");
      li.className = "leak-event";
      li.textContent = shortTime(leak.timestamp) + " UTC: " + leak.reason;
      return li;
    }));
    const limitNote = state.limit !== null && !(state.limit < Math.max(...h.reading, 1) * 2)
      ? "The memory limit, " + size(state.limit) + ", is far above the chart." : "";
    $("chart-note").textContent = (state.samplesRoute ? "" : "Drawn from status readings since this page opened. ") + limitNote;
  }

  async function refreshSamples() {
    if (!state.samplesRoute) return;
    const answer = await call("GET", withPid("/memory/samples"));
    if (!answer.ok || !answer.body) return;
    const body = answer.body;
    if (body.probe && !state.chart) $("reading-label").textContent = PROBES[body.probe] || "heap reading (" + body.probe + ")";
    state.history = { time: body.time || [], reading: body.reading || [], baseline: body.baseline || [] };
    state.leaks = Array.isArray(body.leaks) ? body.leaks : [];
    if (typeof body.limit_bytes === "number") state.limit = body.limit_bytes;
    drawChart();
  }

  // -- profiles ---------------------------------------------------------------------
  function showProfiles(profiles) {
    state.profiles = profiles;
    const tbody = $("profiles").tBodies[0];
    const rows = profiles.slice().reverse().map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.id = p.id;
      if (state.selected === p.id) tr.className = "selected";
      const change = ((p.lastDiff || {}).change) || {};
      const done = p.state === "complete";
      cell(tr, p.id); cell(tr, p.state); cell(tr, p.trigger); cell(tr, String(p.pid ?? ""));
      cell(tr, shortTime(p.started).slice(11)); cell(tr, shortTime(p.ended).slice(11));
      tr.title = "started " + shortTime(p.started) + " UTC";
      cell(tr, done ? change.size || "" : "", "num");
      cell(tr, done && change.details && change.details[0] ? change.details[0].what : "", "what");
      const actions = cell(tr, "");
      if (done) actions.appendChild(button("view", () => selectProfile(p)));
      if (state.writable && p.state === "running") actions.appendChild(button("end", () => endProfile(p.id), "write end"));
      if (state.writable) actions.appendChild(button("delete", () => deleteProfile(p.id), "write danger"));
      return tr;
    });
    tbody.replaceChildren(...rows);
    $("no-profiles").hidden = profiles.length > 0;
  }

  async function refreshProfiles() {
    const answer = await call("GET", "/memory?details=true");
    if (answer.ok && answer.body) showProfiles(answer.body.memoryProfiles || []);
  }

  function selectProfile(profile) {
    state.selected = profile.id;
    showDiff(profile.lastDiff, "profile " + profile.id, profile.verdict);
    showProfiles(state.profiles);
  }

  function say(text, isError) {
    $("action-message").textContent = text;
    $("action-message").className = isError ? "error" : "muted";
  }

  function refused(answer) {
    if (answer.status === 403) setWritable(false);
    say(answer.detail || "refused", true);
  }

  async function startProfile() {
    say("starting a profile (a heap census)…");
    const answer = await act("POST", withPid("/memoryProfile"), "starting a profile");
    if (!answer.ok) return refused(answer);
    say("profile " + answer.body.id + " running: exercise the service, then end it.");
    await refreshProfiles();
  }

  async function endProfile(id) {
    say("ending profile " + id + " (a second census and the diff)…");
    const path = "/memoryProfile/" + encodeURIComponent(id);
    const answer = await act("POST", path + "/end", "ending profile " + id);
    if (answer.status === 409) {
      // Ended meanwhile (an auto-capture ends its own): show what it found, not the refusal.
      const ended = await call("GET", path);
      if (ended.ok && ended.body && ended.body.state === "complete") {
        say("profile " + id + " had already ended; its diff shows below.");
        selectProfile(ended.body);
        return refreshProfiles();
      }
    }
    if (!answer.ok) return refused(answer);
    say("profile " + id + " " + answer.body.state + ".");
    selectProfile(answer.body);  // before any await: a status poll must not show its own diff
    await refreshProfiles();
  }

  async function deleteProfile(id) {
    const answer = await call("DELETE", "/memoryProfile/" + encodeURIComponent(id));
    if (!answer.ok) return refused(answer);
    if (state.selected === id) state.selected = null;
    say(answer.body.message);
    await refreshProfiles();
  }

  async function forceGc() {
    say("forcing a full collection…");
    const answer = await act("POST", "/memory/gc", "forcing a full collection");
    if (!answer.ok) return refused(answer);
    say("full collection forced: " + count(answer.body.collected) + " unreachable objects collected.");
  }

  function setWritable(writable) {
    state.writable = writable;
    for (const el of document.querySelectorAll(".write")) el.hidden = !writable;
    $("read-only-note").hidden = writable;
  }

  // -- the diff ---------------------------------------------------------------------
  function isApplicationFile(path) {
    if (!path || path.startsWith("<")) return false;
    const parts = path.split(/[\\/]/);
    if (parts.includes("site-packages") || parts.includes("dist-packages")) return false;
    for (let i = 0; i + 1 < parts.length; i++) {
      if (parts[i].toLowerCase() === "lib" && /^python3\.\d+t?$/.test(parts[i + 1])) return false;
      if (parts[i] === "src" && parts[i + 1].startsWith("memwatch")) return false;
    }
    return true;
  }

  function showDiff(diff, source, verdict) {
    diff = diff || {};
    const change = diff.change || {};
    $("diff-source").textContent = diff.timestamp ? "(" + source + ", " + shortTime(diff.timestamp) + " UTC)" : "";
    const judged = verdict && typeof verdict.text === "string" ? verdict.text : "";
    $("verdict").textContent = judged ? "verdict: " + judged : "";
    $("verdict").hidden = !judged || !diff.timestamp;
    if (!diff.timestamp) {
      for (const id of ["types", "sites", "retention", "untracked", "sites-hidden"]) $(id).hidden = true;
      $("diff-summary").textContent = "No diff yet: start a profile, end it, and its diff shows here.";
      return;
    }
    const before = diff.before || {}, after = diff.after || {};
    $("diff-summary").textContent = "Python objects counted: " + count(before.nodes) + " (" + before.size + ") → " +
      count(after.nodes) + " (" + after.size + "), change " + change.size + ": " + count(change.allocated_nodes) +
      " allocated, " + count(change.freed_nodes) + " freed" + (diff.partial ? " (partial census)" : "");
    const types = (change.details || []).slice(0, 15).map((d) => {
      const tr = document.createElement("tr");
      cell(tr, d.what, "what"); cell(tr, count(d["+"]), "num plus"); cell(tr, count(d["-"]), "num minus");
      cell(tr, d.size || size(d.size_bytes), "num");
      return tr;
    });
    $("types").tBodies[0].replaceChildren(...types);
    $("types").hidden = types.length === 0;
    const all = change.allocation_sites || change.sites || [];
    const kept = all.filter((s) => isApplicationFile(String(s.file || "")));
    const sites = kept.slice(0, 15).map((s) => {
      const tr = document.createElement("tr");
      cell(tr, String(s.file || "?").split(/[\\/]/).pop() + ":" + s.line, "what");
      cell(tr, s.size || size(s.size_bytes), "num"); cell(tr, signed(s.count || 0), "num");
      cell(tr, s.library ? "in " + s.library : "", "what");
      tr.title = String(s.file || "");
      return tr;
    });
    $("sites").tBodies[0].replaceChildren(...sites);
    $("sites").hidden = sites.length === 0;
    $("sites-hidden").hidden = all.length === kept.length;
    $("sites-hidden").textContent = (all.length - kept.length) + " lines in libraries or memwatch not shown.";
    const retention = Array.isArray(change.retention) ? change.retention : [];
    const paths = [];
    for (const entry of retention.slice(0, 8)) {
      for (const path of (entry && Array.isArray(entry.paths) ? entry.paths : []).slice(0, 2)) {
        const tr = document.createElement("tr");
        const share = typeof path.share === "number" ? Math.round(path.share * 100) + "%" : "";
        cell(tr, String(entry.what || ""), "what"); cell(tr, share, "num");
        cell(tr, [path.root || "?"].concat(Array.isArray(path.edges) ? path.edges : []).join(" "), "what");
        paths.push(tr);
      }
    }
    $("retention").tBodies[0].replaceChildren(...paths);
    $("retention").hidden = paths.length === 0;
    const grown = (Array.isArray(change.untracked) ? change.untracked : []).slice(0, 5).map((g) => {
      const tr = document.createElement("tr");
      const kinds = Array.isArray(g.untracked_types) ? g.untracked_types.join(", ") : "";
      cell(tr, (g.holder ? g.holder + " " : "") + "(" + String(g.what || "?") + ")", "what");
      cell(tr, signed(g.items || 0), "num");
      cell(tr, kinds ? g.size || size(g.size_bytes) : "–", "num");
      cell(tr, kinds || "all gc-tracked (counted in the types above)", "what");
      return tr;
    });
    $("untracked").tBodies[0].replaceChildren(...grown);
    $("untracked").hidden = grown.length === 0;
  }

  // -- workers and the index --------------------------------------------------------
  async function refreshWorkers() {
    if (!state.workersRoute) return;
    const answer = await call("GET", "/workers");
    const workers = answer.ok && answer.body ? answer.body.workers || [] : [];
    if (workers.length < 2) { $("worker-picker").hidden = true; return; }
    const select = $("worker");
    const options = [new Option("the one answering", "")].concat(workers.map((w) =>
      new Option("pid " + w.pid + (w.alive === false || w.exited ? " (exited)" : ""), String(w.pid))));
    const current = select.value;
    select.replaceChildren(...options);
    select.value = current;
    $("worker-picker").hidden = false;
  }

  // The index says which routes this service has, so the page never asks for one it
  // lacks (a 404 would be a console error): /memory/samples, /workers, and whether this
  // client may write (read_only refuses POST and DELETE).
  async function readIndex() {
    const answer = await call("GET", "/");
    if (answer.status === 401) return false;
    const routes = answer.ok && answer.body && Array.isArray(answer.body.routes) ? answer.body.routes : [];
    const has = (name, tail) => routes.some((r) => r.name === name || String(r.path || "").endsWith(tail));
    state.samplesRoute = has("samples", "/memory/samples");
    state.workersRoute = has("workers", "/workers");
    if (answer.ok && answer.body && typeof answer.body.writable === "boolean") setWritable(answer.body.writable);
    return true;
  }

  // -- the loop ---------------------------------------------------------------------
  async function poll() {
    const answer = await call("GET", withPid("/memoryProfile/status"));
    if (answer.status === 401) return false;
    if (!answer.ok || !answer.body) {
      $("connection").textContent = answer.status ? "error " + answer.status + ": " + answer.detail : answer.detail;
      return true;
    }
    $("main").hidden = false;
    $("token-form").hidden = true;
    $("connection").textContent = "live, every " + POLL_MS / 1000 + " s";
    showStatus(answer.body);
    return true;
  }

  let timer = null;
  async function connect() {
    clearTimeout(timer);
    // All at once: the service that served this page has the index, status, samples and
    // profiles routes; only /workers is asked for after the index says it exists.
    const [indexed, answered] = await Promise.all([readIndex(), poll(), refreshSamples(), refreshProfiles()]);
    if (!indexed || !answered) return;
    await refreshWorkers();
    if (!state.samplesRoute) drawChart();
    let tick = 0;
    const loop = async () => {
      tick += 1;
      if (await poll()) {
        await refreshSamples();
        if (tick % 2 === 0) await refreshProfiles();
        if (tick % 5 === 0) await refreshWorkers();
      }
      timer = setTimeout(loop, POLL_MS);
    };
    timer = setTimeout(loop, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      state.token = $("token").value.trim() || null;
      $("token").value = "";
      connect();
    });
    $("start-profile").addEventListener("click", startProfile);
    $("force-gc").addEventListener("click", forceGc);
    $("worker").addEventListener("change", () => {
      state.pid = $("worker").value || null;
      state.history = { time: [], reading: [], baseline: [] };
      state.leaks = [];
      connect();
    });
    connect();
  });
})();
