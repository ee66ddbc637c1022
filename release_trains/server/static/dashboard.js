// The release-trains dashboard: plain modern JavaScript, no build step, no dependency.
//
// It talks only to this server's REST API (/api/v1/), with the token the person gave once
// for this browser session (kept in sessionStorage, sent as `Authorization: Bearer`).
//
// Live updates poll the API every POLL_MS rather than use server-sent events, because:
//  - EventSource cannot send an Authorization header, so the token would have to travel in
//    the address (and land in logs); fetch() sends it as a header like every other call;
//  - the state store is written by other processes (workers, the CLI, other machines), so a
//    server would itself have to poll the store to feed a stream; polling the same documents
//    the CLI prints keeps one code path and no server state per viewer;
//  - a restarted server needs nothing to resume: the next poll simply succeeds.
// One poll per second keeps the page at most ~2 s behind the store; failures back off
// (1 s, 2 s, 4 s ... 8 s) and the header says "reconnecting" until a poll succeeds again.
//
// Every piece of data is inserted with textContent (never parsed as markup), and rows are created
// once and updated in place, so an update neither re-renders a table nor moves the layout.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "release-trains.token";
const POLL_MS = 1000;
const MAX_BACKOFF_MS = 8000;
const REQUEST_TIMEOUT_MS = 10000;
const ACTIVE = new Set(["validating", "staging", "executing", "verifying"]);
const ICONS = {
  completed: "✓", released: "✓", pass: "✓", satisfied: "✓", healthy: "✓", sent: "✓",
  delivered: "✓", approved: "✓",
  failed: "✗", fail: "✗", unhealthy: "✗", unsatisfied: "✗", rejected: "✗", error: "!",
  rolled_back: "↺", rolling_back: "↺", partially_rolled_back: "↺",
  executing: "▶", deploying: "▶", verifying: "◎", validating: "◎", staging: "◎",
  paused: "‖", pending: "○", planning: "○", queued: "○", skipped: "–",
  awaiting: "…", not_asked: "○",
  unknown: "?", "not verified": "?", "never released": "○",
};
const TONE = {
  completed: "ok", released: "ok", pass: "ok", satisfied: "ok", healthy: "ok", sent: "ok",
  delivered: "ok", approved: "ok",
  failed: "bad", fail: "bad", unhealthy: "bad", unsatisfied: "bad", rejected: "bad", error: "bad",
  rolled_back: "back", rolling_back: "back", partially_rolled_back: "back",
  executing: "run", deploying: "run", verifying: "run", validating: "run", staging: "run",
  paused: "warn", awaiting: "warn",
};

// --- small DOM helpers (text only: nothing from the API is ever parsed as HTML) -----------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v);
    }
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function setText(node, text) {
  const t = text === null || text === undefined ? "" : String(text);
  if (node.textContent !== t) node.textContent = t;
}

function setTitle(node, text) {
  const t = text || "";
  if (node.title !== t) node.title = t;
}

// A status as a word with an icon, and a colour only as a third cue.
function badge(value) {
  const b = el("span", { class: "badge" });
  setBadge(b, value);
  return b;
}

function setBadge(node, value) {
  const v = value === null || value === undefined ? "unknown" : String(value);
  const cls = "badge tone-" + (TONE[v] || "none");
  if (node.className !== cls) node.className = cls;
  setText(node, (ICONS[v] || "•") + " " + v.replace(/_/g, " "));
}

function fmtDuration(s) {
  // negative: a finish left over from an earlier attempt, so the real duration is unknown
  if (s === null || s === undefined || Number.isNaN(s) || s < 0) return "–";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  return h + "h " + String(m % 60).padStart(2, "0") + "m";
}

function parseTs(text) {
  if (!text) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

// "2026-12-02 12:48:38Z": one unbreakable stamp (a non-breaking space, never a hyphen break)
function fmtTs(text) {
  const t = parseTs(text);
  if (t === null) return text ? String(text) : "–";
  return new Date(t).toISOString().slice(0, 19).replace("T", "\u00a0") + "Z";
}

function fmtClock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

// --- the session: token, identity, calls --------------------------------------------------

const session = {
  token: null,
  who: null, // {name, role}
  offsetMs: 0, // the server's clock minus ours, from its Date header / generated_at
  canAct() {
    return this.who !== null && (this.who.role === "operator" || this.who.role === "admin");
  },
  now() {
    return Date.now() + this.offsetMs;
  },
};

class AuthError extends Error {}
class NetworkError extends Error {}
class ApiError extends Error {
  constructor(status, doc) {
    super((doc && (doc.detail || doc.title)) || "HTTP " + status);
    this.status = status;
    this.doc = doc;
  }
}

function takeToken() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("token");
  if (given !== null) {
    url.searchParams.delete("token");
    // the token leaves the address bar (and the history entry) before anything else runs
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    if (given.trim()) sessionStorage.setItem(TOKEN_KEY, given.trim());
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

// The API routes this server has (from its OpenAPI document, which needs no token): a pane
// whose route another release adds later asks nothing until the route exists, so the page
// never requests a missing route (each 404 would also be a console error).
const routes = { paths: new Set(), has(path) { return this.paths.has(API + path); } };

async function loadRoutes() {
  const r = await fetch("/openapi.json", { cache: "no-store", credentials: "omit" });
  if (!r.ok) throw new NetworkError("the server answered " + r.status);
  const doc = await r.json();
  routes.paths = new Set(Object.keys(doc.paths || {}));
}

async function api(path, { method = "GET", body, optional = false } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
  const headers = { Accept: "application/json", Authorization: "Bearer " + session.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctl.signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new NetworkError(String(e && e.message ? e.message : e));
  } finally {
    clearTimeout(timer);
  }
  const date = Date.parse(response.headers.get("date") || "");
  if (!Number.isNaN(date)) session.offsetMs = date - Date.now();
  let doc = null;
  const text = await response.text();
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      doc = { detail: text.slice(0, 300) };
    }
  }
  if (response.status === 401) throw new AuthError((doc && doc.detail) || "token refused");
  // a route another release has not shipped yet: "none", never an error on the page
  if (optional && (response.status === 404 || response.status === 405)) return null;
  if (response.status >= 500 && response.status !== 501) {
    throw new NetworkError("the server answered " + response.status);
  }
  if (!response.ok) throw new ApiError(response.status, doc);
  return doc;
}

// --- the header: who, connection, freeze ------------------------------------------------

const ui = {
  main: null,
  conn: null,
  setConn(state, text) {
    const cls = "conn conn-" + state;
    if (this.conn.className !== cls) this.conn.className = cls;
    setText(this.conn, text);
  },
};

