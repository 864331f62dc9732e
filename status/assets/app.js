// The ngxtasks status page: loads status.json every few seconds and shows
// it; a click on a rule loads its history.json. Every value from the
// documents goes into the page as text (textContent), never as markup.
//
// A handler with a token answers the documents 401 without it: the page
// then asks for the token in a form, keeps it in sessionStorage (this tab,
// until it closes or "Forget token") and sends it as a bearer token with
// every request.
//
// A handler that can act (Options.Act) marks the body data-act and puts
// a token of its own in the page (meta ngxtasks-csrf): each row then has
// Trigger and Pause (or Resume) buttons, which POST to "act" with that
// token in the Ngxtasks-Csrf header; Pause asks for a note and an end in
// a form of the page.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const refreshMs = Number(document.body.dataset.refreshMs) || 2000;
  const pageSize = 100;
  const states = ["failing", "skipping", "running", "ok", "idle"];
  const view = {
    doc: null, rules: [], search: "", state: "",
    sortKey: "identifier", sortDir: 1, page: 0,
    paused: false, timer: 0, history: null,
    token: "",
  };
  // The token is kept per tab and per mount point; storage may be denied
  // (then it lasts as long as the page).
  const tokenKey = "ngxtasks-token:" + location.pathname;
  const stored = {
    get() { try { return sessionStorage.getItem(tokenKey) || ""; } catch (e) { return ""; } },
    set(t) { try { sessionStorage.setItem(tokenKey, t); } catch (e) { /* kept in view.token only */ } },
    clear() { try { sessionStorage.removeItem(tokenKey); } catch (e) { /* nothing kept */ } },
  };
  view.token = stored.get();
  const count = new Intl.NumberFormat("en-US");
  const canAct = document.body.dataset.act === "1";
  const csrfMeta = document.querySelector('meta[name="ngxtasks-csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // el makes an element holding text (never markup).
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    const tr = el("tr");
    for (const c of cells) tr.append(c instanceof Node ? c : el("td", c));
    return tr;
  }
  function td(text, cls, title) {
    const e = el("td", text, cls);
    if (title) e.title = title;
    return e;
  }

  // secs shows seconds as people read them.
  function secs(v) {
    if (v === null || v === undefined) return "—";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 0.001) return (v * 1e6).toFixed(0) + " µs";
    if (a < 1) return (v * 1000).toFixed(a < 0.01 ? 2 : 1) + " ms";
    if (a < 120) return v.toFixed(2) + " s";
    return (v / 60).toFixed(1) + " min";
  }
  // clock shows the time of day of an RFC 3339 time, in UTC.
  function clock(iso) { return iso ? iso.slice(11, 23) : "—"; }
  function due(iso, now) {
    if (!iso) return "—";
    const s = (Date.parse(iso) - now) / 1000;
    return s <= 0 ? "now" : "in " + secs(s);
  }
  function ruleNote(r) {
    if (r.disagreement) {
      return "the fleet disagrees: " + r.disagreement.worker + " claims it under another definition (ours " +
        r.disagreement.ours + ", theirs " + r.disagreement.theirs + ")";
    }
    return r.last_error || "";
  }

  function lastSlot(r) {
    const s = r.last_slot;
    if (!s) return "";
    return s.reason ? s.outcome + ": " + s.reason : s.outcome;
  }

  // pausedText says a rule's pause: by whom, until when, why.
  function pausedText(p) {
    if (!p) return "";
    let t = "by " + p.origin;
    if (p.until) t += " until " + p.until.slice(0, 19).replace("T", " ") + " UTC";
    if (p.note) t += ": " + p.note;
    return t;
  }

  function actButton(kind, label, rule) {
    const b = el("button", label, "act act-" + kind);
    b.type = "button";
    b.dataset.act = kind;
    b.dataset.rule = rule;
    return b;
  }

  // sortValue is what a column sorts by.
  function sortValue(r, key) {
    switch (key) {
      case "last": return lastSlot(r);
      case "lateness_p50": case "lateness_p99":
        return r[key] === null ? -Infinity : r[key];
      case "next_due": case "last_error": case "last_winner":
        return r[key] || "";
      case "paused": return pausedText(r.paused);
      default: return r[key];
    }
  }
  function compare(a, b) {
    const x = sortValue(a, view.sortKey), y = sortValue(b, view.sortKey);
    if (x < y) return -view.sortDir;
    if (x > y) return view.sortDir;
    if (a.identifier !== b.identifier) return a.identifier < b.identifier ? -1 : 1;
    return a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0;
  }

  function renderWorkers(doc) {
    const body = $("workers").tBodies[0];
    body.replaceChildren(...doc.workers.map((w) => {
      const store = w.store_down
        ? td("down since " + clock(w.store_down_since) + ": " + (w.store_error || ""), "error")
        : td(w.store_error ? "up (last error: " + w.store_error + ")" : "up", "good");
      const offset = w.clock_measured ? secs(w.clock_offset) + (w.clock_skewed ? " (skewed)" : "") : "not measured";
      return row([w.worker, w.source, count.format(w.rules), store,
        td(offset, w.clock_skewed ? "error" : ""), clock(w.first_step)]);
    }));
    const peers = doc.peers || [];
    $("peers-box").hidden = peers.length === 0;
    $("peers").replaceChildren(...peers.map((p) => {
      const li = el("li");
      li.append(el("code", p.address), " ");
      li.append(p.error ? el("span", p.error, "error") : el("span", "ok", "good"));
      return li;
    }));
  }

  function renderRules() {
    const q = view.search.toLowerCase();
    const shown = view.rules.filter((r) =>
      (!view.state || r.state === view.state) && (!q || r._q.includes(q)));
    shown.sort(compare);
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    view.page = Math.min(view.page, pages - 1);
    const from = view.page * pageSize;
    const slice = shown.slice(from, from + pageSize);
    const now = Date.parse(view.doc.generated);

    $("rules").tBodies[0].replaceChildren(...slice.map((r) => {
      const tr = row([
        td(r.identifier, "id"), r.name, r.worker, r.type,
        td(r.interval_text, "", r.interval + " s"),
        td(r.state, "state state-" + r.state),
        td(lastSlot(r), "outcome-" + (r.last_slot ? r.last_slot.outcome.replace(" ", "-") : "none"),
          r.last_slot ? "slot " + r.last_slot.n + " from " + r.last_slot.start : ""),
        r.type === "preemption" ? r.last_winner : "",
        td(count.format(r.runs), "num"), td(count.format(r.errors), "num"),
        td(count.format(r.skips), "num", Object.entries(r.skips_by).map(([k, n]) => k + ": " + n).join(", ")),
        td(secs(r.lateness_p50), "num"), td(secs(r.lateness_p99), "num"),
        td(due(r.next_due, now), "due", r.next_due),
        td(ruleNote(r), "err", ruleNote(r)),
        td(pausedText(r.paused), r.paused ? "paused" : "", pausedText(r.paused)),
      ]);
      if (canAct) {
        const cell = el("td", null, "acts");
        const second = r.paused ? actButton("resume", "Resume", r.identifier) : actButton("pause", "Pause", r.identifier);
        if (r.paused) second.title = "Paused " + pausedText(r.paused);
        cell.append(actButton("trigger", "Trigger", r.identifier), " ", second);
        tr.append(cell);
      }
      tr.tabIndex = 0;
      tr.dataset.rule = r.identifier;
      tr.dataset.worker = r.worker;
      if (view.history && view.history === r.identifier) tr.classList.add("selected");
      return tr;
    }));
    $("count").textContent = shown.length === 0
      ? "no rules match (" + count.format(view.rules.length) + " in all)"
      : "showing " + count.format(from + 1) + "–" + count.format(from + slice.length) +
        " of " + count.format(shown.length) +
        (shown.length !== view.rules.length ? " (" + count.format(view.rules.length) + " in all)" : "");
    $("page").textContent = "page " + (view.page + 1) + " of " + pages;
    $("prev").disabled = view.page === 0;
    $("next").disabled = view.page >= pages - 1;
    for (const th of $("rules").tHead.rows[0].cells) {
      const on = th.dataset.key === view.sortKey;
      th.classList.toggle("sorted", on);
      th.setAttribute("aria-sort", on ? (view.sortDir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function slotDetail(s) {
    switch (s.outcome) {
      case "skipped": {
        let t = s.reason;
        if (s.missed) t += " (" + s.missed + " slots missed)";
        return s.err ? t + ": " + s.err : t;
      }
      case "lost": return s.winner ? "won by " + s.winner : "winner unknown";
      default: return s.err || "";
    }
  }

  // renderHistoryPause says, above a rule's history, whether it is
  // paused, from the status document's rows.
  function renderHistoryPause() {
    const rule = view.history;
    const r = rule === null ? null : view.rules.find((x) => x.identifier === rule && x.paused);
    $("history-paused").hidden = !r;
    $("history-paused").textContent = r ? "Paused " + pausedText(r.paused) : "";
  }

  function renderHistory(doc) {
    renderHistoryPause();
    const box = $("history-body");
    box.replaceChildren();
    for (const w of doc.workers) {
      const part = el("div", null, "worker-history");
      part.append(el("h3", w.worker + " · " + w.source + " · " + w.type + " every " + secs(w.interval)));
      if (w.newest_lost) {
        const x = w.newest_lost;
        const who = x.winner_known ? "the dictionary says " + x.winner + " won it"
          : x.store_error ? "the dictionary could not say who won it (" + x.store_error + ")"
          : "its claim has left the dictionary";
        part.append(el("p", "Newest lost slot " + x.n + ": " + who + ". Why: " + x.why, "why"));
      }
      if (w.slots.length === 0) {
        part.append(el("p", "No slot recorded yet."));
      } else {
        const t = el("table", null, "slots");
        const head = row(["slot", "start (UTC)", "outcome", "reason / winner / error", "lateness", "duration", "claim"].map((h) => el("th", h)));
        t.createTHead().append(head);
        const body = t.createTBody();
        for (const s of w.slots) {
          body.append(row([
            s.n, clock(s.start), td(s.tries > 1 ? s.outcome + " (" + s.tries + " tries)" : s.outcome, "outcome-" + s.outcome.replace(" ", "-")),
            td(slotDetail(s), "detail"),
            td(s.run_start ? secs(s.lateness) : "—", "num"),
            td(s.run_start && s.outcome !== "running" ? secs(s.duration) : "—", "num"),
            td(s.claim ? secs(s.claim) : "—", "num"),
          ]));
        }
        part.append(t);
      }
      box.append(part);
    }
    const failed = (doc.peers || []).filter((p) => p.error);
    for (const p of failed) box.append(el("p", "Peer " + p.address + " could not be read: " + p.error, "error"));
  }

  // NeedToken is a document's 401: sent is the token it was asked with.
  class NeedToken extends Error {
    constructor(sent) { super("the token is needed"); this.sent = sent; }
  }

  async function getJSON(url) {
    const sent = view.token;
    const headers = { Accept: "application/json" };
    if (sent) headers.Authorization = "Bearer " + sent;
    const resp = await fetch(url, { cache: "no-store", headers });
    if (resp.status === 401) throw new NeedToken(sent);
    let doc = null;
    try { doc = await resp.json(); } catch (e) { doc = null; }
    if (!resp.ok) throw new Error(url.split("?")[0] + ": " + resp.status + " " + (doc && doc.error ? doc.error : resp.statusText));
    if (!doc) throw new Error(url.split("?")[0] + ": not JSON");
    return doc;
  }

  async function loadHistory() {
    const rule = view.history;
    if (rule === null) return;
    try {
      const doc = await getJSON("history.json?rule=" + encodeURIComponent(rule));
      if (view.history !== rule) return; // another rule was opened meanwhile
      $("history-error").hidden = true;
      renderHistory(doc);
    } catch (e) {
      if (e instanceof NeedToken) { askToken(e.sent); return; }
      if (view.history !== rule) return;
      $("history-error").textContent = e.message;
      $("history-error").hidden = false;
    }
  }

  async function load() {
    clearTimeout(view.timer);
    try {
      const doc = await getJSON("status.json");
      view.doc = doc;
      view.rules = doc.rules;
      for (const r of view.rules) r._q = (r.identifier + "\n" + r.name).toLowerCase();
      renderWorkers(doc);
      renderRules();
      $("updated").textContent = "updated " + clock(doc.generated) + " UTC";
      $("fetch-error").hidden = true;
      $("forget").hidden = !view.token;
      renderHistoryPause();
      await loadHistory();
    } catch (e) {
      if (e instanceof NeedToken) { askToken(e.sent); return; }
      $("fetch-error").textContent = e.message;
      $("fetch-error").hidden = false;
    }
    if (!view.paused) view.timer = setTimeout(load, refreshMs);
  }

  function openHistory(rule) {
    view.history = rule;
    $("history-rule").textContent = rule;
    $("history-body").replaceChildren(el("p", "loading…"));
    $("history-error").hidden = true;
    $("history").hidden = false;
    if (view.doc) renderRules();
    loadHistory();
    $("history").scrollIntoView({ block: "nearest" });
  }

  function rerender() { if (view.doc) renderRules(); }

  // showData shows the documents' sections, or hides them for the token
  // form.
  function showData(on) {
    $("token-box").hidden = on;
    $("fleet").hidden = !on;
    $("rules-box").hidden = !on;
    if (!on) $("history").hidden = true;
  }

  // clearData removes every value of the documents from the page.
  function clearData() {
    view.doc = null;
    view.rules = [];
    view.history = null;
    for (const id of ["workers", "rules"]) $(id).tBodies[0].replaceChildren();
    for (const id of ["peers", "history-body"]) $(id).replaceChildren();
    for (const id of ["count", "page", "history-rule"]) $(id).textContent = "";
    $("peers-box").hidden = true;
    $("history").hidden = true;
  }

  // askToken shows the token form, once the documents answered 401 to a
  // request that sent the token sent ("" for none). An answer to a
  // request made with an older token is not about the current one.
  function askToken(sent) {
    if (sent !== view.token) return;
    clearTimeout(view.timer);
    view.token = "";
    stored.clear();
    clearData();
    showData(false);
    $("forget").hidden = true;
    $("fetch-error").hidden = true;
    $("updated").textContent = "";
    $("token-msg").textContent = sent
      ? "That token was refused: enter the listener's token again."
      : "This status page needs the listener's token.";
    $("token-msg").className = sent ? "error" : "";
    $("token").focus();
  }

  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("token").value.trim();
    if (!/^[\x21-\x7e]+$/.test(t)) {
      $("token-msg").textContent = t ? "A token is printable ASCII without spaces." : "Enter the token.";
      $("token-msg").className = "error";
      return;
    }
    $("token").value = "";
    view.token = t;
    stored.set(t);
    showData(true);
    $("updated").textContent = "loading…";
    load();
  });
  $("forget").addEventListener("click", () => {
    view.token = "";
    askToken("");
  });

  $("controls").addEventListener("submit", (e) => e.preventDefault());
  $("search").addEventListener("input", (e) => { view.search = e.target.value; view.page = 0; rerender(); });
  $("state").addEventListener("change", (e) => {
    view.state = states.includes(e.target.value) ? e.target.value : "";
    view.page = 0;
    rerender();
  });
  $("prev").addEventListener("click", () => { view.page--; rerender(); });
  $("next").addEventListener("click", () => { view.page++; rerender(); });
  $("rules").tHead.addEventListener("click", (e) => {
    const th = e.target.closest("th");
    if (!th || !th.dataset.key) return;
    if (view.sortKey === th.dataset.key) view.sortDir = -view.sortDir;
    else { view.sortKey = th.dataset.key; view.sortDir = 1; }
    rerender();
  });
  // act POSTs an action and shows its answer.
  async function act(kind, rule, extra) {
    const sent = view.token;
    const headers = { "Content-Type": "application/json", Accept: "application/json", "Ngxtasks-Csrf": csrf };
    if (sent) headers.Authorization = "Bearer " + sent;
    const msg = $("act-msg");
    msg.hidden = false;
    msg.className = "";
    msg.textContent = kind + " " + rule + "…";
    let ans = null, status = 0;
    try {
      const resp = await fetch("act", {
        method: "POST", cache: "no-store", credentials: "same-origin", headers,
        body: JSON.stringify(Object.assign({ rule, kind }, extra || {})),
      });
      status = resp.status;
      try { ans = await resp.json(); } catch (e) { ans = null; }
    } catch (e) {
      msg.textContent = kind + " " + rule + ": " + e.message;
      msg.className = "error";
      return;
    }
    if (status === 401) { askToken(sent); return; }
    msg.textContent = ans && ans.message ? ans.message : kind + " " + rule + ": HTTP " + status;
    msg.className = ans && ans.ok ? "good" : "error";
    // A trigger refused while the rule runs elsewhere or is paused may be
    // forced.
    if (kind === "trigger" && ans && (ans.reason === "running elsewhere" || ans.reason === "paused")) {
      const again = actButton("trigger", "Trigger anyway", rule);
      again.dataset.force = "1";
      msg.append(" ", again);
    }
    if (!view.paused) load();
  }

  function openPauseForm(rule) {
    $("pause-rule").textContent = rule;
    $("pause-form").dataset.rule = rule;
    $("pause-note").value = "";
    $("pause-until").value = "";
    $("pause-form").hidden = false;
    $("pause-note").focus();
  }
  $("pause-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const rule = $("pause-form").dataset.rule;
    const extra = { note: $("pause-note").value.trim() };
    const until = $("pause-until").value.trim();
    if (until) extra.until = until;
    $("pause-form").hidden = true;
    act("pause", rule, extra);
  });
  $("pause-cancel").addEventListener("click", () => { $("pause-form").hidden = true; });
  if (canAct) for (const th of document.querySelectorAll("th.act-col")) th.hidden = false;
  $("act-msg").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-act]");
    if (b) act("trigger", b.dataset.rule, { force: true });
  });

  const pick = (e) => {
    const b = e.target.closest("button[data-act]");
    if (b) {
      if (b.dataset.act === "pause") openPauseForm(b.dataset.rule);
      else act(b.dataset.act, b.dataset.rule);
      return;
    }
    const tr = e.target.closest("tr");
    if (tr && tr.dataset.rule !== undefined) openHistory(tr.dataset.rule);
  };
  $("rules").tBodies[0].addEventListener("click", pick);
  $("rules").tBodies[0].addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.target.closest("button")) pick(e);
  });
  $("history-close").addEventListener("click", () => {
    view.history = null;
    $("history").hidden = true;
    rerender();
  });
  $("pause").addEventListener("click", () => {
    view.paused = !view.paused;
    $("pause").textContent = view.paused ? "Resume" : "Pause";
    $("pause").setAttribute("aria-pressed", String(view.paused));
    if (view.paused) clearTimeout(view.timer); else load();
  });

  load();
})();
