/* Classroom Edge kiosk: fitness counting screens (体测计数, docs/api.md "Fitness counting").
 * #/fitness, #/fitness/s/ID   a station: camera picture with skeletons, live count, countdown and timer, start/stop,
 *                             the result with the teacher's correction and "save a clip"
 * #/fitness/draw[/ID]         draw a station on the camera picture (new, or edit one)
 * #/fitness/results           the class's standard items, totals and ratings for a term; manual entry
 * #/fitness/student/ID        one student's archive across terms and exercise prescription
 * The picture comes from the loopback-only snapshot route; skeletons from fitness.live events. */
(function () {
  "use strict";

  var t = window.I18N.t;
  var ICONS = window.ICONS;
  function K() { return window.KIOSK; }
  function $(id) { return document.getElementById(id); }
  function esc(s) { return K().esc(s); }

  var API = "/api/fitness";
  var SNAP_MS = 250;            // the picture is refetched this long after the last one arrived (~4 a second)
  var SNAP_RETRY_MS = 1500;     // after a failed picture (no frame yet, camera reconnecting)
  var POLL_ACTIVE_MS = 2000;    // state refetch while a session runs (events may pause when nobody is in view)
  var POLL_IDLE_MS = 6000;
  var LIVE_STALE_MS = 1500;     // skeletons older than this are not drawn
  var TICK_MS = 200;
  var INVALID_SHOWN = 4;
  var MIN_CORNERS = 4;
  var MAX_CORNERS = 16;
  var VIEWS = ["station", "draw", "results", "archive"];
  var CAMERA_BAD = { reconnecting: true, failed: true, ended: true, absent: true };
  // MediaPipe POSE_CONNECTIONS (33 landmarks, 35 bones), as models/pose/skeleton.py has them.
  var BONES = [[0, 1], [1, 2], [2, 3], [3, 7], [0, 4], [4, 5], [5, 6], [6, 8], [9, 10],
    [11, 12], [11, 13], [13, 15], [15, 17], [15, 19], [15, 21], [17, 19],
    [12, 14], [14, 16], [16, 18], [16, 20], [16, 22], [18, 20],
    [11, 23], [12, 24], [23, 24], [23, 25], [24, 26], [25, 27], [26, 28],
    [27, 29], [28, 30], [29, 31], [30, 32], [27, 31], [28, 32]];
  var NOUNS = { rope_skip: "rope", sit_up: "mat", pull_up: "bar", push_up: "mat", squat: "mat", jumping_jack: "spot" };
  var RUN_ITEMS = { run_50m: true, run_800m: true, run_1000m: true, shuttle_50mx8: true };

  var F = {
    ready: false,
    view: null,
    hash: null,
    state: null,             // GET /api/fitness/state
    stateAt: 0,
    loading: false,
    stationId: null,         // the station shown
    mode: {},                // station_id -> "test" | "training" (the teacher's pick)
    live: {},                // camera -> {msg, at}
    seenInvalid: {},         // session_id -> count of invalid reps already shown
    dismissed: {},           // session_id -> the teacher closed its result
    drawQueued: false,
    snap: { cam: null, img: null, timer: null, frames: 0 },
    pollTimer: null,
    tickTimer: null,
    busy: false,
    draw: null,              // {station_id|null, camera, points, exercise, name, bar_y, barMode}
    results: null,
    resClass: null,
    resTerm: null,
    archive: null,
    archiveSid: null,
    dialog: null,            // {kind: "who"|"pad"|"delete", ...}
    sideKey: ""
  };

  /* ---------- helpers ---------- */

  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function lang() { return window.I18N.lang; }
  function has(key) { return t(key) !== key; }
  function labelCmp(a, b) {
    var na = parseInt(String(a).replace(/\D+/g, " ").trim(), 10);
    var nb = parseInt(String(b).replace(/\D+/g, " ").trim(), 10);
    if (!isNaN(na) && !isNaN(nb) && na !== nb) return na - nb;
    return String(a).localeCompare(String(b), "zh-CN");
  }
  function mmss(s) {
    s = num(s);
    if (s === null) return "--:--";
    s = Math.max(0, Math.ceil(s - 0.001));
    var m = Math.floor(s / 60);
    return (m < 10 ? "0" : "") + m + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  /* Times may come as unix seconds, milliseconds or ISO text: unix seconds. */
  function secs(v) {
    if (typeof v === "number" && isFinite(v)) return v > 1e12 ? v / 1000 : v;
    if (typeof v === "string" && v) { var p = Date.parse(v); return isNaN(p) ? null : p / 1000; }
    return null;
  }
  function nowS() { return Date.now() / 1000; }
  function fmtDate(v) {
    if (typeof v === "string" && /^\d{4}-\d\d-\d\d/.test(v)) return v.slice(0, 10);
    var s = secs(v);
    if (s === null) return "—";
    var d = new Date(s * 1000);
    return d.getFullYear() + "-" + (d.getMonth() < 9 ? "0" : "") + (d.getMonth() + 1) + "-" + (d.getDate() < 10 ? "0" : "") + d.getDate();
  }
  function fmtNum(v) {
    v = num(v);
    if (v === null) return "—";
    return String(Math.round(v * 10) / 10);
  }
  function post(btn, method, path, body) {
    if (btn) btn.classList.add("is-busy");
    return K().request(method, path, body === undefined ? {} : body, 10000).then(function (r) {
      if (!K().commandOk(r)) {
        var title = r.status === 409 ? t("fit.err.busy") : r.status === 403 ? t("fit.err.forbidden") : K().errorTitle(r);
        K().toast(title, K().errorDetail(r), "error");
        return null;
      }
      return r.data || {};
    }, function (err) {
      K().toast(K().errorTitle(null, err), null, "error");
      return null;
    }).finally(function () { if (btn) btn.classList.remove("is-busy"); });
  }

  function cameras() { return (F.state && F.state.cameras) || []; }
  function stations() { return (F.state && F.state.stations) || []; }
  function camera(id) { return cameras().filter(function (c) { return c.camera === id; })[0] || null; }
  function station(id) { return stations().filter(function (s) { return s.station_id === id; })[0] || null; }
  function exercise(id) {
    var list = (F.state && F.state.exercises) || [];
    return list.filter(function (e) { return e.id === id; })[0] || null;
  }
  function exLabel(id) {
    var e = exercise(id);
    if (e) return (lang() === "en" ? e.label_en : e.label_zh) || e.label_zh || id;
    return has("fit.ex." + id) ? t("fit.ex." + id) : id;
  }
  function itemId(it) { return it && typeof it === "object" ? (it.item || it.id || it.key) : it; }
  function itemLabel(it) {
    var id = itemId(it);
    if (it && typeof it === "object" && (it.label_zh || it.label_en)) return (lang() === "en" ? it.label_en : it.label_zh) || it.label_zh;
    return has("fit.item." + id) ? t("fit.item." + id) : String(id);
  }
  function itemUnit(it) {
    var id = itemId(it);
    if (it && typeof it === "object" && it.unit) return it.unit;
    return has("fit.unit." + id) ? t("fit.unit." + id) : "";
  }
  function itemValue(id, v) {
    v = num(v);
    if (v === null) return "—";
    if (RUN_ITEMS[id] && v >= 60) {
      var m = Math.floor(v / 60), s = Math.round(v - m * 60);
      if (s === 60) { m += 1; s = 0; }
      return m + "′" + (s < 10 ? "0" : "") + s + "″";
    }
    return fmtNum(v);
  }
  function studentLabel(sid) {
    var s = ((F.state && F.state.students) || []).filter(function (x) { return x.student_id === sid; })[0];
    return s ? s.label : sid;
  }
  function termLabel(term) {
    var m = /^(\d{4})-(autumn|spring)$/.exec(term || "");
    if (!m) return term || "—";
    return t("fit.term." + m[2], { y: m[1] });
  }
  function termStep(term, d) {
    var m = /^(\d{4})-(autumn|spring)$/.exec(term || "");
    if (!m) return term;
    var y = parseInt(m[1], 10), autumn = m[2] === "autumn";
    if (d < 0) return autumn ? y + "-spring" : (y - 1) + "-autumn";
    return autumn ? (y + 1) + "-spring" : y + "-autumn";
  }
  function ratingKind(total) {
    var en = String((total && total.rating_en) || "").toLowerCase();
    var zh = String((total && total.rating) || "");
    if (en.indexOf("excel") === 0 || zh === "优秀") return "excellent";
    if (en.indexOf("good") === 0 || zh === "良好") return "good";
    if (en.indexOf("pass") === 0 || zh === "及格") return "pass";
    if (en.indexOf("fail") === 0 || zh === "不及格") return "fail";
    return "none";
  }
  function ratingText(total) {
    if (!total || (!total.rating && !total.rating_en)) return "—";
    if (lang() === "en") return total.rating_en ? total.rating_en.charAt(0).toUpperCase() + total.rating_en.slice(1) : total.rating;
    return total.rating || total.rating_en;
  }
  function phaseText(p) {
    if (p === null || p === undefined || p === "") return "";
    return has("fit.phase." + p) ? t("fit.phase." + p) : String(p);
  }
  function sessionActive(s) { return !!(s && (s.state === "countdown" || s.state === "running")); }

  /* ---------- the screen skeleton ---------- */

  function ensureNodes() {
    var sec = $("screen-fitness");
    if (!sec) {
      sec = document.createElement("section");
      sec.id = "screen-fitness";
      sec.className = "screen";
      sec.hidden = true;
      sec.setAttribute("aria-label", "fitness");
      (document.querySelector("main.screens") || document.body).appendChild(sec);
    }
    if (!$("fit-dialog")) {
      var d = document.createElement("div");
      d.id = "fit-dialog";
      d.className = "overlay";
      d.hidden = true;
      document.body.appendChild(d);
    }
    return sec;
  }

  function navBtn(view, go, icon, key) {
    return '<button type="button" class="btn fit-navbtn" data-go="' + go + '" data-view="' + view + '"><span class="ico">' +
      ICONS.svg(icon) + '</span><span data-t="' + key + '"></span></button>';
  }

  function build() {
    var box = ensureNodes();
    box.innerHTML =
      '<div class="fit-head">' +
        '<button type="button" class="btn btn-back" data-act="back"><span class="ico">' + ICONS.svg("back") + '</span><span data-t="fit.back"></span></button>' +
        '<h1 class="screen-title fit-title" data-t="fit.title"></h1>' +
        '<div class="fit-crumb" id="fit-crumb"></div>' +
        '<div id="fit-stabs" class="fit-stabs" role="group" hidden></div>' +
        '<nav class="fit-nav">' +
          navBtn("station", "#/fitness", "stopwatch", "fit.nav.station") +
          navBtn("draw", "#/fitness/draw", "camera", "fit.nav.draw") +
          navBtn("results", "#/fitness/results", "checklist", "fit.nav.results") +
        "</nav>" +
      "</div>" +
      '<div id="fit-banner" class="fit-banner" hidden role="alert"></div>' +
      '<div id="fit-view-station" class="fit-view" hidden>' +
        '<div id="fit-station" class="fit-main" data-session="none">' +
          '<div class="fit-stagewrap" id="fit-stagewrap">' +
            '<div class="fit-stage" id="fit-stage">' +
              '<img id="fit-img" class="fit-img" alt="" draggable="false" data-frames="0">' +
              '<canvas id="fit-canvas" class="fit-canvas" data-people="0"></canvas>' +
              '<div id="fit-nopic" class="fit-nopic" hidden></div>' +
              '<div id="fit-cd" class="fit-cd" hidden></div>' +
              '<div id="fit-present" class="fit-present"></div>' +
              '<div id="fit-hint" class="fit-hint" hidden></div>' +
            "</div>" +
          "</div>" +
          '<div class="fit-side" id="fit-side">' +
            '<div class="fit-row"><div class="fit-st-name"><span id="fit-st-name"></span><span id="fit-st-ex" class="fit-st-ex"></span></div>' +
              '<button type="button" id="fit-edit" class="btn fit-btn fit-edit" data-act="edit"><span data-t="fit.editStation"></span></button></div>' +
            '<div class="fit-row fit-row-who">' +
              '<button type="button" id="fit-who" class="btn fit-who" data-act="who"></button>' +
              '<div class="fit-modes" role="group">' +
                '<button type="button" class="btn fit-mode" data-mode="test" data-t="fit.mode.test"></button>' +
                '<button type="button" class="btn fit-mode" data-mode="training" data-t="fit.mode.training"></button>' +
              "</div>" +
            "</div>" +
            '<div id="fit-live" class="fit-live">' +
              '<div class="fit-figs"><div class="fit-countbox"><div class="fit-count-k"><span data-t="fit.count"></span> <span id="fit-phase" class="fit-phase"></span></div>' +
                '<div id="fit-count" class="fit-count">0</div></div>' +
              '<div class="fit-timerbox"><div id="fit-timer-k" class="fit-timer-k"></div><div id="fit-timer" class="fit-timer">--:--</div></div></div>' +
              '<ul id="fit-invalid" class="fit-invalid" aria-live="polite"></ul>' +
            "</div>" +
            '<div id="fit-result" class="fit-result" hidden></div>' +
            '<div class="fit-actions" id="fit-actions">' +
              '<button type="button" id="fit-start" class="btn fit-big fit-start" data-act="start"><span class="ico">' + ICONS.svg("stopwatch") + '</span><span data-t="fit.start"></span></button>' +
              '<button type="button" id="fit-stop" class="btn fit-big fit-stop" data-act="stop"><span data-t="fit.stop"></span></button>' +
            "</div>" +
          "</div>" +
        "</div>" +
        '<div id="fit-nostation" class="fit-empty" hidden><div class="fit-empty-title" data-t="fit.noStation"></div>' +
          '<div class="fit-empty-hint" data-t="fit.noStationHint"></div>' +
          '<button type="button" class="btn fit-big fit-primary" data-go="#/fitness/draw"><span data-t="fit.nav.draw"></span></button></div>' +
      "</div>" +
      '<div id="fit-view-draw" class="fit-view" hidden>' +
        '<div class="fit-main">' +
          '<div class="fit-stagewrap" id="fit-dstagewrap">' +
            '<div class="fit-stage fit-dstage" id="fit-dstage">' +
              '<img id="fit-dimg" class="fit-img" alt="" draggable="false" data-frames="0">' +
              '<canvas id="fit-dcanvas" class="fit-canvas"></canvas>' +
              '<div id="fit-dnopic" class="fit-nopic" hidden></div>' +
              '<div id="fit-dhint" class="fit-hint fit-dhint"></div>' +
            "</div>" +
          "</div>" +
          '<div id="fit-dside" class="fit-side fit-dside"></div>' +
        "</div>" +
      "</div>" +
      '<div id="fit-view-results" class="fit-view fit-results" hidden></div>' +
      '<div id="fit-view-archive" class="fit-view fit-archive" hidden></div>';
    box.addEventListener("click", onTap);
    $("fit-stage").addEventListener("click", function () { K().touch(); });
    $("fit-dstage").addEventListener("pointerdown", onDrawTap);
    $("fit-dialog").addEventListener("click", onDialogTap);
    window.addEventListener("resize", function () { if (isOpen()) layoutStages(); });
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(function () { if (isOpen()) layoutStages(); });
      ro.observe($("fit-station"));
      ro.observe($("fit-dstagewrap").parentNode);
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && isOpen()) snapFor(currentCamera());
    });
    applyText(box);
  }

  function applyText(root) {
    var nodes = root.querySelectorAll("[data-t]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute("data-t"));
  }

  /* ---------- routing (called by kiosk.js) ---------- */

  function show(hash) {
    if (!F.ready) return;
    if (hash === F.hash) return;
    F.hash = hash;
    var m;
    if ((m = /^#\/fitness\/draw(?:\/(.+))?$/.exec(hash))) {
      F.view = "draw";
      startDraw(m[1] ? decodeURIComponent(m[1]) : null);
    } else if (hash === "#/fitness/results") {
      F.view = "results";
    } else if ((m = /^#\/fitness\/student\/(.+)$/.exec(hash))) {
      F.view = "archive";
      F.archiveSid = decodeURIComponent(m[1]);
      F.archive = null;
    } else {
      F.view = "station";
      if ((m = /^#\/fitness\/s\/(.+)$/.exec(hash))) F.stationId = decodeURIComponent(m[1]);
    }
    VIEWS.forEach(function (v) { $("fit-view-" + v).hidden = v !== F.view; });
    var navs = document.querySelectorAll(".fit-navbtn");
    for (var i = 0; i < navs.length; i++) {
      var v = navs[i].getAttribute("data-view");
      navs[i].setAttribute("aria-pressed", String(v === F.view || (v === "results" && F.view === "archive")));
    }
    $("screen-fitness").setAttribute("data-view", F.view);
    $("fit-stabs").hidden = true;
    $("fit-stabs")._k = null;
    closeDialog();
    startTimers();
    loadState().then(function () {
      if (F.view === "draw" && F.draw && !F.draw.camera) startDraw(F.draw.station_id);
    });
    if (F.view === "results") loadResults();
    if (F.view === "archive") loadArchive();
    renderAll();
  }

  function hide() {
    F.hash = null;
    F.view = null;
    stopTimers();
    snapFor(null);
    closeDialog();
  }

  function isOpen() { return F.view !== null && !$("screen-fitness").hidden; }

  function resync() {
    if (!isOpen()) return;
    loadState();
    if (F.view === "results") loadResults();
    if (F.view === "archive") loadArchive();
  }

  function startTimers() {
    if (!F.tickTimer) F.tickTimer = setInterval(tick, TICK_MS);
    schedulePoll();
  }

  function stopTimers() {
    clearInterval(F.tickTimer);
    F.tickTimer = null;
    clearTimeout(F.pollTimer);
    F.pollTimer = null;
  }

  function schedulePoll() {
    clearTimeout(F.pollTimer);
    var active = stations().some(function (s) { return sessionActive(s.session); });
    F.pollTimer = setTimeout(function () {
      if (!isOpen()) return;
      if (F.view === "station" || F.view === "draw") loadState().finally(schedulePoll);
      else schedulePoll();
    }, active ? POLL_ACTIVE_MS : POLL_IDLE_MS);
  }

  /* ---------- state ---------- */

  function loadState() {
    if (F.loading) return F.loading;
    F.loading = K().getJSON(API + "/state").then(function (s) {
      F.state = s || {};
      F.stateAt = Date.now();
      if (!F.resClass) F.resClass = F.state.class_id || ((F.state.classes || [])[0]) || null;
      if (!F.resTerm) F.resTerm = F.state.term || null;
      if (F.view === "results" && !F.results) loadResults();
      renderAll();
    }, function () {
      renderAll();
    }).finally(function () { F.loading = null; });
    return F.loading;
  }

  function currentStation() {
    var list = stations();
    var st = station(F.stationId);
    if (!st && list.length) {
      st = list[0];
      F.stationId = st.station_id;
    }
    return st || null;
  }

  function currentCamera() {
    if (F.view === "station") { var st = currentStation(); return st ? st.camera : null; }
    if (F.view === "draw") return F.draw ? F.draw.camera : null;
    return null;
  }

  function renderAll() {
    if (!F.ready || !F.view) return;
    renderBanner();
    if (F.view === "station") renderStation();
    if (F.view === "draw") renderDraw();
    if (F.view === "results") renderResults();
    if (F.view === "archive") renderArchive();
    renderDialog();
  }

  /* ---------- camera problems ---------- */

  function renderBanner() {
    var el = $("fit-banner");
    var bad = cameras().filter(function (c) { return CAMERA_BAD[c.state]; });
    if (!bad.length) { el.hidden = true; el.innerHTML = ""; return; }
    el.hidden = false;
    el.setAttribute("data-state", bad.some(function (c) { return c.state === "failed" || c.state === "absent"; }) ? "failed" : "reconnecting");
    el.innerHTML = '<span class="fit-banner-ico">' + ICONS.svg("warning") + '</span><span class="fit-banner-body">' +
      bad.map(function (c) {
        return '<span class="fit-banner-line" data-camera="' + esc(c.camera) + '"><b>' +
          esc(t("fit.cam." + c.state, { name: c.name || c.camera })) + "</b></span>";
      }).join("") +
      '<span class="fit-banner-call">' + esc(t("fit.cam.call")) + "</span></span>";
  }

  /* ---------- the picture ---------- */

  function snapFor(cam) {
    var S = F.snap;
    var c = cam ? camera(cam) : null;
    var want = c && c.snapshot ? cam : null;
    var img = F.view === "draw" ? $("fit-dimg") : $("fit-img");
    if (want === S.cam && img === S.img) return;
    clearTimeout(S.timer);
    if (S.img) { S.img.onload = null; S.img.onerror = null; }
    S.cam = want;
    S.img = img;
    if (!want) return;
    var load = function () {
      if (S.cam !== want || S.img !== img || !isOpen() || document.hidden) return;
      img.src = API + "/cameras/" + encodeURIComponent(want) + "/snapshot.jpg?t=" + Date.now();
    };
    img.onload = function () {
      if (S.img !== img) return;
      img.setAttribute("data-frames", String(parseInt(img.getAttribute("data-frames") || "0", 10) + 1));
      img.classList.add("is-loaded");
      if (img.naturalWidth && img.naturalHeight) {
        var key = img.naturalWidth + "x" + img.naturalHeight;
        if (img.getAttribute("data-size") !== key) { img.setAttribute("data-size", key); layoutStages(); }
      }
      S.timer = setTimeout(load, SNAP_MS);
    };
    img.onerror = function () {
      if (S.img !== img) return;
      S.timer = setTimeout(load, SNAP_RETRY_MS);
    };
    load();
  }

  /* The picture's aspect: the camera's reported size, else the last picture's, else 4:3. */
  function aspectOf(cam) {
    var c = camera(cam);
    var l = F.live[cam] && F.live[cam].msg;
    var w = (c && num(c.width)) || (l && num(l.width));
    var h = (c && num(c.height)) || (l && num(l.height));
    var img = F.view === "draw" ? $("fit-dimg") : $("fit-img");
    if ((!w || !h) && img && img.naturalWidth) { w = img.naturalWidth; h = img.naturalHeight; }
    return w && h ? w / h : 4 / 3;
  }

  /* The picture as large as its aspect allows, leaving the side panel its minimum width; the side takes the rest. */
  function fitStage(wrap, stage, aspect) {
    var main = wrap.parentNode;
    var side = main.querySelector(".fit-side");
    var cs = getComputedStyle(main);
    var gap = parseFloat(cs.columnGap || cs.gap) || 0;
    var sideMin = side ? parseFloat(getComputedStyle(side).minWidth) || 0 : 0;
    var W = main.clientWidth - sideMin - gap, H = main.clientHeight;
    if (W <= 0 || H <= 0) return;
    var w = W, h = W / aspect;
    if (h > H) { h = H; w = H * aspect; }
    wrap.style.width = Math.floor(w) + "px";
    stage.style.width = Math.floor(w) + "px";
    stage.style.height = Math.floor(h) + "px";
  }

  function layoutStages() {
    var cam = currentCamera();
    if (F.view === "station") fitStage($("fit-stagewrap"), $("fit-stage"), aspectOf(cam));
    if (F.view === "draw") fitStage($("fit-dstagewrap"), $("fit-dstage"), aspectOf(cam));
    queueDraw();
  }

  function sizeCanvas(canvas) {
    var r = canvas.getBoundingClientRect();
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx: ctx, w: w, h: h, u: Math.max(1, Math.min(w, h) / 300) };
  }

  function queueDraw() {
    if (F.drawQueued) return;
    F.drawQueued = true;
    window.requestAnimationFrame(function () {
      F.drawQueued = false;
      if (F.view === "station") drawOverlay();
      if (F.view === "draw") drawEditor();
    });
  }

  function polygon(c, pts, close) {
    c.ctx.beginPath();
    pts.forEach(function (p, i) {
      var x = p[0] * c.w, y = p[1] * c.h;
      if (i) c.ctx.lineTo(x, y); else c.ctx.moveTo(x, y);
    });
    if (close) c.ctx.closePath();
  }

  function regionLabel(c, st, strong) {
    var pts = st.region || [];
    if (!pts.length) return;
    var x = Math.min.apply(null, pts.map(function (p) { return p[0]; })) * c.w;
    var y = Math.min.apply(null, pts.map(function (p) { return p[1]; })) * c.h;
    var ctx = c.ctx;
    ctx.font = "700 " + Math.round(11 * c.u) + "px " + getComputedStyle(document.body).fontFamily;
    var text = st.name || st.station_id;
    var tw = ctx.measureText(text).width;
    ctx.fillStyle = strong ? "rgba(31,111,224,0.9)" : "rgba(10,20,35,0.75)";
    ctx.fillRect(x, y, tw + 10 * c.u, 15 * c.u);
    ctx.fillStyle = "#fff";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + 5 * c.u, y + 7.5 * c.u);
  }

  function drawRegions(c, cam, selectedId) {
    var ctx = c.ctx;
    stations().forEach(function (st) {
      if (st.camera !== cam || !st.region || st.region.length < 3) return;
      var sel = st.station_id === selectedId;
      polygon(c, st.region, true);
      ctx.setLineDash(sel ? [] : [6 * c.u, 4 * c.u]);
      ctx.lineWidth = (sel ? 2.2 : 1.2) * c.u;
      ctx.strokeStyle = sel ? "#5fb0ff" : "rgba(200,215,235,0.8)";
      if (sel) { ctx.fillStyle = "rgba(59,142,255,0.12)"; ctx.fill(); }
      ctx.stroke();
      ctx.setLineDash([]);
      if (num(st.bar_y) !== null) {
        var xs = st.region.map(function (p) { return p[0]; });
        ctx.beginPath();
        ctx.moveTo(Math.min.apply(null, xs) * c.w, st.bar_y * c.h);
        ctx.lineTo(Math.max.apply(null, xs) * c.w, st.bar_y * c.h);
        ctx.strokeStyle = "#f6b73c";
        ctx.lineWidth = 2 * c.u;
        ctx.stroke();
      }
      regionLabel(c, st, sel);
    });
  }

  function drawSkeleton(c, person, strong) {
    var kp = person.kp || [];
    var ctx = c.ctx;
    var ok = function (p) { return p && num(p[0]) !== null && num(p[1]) !== null && (num(p[2]) === null || p[2] >= 0.5); };
    // lines in proportion to the person: a child far away is not drawn as a blob
    var ys = kp.filter(ok).map(function (p) { return p[1] * c.h; });
    var tall = ys.length ? Math.max.apply(null, ys) - Math.min.apply(null, ys) : c.h;
    var k = Math.max(0.35, Math.min(1, tall / (c.h * 0.45)));
    var u = c.u * k;
    ctx.lineCap = "round";
    ctx.lineWidth = Math.max(1.5, (strong ? 3.2 : 1.8) * u);
    ctx.strokeStyle = strong ? "#ffd23f" : "rgba(160,215,255,0.85)";
    BONES.forEach(function (b) {
      var a = kp[b[0]], z = kp[b[1]];
      if (!ok(a) || !ok(z)) return;
      ctx.beginPath();
      ctx.moveTo(a[0] * c.w, a[1] * c.h);
      ctx.lineTo(z[0] * c.w, z[1] * c.h);
      ctx.stroke();
    });
    ctx.fillStyle = strong ? "#fff3c4" : "#e8f4ff";
    for (var i = 0; i < kp.length; i++) {
      if (!ok(kp[i]) || (i > 0 && i < 11)) continue;
      ctx.beginPath();
      ctx.arc(kp[i][0] * c.w, kp[i][1] * c.h, Math.max(1.5, (strong ? 2.6 : 1.6) * u), 0, Math.PI * 2);
      ctx.fill();
    }
    var nose = kp[0];
    if (ok(nose)) {
      ctx.beginPath();
      ctx.arc(nose[0] * c.w, nose[1] * c.h, Math.max(2, (strong ? 5 : 3.5) * u), 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  function drawOverlay() {
    var canvas = $("fit-canvas");
    var st = currentStation();
    if (!canvas || !st) return;
    var c = sizeCanvas(canvas);
    drawRegions(c, st.camera, st.station_id);
    var l = F.live[st.camera];
    var people = l && Date.now() - l.at < LIVE_STALE_MS ? (l.msg.people || []) : [];
    var mine = 0;
    people.forEach(function (p) { if (p.station_id !== st.station_id) drawSkeleton(c, p, false); });
    people.forEach(function (p) { if (p.station_id === st.station_id) { drawSkeleton(c, p, true); mine++; } });
    canvas.setAttribute("data-people", String(people.length));
    canvas.setAttribute("data-mine", String(mine));
    if (people.length) canvas.setAttribute("data-drawn", String(parseInt(canvas.getAttribute("data-drawn") || "0", 10) + 1));
  }

  /* ---------- station view ---------- */

  function renderStabs() {
    var list = stations().slice().sort(function (a, b) { return labelCmp(a.name || a.station_id, b.name || b.station_id); });
    var box = $("fit-stabs");
    box.hidden = list.length < 2 || F.view !== "station";
    var key = list.map(function (s) { return s.station_id + ":" + s.name + ":" + s.exercise + ":" + (s.session ? s.session.state : ""); }).join("|") + "|" + F.stationId + "|" + lang();
    if (box._k === key) return;
    box._k = key;
    box.innerHTML = list.map(function (s) {
      var run = sessionActive(s.session);
      return '<button type="button" class="btn fit-stab" data-station="' + esc(s.station_id) + '" aria-pressed="' +
        String(s.station_id === F.stationId) + '"' + (run ? ' data-running="1"' : "") + '><span class="fit-stab-name">' +
        esc(s.name || s.station_id) + '</span><span class="fit-stab-ex">' + esc(exLabel(s.exercise)) +
        (run ? " · " + esc(t("fit.running")) : "") + "</span></button>";
    }).join("");
  }

  function modeFor(st) {
    if (st.session && st.session.mode && sessionActive(st.session)) return st.session.mode;
    if (F.mode[st.station_id]) return F.mode[st.station_id];
    var ex = exercise(st.exercise);
    return ex && !ex.item ? "training" : "test";
  }

  function renderStation() {
    var st = currentStation();
    var screen = $("fit-station");
    var empty = !st;
    $("fit-nostation").hidden = !empty || !F.state;
    screen.hidden = empty;
    renderStabs();
    $("fit-crumb").textContent = st && stations().length < 2 ? (st.name || st.station_id) : "";
    if (empty) { snapFor(null); return; }
    var cam = camera(st.camera);
    var s = st.session;
    var state = s ? s.state : "none";
    var finished = state === "finished" && !F.dismissed[s.session_id];
    if (state === "finished" && !finished) state = "none";
    screen.setAttribute("data-session", state);
    screen.setAttribute("data-station", st.station_id);

    // picture
    var pic = !!(cam && cam.snapshot);
    var nopic = $("fit-nopic");
    $("fit-img").hidden = !pic;
    nopic.hidden = pic && !(cam && CAMERA_BAD[cam.state]);
    if (!nopic.hidden) {
      nopic.textContent = !cam ? t("fit.cam.unknown", { name: st.camera }) :
        CAMERA_BAD[cam.state] ? t("fit.cam." + cam.state, { name: cam.name || cam.camera }) : t("fit.noPicture");
    }
    snapFor(st.camera);
    layoutStages();
    var present = $("fit-present");
    present.setAttribute("data-present", String(!!st.present));
    present.textContent = st.present ? t("fit.present") : t("fit.absent");

    // head of the side
    $("fit-st-name").textContent = st.name || st.station_id;
    $("fit-st-ex").textContent = exLabel(st.exercise);
    var who = s && sessionActive(s) ? (s.label || (s.student_id && studentLabel(s.student_id))) : st.label || (st.student_id && studentLabel(st.student_id));
    var wb = $("fit-who");
    wb.innerHTML = '<span class="ico">' + ICONS.svg("users") + '</span><span class="fit-who-k">' + esc(t("fit.who")) +
      '</span><b class="fit-who-v">' + esc(who || t("fit.pickStudent")) + "</b>";
    wb.setAttribute("data-student", st.student_id || "");
    wb.disabled = sessionActive(s);
    var mode = modeFor(st);
    var mbs = document.querySelectorAll(".fit-mode");
    for (var i = 0; i < mbs.length; i++) {
      mbs[i].setAttribute("aria-pressed", String(mbs[i].getAttribute("data-mode") === mode));
      mbs[i].disabled = sessionActive(s);
    }

    // live part or the result
    $("fit-live").hidden = finished;
    $("fit-result").hidden = !finished;
    if (finished) { renderResult(st, s); $("fit-hint").hidden = true; }
    else renderLive(st, s);
    var start = $("fit-start"), stop = $("fit-stop");
    start.hidden = sessionActive(s);
    stop.hidden = !sessionActive(s);
    $("fit-actions").hidden = finished;
    start.disabled = !!(cam && CAMERA_BAD[cam.state] && cam.state !== "reconnecting") || F.busy;
    $("fit-edit").disabled = sessionActive(s);
    tick();
    queueDraw();
  }

  function renderLive(st, s) {
    var active = s && state(s) !== "none";
    $("fit-count").textContent = active ? String(num(s.count) === null ? 0 : s.count) : "0";
    $("fit-count").setAttribute("data-count", active ? String(s.count || 0) : "");
    $("fit-phase").textContent = active && s.state === "running" ? phaseText(s.phase) : "";
    var hint = $("fit-hint");
    var h = s && sessionActive(s) ? s.hint : null;
    hint.hidden = !h;
    hint.textContent = h || "";
    var list = $("fit-invalid");
    var inv = active ? (s.invalid || []) : [];
    var seen = active ? (F.seenInvalid[s.session_id] || 0) : 0;
    var key = (active ? s.session_id : "") + ":" + inv.length + ":" + lang();
    if (list._k !== key) {
      list._k = key;
      list.innerHTML = inv.slice(-INVALID_SHOWN).reverse().map(function (x, i) {
        var idx = inv.length - 1 - i;
        return '<li class="fit-inv' + (idx >= seen ? " is-new" : "") + '"><span class="fit-inv-t">' + esc(fmtNum(x.t)) + ' s</span>' +
          '<span class="fit-inv-r">' + esc(lang() === "en" && x.reason ? x.reason.replace(/_/g, " ") : (x.reason_zh || x.reason)) + "</span></li>";
      }).join("");
      list.setAttribute("data-invalid", String(inv.length));
      if (active) F.seenInvalid[s.session_id] = inv.length;
    }
    list.hidden = !inv.length;
  }

  function state(s) { return s && s.state ? s.state : "none"; }

  function renderResult(st, s) {
    var r = s.result || {};
    var box = $("fit-result");
    var count = num(r.count) !== null ? r.count : s.count;
    var corrected = r.corrected_by || (num(r.machine_count) !== null && num(r.count) !== null && r.machine_count !== r.count);
    var clips = !!(F.state && F.state.clips);
    var inv = r.invalid || s.invalid || [];
    var key = JSON.stringify([r, s.session_id, clips, lang(), s.count]);
    if (box._k === key) return;
    box._k = key;
    var modeKey = (r.mode || s.mode) === "test" ? "fit.mode.test" : "fit.mode.training";
    box.setAttribute("data-result", r.result_id || "");
    box.innerHTML =
      '<div class="fit-res-head"><span class="fit-res-title">' + esc(t("fit.result")) + '</span><span class="fit-res-who">' +
        esc((r.label || s.label || "") + " · " + t(modeKey)) + "</span></div>" +
      '<div class="fit-res-figs">' +
        '<div class="fit-res-fig"><div class="fit-res-k">' + esc(t("fit.count")) + '</div><div class="fit-res-v" id="fit-res-count">' + esc(String(count)) + "</div>" +
          (corrected ? '<div class="fit-res-s">' + esc(t("fit.machineCount", { n: r.machine_count })) + "</div>" : "") + "</div>" +
        '<div class="fit-res-fig"><div class="fit-res-k">' + esc(t("fit.score")) + '</div><div class="fit-res-v" id="fit-res-score">' +
          esc(num(r.score) === null ? "—" : fmtNum(r.score)) + "</div>" +
          (num(r.bonus) ? '<div class="fit-res-s">' + esc(t("fit.bonus", { n: fmtNum(r.bonus) })) + "</div>" :
            num(r.score) === null ? '<div class="fit-res-s">' + esc(t((r.mode || s.mode) === "test" ? "fit.noScoreItem" : "fit.noScoreTraining")) + "</div>" : "") +
        "</div>" +
      "</div>" +
      (inv.length ? '<div class="fit-res-inv"><b>' + esc(t("fit.invalidN", { n: inv.length })) + "</b> " +
        esc(inv.slice(0, 6).map(function (x) { return x.reason_zh || x.reason; }).join("、")) + (inv.length > 6 ? "…" : "") + "</div>" : "") +
      '<div class="fit-res-acts">' +
        '<button type="button" class="btn fit-btn" data-act="correct"' + (r.result_id ? "" : " disabled") + ">" + esc(t("fit.correct")) + "</button>" +
        (clips ? '<button type="button" class="btn fit-btn" data-act="clip">' + esc(t("fit.clip")) + "</button>" : "") +
        '<button type="button" class="btn fit-btn fit-primary" data-act="next">' + esc(t("fit.next")) + "</button>" +
      "</div>";
  }

  /* Countdown and timer, every 200 ms. */
  function tick() {
    if (F.view !== "station") return;
    var st = currentStation();
    var cd = $("fit-cd");
    if (!st) { cd.hidden = true; return; }
    var s = st.session;
    var timerK = $("fit-timer-k"), timer = $("fit-timer");
    var ex = exercise(st.exercise);
    var testS = num(F.state && F.state.test_seconds) || 60;
    var now = nowS();
    var starts = s ? secs(s.starts_at) : null;
    if (s && s.state === "countdown") {
      var left = starts !== null ? starts - now : num(F.state && F.state.countdown_s) || 3;
      var n = Math.max(1, Math.ceil(left - 0.05));
      cd.hidden = false;
      cd.textContent = left <= 0.05 ? t("fit.go") : String(n);
      cd.setAttribute("data-n", String(left <= 0.05 ? 0 : n));
      timerK.textContent = t("fit.countdown");
      timer.textContent = left <= 0.05 ? t("fit.go") : String(n);
      timer.setAttribute("data-state", "countdown");
      return;
    }
    cd.hidden = true;
    if (s && s.state === "running") {
      var ends = secs(s.ends_at);
      if (ends !== null) {
        timerK.textContent = t("fit.remaining");
        timer.textContent = mmss(ends - now);
      } else if (num(s.remaining_s) !== null && ex && ex.timed && s.mode === "test") {
        timerK.textContent = t("fit.remaining");
        timer.textContent = mmss(s.remaining_s - (Date.now() - F.stateAt) / 1000);
      } else {
        timerK.textContent = t("fit.elapsed");
        timer.textContent = mmss(starts !== null ? now - starts : 0);
      }
      timer.setAttribute("data-state", "running");
      return;
    }
    var timed = ex ? ex.timed : true;
    timerK.textContent = timed && modeFor(st) === "test" ? t("fit.testLength") : t("fit.elapsed");
    timer.textContent = timed && modeFor(st) === "test" ? mmss(testS) : "00:00";
    timer.setAttribute("data-state", "idle");
  }

  /* ---------- station actions ---------- */

  function pickStudent(sid) {
    var st = currentStation();
    if (!st || F.busy) return;
    F.busy = true;
    post(null, "POST", API + "/stations/" + encodeURIComponent(st.station_id) + "/student", { student_id: sid }).then(function (res) {
      if (res) {
        mergeStation(res.station_id ? res : Object.assign({}, st, { student_id: sid, label: sid ? studentLabel(sid) : null }));
        closeDialog();
      }
    }).finally(function () { F.busy = false; renderAll(); });
  }

  function mergeStation(ns) {
    if (!F.state) return;
    var list = F.state.stations || (F.state.stations = []);
    for (var i = 0; i < list.length; i++) {
      if (list[i].station_id === ns.station_id) { list[i] = Object.assign({}, list[i], ns); return; }
    }
    list.push(ns);
  }

  function startSession(btn) {
    var st = currentStation();
    if (!st || F.busy) return;
    var mode = modeFor(st);
    if (mode === "test" && !st.student_id) {
      K().toast(t("fit.needStudent"), null, "error");
      openWho();
      return;
    }
    F.busy = true;
    var body = { mode: mode };
    if (st.student_id) body.student_id = st.student_id;
    post(btn, "POST", API + "/stations/" + encodeURIComponent(st.station_id) + "/start", body).then(function (s) {
      if (s && s.session_id) { st.session = s; F.stateAt = Date.now(); }
    }).finally(function () { F.busy = false; renderAll(); schedulePoll(); loadState(); });
  }

  function stopSession(btn) {
    var st = currentStation();
    if (!st || F.busy) return;
    F.busy = true;
    post(btn, "POST", API + "/stations/" + encodeURIComponent(st.station_id) + "/stop", {}).then(function (s) {
      if (s && s.session_id) st.session = s;
    }).finally(function () { F.busy = false; renderAll(); loadState(); });
  }

  function saveCorrection(value) {
    var st = currentStation();
    var r = st && st.session && st.session.result;
    if (!r || !r.result_id) return;
    var n = parseInt(value, 10);
    if (isNaN(n) || n < 0) { K().toast(t("fit.badNumber"), null, "error"); return; }
    post(null, "POST", API + "/results/" + encodeURIComponent(r.result_id) + "/correct", { count: n, by: "teacher" }).then(function (res) {
      if (!res) return;
      st.session.result = res.result_id ? res : Object.assign({}, r, { count: n, corrected_by: "teacher" });
      closeDialog();
      K().toast(t("fit.corrected", { n: n }), null, "info");
      renderAll();
    });
  }

  function saveClip(value) {
    var st = currentStation();
    if (!st) return;
    var n = parseInt(value, 10);
    if (isNaN(n) || n < 0) { K().toast(t("fit.badNumber"), null, "error"); return; }
    post(null, "POST", API + "/stations/" + encodeURIComponent(st.station_id) + "/clip", { observed_count: n }).then(function (res) {
      if (!res) return;
      closeDialog();
      K().toast(t("fit.clipSaved"), res.clip_id ? String(res.clip_id) : null, "info");
    });
  }

  /* ---------- draw a station ---------- */

  function startDraw(stationId) {
    var st = stationId ? station(stationId) : null;
    var cams = cameras();
    if (st) {
      F.draw = { station_id: st.station_id, camera: st.camera, points: (st.region || []).map(function (p) { return [p[0], p[1]]; }),
                 exercise: st.exercise, name: st.name || "", bar_y: num(st.bar_y), barMode: false, nameTouched: true };
    } else {
      var cur = station(F.stationId);
      F.draw = { station_id: stationId || null, camera: cur ? cur.camera : cams.length ? cams[0].camera : null, points: [],
                 exercise: cur ? cur.exercise : "rope_skip", name: "", bar_y: null, barMode: false, nameTouched: false };
    }
    if (stationId && !st) F.draw.pendingId = stationId; // the state has not arrived yet: filled in then
    suggestName();
  }

  function suggestName() {
    var d = F.draw;
    if (!d || d.nameTouched) return;
    d.name = nameSuggestions(d.exercise)[0] || "";
  }

  function nameSuggestions(ex) {
    var noun = t("fit.noun." + (NOUNS[ex] || "spot"));
    var taken = {};
    stations().forEach(function (s) { taken[s.name] = true; });
    var out = [];
    for (var n = 1; out.length < 4 && n < 40; n++) {
      var name = t("fit.nameN", { n: n, noun: noun });
      if (!taken[name]) out.push(name);
    }
    return out;
  }

  function onDrawTap(ev) {
    K().touch();
    if (ev.button !== undefined && ev.button > 0) return;
    ev.preventDefault();
    var d = F.draw;
    if (!d || F.view !== "draw") return;
    var r = $("fit-dstage").getBoundingClientRect();
    if (!r.width || !r.height) return;
    var x = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    var y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    x = Math.round(x * 1000) / 1000;
    y = Math.round(y * 1000) / 1000;
    if (d.barMode) {
      d.bar_y = y;
      d.barMode = false;
    } else {
      if (d.points.length >= MAX_CORNERS) { K().toast(t("fit.draw.tooMany", { n: MAX_CORNERS }), null, "error"); return; }
      d.points.push([x, y]);
    }
    renderDraw();
  }

  function renderDraw() {
    var d = F.draw;
    if (!d) return;
    if (d.pendingId && station(d.pendingId)) { var id = d.pendingId; startDraw(id); d = F.draw; }
    if (!d.camera && cameras().length) d.camera = cameras()[0].camera;
    $("fit-crumb").textContent = d.station_id ? t("fit.draw.editing", { name: d.name || d.station_id }) : t("fit.draw.new");
    var cam = camera(d.camera);
    var pic = !!(cam && cam.snapshot);
    $("fit-dimg").hidden = !pic;
    var nopic = $("fit-dnopic");
    nopic.hidden = pic;
    nopic.textContent = !cam ? t("fit.noCamera") : t("fit.noPicture");
    snapFor(d.camera);
    layoutStages();
    $("fit-dstage").setAttribute("data-points", String(d.points.length));
    $("fit-dstage").setAttribute("data-barmode", String(!!d.barMode));
    var dh = $("fit-dhint");
    var hintText = d.barMode ? t("fit.draw.barTap") : d.points.length < MIN_CORNERS ? t("fit.draw.tapCorners", { n: MIN_CORNERS }) : "";
    dh.textContent = hintText;
    dh.hidden = !hintText;

    var cams = cameras();
    var exs = (F.state && F.state.exercises) || [];
    var canSave = d.points.length >= MIN_CORNERS && d.camera && d.exercise && String(d.name || "").trim();
    var html =
      '<div class="fit-corners"><b class="fit-stepno">1</b>' + (cams.length > 1 ? cams.map(function (c) {
        return '<button type="button" class="btn fit-chip" data-dcam="' + esc(c.camera) + '" aria-pressed="' + String(c.camera === d.camera) + '">' +
          esc(c.name || c.camera) + "</button>";
      }).join("") : "") + '<span id="fit-dcount" class="fit-dcount" data-n="' + d.points.length + '">' +
        esc(t("fit.draw.corners", { n: d.points.length })) + "</span>" +
        '<button type="button" class="btn fit-btn" data-dact="undo"' + (d.points.length ? "" : " disabled") + ">" + esc(t("fit.draw.undo")) + "</button>" +
        '<button type="button" class="btn fit-btn" data-dact="clear"' + (d.points.length ? "" : " disabled") + ">" + esc(t("fit.draw.clear")) + "</button></div>" +
      '<div class="fit-chips fit-exs" role="group"><b class="fit-stepno">2</b>' + exs.map(function (e) {
        return '<button type="button" class="btn fit-chip" data-dex="' + esc(e.id) + '" aria-pressed="' + String(e.id === d.exercise) + '">' +
          esc(exLabel(e.id)) + "</button>";
      }).join("") + "</div>" +
      (d.exercise === "pull_up" ? '<div class="fit-corners"><b class="fit-stepno">+</b><button type="button" class="btn fit-btn' + (d.barMode ? " is-armed" : "") +
        '" data-dact="bar">' + esc(d.barMode ? t("fit.draw.barTap") : t("fit.draw.bar")) + "</button><span class=\"fit-dcount\">" +
        esc(num(d.bar_y) === null ? t("fit.draw.barAuto") : t("fit.draw.barAt", { p: Math.round(d.bar_y * 100) })) + "</span>" +
        (num(d.bar_y) !== null ? '<button type="button" class="btn fit-btn" data-dact="barclear">' + esc(t("fit.draw.clear")) + "</button>" : "") +
        "</div>" : "") +
      '<div class="fit-chips fit-names" role="group"><b class="fit-stepno">3</b><input type="text" id="fit-dname" class="fit-input" maxlength="40" value="' + esc(d.name) + '" autocomplete="off" placeholder="' + esc(t("fit.draw.name")) + '">' +
        nameSuggestions(d.exercise).slice(0, 3).map(function (n) {
        return '<button type="button" class="btn fit-chip" data-dname="' + esc(n) + '" aria-pressed="' + String(n === d.name) + '">' + esc(n) + "</button>";
      }).join("") + "</div>" +
      '<div class="fit-dacts">' +
        '<button type="button" id="fit-dsave" class="btn fit-big fit-primary" data-dact="save"' + (canSave ? "" : " disabled") + ">" + esc(t("fit.draw.save")) + "</button>" +
        (d.station_id && station(d.station_id) ? '<button type="button" id="fit-ddelete" class="btn fit-big fit-danger" data-dact="delete">' + esc(t("fit.draw.delete")) + "</button>" : "") +
      "</div>";
    var side = $("fit-dside");
    var focused = document.activeElement && document.activeElement.id === "fit-dname";
    if (side._k !== html && !focused) {
      side._k = html;
      side.innerHTML = html;
      var input = $("fit-dname");
      input.addEventListener("input", function () {
        F.draw.name = input.value;
        F.draw.nameTouched = true;
        var sv = $("fit-dsave");
        if (sv) sv.disabled = !(F.draw.points.length >= MIN_CORNERS && F.draw.camera && F.draw.exercise && input.value.trim());
      });
      input.addEventListener("blur", function () { renderDraw(); });
    }
    queueDraw();
  }

  function drawEditor() {
    var d = F.draw;
    var canvas = $("fit-dcanvas");
    if (!d || !canvas) return;
    var c = sizeCanvas(canvas);
    var ctx = c.ctx;
    // other stations on this camera, faint
    stations().forEach(function (st) {
      if (st.camera !== d.camera || st.station_id === d.station_id || !st.region || st.region.length < 3) return;
      polygon(c, st.region, true);
      ctx.setLineDash([6 * c.u, 4 * c.u]);
      ctx.lineWidth = 1.2 * c.u;
      ctx.strokeStyle = "rgba(200,215,235,0.7)";
      ctx.stroke();
      ctx.setLineDash([]);
      regionLabel(c, st, false);
    });
    var pts = d.points;
    if (pts.length) {
      polygon(c, pts, pts.length >= 3);
      if (pts.length >= 3) { ctx.fillStyle = "rgba(56,204,127,0.18)"; ctx.fill(); }
      ctx.lineWidth = 2.4 * c.u;
      ctx.strokeStyle = "#38cc7f";
      ctx.stroke();
      pts.forEach(function (p, i) {
        ctx.beginPath();
        ctx.arc(p[0] * c.w, p[1] * c.h, 7 * c.u, 0, Math.PI * 2);
        ctx.fillStyle = "#38cc7f";
        ctx.fill();
        ctx.fillStyle = "#06210f";
        ctx.font = "800 " + Math.round(9 * c.u) + "px sans-serif";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(String(i + 1), p[0] * c.w, p[1] * c.h);
        ctx.textAlign = "start";
      });
    }
    if (num(d.bar_y) !== null) {
      ctx.beginPath();
      ctx.moveTo(0, d.bar_y * c.h);
      ctx.lineTo(c.w, d.bar_y * c.h);
      ctx.strokeStyle = "#f6b73c";
      ctx.lineWidth = 2.4 * c.u;
      ctx.setLineDash([10 * c.u, 6 * c.u]);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  function onDrawSide(el) {
    var d = F.draw;
    if (!d) return;
    var act = el.getAttribute("data-dact");
    if (el.hasAttribute("data-dcam")) { d.camera = el.getAttribute("data-dcam"); d.points = []; d.bar_y = null; renderDraw(); return; }
    if (el.hasAttribute("data-dex")) {
      d.exercise = el.getAttribute("data-dex");
      if (d.exercise !== "pull_up") { d.bar_y = null; d.barMode = false; }
      suggestName();
      renderDraw();
      return;
    }
    if (el.hasAttribute("data-dname")) { d.name = el.getAttribute("data-dname"); d.nameTouched = true; renderDraw(); return; }
    if (act === "undo") { d.points.pop(); renderDraw(); return; }
    if (act === "clear") { d.points = []; renderDraw(); return; }
    if (act === "bar") { d.barMode = !d.barMode; renderDraw(); return; }
    if (act === "barclear") { d.bar_y = null; renderDraw(); return; }
    if (act === "save") { saveStation(el); return; }
    if (act === "delete") { F.dialog = { kind: "delete", station_id: d.station_id }; renderDialog(); }
  }

  function saveStation(btn) {
    var d = F.draw;
    var input = $("fit-dname");
    if (input) d.name = input.value;
    var name = String(d.name || "").trim();
    if (d.points.length < MIN_CORNERS) { K().toast(t("fit.draw.needCorners", { n: MIN_CORNERS }), null, "error"); return; }
    if (!name) { K().toast(t("fit.draw.needName"), null, "error"); return; }
    var body = { camera: d.camera, name: name, exercise: d.exercise, region: d.points };
    if (d.station_id) body.station_id = d.station_id;
    if (d.exercise === "pull_up" && num(d.bar_y) !== null) body.bar_y = d.bar_y;
    post(btn, "POST", API + "/stations", body).then(function (st) {
      if (!st || !st.station_id) return;
      mergeStation(st);
      K().toast(t("fit.draw.saved", { name: st.name || name }), null, "info");
      F.stationId = st.station_id;
      F.draw = null;
      window.location.hash = "#/fitness/s/" + encodeURIComponent(st.station_id);
    });
  }

  function deleteStation(btn, id) {
    post(btn, "DELETE", API + "/stations/" + encodeURIComponent(id), undefined).then(function (res) {
      if (!res) return;
      if (F.state) F.state.stations = stations().filter(function (s) { return s.station_id !== id; });
      closeDialog();
      K().toast(t("fit.draw.deleted"), null, "info");
      if (F.stationId === id) F.stationId = null;
      F.draw = null;
      window.location.hash = "#/fitness";
    });
  }

  /* ---------- results table ---------- */

  function loadResults() {
    var q = [];
    if (F.resClass) q.push("class_id=" + encodeURIComponent(F.resClass));
    if (F.resTerm) q.push("term=" + encodeURIComponent(F.resTerm));
    var want = q.join("&");
    F.resWant = want;
    return K().getJSON(API + "/results" + (want ? "?" + want : "")).then(function (r) {
      if (F.resWant !== want) return;
      F.results = r || { rows: [], items: [] };
      if (!F.resClass && r && r.class_id) F.resClass = r.class_id;
      if (!F.resTerm && r && r.term) F.resTerm = r.term;
      if (F.view === "results") renderResults();
    }, function () {
      F.results = F.results || { rows: [], items: [], failed: true };
      if (F.view === "results") renderResults();
    });
  }

  function renderResults() {
    var box = $("fit-view-results");
    $("fit-crumb").textContent = "";
    var r = F.results;
    var classes = (F.state && F.state.classes) || (F.resClass ? [F.resClass] : []);
    var top =
      '<div class="fit-res-top">' +
        (classes.length ? '<div class="fit-chips" role="group"><span class="fit-k">' + esc(t("fit.class")) + "</span>" + classes.map(function (c) {
          return '<button type="button" class="btn fit-chip" data-rclass="' + esc(c) + '" aria-pressed="' + String(c === F.resClass) + '">' + esc(c) + "</button>";
        }).join("") + "</div>" : "") +
        '<div class="fit-term" role="group"><button type="button" class="btn fit-btn fit-termbtn" data-rterm="-1" aria-label="' + esc(t("fit.termPrev")) + '">◀</button>' +
          '<span class="fit-term-v" id="fit-term">' + esc(termLabel(F.resTerm || (r && r.term))) + "</span>" +
          '<button type="button" class="btn fit-btn fit-termbtn" data-rterm="1" aria-label="' + esc(t("fit.termNext")) + '">▶</button></div>' +
        '<div class="fit-legend">' + ["excellent", "good", "pass", "fail"].map(function (k) {
          return '<span class="fit-rating" data-rating="' + k + '">' + esc(t("fit.rating." + k)) + "</span>";
        }).join("") + "</div>" +
      "</div>";
    if (!r) { box.innerHTML = top + '<div class="fit-empty"><div class="fit-empty-hint">' + esc(t("fit.loading")) + "</div></div>"; return; }
    var rows = (r.rows || []).slice().sort(function (a, b) { return labelCmp(a.label, b.label); });
    // the items this class is tested on: measured by someone, or missing from someone's total
    var used = {};
    rows.forEach(function (row) {
      Object.keys(row.items || {}).forEach(function (k) { used[k] = true; });
      ((row.total || {}).missing || []).forEach(function (k) { used[k] = true; });
    });
    var items = (r.items || []).filter(function (it) { return used[itemId(it)]; });
    if (!items.length) items = r.items || [];
    if (!rows.length) {
      box.innerHTML = top + '<div class="fit-empty"><div class="fit-empty-title">' + esc(t(r.failed ? "fit.loadFailed" : "fit.noResults")) + "</div></div>";
      return;
    }
    var head = "<tr><th class=\"fit-th-stu\">" + esc(t("fit.col.student")) + "</th>" + items.map(function (it) {
      var u = itemUnit(it);
      return '<th data-item="' + esc(itemId(it)) + '">' + esc(itemLabel(it)) + (u ? '<span class="fit-th-u">' + esc(u) + "</span>" : "") + "</th>";
    }).join("") + "<th>" + esc(t("fit.col.total")) + "</th><th>" + esc(t("fit.col.rating")) + "</th></tr>";
    var body = rows.map(function (row) {
      var tot = row.total || {};
      var incomplete = tot.complete === false;
      return '<tr data-sid="' + esc(row.student_id) + '"><td class="fit-td-stu"><button type="button" class="btn fit-stu" data-go="#/fitness/student/' +
        esc(encodeURIComponent(row.student_id)) + '">' + esc(row.label || row.student_id) + '<span class="fit-stu-sex">' +
        esc(row.sex ? t("fit.sex." + row.sex) : "") + "</span>" +
        (row.retest_due ? '<span class="fit-retest" data-retest="due">' + esc(t("fit.retestDue")) + "</span>" : "") +
        "</button></td>" +
        items.map(function (it) {
          var id = itemId(it);
          var v = (row.items || {})[id];
          var has = v && num(v.value) !== null;
          var applies = has || ((row.total || {}).missing || []).indexOf(id) >= 0 || !(row.total && row.total.missing);
          if (!applies) return '<td><span class="fit-na" title="' + esc(t("fit.notTested")) + '">/</span></td>';
          return '<td><button type="button" class="btn fit-cell" data-sid="' + esc(row.student_id) + '" data-item="' + esc(id) + '"' +
            (has ? ' data-source="' + esc(v.source || "") + '"' : ' data-empty="1"') + ">" +
            '<span class="fit-cell-v">' + esc(has ? itemValue(id, v.value) : "—") + "</span>" +
            '<span class="fit-cell-s">' + esc(has ? (num(v.score) === null ? "" : t("fit.points", { n: fmtNum(v.score) })) +
              (num(v.bonus) ? " +" + fmtNum(v.bonus) : "") : t("fit.enter")) + "</span></button></td>";
        }).join("") +
        '<td class="fit-td-total" data-complete="' + String(!incomplete) + '"><span class="fit-total">' + esc(fmtNum(tot.total)) + "</span>" +
          (incomplete ? '<span class="fit-missing">' + esc(t("fit.missing", { n: (tot.missing || []).length })) + "</span>" : "") + "</td>" +
        '<td><span class="fit-rating" data-rating="' + ratingKind(tot) + '"' + (incomplete ? ' data-incomplete="1"' : "") + ">" +
          esc(ratingText(tot)) + (incomplete && ratingKind(tot) !== "none" ? "*" : "") + "</span></td></tr>";
    }).join("");
    var complete = rows.filter(function (x) { return x.total && x.total.complete; }).length;
    box.innerHTML = top +
      '<div class="fit-res-note">' + esc(t("fit.resNote", { n: rows.length, c: complete })) + "</div>" +
      '<div class="fit-table-wrap"><table class="fit-table"><thead>' + head + "</thead><tbody>" + body + "</tbody></table></div>";
  }

  function openEntry(sid, item) {
    var r = F.results;
    var row = r && (r.rows || []).filter(function (x) { return x.student_id === sid; })[0];
    var it = r && (r.items || []).filter(function (x) { return itemId(x) === item; })[0];
    var cur = row && (row.items || {})[item];
    F.dialog = {
      kind: "pad", what: "measure", decimals: true, value: "",
      title: t("fit.entryTitle", { label: row ? row.label : sid, item: itemLabel(it || item) }),
      sub: (itemUnit(it || item) ? t("fit.unitIs", { u: itemUnit(it || item) }) : "") +
        (cur && num(cur.value) !== null ? "  " + t("fit.current", { v: fmtNum(cur.value) }) : ""),
      sid: sid, item: item
    };
    renderDialog();
  }

  function saveMeasurement(value) {
    var d = F.dialog;
    var v = parseFloat(value);
    if (!value || isNaN(v)) { K().toast(t("fit.badNumber"), null, "error"); return; }
    var sid = d.sid, item = d.item;
    post($("fit-pad-ok"), "POST", API + "/measurements", { student_id: sid, item: item, value: v, by: "teacher" }).then(function (res) {
      if (!res) return;
      closeDialog();
      K().toast(t("fit.saved", { s: num(res.score) === null ? "—" : fmtNum(res.score) }), null, "info");
      loadResults();
    });
  }

  /* ---------- archive ---------- */

  function loadArchive() {
    var sid = F.archiveSid;
    if (!sid) return;
    K().getJSON(API + "/students/" + encodeURIComponent(sid) + "/archive").then(function (a) {
      if (F.archiveSid !== sid) return;
      F.archive = a || { terms: [] };
      if (F.view === "archive") renderArchive();
    }, function () {
      if (F.archiveSid !== sid) return;
      F.archive = { student_id: sid, terms: [], failed: true };
      if (F.view === "archive") renderArchive();
    });
  }

  function chartSvg(terms) {
    var list = terms.slice().reverse(); // oldest first
    var n = list.length;
    if (!n) return "";
    var W = 1000, H = 230, padL = 50, padB = 42, padT = 30;
    var bw = Math.min(90, (W - padL - 20) / n * 0.6);
    var step = (W - padL - 20) / n;
    var y = function (v) { return padT + (H - padT - padB) * (1 - Math.max(0, Math.min(120, v)) / 120); };
    var grid = [60, 90].map(function (g) {
      return '<line x1="' + padL + '" x2="' + (W - 10) + '" y1="' + y(g) + '" y2="' + y(g) + '" class="fit-ch-grid"/>' +
        '<text x="' + (padL - 6) + '" y="' + (y(g) + 5) + '" class="fit-ch-ax" text-anchor="end">' + g + "</text>";
    }).join("");
    var bars = list.map(function (tm, i) {
      var tot = tm.total || {};
      var v = num(tot.total);
      var x = padL + step * i + (step - bw) / 2;
      var kind = ratingKind(tot);
      return (v === null ? "" : '<rect x="' + x + '" y="' + y(v) + '" width="' + bw + '" height="' + (y(0) - y(v)) + '" class="fit-ch-bar" data-rating="' + kind + '"' +
        (tot.complete === false ? ' data-incomplete="1"' : "") + "/>" +
        '<text x="' + (x + bw / 2) + '" y="' + (y(v) - 6) + '" class="fit-ch-val" text-anchor="middle">' + esc(fmtNum(v)) + (tot.complete === false ? "*" : "") + "</text>") +
        '<text x="' + (x + bw / 2) + '" y="' + (H - 14) + '" class="fit-ch-ax" text-anchor="middle">' + esc(termLabel(tm.term)) + "</text>";
    }).join("");
    return '<svg class="fit-chart" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(t("fit.chart")) + '">' + grid + bars + "</svg>";
  }

  function renderArchive() {
    var box = $("fit-view-archive");
    var a = F.archive;
    if (!a) { box.innerHTML = '<div class="fit-empty"><div class="fit-empty-hint">' + esc(t("fit.loading")) + "</div></div>"; return; }
    var terms = a.terms || [];
    var label = a.label || studentLabel(a.student_id);
    $("fit-crumb").textContent = label || "";
    var itemIds = [];
    var itemDefs = {};
    ((F.results && F.results.items) || []).forEach(function (it) { itemIds.push(itemId(it)); itemDefs[itemId(it)] = it; });
    terms.forEach(function (tm) { Object.keys(tm.items || {}).forEach(function (k) { if (itemIds.indexOf(k) < 0) itemIds.push(k); }); });
    itemIds = itemIds.filter(function (k) { return terms.some(function (tm) { return (tm.items || {})[k]; }); });
    var table = terms.length ?
      '<div class="fit-table-wrap fit-arch-table"><table class="fit-table"><thead><tr><th class="fit-th-stu">' + esc(t("fit.col.item")) + "</th>" +
        terms.map(function (tm) { return "<th>" + esc(termLabel(tm.term)) + (tm.grade ? '<span class="fit-th-u">' + esc(t("fit.grade", { g: tm.grade })) + "</span>" : "") + "</th>"; }).join("") +
        "</tr></thead><tbody>" +
        itemIds.map(function (k) {
          return '<tr><td class="fit-td-stu fit-td-item">' + esc(itemLabel(itemDefs[k] || k)) + "</td>" + terms.map(function (tm) {
            var v = (tm.items || {})[k];
            return "<td>" + (v ? '<span class="fit-cell-v">' + esc(itemValue(k, v.value)) + '</span><span class="fit-cell-s">' +
              esc(num(v.score) === null ? "" : t("fit.points", { n: fmtNum(v.score) })) + "</span>" : "—") + "</td>";
          }).join("") + "</tr>";
        }).join("") +
        '<tr class="fit-tr-total"><td class="fit-td-stu">' + esc(t("fit.col.total")) + "</td>" + terms.map(function (tm) {
          var tot = tm.total || {};
          return '<td><span class="fit-total">' + esc(fmtNum(tot.total)) + '</span> <span class="fit-rating" data-rating="' + ratingKind(tot) + '">' +
            esc(ratingText(tot)) + (tot.complete === false ? "*" : "") + "</span>" +
            (tot.complete === false ? '<span class="fit-missing">' + esc(t("fit.missing", { n: (tot.missing || []).length })) + "</span>" : "") + "</td>";
        }).join("") + "</tr></tbody></table></div>" :
      '<div class="fit-empty"><div class="fit-empty-title">' + esc(t(a.failed ? "fit.loadFailed" : "fit.noTerms")) + "</div></div>";
    var p = a.prescription;
    var side = '<h2 class="fit-side-title">' + esc(t("fit.prescription")) + "</h2>" + (p ?
      '<div class="fit-rx-summary">' + esc(p.summary_zh || "") + "</div>" +
      (p.retest_on ? '<div class="fit-rx-retest">' + esc(t("fit.retest", { d: fmtDate(p.retest_on) })) + "</div>" : "") +
      (p.advice || []).map(function (ad) {
        return '<div class="fit-rx" data-item="' + esc(ad.item) + '"><div class="fit-rx-head"><b>' + esc(itemLabel(itemDefs[ad.item] || ad.item)) + "</b>" +
          '<span class="fit-rx-score">' + esc(t("fit.points", { n: fmtNum(ad.score) })) +
          (num(ad.lost_points) !== null ? " · " + esc(t("fit.lost", { n: fmtNum(ad.lost_points) })) : "") + "</span></div>" +
          (ad.reason_zh ? '<div class="fit-rx-reason">' + esc(ad.reason_zh) + "</div>" : "") +
          ((ad.exercises_zh || []).length ? '<ul class="fit-rx-ex">' + ad.exercises_zh.map(function (x) { return "<li>" + esc(x) + "</li>"; }).join("") + "</ul>" : "") +
          (typeof ad.target === "string" && ad.target ? '<div class="fit-rx-target">' + esc(ad.target) + "</div>" :
            num(ad.target) !== null ? '<div class="fit-rx-target">' + esc(t("fit.target", { v: itemValue(ad.item, ad.target), u: itemUnit(itemDefs[ad.item] || ad.item) })) + "</div>" : "") +
          "</div>";
      }).join("") : '<div class="fit-none">' + esc(t("fit.noPrescription")) + "</div>");
    box.innerHTML =
      '<div class="fit-arch-main"><div class="fit-arch-head"><span class="fit-arch-name">' + esc(label || "") + "</span>" +
        '<span class="fit-arch-sub">' + esc(a.sex ? t("fit.sex." + a.sex) : "") + "</span>" +
        '<button type="button" class="btn fit-btn" data-go="#/fitness/results">' + esc(t("fit.toResults")) + "</button></div>" +
        (terms.length ? '<div class="fit-chart-box">' + chartSvg(terms) + "</div>" : "") + table + "</div>" +
      '<div class="fit-arch-side">' + side + "</div>";
  }

  /* ---------- dialogs ---------- */

  function openWho() {
    F.dialog = { kind: "who" };
    renderDialog();
  }

  function openPad(what) {
    var st = currentStation();
    var r = st && st.session && st.session.result;
    F.dialog = {
      kind: "pad", what: what, decimals: false, value: "",
      title: what === "correct" ? t("fit.correctTitle") : t("fit.clipTitle"),
      sub: what === "correct" ? t("fit.correctSub", { n: r ? (num(r.machine_count) !== null ? r.machine_count : r.count) : "—" }) : t("fit.clipSub")
    };
    renderDialog();
  }

  function renderDialog() {
    var box = $("fit-dialog");
    var d = F.dialog;
    if (!box) return;
    if (!d || !isOpen()) { box.hidden = true; box.innerHTML = ""; return; }
    var html;
    if (d.kind === "who") {
      var st = currentStation();
      var list = ((F.state && F.state.students) || []).slice().sort(function (a, b) { return labelCmp(a.label, b.label); });
      html = '<div class="dialog fit-dlg fit-dlg-who" role="dialog" aria-modal="true"><div class="dialog-head"><h2 class="dialog-title">' +
        esc(t("fit.pickTitle", { name: st ? st.name : "" })) + (F.state && F.state.class_id ? '<span class="fit-dlg-sub">' + esc(t("fit.classIs", { c: F.state.class_id })) + "</span>" : "") +
        '</h2><button type="button" class="btn btn-close" data-dlg="close">' + esc(t("fit.close")) + "</button></div>" +
        (list.length ? '<div class="fit-who-grid">' + list.map(function (s) {
          return '<button type="button" class="btn fit-pick" data-pick="' + esc(s.student_id) + '" aria-pressed="' + String(!!st && st.student_id === s.student_id) + '">' +
            esc(s.label) + "</button>";
        }).join("") + "</div>" : '<div class="fit-none">' + esc(t("fit.noStudents")) + "</div>") +
        '<div class="fit-dlg-acts"><button type="button" class="btn fit-btn" data-pick="">' + esc(t("fit.nobody")) + "</button></div></div>";
    } else if (d.kind === "pad") {
      var keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", d.decimals ? "." : "", "0", "del"];
      html = '<div class="dialog fit-dlg fit-dlg-pad" role="dialog" aria-modal="true"><div class="dialog-head"><h2 class="dialog-title">' + esc(d.title) +
        '</h2></div><div class="fit-pad-sub">' + esc(d.sub || "") + '</div><div id="fit-pad-v" class="fit-pad-v">' + esc(d.value || " ") + "</div>" +
        '<div class="fit-pad">' + keys.map(function (k) {
          if (!k) return "<span></span>";
          return '<button type="button" class="btn fit-key" data-key="' + k + '">' + (k === "del" ? "⌫" : k) + "</button>";
        }).join("") + "</div>" +
        '<div class="fit-dlg-acts"><button type="button" class="btn fit-btn" data-dlg="close">' + esc(t("fit.cancel")) + "</button>" +
        '<button type="button" id="fit-pad-ok" class="btn fit-big fit-primary" data-dlg="ok"' + (d.value ? "" : " disabled") + ">" + esc(t("fit.ok")) + "</button></div></div>";
    } else {
      var ds = station(d.station_id);
      html = '<div class="dialog fit-dlg fit-dlg-confirm" role="dialog" aria-modal="true"><div class="dialog-head"><h2 class="dialog-title">' +
        esc(t("fit.draw.deleteQ", { name: ds ? ds.name || ds.station_id : d.station_id })) + "</h2></div>" +
        '<div class="fit-pad-sub">' + esc(t("fit.draw.deleteSub")) + "</div>" +
        '<div class="fit-dlg-acts"><button type="button" class="btn fit-big" data-dlg="close">' + esc(t("fit.cancel")) + "</button>" +
        '<button type="button" class="btn fit-big fit-danger" data-dlg="delete">' + esc(t("fit.draw.delete")) + "</button></div></div>";
    }
    box.innerHTML = html;
    box.hidden = false;
  }

  function closeDialog() {
    F.dialog = null;
    var box = $("fit-dialog");
    if (box) { box.hidden = true; box.innerHTML = ""; }
  }

  function onDialogTap(ev) {
    K().touch();
    var box = $("fit-dialog");
    if (ev.target === box) { closeDialog(); return; }
    var el = ev.target.closest("button");
    var d = F.dialog;
    if (!el || el.disabled || !d) return;
    var act = el.getAttribute("data-dlg");
    if (act === "close") { closeDialog(); return; }
    if (el.hasAttribute("data-pick")) { pickStudent(el.getAttribute("data-pick") || null); return; }
    if (act === "delete") { deleteStation(el, d.station_id); return; }
    var key = el.getAttribute("data-key");
    if (key) {
      if (key === "del") d.value = d.value.slice(0, -1);
      else if (key === "." && (d.value.indexOf(".") >= 0 || !d.decimals)) return;
      else if (d.value.length < 7) d.value = (d.value === "0" && key !== "." ? "" : d.value) + (key === "." && !d.value ? "0" : "") + key;
      $("fit-pad-v").textContent = d.value || " ";
      $("fit-pad-ok").disabled = !d.value;
      return;
    }
    if (act === "ok") {
      if (d.what === "correct") saveCorrection(d.value);
      else if (d.what === "clip") saveClip(d.value);
      else if (d.what === "measure") saveMeasurement(d.value);
    }
  }

  /* ---------- taps ---------- */

  function onTap(ev) {
    K().touch();
    var el = ev.target.closest("button, a");
    if (!el || el.disabled) return;
    var act = el.getAttribute("data-act");
    var dest = el.getAttribute("data-go");
    if (act === "back") {
      if (F.view === "archive") window.location.hash = "#/fitness/results";
      else if (F.view === "draw" || F.view === "results") window.location.hash = F.stationId ? "#/fitness/s/" + encodeURIComponent(F.stationId) : "#/fitness";
      else K().goHome();
      return;
    }
    if (dest) {
      if (dest === "#/fitness" && F.stationId) dest = "#/fitness/s/" + encodeURIComponent(F.stationId);
      if (window.location.hash !== dest) window.location.hash = dest;
      return;
    }
    if (el.hasAttribute("data-station")) {
      F.stationId = el.getAttribute("data-station");
      window.location.hash = "#/fitness/s/" + encodeURIComponent(F.stationId);
      return;
    }
    if (el.closest("#fit-dside")) { onDrawSide(el); return; }
    if (el.hasAttribute("data-mode")) {
      var st = currentStation();
      if (st) { F.mode[st.station_id] = el.getAttribute("data-mode"); renderStation(); }
      return;
    }
    if (el.hasAttribute("data-rclass")) { F.resClass = el.getAttribute("data-rclass"); F.results = null; renderResults(); loadResults(); return; }
    if (el.hasAttribute("data-rterm")) {
      F.resTerm = termStep(F.resTerm || (F.results && F.results.term), parseInt(el.getAttribute("data-rterm"), 10));
      F.results = null;
      renderResults();
      loadResults();
      return;
    }
    if (el.classList.contains("fit-cell")) { openEntry(el.getAttribute("data-sid"), el.getAttribute("data-item")); return; }
    if (act === "who") { openWho(); return; }
    if (act === "start") { startSession(el); return; }
    if (act === "stop") { stopSession(el); return; }
    if (act === "correct") { openPad("correct"); return; }
    if (act === "clip") { openPad("clip"); return; }
    if (act === "next") {
      var cs = currentStation();
      if (cs && cs.session) F.dismissed[cs.session.session_id] = true;
      renderStation();
      openWho();
      return;
    }
    if (act === "edit") {
      var es = currentStation();
      if (es) window.location.hash = "#/fitness/draw/" + encodeURIComponent(es.station_id);
    }
  }

  /* ---------- events, language ---------- */

  function onEvent(msg) {
    if (!F.ready) return;
    if (msg.topic === "fitness.live") {
      if (!msg.camera) return;
      F.live[msg.camera] = { msg: msg, at: Date.now() };
      var changed = false;
      (msg.stations || []).forEach(function (u) {
        var st = station(u.station_id);
        if (!st) return;
        var before = st.session ? st.session.state + ":" + st.session.count + ":" + (st.session.invalid || []).length + ":" + st.session.phase : "none";
        st.present = !!u.present;
        if (u.session !== undefined) {
          // a finished session may come without its result in the live stream: keep the one we have
          if (u.session && st.session && u.session.session_id === st.session.session_id && !u.session.result && st.session.result) {
            u.session.result = st.session.result;
          }
          if (u.session || !sessionActive(st.session)) st.session = u.session;
        }
        var after = st.session ? st.session.state + ":" + st.session.count + ":" + (st.session.invalid || []).length + ":" + st.session.phase : "none";
        if (before !== after) changed = true;
        if (st.session && sessionActive(st.session)) F.stateAt = Date.now();
      });
      if (F.view === "station") {
        var cur = currentStation();
        if (cur && cur.camera === msg.camera) {
          if (changed) renderStation();
          else {
            var pr = $("fit-present");
            pr.setAttribute("data-present", String(!!cur.present));
            pr.textContent = cur.present ? t("fit.present") : t("fit.absent");
            queueDraw();
          }
        }
      }
      return;
    }
    if (msg.topic === "fitness.camera") {
      if (!F.state || !msg.camera) return;
      var list = F.state.cameras || (F.state.cameras = []);
      var found = false;
      var cam = {};
      Object.keys(msg).forEach(function (k) { if (k !== "topic" && k !== "ts") cam[k] = msg[k]; });
      for (var i = 0; i < list.length; i++) {
        if (list[i].camera === msg.camera) {
          var wasBad = !!CAMERA_BAD[list[i].state];
          list[i] = Object.assign({}, list[i], cam);
          found = true;
          if (wasBad !== !!CAMERA_BAD[list[i].state] && isOpen()) renderAll();
        }
      }
      if (!found) list.push(cam);
      if (isOpen()) renderBanner();
      return;
    }
    if (msg.topic === "fitness.result") {
      var rs = station(msg.station_id);
      if (rs && rs.session && (rs.session.state === "finished" || rs.session.state === "running")) {
        rs.session.result = Object.assign({}, msg);
        delete rs.session.result.topic;
      }
      if (isOpen()) {
        loadState();
        if (F.view === "results") loadResults();
      }
    }
  }

  function render() {
    if (!F.ready) return;
    applyText($("screen-fitness"));
    var keyed = ["fit-stabs", "fit-invalid", "fit-result", "fit-dside"];
    keyed.forEach(function (id) { var el = $(id); if (el) el._k = null; });
    renderAll();
  }

  function init() {
    if (F.ready) return;
    build();
    F.ready = true;
  }

  window.FITNESS = { init: init, show: show, hide: hide, resync: resync, onEvent: onEvent, render: render, _state: F };
  if (window.KIOSK && window.KIOSK.registerScreen) {
    window.KIOSK.registerScreen({
      feature: "fitness", route: "#/fitness", section: "screen-fitness",
      topics: ["fitness.live", "fitness.result", "fitness.camera"], module: window.FITNESS
    });
  }
})();