function showWho() {
  const who = document.getElementById("who");
  const out = document.getElementById("signout");
  if (session.who) {
    setText(who, session.who.name + " · " + session.who.role);
    out.hidden = false;
  } else {
    setText(who, "");
    out.hidden = true;
  }
}

function renderFreeze(doc) {
  const box = document.getElementById("freeze");
  if (!doc) {
    box.hidden = true;
    setText(box, "");
    return;
  }
  box.hidden = false;
  setText(box, "‖ Frozen: " + (doc.name || "freeze") + (doc.reason ? " — " + doc.reason : "") + " · " + freezeUntil(doc));
}

// When a freeze ends, said even when it has no end (freezes.Freeze.describe's words): a
// platform freeze declared without --until lasts until someone unfreezes; a config window
// that keeps firing has no end in sight (only the config ends it).
function freezeUntil(doc) {
  if (doc.until) return "until " + fmtTs(doc.until);
  return "until: none (" + (doc.source === "window" ? "no end in sight" : "until unfrozen") + ")";
}

function pageError(message) {
  const box = document.getElementById("page-error");
  box.hidden = !message;
  setText(box, message ? "✗ " + message : "");
}

// --- polling with backoff ---------------------------------------------------------------

let pollTimer = null;
let pollNow = null;

function poll(tick) {
  let delay = POLL_MS;
  let stopped = false;
  async function run() {
    pollTimer = null;
    if (stopped) return;
    try {
      await tick();
      delay = POLL_MS;
      pageError(null);
      ui.setConn("live", "● live · " + fmtClock(session.now()) + " UTC");
    } catch (e) {
      if (e instanceof AuthError) {
        stopped = true;
        signOut(e.message);
        return;
      }
      if (e instanceof ApiError) {
        // the server answered, with a refusal (an unknown train, a bad name): say so, keep
        // asking now and then (the train may be created), and do not claim to be offline
        delay = MAX_BACKOFF_MS;
        pageError(e.message);
        ui.setConn("live", "● live · " + fmtClock(session.now()) + " UTC");
        pollTimer = setTimeout(run, delay);
        return;
      }
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      const why = e instanceof NetworkError ? "" : " (" + e.message + ")";
      ui.setConn("lost", "↻ reconnecting… next try in " + Math.round(delay / 1000) + " s" + why);
      // anything else is a bug of this page: an error on the console (the browser tests fail)
      if (!(e instanceof NetworkError)) console.error(e);
    }
    if (!stopped) pollTimer = setTimeout(run, delay);
  }
  pollNow = () => {
    if (pollTimer !== null) {
      clearTimeout(pollTimer);
      run();
    }
  };
  run();
}

// --- sign-in ------------------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = null;
  session.who = null;
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
  showWho();
  loginForm(message);
}

function loginForm(message) {
  ui.setConn("none", "");
  const input = el("input", {
    id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    spellcheck: "false",
  });
  const note = el("p", { class: "msg", id: "login-msg", role: "alert", text: message || "" });
  const form = el(
    "form", { class: "login", id: "login" },
    el("h1", { text: "Sign in" }),
    el("p", { text: "Paste an API token (release-trains token create NAME --role viewer|operator|admin). It is kept for this browser session only." }),
    el("label", { for: "token", text: "API token" }),
    input,
    el("button", { type: "submit", class: "primary", text: "Sign in" }),
    note,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    session.token = input.value.trim();
    if (!session.token) return;
    try {
      session.who = await api("/whoami");
    } catch (e) {
      session.token = null;
      setText(note, e instanceof AuthError ? "That token was refused: " + e.message : "The server did not answer: " + e.message);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, session.token);
    showWho();
    try {
      await loadRoutes();
    } catch (e) {
      setText(note, "The server did not answer: " + e.message);
      return;
    }
    route();
  });
  ui.main.replaceChildren(form);
  input.focus();
}

// --- keyed, in-place table rows -------------------------------------------------------------

// Keeps tbody's rows equal to `items`, in order: a row is created once per key and then only
// its changed cells are touched (no re-render, no layout jump).
function syncRows(tbody, items, key, create, update) {
  const rows = tbody._rows || (tbody._rows = new Map());
  const seen = new Set();
  let cursor = tbody.firstChild;
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let row = rows.get(k);
    if (!row) {
      row = create(item);
      rows.set(k, row);
    }
    update(row, item);
    if (row !== cursor) tbody.insertBefore(row, cursor);
    else cursor = cursor.nextSibling;
  }
  for (const [k, row] of rows) {
    if (!seen.has(k)) {
      row.remove();
      rows.delete(k);
    }
  }
}

function section(title, id, ...body) {
  return el("section", { class: "panel", id, "aria-labelledby": id + "-h" },
    el("h2", { id: id + "-h", text: title }), ...body);
}

function table(cols, cls) {
  const head = el("tr");
  for (const [label, c] of cols) head.append(el("th", { scope: "col", class: c, text: label }));
  const tbody = el("tbody");
  const t = el("table", { class: cls || "" }, el("thead", null, head), tbody);
  return { node: el("div", { class: "scroll" }, t), tbody };
}

function emptyNote(node, items, text) {
  node.hidden = items.length > 0;
  setText(node, text);
}

// --- Trains -----------------------------------------------------------------------------------

