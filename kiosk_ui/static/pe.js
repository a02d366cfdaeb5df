/* Classroom Edge kiosk: Smart PE screens (docs/api.md "Smart PE").
 * #/pe live class wall, #/pe/report/ID a lesson's report, #/pe/reports past lessons, #/pe/roster bands.
 * Alerts (pe.alert) show in a banner over every screen with a WebAudio beep until acknowledged. */
(function () {
  "use strict";

  var t = window.I18N.t;
  var ICONS = window.ICONS;
  function K() { return window.KIOSK; }
  function $(id) { return document.getElementById(id); }
  function esc(s) { return K().esc(s); }

  var RESORT_MS = 3000;        // a moving sort (bpm, zone) reorders at most this often: tiles must not dance
  var CURVE_EVERY_MS = 3000;   // an open curve refreshes
  var STOP_ARM_MS = 4000;      // "End lesson" needs a second tap within this
  var CRITICAL_BEEP_MS = 5000; // an unacknowledged critical alert beeps again
  var KIND_RANK = { critical: 3, high: 2, signal: 1 };

  var P = {
    ready: false,
    view: null,            // "wall" | "report" | "reports" | "roster"
    hash: null,
    lesson: null,          // GET /api/pe/lesson (tiles merged by student_id into P.tiles)
    tiles: {},
    els: {},               // student_id -> tile element
    order: [],
    sort: "label",
    lastSort: 0,
    sortTimer: null,
    renderQueued: false,
    alerts: {},            // alert_id -> active ALERT
    beepTimer: null,
    audio: null,
    stopArmed: null,
    busy: false,
    curveSid: null,
    curveTimer: null,
    report: null,
    reportId: null,
    lessons: null,
    roster: null,
    pick: null             // roster: the selected student_id
  };

  /* ---------- helpers ---------- */

  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function pct(v) { v = num(v); return v === null ? "—" : Math.round(v * 100) + "%"; }
  function int(v) { v = num(v); return v === null ? "—" : String(Math.round(v)); }
  function mmss(s) {
    s = num(s);
    if (s === null) return "--:--";
    s = Math.max(0, Math.floor(s));
    var m = Math.floor(s / 60);
    return (m < 10 ? "0" : "") + m + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  function pickKey(obj, keys) {
    if (!obj) return undefined;
    for (var i = 0; i < keys.length; i++) if (obj[keys[i]] !== undefined && obj[keys[i]] !== null) return obj[keys[i]];
    return undefined;
  }
  function labelCmp(a, b) {
    var na = parseInt(String(a).replace(/\D+/g, " ").trim(), 10);
    var nb = parseInt(String(b).replace(/\D+/g, " ").trim(), 10);
    if (!isNaN(na) && !isNaN(nb) && na !== nb) return na - nb;
    return String(a).localeCompare(String(b), "zh-CN");
  }
  function fmtWhen(epochS) {
    var v = num(epochS);
    if (v === null) return "—";
    var d = new Date(v * 1000);
    var p2 = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d.getMonth() + 1) + "/" + d.getDate() + " " + p2(d.getHours()) + ":" + p2(d.getMinutes());
  }
  function post(btn, path, body) {
    if (btn) btn.classList.add("is-busy");
    return K().request("POST", path, body || {}, 10000).then(function (r) {
      if (!K().commandOk(r)) {
        K().toast(K().errorTitle(r), K().errorDetail(r), "error");
        return null;
      }
      return r.data || {};
    }, function (err) {
      K().toast(K().errorTitle(null, err), null, "error");
      return null;
    }).finally(function () { if (btn) btn.classList.remove("is-busy"); });
  }

  /* ---------- the screen skeleton ---------- */

  function build() {
    var box = $("screen-pe");
    box.innerHTML =
      '<div class="pe-head">' +
        '<button type="button" class="btn btn-back" data-act="back"><span class="ico">' + ICONS.svg("back") + '</span><span data-t="nav.back"></span></button>' +
        '<h1 class="screen-title pe-title" data-t="pe.title"></h1>' +
        '<div class="pe-sortbar" role="group"><span class="pe-sort-k" data-t="pe.sort"></span>' +
          ["label", "bpm", "zone", "alert"].map(function (k) {
            return '<button type="button" class="btn pe-sortbtn" data-sort="' + k + '" data-t="pe.sort.' + k + '"></button>';
          }).join("") +
        "</div>" +
        '<nav class="pe-nav">' +
          '<button type="button" class="btn pe-navbtn" data-go="#/pe" data-view="wall"><span class="ico">' + ICONS.svg("heart") + '</span><span data-t="pe.wall"></span></button>' +
          '<button type="button" class="btn pe-navbtn" data-go="#/pe/roster" data-view="roster"><span class="ico">' + ICONS.svg("users") + '</span><span data-t="pe.roster"></span></button>' +
          '<button type="button" class="btn pe-navbtn" data-go="#/pe/reports" data-view="reports"><span class="ico">' + ICONS.svg("checklist") + '</span><span data-t="pe.reports"></span></button>' +
        "</nav>" +
      "</div>" +
      '<div id="pe-view-wall" class="pe-view" hidden>' +
        '<div class="pe-stats">' +
          '<div class="pe-stat pe-stat-time"><div class="pe-stat-k" data-t="pe.elapsed"></div>' +
            '<div class="pe-stat-v"><span id="pe-elapsed">--:--</span></div><div class="pe-stat-s" id="pe-planned"></div></div>' +
          '<div class="pe-stat pe-stat-avg"><div class="pe-stat-k" data-t="pe.avgBpm"></div>' +
            '<div class="pe-stat-v"><span id="pe-avg">—</span></div><div class="pe-stat-s" id="pe-avg-target"></div></div>' +
          '<div class="pe-stat pe-stat-density"><div class="pe-stat-k"><span data-t="pe.density"></span> <b id="pe-density">—</b></div>' +
            '<div class="pe-gauge" aria-hidden="true"><div id="pe-gauge-fill" class="pe-gauge-fill"></div><div id="pe-gauge-mark" class="pe-gauge-mark"></div></div>' +
            '<div class="pe-stat-s" id="pe-density-target"></div></div>' +
          '<div class="pe-actions">' +
            '<button type="button" id="pe-start" class="btn pe-big pe-start" data-act="start"><span class="ico">' + ICONS.svg("stopwatch") + '</span><span data-t="pe.start"></span></button>' +
            '<button type="button" id="pe-effort" class="btn pe-big pe-effort" data-act="effort"><span data-t="pe.effort"></span></button>' +
            '<button type="button" id="pe-stop" class="btn pe-big pe-stop" data-act="stop"><span id="pe-stop-text"></span></button>' +
          "</div>" +
        "</div>" +
        '<div id="pe-grid" class="pe-grid"></div>' +
        '<div id="pe-empty" class="pe-empty" hidden><div class="pe-empty-title" data-t="pe.noLesson"></div>' +
          '<div class="pe-empty-hint" data-t="pe.noLessonHint"></div></div>' +
      "</div>" +
      '<div id="pe-view-report" class="pe-view pe-report" hidden></div>' +
      '<div id="pe-view-reports" class="pe-view pe-reports" hidden></div>' +
      '<div id="pe-view-roster" class="pe-view pe-roster" hidden></div>';
    box.addEventListener("click", onTap);
    $("pe-banner").addEventListener("click", onBannerTap);
    $("pe-curve").addEventListener("click", function (ev) {
      if (ev.target === $("pe-curve") || ev.target.closest("[data-act='curve-close']")) closeCurve();
    });
    applyText(box);
  }

  function applyText(root) {
    var nodes = root.querySelectorAll("[data-t]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute("data-t"));
  }

  /* ---------- routing (called by kiosk.js) ---------- */

  function show(hash) {
    if (!P.ready) return;
    if (hash === P.hash) return;
    var was = P.view;
    P.hash = hash;
    var m;
    if (hash === "#/pe/roster") P.view = "roster";
    else if (hash === "#/pe/reports") P.view = "reports";
    else if ((m = /^#\/pe\/report\/(.+)$/.exec(hash))) { P.view = "report"; P.reportId = decodeURIComponent(m[1]); }
    else P.view = "wall";
    ["wall", "report", "reports", "roster"].forEach(function (v) { $("pe-view-" + v).hidden = v !== P.view; });
    var navs = document.querySelectorAll(".pe-navbtn");
    for (var i = 0; i < navs.length; i++) {
      var v = navs[i].getAttribute("data-view");
      navs[i].setAttribute("aria-pressed", String(v === P.view || (v === "reports" && P.view === "report")));
    }
    $("screen-pe").setAttribute("data-view", P.view);
    if (P.view === "wall") { if (was !== "wall") { P.order = []; renderWall(true); } loadLesson(); }
    if (P.view === "report") loadReport(P.reportId);
    if (P.view === "reports") loadLessons();
    if (P.view === "roster") loadRoster();
  }

  function hide() {
    P.hash = null;
    P.view = null;
    closeCurve();
  }

  function isOpen() { return P.view !== null && !$("screen-pe").hidden; }

  /* After (re)connecting the event stream: refetch what events may have missed. */
  function resync() {
    loadAlerts();
    if (!isOpen()) return;
    if (P.view === "wall") loadLesson();
    if (P.view === "roster") loadRoster();
  }

  /* ---------- live lesson ---------- */

  function loadLesson() {
    return K().getJSON("/api/pe/lesson").then(function (l) {
      P.lesson = l || { lesson_id: null };
      P.tiles = {};
      (P.lesson.tiles || []).forEach(function (tile) { P.tiles[tile.student_id] = tile; });
      P.order = [];
      renderWall(true);
    }, function () { renderWall(true); });
  }

  function mergeWall(ev) {
    if (!P.lesson || P.lesson.lesson_id !== ev.lesson_id) {
      // A lesson we do not know (started elsewhere, or after a gap): take the full picture once.
      if (!P.loadingLesson) {
        P.loadingLesson = true;
        loadLesson().finally(function () { P.loadingLesson = false; });
      }
      return;
    }
    if (ev.elapsed_s !== undefined) P.lesson.elapsed_s = ev.elapsed_s;
    if (ev["class"]) P.lesson["class"] = ev["class"];
    (ev.tiles || []).forEach(function (tile) {
      var old = P.tiles[tile.student_id];
      P.tiles[tile.student_id] = old ? Object.assign(old, tile) : tile;
    });
    queueRender();
  }

  function queueRender() {
    if (P.renderQueued || P.view !== "wall") return;
    P.renderQueued = true;
    window.requestAnimationFrame(function () { P.renderQueued = false; renderWall(false); });
  }

  function zoneCount() {
    var zs = P.lesson && P.lesson.zones;
    return zs && zs.length ? zs.length : 5;
  }

  function sortKey(a, b) {
    var ta = P.tiles[a], tb = P.tiles[b];
    var d = 0;
    if (P.sort === "bpm") d = (num(tb.bpm) || -1) - (num(ta.bpm) || -1);
    else if (P.sort === "zone") d = ((num(tb.zone) || 0) - (num(ta.zone) || 0)) || ((num(tb.pct_hrmax) || 0) - (num(ta.pct_hrmax) || 0));
    else if (P.sort === "alert") {
      d = (KIND_RANK[tb.alert] || 0) - (KIND_RANK[ta.alert] || 0);
      if (!d) d = (tb.signal !== "ok" ? 1 : 0) - (ta.signal !== "ok" ? 1 : 0);
    }
    return d || labelCmp(ta.label, tb.label);
  }

  function wantOrder(force) {
    var ids = Object.keys(P.tiles);
    var moving = P.sort === "bpm" || P.sort === "zone" || P.sort === "alert";
    var sameSet = ids.length === P.order.length && ids.every(function (id) { return P.els[id]; });
    if (!force && sameSet && moving && Date.now() - P.lastSort < RESORT_MS) {
      clearTimeout(P.sortTimer);
      P.sortTimer = setTimeout(queueRender, RESORT_MS);
      return false;
    }
    if (!force && sameSet && !moving) return false;
    ids.sort(sortKey);
    P.lastSort = Date.now();
    if (ids.join("|") === P.order.join("|")) return false;
    P.order = ids;
    return true;
  }

  function tileHtml() {
    return '<span class="pe-tile-top"><span class="pe-label"></span><span class="pe-zone"></span></span>' +
      '<span class="pe-bpm"></span>' +
      '<span class="pe-tile-foot"><span class="pe-flag"></span><span class="pe-bar"><span class="pe-bar-fill"></span></span></span>';
  }

  function signalIcon(sig) {
    if (sig === "lost") return ICONS.svg("minusCircle");
    if (sig === "no_contact") return ICONS.svg("warning");
    return ICONS.svg("minusCircle");
  }

  function updateTile(el, tile) {
    var key = [tile.label, tile.bpm, tile.zone, tile.signal, tile.alert, tile.battery, tile.density, I18N_KEY()].join("|");
    if (el._k === key) return;
    el._k = key;
    var sig = tile.signal || "ok";
    var live = sig === "ok" && num(tile.bpm) !== null;
    var zone = live ? num(tile.zone) : null;
    el.setAttribute("data-zone", zone === null ? "none" : String(zone));
    el.setAttribute("data-zones", String(zoneCount()));
    el.setAttribute("data-signal", sig);
    el.setAttribute("data-alert", tile.alert || "none");
    el.querySelector(".pe-label").textContent = tile.label || tile.student_id;
    el.querySelector(".pe-zone").textContent = zone === null ? "" : "Z" + zone;
    el.querySelector(".pe-bpm").textContent = live ? String(Math.round(tile.bpm)) : "—";
    var flags = "";
    if (tile.alert) flags += '<span class="pe-flag-item pe-flag-alert">' + ICONS.svg("warning") + esc(t("pe.alert." + tile.alert)) + "</span>";
    else if (sig !== "ok") flags += '<span class="pe-flag-item">' + signalIcon(sig) + esc(t("pe.signal." + sig)) + "</span>";
    if (num(tile.battery) !== null && tile.battery <= 20) {
      flags += '<span class="pe-flag-item pe-flag-batt" title="' + esc(t("pe.battery")) + '">' +
        '<svg class="svg-ico" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" aria-hidden="true">' +
        '<rect x="2.5" y="7" width="17" height="10" rx="2"/><path d="M21.5 10.5v3"/><path d="M5 9.5v5" stroke-width="2.6"/></svg>' +
        Math.round(tile.battery) + "%</span>";
    }
    el.querySelector(".pe-flag").innerHTML = flags;
    el.querySelector(".pe-bar-fill").style.width = Math.round(Math.min(1, Math.max(0, num(tile.density) || 0)) * 100) + "%";
    el.setAttribute("aria-label", (tile.label || "") + " " + (live ? Math.round(tile.bpm) + " bpm" : t("pe.signal." + (sig === "ok" ? "lost" : sig))) +
      (zone !== null ? " " + t("pe.zone", { z: zone }) : ""));
  }

  function I18N_KEY() { return window.I18N.lang; }

  function gridShape(n) {
    var cols = n <= 12 ? 4 : n <= 20 ? 5 : n <= 30 ? 6 : n <= 40 ? 8 : n <= 50 ? 9 : 10;
    return { cols: cols, rows: Math.max(1, Math.ceil(n / cols)) };
  }

  function renderWall(force) {
    if (!P.ready || P.view !== "wall") return;
    var l = P.lesson;
    var running = !!(l && l.lesson_id);
    var grid = $("pe-grid");
    $("screen-pe").setAttribute("data-lesson", running ? "running" : l ? "none" : "loading");

    // tiles
    var ids = Object.keys(P.tiles);
    Object.keys(P.els).forEach(function (id) {
      if (!P.tiles[id]) { P.els[id].remove(); delete P.els[id]; }
    });
    ids.forEach(function (id) {
      if (!P.els[id]) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "pe-tile";
        b.setAttribute("data-sid", id);
        b.innerHTML = tileHtml();
        P.els[id] = b;
        grid.appendChild(b);
        force = true;
      }
      updateTile(P.els[id], P.tiles[id]);
    });
    if (wantOrder(force)) P.order.forEach(function (id) { grid.appendChild(P.els[id]); });
    var shape = gridShape(ids.length);
    var cols = "repeat(" + shape.cols + ", minmax(0, 1fr))";
    if (grid.style.gridTemplateColumns !== cols) {
      grid.style.gridTemplateColumns = cols;
      grid.style.gridTemplateRows = "repeat(" + shape.rows + ", minmax(0, 1fr))";
    }
    grid.setAttribute("data-count", String(ids.length));
    grid.hidden = !ids.length;
    $("pe-empty").hidden = !!ids.length || !l;

    // class figures
    var c = (l && l["class"]) || {};
    $("pe-elapsed").textContent = running ? mmss(l.elapsed_s) : "--:--";
    $("pe-planned").textContent = running && num(l.planned_s) !== null ?
      t("pe.planned", { t: mmss(l.planned_s) }) + (l.class_id ? " · " + l.class_id : "") : "";
    var tb = c.target_bpm || [140, 160];
    $("pe-avg").textContent = running ? int(c.avg_bpm) : "—";
    var avgBox = document.querySelector(".pe-stat-avg");
    var avg = num(c.avg_bpm);
    avgBox.setAttribute("data-in", !running || avg === null ? "none" : avg < tb[0] ? "below" : avg > tb[1] ? "above" : "in");
    $("pe-avg-target").textContent = t("pe.target", { lo: tb[0], hi: tb[1] }) +
      (running && num(c.in_target_share) !== null ? " · " + t("pe.inTarget", { p: Math.round(c.in_target_share * 100) }) : "");
    var dt = num(c.density_target) || 0.75;
    var d = num(c.density);
    $("pe-density").textContent = running ? pct(d) : "—";
    $("pe-gauge-fill").style.width = (running && d !== null ? Math.min(100, d * 100) : 0) + "%";
    $("pe-gauge-mark").style.left = dt * 100 + "%";
    document.querySelector(".pe-stat-density").setAttribute("data-met", running && d !== null ? String(d >= dt) : "none");
    $("pe-density-target").textContent = t("pe.densityTarget", { p: Math.round(dt * 100) });

    // buttons
    $("pe-start").hidden = running;
    $("pe-effort").hidden = !running;
    $("pe-stop").hidden = !running;
    $("pe-start").disabled = !l;
    $("pe-stop-text").textContent = P.stopArmed ? t("pe.stopConfirm") : t("pe.stop");
    $("pe-stop").classList.toggle("is-armed", !!P.stopArmed);
    var sorts = document.querySelectorAll(".pe-sortbtn");
    for (var i = 0; i < sorts.length; i++) sorts[i].setAttribute("aria-pressed", String(sorts[i].getAttribute("data-sort") === P.sort));
  }

  /* ---------- lesson commands ---------- */

  function startLesson(btn) {
    if (P.busy) return;
    P.busy = true;
    post(btn, "/api/pe/lesson/start").then(function (r) {
      if (r) return loadLesson();
      return null;
    }).finally(function () { P.busy = false; });
  }

  function stopLesson(btn) {
    if (!P.stopArmed) {
      P.stopArmed = setTimeout(function () { P.stopArmed = null; renderWall(false); }, STOP_ARM_MS);
      renderWall(false);
      return;
    }
    clearTimeout(P.stopArmed);
    P.stopArmed = null;
    if (P.busy) return;
    P.busy = true;
    post(btn, "/api/pe/lesson/stop").then(function (r) {
      if (!r) { renderWall(false); return; }
      P.lesson = { lesson_id: null };
      P.tiles = {};
      P.lessons = null;
      if (r.lesson_id) window.location.hash = "#/pe/report/" + encodeURIComponent(r.lesson_id);
      else renderWall(true);
    }).finally(function () { P.busy = false; });
  }

  function markEffort(btn) {
    post(btn, "/api/pe/effort").then(function (r) {
      if (r) K().toast(t("pe.effortDone"), null, "info");
    });
  }

  /* ---------- taps ---------- */

  function onTap(ev) {
    K().touch();
    var el = ev.target.closest("button, a");
    if (!el || el.disabled) return;
    var act = el.getAttribute("data-act");
    var go = el.getAttribute("data-go");
    if (act === "back") { K().goHome(); return; }
    if (go) { if (window.location.hash !== go) window.location.hash = go; return; }
    if (act === "start") { startLesson(el); return; }
    if (act === "stop") { stopLesson(el); return; }
    if (act === "effort") { markEffort(el); return; }
    if (el.hasAttribute("data-sort")) {
      P.sort = el.getAttribute("data-sort");
      renderWall(true);
      return;
    }
    if (el.classList.contains("pe-tile")) { openCurve(el.getAttribute("data-sid")); return; }
    if (el.hasAttribute("data-class")) { rosterClass(el.getAttribute("data-class"), el); return; }
    if (el.hasAttribute("data-pick")) { rosterPick(el.getAttribute("data-pick")); return; }
    if (el.hasAttribute("data-band")) { rosterAssign(el.getAttribute("data-band"), el); }
  }

  /* ---------- alerts: banner, sound, acknowledge ---------- */

  function loadAlerts() {
    K().request("GET", "/api/pe/alerts").then(function (r) {
      if (!r.ok || !r.data) return;
      var fresh = {};
      (r.data.active || []).forEach(function (a) { if (a.needs_ack) fresh[a.alert_id] = a; });
      var isNew = Object.keys(fresh).some(function (id) { return !P.alerts[id]; });
      P.alerts = fresh;
      renderBanner();
      if (isNew) beepFor(topAlert());
    }, function () { /* the feature may not exist; the next reconnect retries */ });
  }

  function onAlert(a) {
    if (!a || !a.alert_id) return;
    var was = !!P.alerts[a.alert_id];
    // an episode that ended unseen stays on the banner until the teacher taps it
    if (a.needs_ack) P.alerts[a.alert_id] = a;
    else delete P.alerts[a.alert_id];
    renderBanner();
    if (a.state === "active" && !was) beepFor(a);
  }

  function sortedAlerts() {
    return Object.keys(P.alerts).map(function (id) { return P.alerts[id]; }).sort(function (a, b) {
      return ((KIND_RANK[b.kind] || 0) - (KIND_RANK[a.kind] || 0)) || ((num(a.raised_at) || 0) - (num(b.raised_at) || 0));
    });
  }

  function topAlert() { return sortedAlerts()[0] || null; }

  function renderBanner() {
    if (!P.ready) return;
    var list = sortedAlerts();
    var box = $("pe-banner");
    document.body.setAttribute("data-pe-alert", list.length ? list[0].kind : "none");
    clearInterval(P.beepTimer);
    P.beepTimer = null;
    if (!list.length) { box.hidden = true; box.innerHTML = ""; return; }
    var a = list[0];
    box.setAttribute("data-kind", a.kind);
    box.innerHTML =
      '<span class="pe-banner-ico">' + ICONS.svg(a.kind === "signal" ? "minusCircle" : "warning") + "</span>" +
      '<span class="pe-banner-body"><span class="pe-banner-kind">' + esc(t("pe.alert." + a.kind)) + " · " + esc(a.label) + "</span>" +
      '<span class="pe-banner-msg">' + (a.state === "cleared" ? esc(t("pe.alertEnded")) + " · " : "") + esc(a.message || "") + "</span></span>" +
      (list.length > 1 ? '<span class="pe-banner-more">' + esc(t("pe.moreAlerts", { n: list.length - 1 })) + "</span>" : "") +
      '<button type="button" class="btn pe-ack" data-ack="' + esc(a.alert_id) + '">' + ICONS.svg("check") +
      "<span>" + esc(t("pe.ack")) + "</span></button>";
    box.hidden = false;
    if (list.some(function (x) { return x.kind === "critical"; })) {
      P.beepTimer = setInterval(function () { beepFor({ kind: "critical" }); }, CRITICAL_BEEP_MS);
    }
  }

  function onBannerTap(ev) {
    var btn = ev.target.closest("[data-ack]");
    if (!btn || btn.classList.contains("is-busy")) return;
    var id = btn.getAttribute("data-ack");
    post(btn, "/api/pe/alerts/" + encodeURIComponent(id) + "/ack", { by: "teacher" }).then(function (r) {
      if (!r) return;
      var a = P.alerts[id];
      delete P.alerts[id];
      renderBanner();
      if (a && P.tiles[a.student_id] && P.tiles[a.student_id].alert === a.kind) {
        P.tiles[a.student_id].alert = null;
        queueRender();
      }
    });
  }

  /* A short generated tone (no audio files): critical = three high beeps, high = two, signal = one low. */
  function beepFor(a) {
    if (!a) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!P.audio) P.audio = new Ctx();
      var ctx = P.audio;
      if (ctx.state === "suspended") ctx.resume();
      var plan = a.kind === "critical" ? [880, 880, 880] : a.kind === "high" ? [740, 740] : [440];
      var t0 = ctx.currentTime + 0.02;
      plan.forEach(function (freq, i) {
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = freq;
        var s = t0 + i * 0.28;
        gain.gain.setValueAtTime(0.0001, s);
        gain.gain.exponentialRampToValueAtTime(0.35, s + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, s + 0.2);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(s);
        osc.stop(s + 0.22);
      });
      document.body.setAttribute("data-pe-beeps", String((parseInt(document.body.getAttribute("data-pe-beeps") || "0", 10) || 0) + 1));
    } catch (e) { /* no sound device: the banner still shows */ }
  }

  /* ---------- a student's curve ---------- */

  function openCurve(sid) {
    P.curveSid = sid;
    var box = $("pe-curve");
    var tile = P.tiles[sid] || {};
    box.innerHTML =
      '<div class="dialog pe-curve-dialog" role="dialog" aria-modal="true">' +
        '<div class="dialog-head"><h2 class="dialog-title"><span id="pe-curve-label">' + esc(tile.label || sid) + "</span> · " + esc(t("pe.curve")) + "</h2>" +
          '<button type="button" class="btn btn-close" data-act="curve-close">' + esc(t("pe.close")) + "</button></div>" +
        '<div id="pe-curve-info" class="pe-curve-info"></div>' +
        '<canvas id="pe-curve-canvas" class="pe-curve-canvas" width="1600" height="620"></canvas>' +
      "</div>";
    box.hidden = false;
    fetchCurve();
    clearInterval(P.curveTimer);
    P.curveTimer = setInterval(fetchCurve, CURVE_EVERY_MS);
  }

  function closeCurve() {
    clearInterval(P.curveTimer);
    P.curveTimer = null;
    P.curveSid = null;
    var box = $("pe-curve");
    if (box) { box.hidden = true; box.innerHTML = ""; }
  }

  function fetchCurve() {
    var sid = P.curveSid;
    if (!sid) return;
    K().getJSON("/api/pe/students/" + encodeURIComponent(sid) + "/curve").then(function (c) {
      if (P.curveSid !== sid) return;
      drawCurve(c);
    }, function () { /* keep the last drawing */ });
  }

  var ZONE_RGB = ["#5b6b7f", "#3f7fd9", "#2f9e6a", "#d9b52b", "#e8792b", "#d8413b"];

  function zoneColor(z, n) {
    // zone 1..n onto the palette; the last zone is always red
    if (n <= 1) return ZONE_RGB[0];
    var i = Math.round(((z - 1) / (n - 1)) * (ZONE_RGB.length - 1));
    return ZONE_RGB[Math.max(0, Math.min(ZONE_RGB.length - 1, i))];
  }

  function drawCurve(c) {
    var cv = $("pe-curve-canvas");
    if (!cv) return;
    $("pe-curve-label").textContent = c.label || c.student_id;
    var pts = c.points || [];
    var last = pts.length ? pts[pts.length - 1][1] : null;
    var tb = c.target_bpm || [140, 160];
    $("pe-curve-info").innerHTML =
      '<span class="pe-ci"><b>' + esc(last === null ? "—" : Math.round(last)) + "</b> bpm</span>" +
      '<span class="pe-ci">HRmax <b>' + esc(int(c.hrmax)) + "</b></span>" +
      '<span class="pe-ci pe-ci-target">' + esc(t("pe.target", { lo: tb[0], hi: tb[1] })) + "</span>";
    var g = cv.getContext("2d");
    var W = cv.width, H = cv.height, L = 90, R = 30, T = 20, B = 60;
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#0b1624";
    g.fillRect(0, 0, W, H);
    var edges = (c.zone_bpm || []).slice();
    var lo = 50, hi = Math.max(num(c.hrmax) || 200, 200) + 10;
    pts.forEach(function (p) { if (p[1] > hi - 5) hi = p[1] + 10; });
    var tMax = Math.max(60, pts.length ? pts[pts.length - 1][0] : 0);
    var tMin = pts.length ? pts[0][0] : 0;
    var x = function (tt) { return L + ((tt - tMin) / Math.max(1, tMax - tMin)) * (W - L - R); };
    var y = function (b) { return T + (1 - (b - lo) / (hi - lo)) * (H - T - B); };
    // zone bands
    var bounds = [lo].concat(edges).concat([hi]);
    var n = bounds.length - 1;
    for (var i = 0; i < n; i++) {
      g.globalAlpha = 0.22;
      g.fillStyle = zoneColor(i + 1, n);
      g.fillRect(L, y(bounds[i + 1]), W - L - R, y(bounds[i]) - y(bounds[i + 1]));
      g.globalAlpha = 1;
      g.fillStyle = "#b3c3d6";
      g.font = "bold 26px sans-serif";
      g.textAlign = "left";
      var mid = (y(bounds[i + 1]) + y(bounds[i])) / 2;
      if (y(bounds[i]) - y(bounds[i + 1]) > 30) g.fillText("Z" + (i + 1), W - R - 50, mid + 9);
    }
    // target band: outlined, dashed
    g.strokeStyle = "#ffffff";
    g.lineWidth = 3;
    g.setLineDash([14, 10]);
    g.strokeRect(L, y(tb[1]), W - L - R, y(tb[0]) - y(tb[1]));
    g.setLineDash([]);
    // axes labels
    g.fillStyle = "#b3c3d6";
    g.font = "24px sans-serif";
    g.textAlign = "right";
    for (var b = 60; b <= hi; b += 20) g.fillText(String(b), L - 12, y(b) + 8);
    g.textAlign = "center";
    var step = Math.max(60, Math.ceil((tMax - tMin) / 8 / 60) * 60);
    for (var s = Math.ceil(tMin / 60) * 60; s <= tMax; s += step) g.fillText(mmss(s), x(s), H - 20);
    // the curve
    if (pts.length > 1) {
      g.strokeStyle = "#ffffff";
      g.lineWidth = 4;
      g.lineJoin = "round";
      g.beginPath();
      pts.forEach(function (p, k) { if (k === 0) g.moveTo(x(p[0]), y(p[1])); else g.lineTo(x(p[0]), y(p[1])); });
      g.stroke();
    } else {
      g.fillStyle = "#b3c3d6";
      g.font = "bold 36px sans-serif";
      g.textAlign = "center";
      g.fillText(t("pe.curveEmpty"), W / 2, H / 2);
    }
    cv.setAttribute("data-points", String(pts.length));
  }

  /* ---------- report ---------- */

  function loadReport(id) {
    var box = $("pe-view-report");
    if (!P.report || P.report.lesson_id !== id) box.innerHTML = '<div class="pe-empty-title pe-pad">' + esc(t("pe.reportLoading")) + "</div>";
    K().getJSON("/api/pe/lessons/" + encodeURIComponent(id)).then(function (r) {
      P.report = r || {};
      P.report.lesson_id = P.report.lesson_id || id;
      renderReport();
    }, function (err) {
      box.innerHTML = '<div class="pe-empty-title pe-pad">' + esc(t("err.generic")) + "</div><div class=\"pe-empty-hint\">" + esc(err.message) + "</div>";
    });
    if (!P.lessons) loadLessons();
  }

  function reportRows(r) {
    var rows = pickKey(r, ["students", "rows", "per_student"]) || [];
    return Array.isArray(rows) ? rows : [];
  }

  function zoneMinutes(row) {
    var zm = pickKey(row, ["zone_minutes", "minutes_per_zone", "zones"]);
    if (!zm) return [];
    if (Array.isArray(zm)) return zm.map(function (v, i) { return typeof v === "object" ? [pickKey(v, ["zone"]) || i + 1, pickKey(v, ["minutes", "min"])] : [i + 1, v]; });
    return Object.keys(zm).sort(function (a, b) { return labelCmp(a, b); }).map(function (k) { return [String(k).replace(/\D+/g, "") || k, zm[k]]; });
  }

  function renderReport() {
    var r = P.report;
    if (!r || P.view !== "report") return;
    var c = pickKey(r, ["class", "class_figures", "summary"]) || r;
    var rows = reportRows(r);
    var id = r.lesson_id;
    var dens = num(pickKey(c, ["density", "group_density"]));
    var dt = num(pickKey(c, ["density_target", "group_density_target"])) || 0.75;
    var it = num(pickKey(c, ["individual_density_target", "individual_target"])) || 0.5;
    var met = num(pickKey(c, ["individual_met", "individual_met_count", "students_meeting_individual", "individual_density_met"]));
    if (met === null) met = rows.filter(function (x) { return (num(x.density) || 0) >= it; }).length;
    var total = num(pickKey(c, ["students", "student_count"])) || rows.length;
    var avg = num(pickKey(c, ["avg_bpm", "average_bpm"]));
    var base = "/api/pe/lessons/" + encodeURIComponent(id);
    var started = pickKey(r, ["started_at"]), ended = pickKey(r, ["ended_at"]);
    var maxZ = 0;
    rows.forEach(function (row) { zoneMinutes(row).forEach(function (z) { maxZ = Math.max(maxZ, parseInt(z[0], 10) || 0); }); });
    var html =
      '<div class="pe-report-main">' +
        '<div class="pe-report-head"><h2 class="pe-report-title">' + esc(t("pe.report")) + '</h2><span class="pe-report-when">' +
          esc(fmtWhen(started)) + (ended ? " – " + esc(fmtWhen(ended).split(" ")[1]) : "") + "</span>" +
          '<a class="btn pe-dl" id="pe-dl-pdf" href="' + esc(base + "/report.pdf") + '" download>' + ICONS.svg("book") + "<span>" + esc(t("pe.pdf")) + "</span></a>" +
          '<a class="btn pe-dl" id="pe-dl-csv" href="' + esc(base + "/report.csv") + '" download>' + ICONS.svg("grid") + "<span>" + esc(t("pe.csv")) + "</span></a>" +
        "</div>" +
        '<div class="pe-figs">' +
          fig(t("pe.classDensity"), pct(dens), t("pe.densityTarget", { p: Math.round(dt * 100) }), dens === null ? null : dens >= dt) +
          fig(t("pe.classAvg"), int(avg) + " bpm", t("pe.target", { lo: 140, hi: 160 }), avg === null ? null : avg >= 140 && avg <= 160) +
          fig(t("pe.indivMet", { p: Math.round(it * 100) }), t("pe.people", { n: met, total: total }), "", null) +
        "</div>" +
        '<div class="pe-table-wrap"><table class="pe-table"><thead><tr>' +
          "<th>" + esc(t("pe.col.student")) + "</th><th>" + esc(t("pe.col.avg")) + "</th><th>" + esc(t("pe.col.peak")) + "</th><th>" +
          esc(t("pe.col.density")) + "</th>" +
          (maxZ ? '<th colspan="' + maxZ + '">' + esc(t("pe.col.zones")) + "</th>" : "") +
          "<th>" + esc(t("pe.col.rec1")) + "</th><th>" + esc(t("pe.col.rec2")) + "</th><th>" + esc(t("pe.col.alerts")) + "</th>" +
        "</tr></thead><tbody>" +
        rows.slice().sort(function (a, b) { return labelCmp(a.label, b.label); }).map(function (row) {
          var zm = {};
          zoneMinutes(row).forEach(function (z) { zm[z[0]] = z[1]; });
          var zs = "";
          for (var z = 1; z <= maxZ; z++) {
            var v = num(zm[String(z)]);
            zs += '<td class="pe-zcell" data-zone="' + z + '" data-zones="' + maxZ + '">' + (v === null ? "—" : (Math.round(v * 10) / 10)) + "</td>";
          }
          var d = num(row.density);
          var al = pickKey(row, ["alerts", "alert_count"]);
          if (Array.isArray(al)) al = al.length;
          return '<tr data-met="' + String(d !== null && d >= it) + '"><td class="pe-td-label">' + esc(row.label || row.student_id) + "</td>" +
            "<td>" + int(pickKey(row, ["avg_bpm", "avg"])) + "</td><td>" + int(pickKey(row, ["peak_bpm", "peak"])) + "</td>" +
            '<td class="pe-td-density">' + pct(d) + "</td>" + zs +
            "<td>" + int(pickKey(row, ["recovery_1min", "recovery_1min_bpm"])) + "</td><td>" + int(pickKey(row, ["recovery_2min", "recovery_2min_bpm"])) + "</td>" +
            '<td class="pe-td-alerts">' + esc(al === undefined || al === null ? "—" : al) + "</td></tr>";
        }).join("") +
        "</tbody></table></div>" +
      "</div>" +
      '<aside class="pe-report-side"><h3 class="pe-side-title">' + esc(t("pe.pastLessons")) + '</h3><div id="pe-side-list" class="pe-lesson-list"></div></aside>';
    $("pe-view-report").innerHTML = html;
    renderLessonList($("pe-side-list"));
  }

  function fig(k, v, s, ok) {
    return '<div class="pe-fig" data-met="' + (ok === null ? "none" : String(ok)) + '"><div class="pe-fig-k">' + esc(k) + "</div>" +
      '<div class="pe-fig-v">' + esc(v) + "</div>" +
      '<div class="pe-fig-s">' + esc(s) + (ok === null ? "" : ' <b class="pe-fig-met">' + (ok ? ICONS.svg("check") : ICONS.svg("warning")) + esc(ok ? t("pe.met") : t("pe.notMet")) + "</b>") + "</div></div>";
  }

  function loadLessons() {
    K().getJSON("/api/pe/lessons").then(function (list) {
      P.lessons = Array.isArray(list) ? list : [];
      if (P.view === "reports") renderLessons();
      if (P.view === "report" && $("pe-side-list")) renderLessonList($("pe-side-list"));
    }, function () { /* keep what is shown */ });
  }

  function renderLessons() {
    var box = $("pe-view-reports");
    box.innerHTML = '<h2 class="pe-report-title">' + esc(t("pe.pastLessons")) + '</h2><div id="pe-all-list" class="pe-lesson-list pe-lesson-list-wide"></div>';
    renderLessonList($("pe-all-list"));
  }

  function renderLessonList(box) {
    if (!box) return;
    var list = (P.lessons || []).slice().sort(function (a, b) { return (num(b.started_at) || 0) - (num(a.started_at) || 0); });
    if (!P.lessons) { box.innerHTML = '<div class="pe-empty-hint">' + esc(t("pe.loading")) + "</div>"; return; }
    if (!list.length) { box.innerHTML = '<div class="pe-empty-hint">' + esc(t("pe.noLessons")) + "</div>"; return; }
    box.innerHTML = list.map(function (l) {
      var cur = P.view === "report" && l.lesson_id === P.reportId;
      return '<button type="button" class="btn pe-lesson-btn" data-go="#/pe/report/' + esc(encodeURIComponent(l.lesson_id)) + '" aria-pressed="' + cur + '">' +
        '<span class="pe-lb-when">' + esc(fmtWhen(l.started_at)) + "</span>" +
        '<span class="pe-lb-figs">' + esc(t("pe.students", { n: l.students === undefined ? "—" : l.students })) + " · " +
        esc(pct(l.density)) + " · " + esc(int(l.avg_bpm)) + " bpm</span></button>";
    }).join("");
  }

  /* ---------- roster ---------- */

  function loadRoster() {
    var box = $("pe-view-roster");
    if (!P.roster) box.innerHTML = '<div class="pe-empty-title pe-pad">' + esc(t("pe.loading")) + "</div>";
    K().request("GET", "/api/pe/roster").then(function (r) {
      if (r.status === 404) { box.innerHTML = '<div class="pe-empty-title pe-pad">' + esc(t("pe.notConfigured")) + "</div>"; return; }
      if (!r.ok || !r.data) throw new Error("HTTP " + r.status);
      P.roster = r.data;
      renderRoster();
    }).catch(function () { if (!P.roster) box.innerHTML = '<div class="pe-empty-title pe-pad">' + esc(t("err.network")) + "</div>"; });
  }

  function renderRoster() {
    var r = P.roster;
    if (!r || P.view !== "roster") return;
    var students = (r.students || []).slice().sort(function (a, b) { return labelCmp(a.label, b.label); });
    var free = (r.unassigned_bands || []).slice().sort();
    var problems = r.problems || [];
    var classes = r.classes || [];
    var next = r.next_slot;
    var html =
      '<div class="pe-roster-main">' +
        (classes.length > 1 ? '<div class="pe-classbar" role="group"><span class="pe-classbar-title">' + esc(t("pe.class")) + "</span>" +
          classes.map(function (c) {
            return '<button type="button" class="btn pe-classbtn" data-class="' + esc(c) + '" aria-pressed="' + (c === r.class_id) + '">' + esc(c) + "</button>";
          }).join("") + "</div>" : "") +
        (next ? '<div class="pe-nextslot">' + esc(t("pe.nextSlot", { title: next.title, when: whenText(next.starts_at) })) + "</div>" : "") +
        '<div class="pe-roster-hint">' + esc(t("pe.rosterHint")) + "</div>" +
        (problems.length ? '<div class="pe-problems"><b>' + esc(t("pe.problems")) + "</b> " + problems.map(esc).join(" · ") + "</div>" : "") +
        '<div class="pe-roster-grid">' +
        students.map(function (s) {
          return '<button type="button" class="btn pe-stu" data-pick="' + esc(s.student_id) + '" aria-pressed="' + (P.pick === s.student_id) + '"' +
            ' data-band="' + esc(s.band_id || "") + '"' + (s.band_id ? "" : ' data-noband="1"') + ">" +
            // a band's sticker shows the end of its address: the tile shows the same, the full id on long-press
            '<span class="pe-stu-label">' + esc(s.label) + '</span><span class="pe-stu-band" title="' + esc(s.band_id || "") + '">' +
            esc(s.band_id ? "…" + s.band_id.slice(-5) : t("pe.noBand")) + "</span></button>";
        }).join("") +
        "</div></div>" +
      '<aside class="pe-roster-side"><h3 class="pe-side-title">' + esc(t("pe.unassigned")) + "</h3>" +
        '<div class="pe-free">' +
        (free.length ? free.map(function (b) {
          return '<button type="button" class="btn pe-freeband" data-band="' + esc(b) + '"' + (P.pick ? "" : " disabled") + ">" + esc(b) + "</button>";
        }).join("") : '<div class="pe-empty-hint">' + esc(t("pe.noUnassigned")) + "</div>") +
        "</div></aside>";
    $("pe-view-roster").innerHTML = html;
  }

  function whenText(iso) {
    // "2026-11-26T09:50+08:00" -> "11-26 09:50" (the box's own zone, as the timetable is written)
    var m = /^\d{4}-(\d\d-\d\d)T(\d\d:\d\d)/.exec(iso || "");
    return m ? m[1] + " " + m[2] : "";
  }

  function rosterClass(cls, btn) {
    if (!cls || P.busy || (P.roster && P.roster.class_id === cls)) return;
    P.busy = true;
    post(btn, "/api/pe/roster/class", { class_id: cls }).then(function (r) {
      if (r) { P.pick = null; loadRoster(); }
    }).finally(function () { P.busy = false; });
  }

  function rosterPick(sid) {
    if (P.pick && P.pick !== sid) {
      // second student tapped: give the first one this student's band (the server swaps them)
      var other = studentById(sid);
      if (other && other.band_id) { rosterAssign(other.band_id, null); return; }
    }
    P.pick = P.pick === sid ? null : sid;
    renderRoster();
  }

  function studentById(sid) {
    return ((P.roster && P.roster.students) || []).filter(function (s) { return s.student_id === sid; })[0] || null;
  }

  function rosterAssign(band, btn) {
    var sid = P.pick;
    if (!sid || !band || P.busy) return;
    var me = studentById(sid);
    P.busy = true;
    post(btn, "/api/pe/roster/assign", { band_id: band, student_id: sid }).then(function (r) {
      if (!r) return;
      var other = r.swapped_with ? studentById(r.swapped_with) : null;
      K().toast(other ? t("pe.swapped", { label: me ? me.label : sid, other: other.label }) : t("pe.assigned", { band: band, label: me ? me.label : sid }), null, "info");
      P.pick = null;
      loadRoster();
    }).finally(function () { P.busy = false; });
  }

  /* ---------- events, language ---------- */

  function onEvent(msg) {
    if (!P.ready) return;
    if (msg.topic === "pe.wall") { if (P.view === "wall") mergeWall(msg); return; }
    if (msg.topic === "pe.alert") {
      onAlert(msg);
      if (P.view === "wall" && msg.student_id && P.tiles[msg.student_id]) {
        P.tiles[msg.student_id].alert = msg.state === "active" ? msg.kind : P.tiles[msg.student_id].alert === msg.kind ? null : P.tiles[msg.student_id].alert;
        queueRender();
      }
    }
  }

  function render() {
    if (!P.ready) return;
    applyText($("screen-pe"));
    Object.keys(P.els).forEach(function (id) { P.els[id]._k = null; });
    renderWall(true);
    renderBanner();
    if (P.view === "report") renderReport();
    if (P.view === "reports") renderLessons();
    if (P.view === "roster") renderRoster();
  }

  function init() {
    if (P.ready) return;
    build();
    P.ready = true;
    loadAlerts();
  }

  window.PE = { init: init, show: show, hide: hide, resync: resync, onEvent: onEvent, render: render, _state: P };
  // kiosk.js may have started before this file ran (deferred scripts run once the page is parsed):
  // start now and let its router show a #/pe route.
  if (window.KIOSK) {
    init();
    if (/^#\/pe(\/|$)/.test(window.location.hash)) window.dispatchEvent(new HashChangeEvent("hashchange"));
  }
})();