function trainsPage() {
  setCrumbs([]);
  const t = table([
    ["Train", "c-name"], ["Status", "c-status"], ["Progress", "c-progress"],
    ["Phase", "c-phase"], ["Schedule or freeze", "c-sched"], ["Last change", "c-ts"],
  ], "trains");
  const none = el("p", { class: "empty", hidden: true });
  ui.main.replaceChildren(el("h1", { text: "Release trains" }), t.node, none);
  const schedules = new Map(); // train -> schedule text, read from its definition now and then
  let freeze = null;
  let lastDefs = 0;

  async function readSchedules(names) {
    await Promise.all(names.map(async (name) => {
      try {
        const d = await api("/release-trains/" + encodeURIComponent(name));
        const s = d && d.definition && d.definition.schedule;
        schedules.set(name, s && s.start_time ? "starts " + fmtTs(s.start_time) : "no schedule");
      } catch (e) {
        if (e instanceof AuthError || e instanceof NetworkError) throw e;
        schedules.set(name, "unknown");
      }
    }));
  }

  poll(async () => {
    const [doc, fz] = await Promise.all([
      api("/release-trains"),
      (routes.has("/freeze") ? api("/freeze", { optional: true }) : Promise.resolve(null)),
    ]);
    freeze = fz;
    renderFreeze(freeze);
    const trains = doc.trains || [];
    if (Date.now() - lastDefs > 30000 || trains.some((r) => !schedules.has(r.train))) {
      lastDefs = Date.now();
      await readSchedules(trains.map((r) => r.train));
    }
    emptyNote(none, trains, "No trains in the catalog yet.");
    syncRows(t.tbody, trains, (r) => r.train, (r) => {
      const link = el("a", { href: "/trains/" + encodeURIComponent(r.train), text: r.train });
      const bar = progressBar();
      const row = el("tr", { class: "train-row" },
        el("td", { class: "c-name" }, link),
        el("td", { class: "c-status" }, badge(r.status)),
        el("td", { class: "c-progress" }, bar.node),
        el("td", { class: "c-phase" }),
        el("td", { class: "c-sched" }),
        el("td", { class: "c-ts" }));
      row._bar = bar;
      row.dataset.train = r.train;
      return row;
    }, (row, r) => {
      const cells = row.children;
      setBadge(cells[1].firstChild, r.status);
      row._bar.set(r.progress, r.released + "/" + r.participants);
      const since = parseTs(r.phase_started_at);
      const phase = r.run_id === null ? "never ran"
        : ACTIVE.has(r.status) || r.status === "paused"
          ? r.status + " for " + (since === null ? "unknown" : fmtDuration((session.now() - since) / 1000))
          : r.status;
      setText(cells[3], phase);
      setTitle(cells[3], since === null ? "" : r.status + " since " + fmtTs(r.phase_started_at));
      const sched = freeze ? "frozen · " + freezeUntil(freeze) : schedules.get(r.train) || "unknown";
      setText(cells[4], sched);
      setText(cells[5], r.updated_at ? fmtTs(r.updated_at) : "–");
    });
  });
}

function progressBar() {
  const fill = el("span", { class: "fill" });
  const label = el("span", { class: "plabel" });
  const track = el("span", { class: "track", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, fill);
  const node = el("span", { class: "progress" }, track, label);
  return {
    node,
    set(pct, counts) {
      const p = Math.max(0, Math.min(100, Number(pct) || 0));
      const w = p + "%";
      if (fill.style.width !== w) fill.style.width = w;
      track.setAttribute("aria-valuenow", String(p));
      setText(label, p.toFixed(0) + "% · " + counts);
    },
  };
}

function setCrumbs(parts) {
  const nav = document.getElementById("crumbs");
  const nodes = [el("a", { href: "/", text: "Trains" })];
  for (const [label, href] of parts) {
    nodes.push(el("span", { class: "sep", text: "›", "aria-hidden": "true" }));
    nodes.push(href ? el("a", { href, text: label }) : el("span", { "aria-current": "page", text: label }));
  }
  nav.replaceChildren(...nodes);
}

// --- a train ----------------------------------------------------------------------------------

function trainPage(name) {
  setCrumbs([[name, null]]);
  document.title = name + " · release-trains";
  const path = "/release-trains/" + encodeURIComponent(name);
  const title = el("h1", { text: name });
  const status = badge("unknown");
  status.id = "train-status";
  const bar = progressBar();
  bar.node.id = "train-progress";
  const phase = el("span", { id: "phase" });
  const meta = el("p", { class: "meta one-line", id: "train-meta" });
  const driver = el("p", { class: "meta one-line", id: "train-executor" });
  const reason = el("p", { class: "reason", id: "train-reason" });
  const desc = el("p", { class: "desc" });
  const message = el("p", { class: "msg", id: "action-msg", role: "status", "aria-live": "polite" });

  const actions = el("div", { class: "actions", id: "actions", role: "group", "aria-label": "Actions" });
  const buttons = {};
  let current = null; // the newest status document
  let shown = false;

  function button(id, label, handler) {
    const b = el("button", { type: "button", id: "btn-" + id, class: "action", text: label });
    b.addEventListener("click", handler);
    buttons[id] = b;
    actions.append(b);
    return b;
  }

  async function act(what, fn) {
    setText(message, what + "…");
    message.className = "msg";
    try {
      const doc = await fn();
      let text = what + ": done";
      if (doc && doc.job_id) text = what + ": queued as job " + doc.job_id + (doc.run_id ? " (run " + doc.run_id + ")" : "");
      else if (doc && doc.message) text = what + ": " + doc.message;
      setText(message, "✓ " + text);
      if (pollNow) pollNow();
      return doc;
    } catch (e) {
      if (e instanceof AuthError) { signOut(e.message); return null; }
      message.className = "msg msg-bad";
      setText(message, "✗ " + what + " refused: " + e.message);
      return null;
    }
  }

  // pause asks for a reason inline; rollback opens a dialog with the dry-run order first
  const pauseForm = el("form", { class: "inline", id: "pause-form", hidden: true });
  const pauseReason = el("input", { id: "pause-reason", name: "reason", required: true, autocomplete: "off" });
  pauseForm.append(
    el("label", { for: "pause-reason", text: "Reason for the pause" }), pauseReason,
    el("button", { type: "submit", class: "primary", id: "pause-confirm", text: "Pause the train" }),
    el("button", { type: "button", class: "quiet", id: "pause-cancel", text: "Cancel" }),
  );
  pauseForm.lastChild.addEventListener("click", () => { pauseForm.hidden = true; buttons.pause.focus(); });
  pauseForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = pauseReason.value.trim();
    if (!r) return;
    pauseForm.hidden = true;
    await act("pause", () => api(path + "/pause", { method: "POST", body: { reason: r } }));
  });

  const dialog = rollbackDialog(name, path, act);

  if (session.canAct()) {
    button("execute", "▶ Execute", () => act("execute", () => api(path + "/execute", { method: "POST", body: {} })));
    button("pause", "‖ Pause…", () => { pauseForm.hidden = false; pauseReason.focus(); });
    button("resume", "▷ Resume", () => act("resume", () => api(path + "/resume", { method: "POST", body: {} })));
    button("rollback", "↺ Roll back…", () => dialog.open());
  }

  const svc = servicesPane();
  const timeline = timelinePane();
  const gates = table([["Gate", "c-name"], ["When", "c-when"], ["Required", "c-req"], ["Outcome", "c-status"], ["Evidence", "c-detail"]], "gates");
  const deps = table([["Dependency", "c-name"], ["Kind", "c-when"], ["Constraint", "c-req"], ["Outcome", "c-status"], ["Evidence", "c-detail"]], "deps");
  const gatesNone = el("p", { class: "empty", text: "none" });
  const depsNone = el("p", { class: "empty", text: "none" });
  const approvals = approvalsPane(path, act);
  const notes = table([["Event", "c-name"], ["Channel", "c-when"], ["Outcome", "c-status"], ["Detail", "c-detail"], ["When", "c-ts"]], "notifications");
  const notesNone = el("p", { class: "empty", text: "none" });
  const events = el("ol", { class: "events", id: "events", reversed: true });
  const eventsNone = el("p", { class: "empty", text: "none" });

  ui.main.replaceChildren(
    el("div", { class: "head" }, title, status, bar.node, phase),
    desc, meta, driver, reason,
    session.canAct() ? actions : el("p", { class: "meta", id: "read-only", text: "Read-only: this token's role (" + session.who.role + ") may not act on trains." }),
    pauseForm, message,
    section("Services", "services", svc.node),
    section("Timeline", "timeline", timeline.node),
    section("Gates", "gates", gates.node, gatesNone),
    section("Dependencies", "dependencies", deps.node, depsNone),
    section("Approvals", "approvals", approvals.node),
    section("Notifications sent", "notifications", notes.node, notesNone),
    section("Recent events", "recent", events, eventsNone),
    dialog.node,
  );

  poll(async () => {
    // the status document says the freeze in force (`freeze`, as plan --json has it): one
    // request per poll; GET /freeze only from a server whose status does not have it yet
    const doc = await api(path + "/status");
    renderFreeze("freeze" in doc ? doc.freeze
      : routes.has("/freeze") ? await api("/freeze", { optional: true }) : null);
    current = doc;
    const gen = parseTs(doc.generated_at);
    if (gen !== null) session.offsetMs = gen - Date.now();
    setBadge(status, doc.status);
    bar.set(doc.progress, doc.released + "/" + doc.participants + " released");
    const ph = doc.phase || {};
    setText(phase, ph.elapsed_s !== null && ph.elapsed_s !== undefined
      ? ph.name + " for " + fmtDuration(ph.elapsed_s)
      : doc.run_id === null ? "never ran" : "run took " + fmtDuration(ph.run_elapsed_s));
    setText(desc, doc.description || "");
    desc.hidden = !doc.description; // the definition's: it does not change while the page is open
    setText(driver, doc.executor ? doc.executor.detail : "");
    setTitle(driver, doc.executor ? doc.executor.detail : "");
    setText(meta, doc.run_id === null ? "No run yet."
      : "Run " + doc.run_id + " · started " + fmtTs(doc.started_at) + " by " + (doc.actor || "unknown")
        + (doc.finished_at ? " · finished " + fmtTs(doc.finished_at) : "")
        + (ph.estimated_s ? " · estimate " + fmtDuration(ph.estimated_s) : ""));
    setText(reason, doc.reason ? "Reason: " + doc.reason : "");
    setTitle(reason, doc.reason);
    setTitle(meta, meta.textContent); // the line is cut at phone width: all of it on hover
    if (session.canAct()) {
      const s = doc.status;
      const ran = doc.run_id !== null;
      // lifecycle.py: a rolled-back or failed train may run again; a paused one resumes
      buttons.execute.disabled = ACTIVE.has(s) || s === "paused" || s === "completed";
      buttons.pause.disabled = !ACTIVE.has(s);
      buttons.resume.disabled = s !== "paused";
      buttons.rollback.disabled = !ran || s === "rolled_back";
      if (buttons.pause.disabled) pauseForm.hidden = true;
    }
    svc.update(doc);
    if (!shown) {
      // the rows go on screen first; the timeline (which measures the layout) right after the
      // paint. B9 (benchmarks/dashboard_bench.py) reads the mark: the frame the rows are in.
      shown = true;
      requestAnimationFrame(() => {
        performance.mark("services-shown");
        setTimeout(() => timeline.update(doc), 0);
      });
    } else {
      timeline.update(doc);
    }
    emptyNote(gatesNone, doc.gates.items || [], "none");
    emptyNote(depsNone, doc.dependencies.items || [], "none");
    syncRows(gates.tbody, doc.gates.items || [], (g) => g.gate, () => el("tr", null,
      el("td", { class: "c-name" }), el("td", { class: "c-when" }), el("td", { class: "c-req" }),
      el("td", { class: "c-status" }, badge("unknown")), el("td", { class: "c-detail" })), (row, g) => {
      const c = row.children;
      setText(c[0], g.gate); setText(c[1], g.when || "before"); setText(c[2], g.required ? "required" : "advisory");
      setBadge(c[3].firstChild, g.outcome);
      setText(c[4], g.detail + (g.failing && g.failing.length ? " — failing: " + g.failing.join(", ") : ""));
    });
    syncRows(deps.tbody, doc.dependencies.items || [], (d) => d.kind + ":" + d.name, () => el("tr", null,
      el("td", { class: "c-name" }), el("td", { class: "c-when" }), el("td", { class: "c-req" }),
      el("td", { class: "c-status" }, badge("unknown")), el("td", { class: "c-detail" })), (row, d) => {
      const c = row.children;
      setText(c[0], d.name); setText(c[1], d.kind); setText(c[2], d.constraint);
      setBadge(c[3].firstChild, d.outcome);
      setText(c[4], d.detail || (d.found && d.found.length ? "found " + d.found.join(", ") : "nothing found"));
    });
    approvals.update(doc);
    // The status document lists them oldest first (outbox order) and a row's `ts` moves as it
    // goes pending -> sent/failed, so the key is its place in that list (new ones only come
    // after it): a row is updated in place when its outcome changes, never replaced. Shown
    // newest first.
    const listed = Array.isArray(doc.notifications) ? doc.notifications : [];
    const sent = listed.map((n, i) => ({ n, key: i + "|" + n.event + "|" + n.channel })).reverse();
    emptyNote(notesNone, sent, "none");
    syncRows(notes.tbody, sent, (x) => x.key, () => el("tr", null,
      el("td", { class: "c-name" }), el("td", { class: "c-when" }), el("td", { class: "c-status" }, badge("unknown")),
      el("td", { class: "c-detail" }), el("td", { class: "c-ts" })), (row, { n }) => {
      const c = row.children;
      setText(c[0], n.event); setText(c[1], n.channel); setBadge(c[2].firstChild, n.outcome);
      setText(c[3], n.detail || ""); setTitle(c[3], n.detail); setText(c[4], fmtTs(n.ts));
    });
    const recent = (doc.events || []).slice().reverse();
    emptyNote(eventsNone, recent, "none");
    syncRows(events, recent, (e) => e.ts + "|" + e.kind + "|" + (e.service || "") + "|" + e.message, (e) => {
      return el("li", null, el("span", { class: "ts", text: fmtTs(e.ts) }), " ",
        el("span", { class: "kind", text: e.kind }), " ",
        e.service ? el("span", { class: "svc", text: e.service }) : "", " ",
        el("span", { class: "text", text: e.message }));
    }, () => {});
  });
}

function servicesPane() {
  const wrap = el("div", { class: "scroll" });
  const tableNode = el("table", { class: "services", id: "services-table" });
  const head = el("tr");
  const cols = [["#", "c-n"], ["Service", "c-name"], ["Status", "c-status"], ["From → to", "c-ver"], ["Health", "c-health"],
    ["Attempts", "c-att"], ["Started", "c-ts"], ["Duration", "c-dur"], ["Error", "c-err"]];
  for (const [label, c] of cols) head.append(el("th", { scope: "col", class: c, text: label }));
  tableNode.append(el("thead", null, head));
  wrap.append(tableNode);
  const groups = new Map(); // wave label -> {tbody, header}
  // one template row, cloned per service: far cheaper than building 9 cells each time
  const template = el("tr", { class: "svc" },
    el("td", { class: "c-n" }), el("td", { class: "c-name" }, el("a")),
    el("td", { class: "c-status" }, el("span", { class: "badge" })), el("td", { class: "c-ver" }),
    el("td", { class: "c-health" }, el("span", { class: "badge" })), el("td", { class: "c-att" }),
    el("td", { class: "c-ts" }), el("td", { class: "c-dur" }), el("td", { class: "c-err" }));
  let lastShape = "";

  function group(label, size) {
    let g = groups.get(label);
    if (!g) {
      const th = el("th", { colspan: String(cols.length), scope: "rowgroup" });
      const tbody = el("tbody", { class: "wave" }, el("tr", { class: "wave-head" }, th));
      g = { tbody, th };
      groups.set(label, g);
    }
    setText(g.th, label + " · " + size + (size === 1 ? " service" : " services"));
    return g;
  }

  return {
    node: wrap,
    update(doc) {
      const byName = new Map(doc.services.map((s) => [s.service, s]));
      const waves = (doc.waves || []).map((w) => w.filter((n) => byName.has(n)));
      const placed = new Set(waves.flat());
      const rest = doc.services.filter((s) => !placed.has(s.service)).map((s) => s.service);
      if (rest.length) waves.push(rest);
      const shape = waves.map((w) => w.join(",")).join(";");
      if (shape !== lastShape) { // the plan changed (or first paint): lay the groups out once
        lastShape = shape;
        const frag = document.createDocumentFragment();
        frag.append(tableNode.tHead);
        let n = 0;
        waves.forEach((w, i) => {
          const label = rest.length && i === waves.length - 1 && doc.waves && doc.waves.length ? "Not in a wave" : "Wave " + (i + 1);
          const g = group(label, w.length);
          const tbody = g.tbody;
          while (tbody.rows.length > 1) tbody.lastChild.remove();
          for (const name of w) {
            n += 1;
            const row = template.cloneNode(true);
            row.dataset.service = name;
            row.cells[0].textContent = String(n);
            const a = row.cells[1].firstChild;
            a.href = "/services/" + encodeURIComponent(name);
            a.textContent = name;
            tbody.append(row);
          }
          frag.append(tbody);
        });
        tableNode.replaceChildren(frag);
        this.rows = new Map([...tableNode.querySelectorAll("tr.svc")].map((r) => [r.dataset.service, r]));
      }
      for (const s of doc.services) {
        const row = this.rows.get(s.service);
        if (!row) continue;
        const c = row.cells;
        setBadge(c[2].firstChild, s.status);
        setText(c[3], (s.from_version || "none") + " → " + (s.to_version || "?"));
        setBadge(c[4].firstChild, s.health);
        setTitle(c[4], s.health_detail);
        setText(c[5], s.attempts ? String(s.attempts) : "–");
        // the time of day (the run's date is in the header); the whole stamp on hover
        setText(c[6], s.started_at ? fmtTs(s.started_at).slice(11) : "–");
        setTitle(c[6], s.started_at ? fmtTs(s.started_at) : "");
        setText(c[7], fmtDuration(s.duration_s));
        setText(c[8], s.error || "");
        setTitle(c[8], s.error);
        const cls = "svc st-" + s.status;
        if (row.className !== cls) row.className = cls;
      }
    },
  };
}

// --- the timeline: a real time axis with ticks, one bar per service ---------------------------

const TICK_STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

function timelinePane() {
  const box = el("div", { class: "timeline-box", id: "timeline-box" });
  const legend = el("p", { class: "legend" });
  for (const [cls, word] of [["k-ok", "released"], ["k-run", "in progress"], ["k-bad", "failed"], ["k-done", "deployed, then undone"], ["k-back", "rolled back"]]) {
    legend.append(el("span", { class: "key " + cls, "aria-hidden": "true" }), el("span", { text: word + " " }));
  }
  legend.append(el("span", { class: "key k-paused", "aria-hidden": "true" }), el("span", { text: "paused " }));
  const totals = el("p", { class: "meta", id: "timeline-totals" });
  const node = el("div", null, box, legend, totals);
  let lastKey = "";
  return {
    node,
    update(doc) {
      const now = session.now();
      const spans = [];
      let t0 = parseTs(doc.started_at);
      let t1 = doc.finished_at ? parseTs(doc.finished_at) : now;
      for (const s of doc.services) {
        const a = parseTs(s.started_at);
        if (a === null) { spans.push(null); continue; }
        const inFlight = s.status === "deploying" || s.status === "verifying";
        const fin = parseTs(s.finished_at);
        // a finish before the start is an earlier attempt's: this one is still going (or unknown)
        const b = fin !== null && fin >= a ? fin : inFlight ? now : a;
        const ra = parseTs(s.rollback_started_at);
        const rb = ra === null ? null : parseTs(s.rollback_finished_at) ?? (s.status === "rolling_back" ? now : ra);
        spans.push({ a, b: Math.max(a, b), ra, rb: rb === null ? null : Math.max(ra, rb), s });
        t0 = t0 === null ? a : Math.min(t0, a);
        t1 = Math.max(t1 ?? b, b, rb ?? b);
      }
      if (t0 === null) {
        box.replaceChildren(el("p", { class: "empty", text: "Nothing has run yet." }));
        lastKey = "";
        return;
      }
      if (!doc.finished_at) t1 = Math.max(t1, now);
      // where the run's time went (timeline.py): working phases against pauses
      const acc = doc.timeline || null;
      const pauses = acc && Array.isArray(acc.paused) ? acc.paused : [];
      setText(totals, acc && acc.elapsed_s !== null && acc.elapsed_s !== undefined
        ? "working " + fmtDuration(acc.active_s) + " · paused " + fmtDuration(acc.paused_s)
          + (pauses.length ? " (" + pauses.length + (pauses.length === 1 ? " pause" : " pauses") + ")" : "")
          + (acc.estimated_duration_s ? " · estimate " + fmtDuration(acc.estimated_duration_s) + (acc.over_estimate ? " — over the estimate" : "") : "")
        : "");
      const key = JSON.stringify([doc.status, t0, t1, box.clientWidth, pauses.length, doc.services.map((s) => s.status + s.finished_at + s.rollback_finished_at)]);
      if (key === lastKey) return;
      lastKey = key;
      const n = doc.services.length;
      const rowH = Math.max(2, Math.min(18, Math.floor(480 / Math.max(1, n))));
      const labels = rowH >= 12;
      const width = Math.max(300, box.clientWidth || 900);
      const left = labels ? (width < 600 ? 90 : 150) : 10;
      const right = 16;
      const top = 22;
      const height = top + n * rowH + 8;
      const span = Math.max(1, t1 - t0);
      const x = (t) => left + ((t - t0) / span) * (width - left - right);
      const root = svg("svg", { width, height, viewBox: "0 0 " + width + " " + height, role: "img", class: "timeline" });
      root.append(svg("title"));
      root.firstChild.textContent = "Timeline of the run, " + fmtTs(new Date(t0).toISOString()) + " to " + fmtTs(new Date(t1).toISOString());
      const defs = svg("defs");
      const hatch = (id, cls) => {
        const p = svg("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
        p.append(svg("rect", { width: 6, height: 6, class: "pat-" + cls }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch" }));
        defs.append(p);
      };
      hatch("pat-bad", "bar-bad");
      hatch("pat-back", "bar-back");
      root.append(defs);
      // ticks: the smallest step giving at most ~8 of them across the width
      const maxTicks = Math.max(2, Math.floor((width - left) / 110));
      const stepS = TICK_STEPS.find((s) => span / 1000 / s <= maxTicks) || 86400;
      const stepMs = stepS * 1000;
      for (let t = Math.ceil(t0 / stepMs) * stepMs; t <= t1; t += stepMs) {
        const tx = x(t);
        root.append(svg("line", { x1: tx, y1: top - 4, x2: tx, y2: height - 4, class: "tick" }));
        const label = svg("text", { x: tx, y: 12, class: "tick-label", "text-anchor": "middle" });
        label.textContent = stepS >= 60 ? fmtClock(t).slice(0, 5)
          : stepS >= 1 ? fmtClock(t) : fmtClock(t) + "." + String(Math.round(t % 1000)).padStart(3, "0");
        root.append(label);
      }
      for (const p of pauses) { // behind the bars: the stretches the run stood paused
        const a = Math.max(t0, parseTs(p.from) ?? t0);
        const b = Math.min(t1, parseTs(p.to) ?? now);
        if (b <= a) continue;
        const band = svg("rect", { x: x(a), y: top - 2, width: Math.max(2, x(b) - x(a)), height: height - top - 4, class: "paused-band" });
        const tip = svg("title");
        tip.textContent = "paused " + fmtTs(p.from) + " → " + (p.to ? fmtTs(p.to) : "now") + (p.reason ? ": " + p.reason : "");
        band.append(tip);
        root.append(band);
      }
      spans.forEach((sp, i) => {
        const y = top + i * rowH;
        if (labels) {
          const name = svg("text", { x: left - 6, y: y + rowH - 4, class: "row-label", "text-anchor": "end" });
          name.textContent = doc.services[i].service;
          root.append(name);
        }
        if (!sp) return;
        const st = sp.s.status;
        const cls = st === "failed" ? "bar-bad" : st === "released" ? "bar-ok" : st === "deploying" || st === "verifying" ? "bar-run" : "bar-done";
        const bar = svg("rect", { x: x(sp.a), y: y + 1, width: Math.max(2, x(sp.b) - x(sp.a)), height: Math.max(1, rowH - 2), class: cls });
        const tip = svg("title");
        tip.textContent = sp.s.service + ": " + st + ", " + fmtTs(sp.s.started_at) + " → " + (sp.s.finished_at ? fmtTs(sp.s.finished_at) : "now") + (sp.s.error ? " — " + sp.s.error : "");
        bar.append(tip);
        root.append(bar);
        if (sp.ra !== null) {
          const back = svg("rect", { x: x(sp.ra), y: y + 1, width: Math.max(2, x(sp.rb) - x(sp.ra)), height: Math.max(1, rowH - 2), class: "bar-back" });
          const t2 = svg("title");
          t2.textContent = sp.s.service + ": rolled back " + fmtTs(sp.s.rollback_started_at) + " → " + (sp.s.rollback_finished_at ? fmtTs(sp.s.rollback_finished_at) : "now");
          back.append(t2);
          root.append(back);
        }
      });
      if (!doc.finished_at || now <= t1) {
        const nx = x(Math.min(now, t1));
        root.append(svg("line", { x1: nx, y1: top - 6, x2: nx, y2: height, class: "now" }));
        const nl = svg("text", { x: Math.min(nx + 3, width - 30), y: top - 8, class: "now-label" });
        nl.textContent = "now";
        root.append(nl);
      }
      box.replaceChildren(root);
    },
  };
}

// --- approvals (shown once the status document has them) ---------------------------------

function approvalsPane(path, act) {
  const t = table([["Gate", "c-name"], ["When", "c-when"], ["Votes", "c-req"], ["Outcome", "c-status"], ["", "c-act"]], "approvals");
  const none = el("p", { class: "empty", text: "none" });
  const form = el("form", { class: "inline", id: "reject-form", hidden: true });
  const comment = el("input", { id: "reject-comment", required: true, autocomplete: "off" });
  let gate = null;
  form.append(el("label", { for: "reject-comment", text: "Why reject?" }), comment,
    el("button", { type: "submit", class: "primary", text: "Reject" }),
    el("button", { type: "button", class: "quiet", text: "Cancel" }));
  form.lastChild.addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const c = comment.value.trim();
    if (!c || gate === null) return;
    form.hidden = true;
    await act("reject " + gate, () => api(path + "/approvals", { method: "POST", body: { gate, decision: "reject", comment: c } }));
  });
  return {
    node: el("div", null, t.node, none, form),
    update(doc) {
      const items = Array.isArray(doc.approvals) ? doc.approvals : [];
      emptyNote(none, items, "none");
      syncRows(t.tbody, items, (a) => a.gate, (a) => {
        const cell = el("td", { class: "c-act" });
        if (session.canAct()) {
          const yes = el("button", { type: "button", class: "action approve", text: "✓ Approve" });
          yes.addEventListener("click", () => act("approve " + a.gate, () => api(path + "/approvals", { method: "POST", body: { gate: a.gate, decision: "approve" } })));
          const no = el("button", { type: "button", class: "action reject", text: "✗ Reject…" });
          no.addEventListener("click", () => { gate = a.gate; form.hidden = false; comment.focus(); });
          cell.append(yes, " ", no);
        }
        return el("tr", { "data-gate": a.gate }, el("td", { class: "c-name" }), el("td", { class: "c-when" }), el("td", { class: "c-req" }),
          el("td", { class: "c-status" }, badge("unknown")), cell);
      }, (row, a) => {
        const c = row.children;
        const votes = Array.isArray(a.votes) ? a.votes : [];
        setText(c[0], a.gate); setText(c[1], a.when || "");
        const approved = a.approved ?? votes.filter((v) => v.decision === "approve").length;
        const who = votes.map((v) => (v.actor || "?") + " " + (v.decision || "") + (v.comment ? ": " + v.comment : ""));
        setText(c[2], approved + "/" + (a.min_approvals ?? "?") + (who.length ? " · " + who.join("; ") : ""));
        setTitle(c[2], (a.approvers && a.approvers.length ? "approvers: " + a.approvers.join(", ") : "any operator") + (who.length ? "\n" + who.join("\n") : ""));
        setBadge(c[3].firstChild, a.outcome || "unknown");
        // approvals.py: only the gate the run waits for now can be decided
        for (const b of c[4].querySelectorAll("button")) b.disabled = a.outcome !== "awaiting";
      });
    },
  };
}

// --- rollback: the dry-run order first, a reason, then a confirmation ---------------------

function rollbackDialog(name, path, act) {
  const order = el("ol", { id: "rollback-order" });
  const refusals = el("p", { class: "msg msg-bad", id: "rollback-refusals" });
  const reason = el("textarea", { id: "rollback-reason", rows: "2", required: true });
  const step1 = el("div", { class: "step" },
    el("p", { text: "A dry run says the rollback would redeploy, in this order (dependents first):" }),
    order, refusals,
    el("label", { for: "rollback-reason", text: "Reason (required; it goes into the audit log)" }), reason);
  const confirmText = el("p", { id: "rollback-confirm-text", class: "warn" });
  const step2 = el("div", { class: "step", hidden: true }, confirmText);
  const next = el("button", { type: "button", class: "primary", id: "rollback-next", text: "Roll back…" });
  const confirm = el("button", { type: "button", class: "danger", id: "rollback-confirm", hidden: true, text: "Confirm rollback" });
  const cancel = el("button", { type: "button", class: "quiet", id: "rollback-cancel", text: "Cancel" });
  const hint = el("p", { class: "msg", role: "alert" });
  const node = el("dialog", { id: "rollback-dialog", "aria-labelledby": "rollback-title" },
    el("h2", { id: "rollback-title", text: "Roll back " + name }), step1, step2, hint,
    el("div", { class: "buttons" }, next, confirm, cancel));
  let count = 0;
  cancel.addEventListener("click", () => node.close());
  next.addEventListener("click", () => {
    if (!reason.value.trim()) { setText(hint, "Give a reason first."); reason.focus(); return; }
    setText(hint, "");
    setText(confirmText, "Roll back " + count + (count === 1 ? " service" : " services") + " of " + name + " now? This deploys their previous versions. Reason: " + reason.value.trim());
    step1.hidden = true; step2.hidden = false; next.hidden = true; confirm.hidden = false;
    confirm.focus();
  });
  confirm.addEventListener("click", async () => {
    const r = reason.value.trim();
    node.close();
    await act("rollback", () => api(path + "/rollback", { method: "POST", body: { reason: r } }));
  });
  return {
    node,
    async open() {
      step1.hidden = false; step2.hidden = true; next.hidden = false; confirm.hidden = true;
      reason.value = ""; setText(hint, ""); setText(refusals, "");
      order.replaceChildren(el("li", { class: "empty", text: "asking for a dry run…" }));
      next.disabled = true;
      node.showModal();
      try {
        const doc = await api(path + "/rollback", { method: "POST", body: { dry_run: true } });
        const byName = new Map((doc.services || []).map((s) => [s.service, s]));
        count = (doc.order || []).length;
        order.replaceChildren(...(doc.order || []).map((n) => {
          const s = byName.get(n) || {};
          return el("li", { "data-service": n }, el("strong", { text: n }),
            " " + (s.to_version || "?") + " → " + (s.from_version || "none") + (s.action ? " (" + s.action + ")" : ""));
        }));
        if (!count) order.replaceChildren(el("li", { class: "empty", text: "nothing to roll back" }));
        setText(refusals, (doc.refusals || []).join("; "));
        next.disabled = count === 0 || (doc.refusals || []).length > 0;
        reason.focus();
      } catch (e) {
        if (e instanceof AuthError) { node.close(); signOut(e.message); return; }
        order.replaceChildren();
        setText(refusals, "The dry run was refused: " + e.message);
      }
    },
  };
}

// --- a service --------------------------------------------------------------------------------

function servicePage(name) {
  setCrumbs([[name, null]]);
  document.title = name + " · release-trains";
  const enc = encodeURIComponent(name);
  const health = badge("unknown");
  health.id = "service-health";
  const healthDetail = el("span", { class: "meta" });
  const versions = table([["Environment", "c-name"], ["Version", "c-ver"]], "versions");
  const versionsNone = el("p", { class: "empty", text: "none recorded" });
  const charts = el("div", { class: "charts", id: "charts" });
  const chartsNone = el("p", { class: "empty", text: "no signal readings recorded" });
  const history = table([["Train", "c-name"], ["Run", "c-n"], ["Status", "c-status"], ["From → to", "c-ver"], ["Health", "c-health"],
    ["Attempts", "c-att"], ["Started", "c-ts"], ["Duration", "c-dur"], ["Detail", "c-err"]], "history");
  const historyNone = el("p", { class: "empty", text: "never released" });
  const rates = el("p", { class: "meta", id: "rates" });
  ui.main.replaceChildren(
    el("div", { class: "head" }, el("h1", { text: name }), health, healthDetail),
    el("div", { class: "two" },
      section("Current version per environment", "versions", versions.node, versionsNone),
      section("Performance trends (signals recorded during runs)", "signals", charts, chartsNone)),
    section("Release history (newest first)", "history", rates, history.node, historyNone),
  );
  const chartNodes = new Map();
  let tick = 0;
  let report = null;
  poll(async () => {
    // the history document runs the health check now: read it every 5th poll only
    const wantReport = report === null || tick % 5 === 0;
    tick += 1;
    const [r, perf, fz] = await Promise.all([
      wantReport && routes.has("/services/{service}/history")
        ? api("/services/" + enc + "/history", { optional: true }) : Promise.resolve(report),
      api("/monitoring/performance/" + enc),
      (routes.has("/freeze") ? api("/freeze", { optional: true }) : Promise.resolve(null)),
    ]);
    renderFreeze(fz);
    report = r;
    if (report) {
      setBadge(health, report.health.status);
      setText(healthDetail, "health now: " + (report.health.detail || ""));
      const envs = Object.entries(report.deployed || {});
      emptyNote(versionsNone, envs, "none recorded");
      syncRows(versions.tbody, envs, (e) => e[0], () => el("tr", null, el("td", { class: "c-name" }), el("td", { class: "c-ver" })), (row, [env, v]) => {
        setText(row.children[0], env + (env === report.environment ? " (this server's)" : ""));
        setText(row.children[1], v || "not deployed");
      });
      const rel = (report.releases || []).slice().reverse();
      emptyNote(historyNone, rel, "never released");
      setText(rates, rel.length ? report.attempted + " releases attempted · failure rate "
        + (report.failure_rate === null ? "unknown" : report.failure_rate + "%") + " · rollback rate "
        + (report.rollback_rate === null ? "unknown" : report.rollback_rate + "%") : "");
      syncRows(history.tbody, rel, (x) => String(x.run_id), () => el("tr", { class: "svc" },
        el("td", { class: "c-name" }, el("a")), el("td", { class: "c-n" }), el("td", { class: "c-status" }, badge("unknown")),
        el("td", { class: "c-ver" }), el("td", { class: "c-health" }, badge("unknown")), el("td", { class: "c-att" }),
        el("td", { class: "c-ts" }), el("td", { class: "c-dur" }), el("td", { class: "c-err" })), (row, x) => {
        const c = row.children;
        const a = c[0].firstChild;
        const href = "/trains/" + encodeURIComponent(x.train);
        if (a.getAttribute("href") !== href) a.href = href;
        setText(a, x.train); setText(c[1], String(x.run_id));
        setBadge(c[2].firstChild, x.rolled_back && x.status !== "rolled_back" ? "rolled_back" : x.status);
        setText(c[3], (x.from_version || "none") + " → " + (x.to_version || "?"));
        setBadge(c[4].firstChild, x.health); setText(c[5], String(x.attempts));
        setText(c[6], fmtTs(x.started_at)); setText(c[7], fmtDuration(x.duration_s));
        setText(c[8], x.detail || ""); setTitle(c[8], x.detail);
      });
    } else {
      setText(healthDetail, "history: not served by this server");
    }
    // recorded readings (with a run_id), oldest first, one small chart per signal
    const series = new Map();
    for (const s of (perf.signals || []).slice().reverse()) {
      if (s.run_id === undefined || s.run_id === null) continue;
      const v = typeof s.value === "boolean" ? (s.value ? 1 : 0) : s.value;
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      if (!series.has(s.name)) series.set(s.name, []);
      series.get(s.name).push({ v, t: s.read_at, run: s.run_id });
    }
    const now = new Map((perf.signals || []).filter((s) => s.run_id === undefined).map((s) => [s.name, s]));
    emptyNote(chartsNone, [...series.keys()], "no signal readings recorded");
    for (const [metric, points] of series) {
      let c = chartNodes.get(metric);
      if (!c) {
        c = sparkline(metric);
        chartNodes.set(metric, c);
        charts.append(c.node);
      }
      c.update(points, now.get(metric));
    }
  });
}

function sparkline(metric) {
  const W = 260, H = 60, P = 4;
  const caption = el("figcaption");
  const box = el("div", { class: "spark" });
  const node = el("figure", { class: "chart" }, caption, box);
  let lastKey = "";
  return {
    node,
    update(points, nowReading) {
      const vs = points.map((p) => p.v);
      const lo = Math.min(...vs), hi = Math.max(...vs);
      const last = points[points.length - 1];
      const nowText = nowReading ? (nowReading.value === null ? "now: unknown" : "now: " + nowReading.value) : "";
      setText(caption, metric + " · last " + last.v + " (run " + last.run + ") · min " + lo + " · max " + hi + (nowText ? " · " + nowText : ""));
      const key = JSON.stringify(points);
      if (key === lastKey) return;
      lastKey = key;
      const s = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", class: "sparkline" });
      const title = svg("title");
      title.textContent = metric + ": " + points.length + " readings recorded during runs";
      s.append(title);
      const span = hi - lo || 1;
      const xs = (i) => P + (points.length === 1 ? (W - 2 * P) / 2 : (i / (points.length - 1)) * (W - 2 * P));
      const ys = (v) => H - P - ((v - lo) / span) * (H - 2 * P);
      const d = points.map((p, i) => (i ? "L" : "M") + xs(i).toFixed(1) + " " + ys(p.v).toFixed(1)).join(" ");
      s.append(svg("path", { d, class: "spark-line" }));
      points.forEach((p, i) => {
        const dot = svg("circle", { cx: xs(i), cy: ys(p.v), r: 2.5, class: "spark-dot" });
        const tip = svg("title");
        tip.textContent = p.v + " at " + fmtTs(p.t) + " (run " + p.run + ")";
        dot.append(tip);
        s.append(dot);
      });
      box.replaceChildren(s);
    },
  };
}

// --- start ------------------------------------------------------------------------------------

function route() {
  const parts = window.location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "trains" && parts.length === 2) trainPage(parts[1]);
  else if (parts[0] === "services" && parts.length === 2) servicePage(parts[1]);
  else trainsPage();
}

async function start() {
  ui.main = document.getElementById("main");
  ui.conn = document.getElementById("conn");
  document.getElementById("signout").addEventListener("click", () => signOut("Signed out."));
  session.token = takeToken();
  if (!session.token) {
    loginForm("");
    return;
  }
  // the first call may meet a restarting server: retry it with the same backoff as polls
  let delay = POLL_MS;
  for (;;) {
    try {
      [, session.who] = await Promise.all([loadRoutes(), api("/whoami")]);
      break;
    } catch (e) {
      if (e instanceof AuthError) { signOut("That token was refused: " + e.message); return; }
      ui.setConn("lost", "↻ reconnecting… next try in " + Math.round(delay / 1000) + " s");
      await new Promise((done) => setTimeout(done, delay));
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }
  showWho();
  route();
}

document.addEventListener("DOMContentLoaded", start);
