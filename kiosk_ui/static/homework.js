/* Classroom Edge kiosk: pen homework screens (点阵笔作业, docs/api.md "Pen homework").
 * #/homework                    open assignments, open a new one from a template, collect one
 * #/homework/a/ID               live progress: a tile per student, from hw.progress events
 * #/homework/a/ID/results       class summary, score distribution, per-question correct rate, students
 * #/homework/a/ID/q/QID         one question: a bar per answer and who gave it
 * #/homework/a/ID/s/SID         one student's sheet (ink as SVG, override a score) and error book
 * #/homework/review             answers the recogniser was unsure of: pick a reading or key one in
 * #/homework/weakness[/ID]      knowledge points by error rate against the class mean
 * #/homework/time               homework time per day against the 双减 limit
 * #/homework/roster             pens to students */
(function () {
  "use strict";

  var t = window.I18N.t;
  var ICONS = window.ICONS;
  function K() { return window.KIOSK; }
  function $(id) { return document.getElementById(id); }
  function esc(s) { return K().esc(s); }

  var API = "/api/homework";
  var CLOSE_ARM_MS = 4000;       // "Collect" needs a second tap within this
  var LIVE_POLL_MS = 15000;      // the live view also refetches now and then (events carry no timings)
  var REVIEW_COUNT_MS = 2500;    // the review badge is refetched at most this often after progress events
  var SHEET_FETCHES = 6;         // parallel sheet requests when a question's "who answered what" is built
  var VIEWS = ["home", "live", "results", "question", "student", "review", "weakness", "time", "roster"];
  var REASONS = ["misread", "reasonable", "steps", "other"];

  var H = {
    ready: false,
    view: null,
    hash: null,
    aid: null,               // the assignment of live/results/question/student views
    qid: null,
    sid: null,
    weakAid: null,
    classId: null,           // the class the home, weakness, time and roster views are about
    classes: [],
    assignments: null,       // GET /assignments
    templates: null,
    templateProblems: [],
    asg: null,               // GET /assignments/ID
    els: {},                 // live tiles: student_id -> element
    order: [],
    noPen: {},               // student_id -> true (from the roster)
    renderQueued: false,
    sheets: {},              // assignment_id -> {student_id: sheet}
    sheet: null,             // the open student's sheet
    errorbook: null,
    review: null,            // GET /review items
    reviewIdx: 0,
    entry: "",
    multi: {},               // multiple-choice letters picked on the keypad
    weakness: null,
    workload: null,
    roster: null,
    pick: null,
    pens: {},                // pen_id -> latest pen.status
    closeArmed: null,
    armedFor: null,
    busy: false,
    dialog: null,            // {kind: "new"|"override", ...}
    pollTimer: null,
    reviewTimer: null,
    later: {}               // throttled refetches: key -> {timer, fn}
  };

  /* ---------- helpers ---------- */

  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function pct(v) { v = num(v); return v === null ? "—" : Math.round(v * 100) + "%"; }
  function score(v) {
    v = num(v);
    if (v === null) return "—";
    return String(Math.round(v * 10) / 10);
  }
  function labelCmp(a, b) {
    var na = parseInt(String(a).replace(/\D+/g, " ").trim(), 10);
    var nb = parseInt(String(b).replace(/\D+/g, " ").trim(), 10);
    if (!isNaN(na) && !isNaN(nb) && na !== nb) return na - nb;
    return String(a).localeCompare(String(b), "zh-CN");
  }
  function qCmp(a, b) { return labelCmp(a, b); }
  function tOr(key, fallback, params) {
    var s = t(key, params);
    return s === key ? fallback : s;
  }
  function subjectName(s) { return s ? tOr("hw.subject." + s, s) : ""; }
  function typeName(s) { return s ? tOr("hw.type." + s, s) : ""; }
  /* Knowledge-point tags ("math.g4.decimals.compare") are shown by name when i18n.js knows them. */
  function kpName(kp) { return tOr("hw.kp." + kp, String(kp || "").split(".").slice(2).join(" · ") || kp); }
  function answerText(a, type) {
    if (a === null || a === undefined || a === "") return t("hw.blank");
    if (type === "true_false") return a === "T" ? "√" : a === "F" ? "×" : a;
    return String(a);
  }
  function whenText(epochS) {
    var v = num(epochS);
    return v === null ? "—" : K().fmtTime(v * 1000);
  }
  function minutes(v) { v = num(v); return v === null ? "—" : String(Math.round(v)); }
  function enc(s) { return encodeURIComponent(s); }
  function go(hash) { if (window.location.hash !== hash) window.location.hash = hash; }

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

  /* GET with the server's error kept: resolves the data, or null after a toast (quiet: no toast). */
  function get(path, quiet) {
    return K().request("GET", path).then(function (r) {
      if (r.ok && r.data) return r.data;
      if (!quiet) K().toast(t("hw.loadFailed"), K().errorDetail(r) || ("HTTP " + r.status), "error");
      return null;
    }, function (err) {
      if (!quiet) K().toast(K().errorTitle(null, err), null, "error");
      return null;
    });
  }

  function empty(box, text, hint) {
    box.innerHTML = '<div class="hw-empty"' + (text === t("hw.loading") ? ' data-loading="1"' : "") + '><div class="hw-empty-title">' + esc(text) + "</div>" +
      (hint ? '<div class="hw-empty-hint">' + esc(hint) + "</div>" : "") + "</div>";
  }

  /* Ink as SVG polylines inside the question's box (mm on the printed page). ``zoom``: show the box's full
   * height but only the part of its width that holds ink (a tick in a 94 x 11 mm choice row stays legible). */
  function inkSvg(ink, box, cls, zoom) {
    var strokes = Array.isArray(ink) ? ink : [];
    var b = Array.isArray(box) && box.length === 4 ? box.slice() : null;
    if (!b) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      strokes.forEach(function (s) { (s || []).forEach(function (p) {
        x0 = Math.min(x0, p[0]); y0 = Math.min(y0, p[1]); x1 = Math.max(x1, p[0]); y1 = Math.max(y1, p[1]);
      }); });
      b = isFinite(x0) ? [x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0)] : [0, 0, 40, 12];
    }
    var pad = Math.max(b[2], b[3]) * 0.03;
    var vb = [b[0] - pad, b[1] - pad, b[2] + 2 * pad, b[3] + 2 * pad];
    if (zoom && strokes.length) {
      var lo = Infinity, hi = -Infinity;
      strokes.forEach(function (s) { (s || []).forEach(function (p) { lo = Math.min(lo, p[0]); hi = Math.max(hi, p[0]); }); });
      var m = b[3] * 0.3;
      var want = Math.max(b[3] * 1.6, hi - lo + 2 * m);
      var mid = (lo + hi) / 2;
      var x0 = Math.max(b[0] - pad, Math.min(mid - want / 2, b[0] + b[2] + pad - want));
      if (want < vb[2]) vb = [x0, vb[1], want, vb[3]];
    }
    vb = vb.map(function (v) { return Math.round(v * 100) / 100; });
    var lines = strokes.map(function (s) {
      var pts = (s || []).map(function (p) { return (Math.round(p[0] * 100) / 100) + "," + (Math.round(p[1] * 100) / 100); });
      if (pts.length === 1) pts.push(pts[0]);
      return '<polyline points="' + pts.join(" ") + '"/>';
    }).join("");
    return '<svg class="hw-ink' + (cls ? " " + cls : "") + '" viewBox="' + vb.join(" ") + '" preserveAspectRatio="xMidYMid meet" ' +
      'data-strokes="' + strokes.length + '" aria-hidden="true" focusable="false">' +
      '<rect class="hw-ink-box" x="' + b[0] + '" y="' + b[1] + '" width="' + b[2] + '" height="' + b[3] + '" rx="0.8"/>' +
      '<g class="hw-ink-lines" fill="none" stroke-linecap="round" stroke-linejoin="round">' + lines + "</g></svg>";
  }

  /* The evidence for an answer: the pen's ink, or for a scanned sheet the crop of its box (kept on the box). */
  function evidence(x, cls, zoom) {
    if (x && typeof x.image === "string" && x.image.indexOf("/api/homework/scans/") === 0) {
      return '<img class="hw-scan' + (cls ? " " + cls : "") + '" src="' + esc(x.image) + '" alt="">';
    }
    return inkSvg(x ? x.ink : [], x ? x.box_mm : null, cls, zoom);
  }

  /* ---------- the screen skeleton ---------- */

  function build() {
    var box = $("screen-homework");
    box.innerHTML =
      '<div class="hw-head">' +
        '<button type="button" class="btn btn-back" data-act="back"><span class="ico">' + ICONS.svg("back") + '</span><span id="hw-back-text"></span></button>' +
        '<h1 class="screen-title hw-title" data-t="hw.title"></h1>' +
        '<div id="hw-crumb" class="hw-crumb"></div>' +
        '<nav class="hw-nav">' +
          navBtn("home", "#/homework", "pen", "hw.nav.home") +
          navBtn("review", "#/homework/review", "check", "hw.nav.review", '<span id="hw-review-badge" class="hw-badge" hidden></span>') +
          navBtn("weakness", "#/homework/weakness", "bulb", "hw.nav.weakness") +
          navBtn("time", "#/homework/time", "stopwatch", "hw.nav.time") +
          navBtn("roster", "#/homework/roster", "users", "hw.nav.roster") +
        "</nav>" +
      "</div>" +
      VIEWS.map(function (v) { return '<div id="hw-view-' + v + '" class="hw-view hw-' + v + '" hidden></div>'; }).join("");
    box.addEventListener("click", onTap);
    box.addEventListener("input", onInput);
    $("hw-dialog").addEventListener("click", onDialogTap);
    applyText(box);
  }

  function navBtn(view, hash, icon, key, extra) {
    return '<button type="button" class="btn hw-navbtn" data-go="' + hash + '" data-view="' + view + '"><span class="ico">' +
      ICONS.svg(icon) + '</span><span data-t="' + key + '"></span>' + (extra || "") + "</button>";
  }

  function applyText(root) {
    var nodes = root.querySelectorAll("[data-t]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute("data-t"));
  }

  /* ---------- routing (called by kiosk.js) ---------- */

  function parse(hash) {
    var m, r = { view: "home" };
    var rest = hash.replace(/^#\/homework\/?/, "");
    if ((m = /^a\/([^/]+)\/results$/.exec(rest))) { r.view = "results"; r.aid = m[1]; }
    else if ((m = /^a\/([^/]+)\/q\/([^/]+)$/.exec(rest))) { r.view = "question"; r.aid = m[1]; r.qid = m[2]; }
    else if ((m = /^a\/([^/]+)\/s\/([^/]+)$/.exec(rest))) { r.view = "student"; r.aid = m[1]; r.sid = m[2]; }
    else if ((m = /^a\/([^/]+)$/.exec(rest))) { r.view = "live"; r.aid = m[1]; }
    else if (rest === "review") r.view = "review";
    else if ((m = /^weakness(?:\/([^/]+))?$/.exec(rest))) { r.view = "weakness"; r.weakAid = m[1] || null; }
    else if (rest === "time") r.view = "time";
    else if (rest === "roster") r.view = "roster";
    ["aid", "qid", "sid", "weakAid"].forEach(function (k) { if (r[k]) r[k] = decodeURIComponent(r[k]); });
    return r;
  }

  function show(hash) {
    if (!H.ready || hash === H.hash) return;
    var r = parse(hash);
    var was = H.view;
    var oldAid = H.aid;
    H.hash = hash;
    H.view = r.view;
    H.aid = r.aid || (r.view === "weakness" ? H.aid : null);
    H.qid = r.qid || null;
    H.sid = r.sid || null;
    H.weakAid = r.weakAid || null;
    disarmClose();
    closeDialog();
    VIEWS.forEach(function (v) { $("hw-view-" + v).hidden = v !== H.view; });
    var navs = document.querySelectorAll(".hw-navbtn");
    var section = { home: "home", live: "home", results: "home", question: "home", student: "home" }[H.view] || H.view;
    for (var i = 0; i < navs.length; i++) navs[i].setAttribute("aria-pressed", String(navs[i].getAttribute("data-view") === section));
    $("screen-homework").setAttribute("data-view", H.view);
    renderHead();
    clearInterval(H.pollTimer);
    H.pollTimer = null;
    if (H.aid && H.aid !== oldAid) { H.asg = null; H.els = {}; H.order = []; }
    if (H.view === "home") loadHome();
    if (H.view === "live") {
      if (was !== "live" || H.aid !== oldAid) { H.els = {}; H.order = []; $("hw-view-live").innerHTML = ""; }
      loadAssignment(true);
      H.pollTimer = setInterval(function () { if (H.view === "live") loadAssignment(false); }, LIVE_POLL_MS);
    }
    if (H.view === "results" || H.view === "question") loadAssignment(false);
    if (H.view === "student") loadStudent();
    if (H.view === "review") loadReview();
    if (H.view === "weakness") loadWeakness();
    if (H.view === "time") loadWorkload();
    if (H.view === "roster") loadRoster(H.classId);
    refreshReviewCount();
  }

  function hide() {
    H.hash = null;
    H.view = null;
    clearInterval(H.pollTimer);
    H.pollTimer = null;
    disarmClose();
    closeDialog();
  }

  function isOpen() { return H.view !== null && !$("screen-homework").hidden; }

  function resync() {
    H.classesLoaded = false;
    if (!isOpen()) return;
    var h = H.hash;
    H.hash = null;
    show(h);
  }

  function parentHash() {
    if (H.view === "question" || H.view === "student") return "#/homework/a/" + enc(H.aid) + "/results";
    if (H.view === "home") return null;
    if (H.view === "weakness" && H.weakAid) return "#/homework/a/" + enc(H.weakAid) + "/results";
    return "#/homework";
  }

  function renderHead() {
    var parent = parentHash();
    $("hw-back-text").textContent = parent ? t("hw.back") : t("nav.back");
    var crumb = "";
    var a = H.asg && H.asg.assignment_id === H.aid ? H.asg : null;
    if (H.view === "live" || H.view === "results" || H.view === "question" || H.view === "student") {
      crumb = a ? [a.class_id, a.title].filter(function (x) { return x; }).join(" · ") : "";
    }
    $("hw-crumb").textContent = crumb;
    $("hw-crumb").title = crumb;
  }

  /* ---------- classes ---------- */

  function learnClasses(list) {
    (list || []).forEach(function (c) { if (c && H.classes.indexOf(c) < 0) H.classes.push(c); });
    H.classes.sort(labelCmp);
  }

  function classBar(counts) {
    if (H.classes.length < 2) return "";
    return '<div class="hw-classbar" role="group"><span class="hw-classbar-title">' + esc(t("hw.class")) + "</span>" +
      H.classes.map(function (c) {
        var n = counts && counts[c];
        return '<button type="button" class="btn hw-classbtn" data-class="' + esc(c) + '" aria-pressed="' + (c === H.classId) + '">' +
          esc(c) + (n ? '<span class="hw-badge">' + n + "</span>" : "") + "</button>";
      }).join("") + "</div>";
  }

  function setClass(c) {
    if (!c || c === H.classId) return;
    H.classId = c;
    H.pick = null;
    if (H.view === "home") renderHome();
    if (H.view === "weakness") { H.weakness = null; loadWeakness(); }
    if (H.view === "time") { H.workload = null; loadWorkload(); }
    if (H.view === "roster") loadRoster(c);
  }

  /* The roster without class_id answers the current class and the class list. */
  function ensureClasses() {
    if (H.classesLoaded && H.classId) return Promise.resolve();
    return get(API + "/roster", true).then(function (r) {
      if (!r) return;
      H.classesLoaded = true;
      learnClasses(r.classes);
      if (r.class_id) learnClasses([r.class_id]);
      if (!H.classId) H.classId = r.class_id || H.classes[0] || null;
    });
  }

  /* ---------- home: assignments ---------- */

  function loadHome() {
    var box = $("hw-view-home");
    if (!H.assignments) empty(box, t("hw.loading"));
    Promise.all([ensureClasses(), loadAssignments()]).then(function () {
      if (H.view !== "home") return;
      renderHome();
    });
  }

  function loadAssignments() {
    return get(API + "/assignments", !!H.assignments).then(function (r) {
      if (!r) return;
      H.assignments = r.assignments || [];
      learnClasses(H.assignments.map(function (a) { return a.class_id; }));
      var open = openAssignments();
      if (!H.classId && open.length) H.classId = open[0].class_id;
      if (!H.classId) H.classId = H.classes[0] || null;
    });
  }

  function openAssignments() {
    return (H.assignments || []).filter(function (a) { return a.state === "open"; })
      .sort(function (a, b) { return (num(b.opened_at) || 0) - (num(a.opened_at) || 0); });
  }

  function renderHome() {
    var box = $("hw-view-home");
    if (!H.assignments) return;
    var counts = {};
    openAssignments().forEach(function (a) { counts[a.class_id] = (counts[a.class_id] || 0) + 1; });
    var mine = H.assignments.filter(function (a) { return !H.classId || a.class_id === H.classId || H.classes.length < 2; });
    var open = mine.filter(function (a) { return a.state === "open"; })
      .sort(function (a, b) { return (num(b.opened_at) || 0) - (num(a.opened_at) || 0); });
    var closed = mine.filter(function (a) { return a.state !== "open"; })
      .sort(function (a, b) { return (num(b.closed_at) || num(b.opened_at) || 0) - (num(a.closed_at) || num(a.opened_at) || 0); })
      .slice(0, 6);
    box.innerHTML =
      '<div class="hw-home-top">' + classBar(counts) +
        '<button type="button" class="btn hw-big hw-new" data-act="new"><span class="ico">' + ICONS.svg("pen") + "</span><span>" +
        esc(t("hw.new")) + "</span></button></div>" +
      '<h2 class="hw-section-title">' + esc(t("hw.openNow")) + "</h2>" +
      (open.length ? '<div class="hw-cards">' + open.map(openCard).join("") + "</div>" :
        '<div class="hw-none">' + esc(t("hw.noOpen")) + "</div>") +
      (closed.length ? '<h2 class="hw-section-title">' + esc(t("hw.recent")) + '</h2><div class="hw-cards hw-cards-closed">' +
        closed.map(closedCard).join("") + "</div>" : "");
  }

  function openCard(a) {
    var armed = H.armedFor === a.assignment_id;
    return '<div class="hw-card" data-aid="' + esc(a.assignment_id) + '" data-state="open">' +
      '<div class="hw-card-title">' + esc(a.title) + "</div>" +
      '<div class="hw-card-sub">' + esc(a.class_id) + " · " + esc(t("hw.openedAt", { time: whenText(a.opened_at) })) + "</div>" +
      '<div class="hw-card-count">' + esc(t("hw.done", { n: num(a.finished) || 0, total: num(a.students) || 0 })) + "</div>" +
      '<div class="hw-card-btns">' +
        '<button type="button" class="btn hw-btn hw-primary" data-go="#/homework/a/' + esc(enc(a.assignment_id)) + '">' + ICONS.svg("users") +
          "<span>" + esc(t("hw.progress")) + "</span></button>" +
        '<button type="button" class="btn hw-btn hw-close' + (armed ? " is-armed" : "") + '" data-close="' + esc(a.assignment_id) + '">' +
          "<span>" + esc(armed ? t("hw.collectConfirm") : t("hw.collect")) + "</span></button>" +
      "</div></div>";
  }

  function closedCard(a) {
    return '<button type="button" class="btn hw-card hw-card-btn" data-state="closed" data-go="#/homework/a/' + esc(enc(a.assignment_id)) + '/results">' +
      '<span class="hw-card-title">' + esc(a.title) + "</span>" +
      '<span class="hw-card-sub">' + esc(a.class_id) + " · " + esc(t("hw.closedAt", { time: whenText(a.closed_at || a.opened_at) })) + "</span>" +
      '<span class="hw-card-sub">' + esc(t("hw.done", { n: num(a.finished) || 0, total: num(a.students) || 0 })) + " · " + esc(t("hw.seeResults")) + "</span></button>";
  }

  /* Collect (close) an assignment: the first tap arms the button, the second within 4 s collects. */
  function collect(aid, btn) {
    if (H.armedFor !== aid) {
      disarmClose();
      H.armedFor = aid;
      H.closeArmed = setTimeout(function () { disarmClose(); rerender(); }, CLOSE_ARM_MS);
      rerender();
      return;
    }
    disarmClose();
    if (H.busy) return;
    H.busy = true;
    post(btn, API + "/assignments/" + enc(aid) + "/close", {}).then(function (r) {
      if (!r) { rerender(); return; }
      K().toast(t("hw.collected"), null, "info");
      H.assignments = null;
      if (H.view === "live" && H.aid === aid) go("#/homework/a/" + enc(aid) + "/results");
      else loadHome();
    }).finally(function () { H.busy = false; });
  }

  function disarmClose() {
    clearTimeout(H.closeArmed);
    H.closeArmed = null;
    H.armedFor = null;
  }

  function rerender() {
    if (H.view === "home") renderHome();
    if (H.view === "live") renderLive(false);
  }

  /* ---------- new assignment dialog ---------- */

  function openNew() {
    H.dialog = { kind: "new", template: null, classId: H.classId };
    renderDialog();
    Promise.all([
      get(API + "/templates").then(function (r) {
        if (!r) return;
        H.templates = r.templates || [];
        H.templateProblems = r.problems || [];
        if (H.dialog && H.dialog.kind === "new" && !H.dialog.template && H.templates.length === 1) H.dialog.template = H.templates[0].id;
      }),
      ensureClasses()
    ]).then(function () {
      if (H.dialog && H.dialog.kind === "new") {
        if (!H.dialog.classId) H.dialog.classId = H.classId;
        renderDialog();
      }
    });
  }

  function newDialogHtml() {
    var d = H.dialog;
    var tpls = H.templates;
    var body;
    if (!tpls) body = '<div class="hw-empty-hint">' + esc(t("hw.loading")) + "</div>";
    else if (!tpls.length) body = '<div class="hw-empty-hint">' + esc(t("hw.noTemplates")) + "</div>";
    else {
      body = '<div class="hw-tpls">' + tpls.map(function (tp) {
        return '<button type="button" class="btn hw-tpl" data-tpl="' + esc(tp.id) + '" aria-pressed="' + (d.template === tp.id) + '">' +
          '<span class="hw-tpl-title">' + esc(tp.title) + "</span>" +
          '<span class="hw-tpl-sub">' + esc(subjectName(tp.subject)) + " · " + esc(t("hw.grade", { n: tp.grade })) + " · " +
          esc(t("hw.questions", { n: tp.questions })) + " · " + esc(t("hw.points", { n: score(tp.max_points) })) + "</span></button>";
      }).join("") + "</div>";
    }
    var problems = H.templateProblems || [];
    return '<div class="dialog hw-dialog-box" role="dialog" aria-modal="true">' +
      '<div class="dialog-head"><h2 class="dialog-title">' + esc(t("hw.new")) + "</h2>" +
        '<button type="button" class="btn btn-close" data-dlg="close">' + esc(t("hw.cancel")) + "</button></div>" +
      '<div class="hw-dlg-k">' + esc(t("hw.pickTemplate")) + "</div>" + body +
      (problems.length ? '<div class="hw-problems"><b>' + esc(t("hw.templateProblems")) + "</b> " + problems.map(esc).join(" · ") + "</div>" : "") +
      '<div class="hw-dlg-k">' + esc(t("hw.pickClass")) + "</div>" +
      '<div class="hw-dlg-classes">' + (H.classes.length ? H.classes.map(function (c) {
        return '<button type="button" class="btn hw-classbtn" data-dclass="' + esc(c) + '" aria-pressed="' + (d.classId === c) + '">' + esc(c) + "</button>";
      }).join("") : '<span class="hw-empty-hint">' + esc(t("hw.noClasses")) + "</span>") + "</div>" +
      '<div class="hw-dlg-foot"><button type="button" class="btn hw-big hw-primary" data-dlg="start"' +
        (d.template && d.classId ? "" : " disabled") + ">" + ICONS.svg("check") + "<span>" + esc(t("hw.start")) + "</span></button></div>" +
      "</div>";
  }

  function startAssignment(btn) {
    var d = H.dialog;
    if (!d || !d.template || !d.classId || H.busy) return;
    H.busy = true;
    post(btn, API + "/assignments", { template_id: d.template, class_id: d.classId, by: "teacher" }).then(function (r) {
      if (!r || !r.assignment_id) return;
      closeDialog();
      H.classId = d.classId;
      H.assignments = null;
      K().toast(t("hw.started"), null, "info");
      go("#/homework/a/" + enc(r.assignment_id));
    }).finally(function () { H.busy = false; });
  }

  /* ---------- one assignment: live tiles and results ---------- */

  function loadAssignment(withRoster) {
    var aid = H.aid;
    if (!aid) return Promise.resolve();
    var box = $("hw-view-" + H.view);
    if ((!H.asg || H.asg.assignment_id !== aid) && box && !box.innerHTML) empty(box, t("hw.loading"));
    return K().request("GET", API + "/assignments/" + enc(aid)).then(function (r) {
      if (H.aid !== aid) return;
      if (!r.ok || !r.data) {
        if (!H.asg) empty(box, r.status === 404 ? t("hw.notFound") : t("hw.loadFailed"), K().errorDetail(r));
        return;
      }
      H.asg = r.data;
      H.asg.assignment_id = H.asg.assignment_id || aid;
      renderHead();
      if (withRoster && H.asg.class_id) loadNoPen(H.asg.class_id);
      renderAssignmentView(true);
    }, function (err) {
      if (!H.asg) empty(box, K().errorTitle(null, err));
    });
  }

  function renderAssignmentView(force) {
    if (H.view === "live") renderLive(force);
    else if (H.view === "results") renderResults();
    else if (H.view === "question") renderQuestion();
  }

  function loadNoPen(classId) {
    get(API + "/roster?class_id=" + enc(classId), true).then(function (r) {
      if (!r) return;
      H.noPen = {};
      (r.students || []).forEach(function (s) { if (!s.pen_id) H.noPen[s.student_id] = true; });
      if (H.view === "live") renderLive(true);
    });
  }

  function counts(a) {
    var c = { students: 0, not_started: 0, writing: 0, finished: 0 };
    (a.students || []).forEach(function (s) {
      c.students++;
      if (c[s.state] !== undefined) c[s.state]++;
    });
    return c;
  }

  function liveSkeleton() {
    var box = $("hw-view-live");
    box.innerHTML =
      '<div class="hw-stats">' +
        '<div class="hw-stat hw-stat-done"><div class="hw-stat-v" id="hw-done">—</div></div>' +
        '<div class="hw-stat hw-stat-small"><span class="hw-dot" data-state="writing"></span><span id="hw-writing"></span></div>' +
        '<div class="hw-stat hw-stat-small"><span class="hw-dot" data-state="not_started"></span><span id="hw-notstarted"></span></div>' +
        '<div class="hw-actions">' +
          '<button type="button" class="btn hw-big hw-reviewbtn" data-go="#/homework/review" id="hw-live-review"></button>' +
          '<button type="button" class="btn hw-big hw-primary" id="hw-live-results"><span class="ico">' + ICONS.svg("checklist") +
            '</span><span data-t="hw.results"></span></button>' +
          '<button type="button" class="btn hw-big hw-close" id="hw-live-close"><span id="hw-live-close-text"></span></button>' +
        "</div>" +
      "</div>" +
      '<div id="hw-ready" class="hw-ready" hidden></div>' +
      '<div id="hw-grid" class="hw-grid"></div>';
    applyText(box);
    H.els = {};
    H.order = [];
  }

  function gridShape(n) {
    var cols = n <= 12 ? 4 : n <= 20 ? 5 : n <= 30 ? 6 : n <= 40 ? 8 : n <= 50 ? 9 : 10;
    return { cols: cols, rows: Math.max(1, Math.ceil(n / cols)) };
  }

  function renderLive(force) {
    var a = H.asg;
    if (H.view !== "live" || !a || a.assignment_id !== H.aid) return;
    if (!$("hw-grid")) liveSkeleton();
    var grid = $("hw-grid");
    var students = a.students || [];
    var nq = (a.questions || []).length;
    var seen = {};
    students.forEach(function (s) {
      seen[s.student_id] = true;
      var el = H.els[s.student_id];
      if (!el) {
        el = document.createElement("button");
        el.type = "button";
        el.className = "hw-tile";
        el.setAttribute("data-sid", s.student_id);
        el.innerHTML = '<span class="hw-tile-label"></span><span class="hw-tile-main"></span><span class="hw-tile-sub"></span>' +
          '<span class="hw-tile-bar"><span class="hw-tile-fill"></span></span>';
        H.els[s.student_id] = el;
        grid.appendChild(el);
        force = true;
      }
      updateTile(el, s, nq);
    });
    Object.keys(H.els).forEach(function (id) { if (!seen[id]) { H.els[id].remove(); delete H.els[id]; force = true; } });
    if (force) {
      var ids = students.slice().sort(function (x, y) { return labelCmp(x.label, y.label); }).map(function (s) { return s.student_id; });
      if (ids.join("|") !== H.order.join("|")) {
        H.order = ids;
        ids.forEach(function (id) { grid.appendChild(H.els[id]); });
      }
      var shape = gridShape(ids.length);
      grid.style.gridTemplateColumns = "repeat(" + shape.cols + ", minmax(0, 1fr))";
      grid.style.gridTemplateRows = "repeat(" + shape.rows + ", minmax(0, 1fr))";
      grid.setAttribute("data-count", String(ids.length));
    }
    var c = counts(a);
    $("hw-done").innerHTML = esc(t("hw.doneLabel")) + ' <b id="hw-done-n">' + c.finished + "</b><span>/" + c.students + "</span>";
    $("hw-done").setAttribute("data-done", c.finished + "/" + c.students);
    $("hw-writing").textContent = t("hw.writingN", { n: c.writing });
    $("hw-notstarted").textContent = t("hw.notStartedN", { n: c.not_started });
    var needs = num(a.summary && a.summary.needs_review) || 0;
    var rb = $("hw-live-review");
    rb.hidden = !needs;
    rb.textContent = t("hw.toReview", { n: needs });
    var open = a.state === "open";
    var closeBtn = $("hw-live-close");
    closeBtn.hidden = !open;
    closeBtn.setAttribute("data-close", a.assignment_id);
    var armed = H.armedFor === a.assignment_id;
    closeBtn.classList.toggle("is-armed", armed);
    $("hw-live-close-text").textContent = armed ? t("hw.collectConfirm") : t("hw.collect");
    $("hw-live-results").setAttribute("data-go", "#/homework/a/" + enc(a.assignment_id) + "/results");
    var ready = $("hw-ready");
    ready.hidden = !a.results_ready;
    if (a.results_ready) ready.innerHTML = ICONS.svg("check") + "<span>" + esc(t("hw.resultsReady")) + "</span>";
    grid.hidden = !students.length;
    $("screen-homework").setAttribute("data-results", String(!!a.results_ready));
  }

  function updateTile(el, s, nq) {
    var noPen = !!H.noPen[s.student_id] && s.state === "not_started";
    var key = [s.label, s.state, s.answered, s.score, s.needs_review, nq, noPen, window.I18N.lang].join("|");
    if (el._k === key) return;
    el._k = key;
    el.setAttribute("data-state", s.state || "not_started");
    el.setAttribute("data-nopen", String(noPen));
    el.querySelector(".hw-tile-label").textContent = s.label || s.student_id;
    var main = el.querySelector(".hw-tile-main");
    var sub = el.querySelector(".hw-tile-sub");
    var answered = num(s.answered) || 0;
    if (s.state === "finished") {
      main.textContent = score(s.score);
      sub.textContent = s.needs_review ? t("hw.tileReview") : t("hw.tileFinished");
    } else if (s.state === "writing") {
      main.textContent = answered + (nq ? "/" + nq : "");
      sub.textContent = t("hw.tileWriting");
    } else {
      main.textContent = "—";
      sub.textContent = noPen ? t("hw.noPen") : t("hw.tileNotStarted");
    }
    el.querySelector(".hw-tile-fill").style.width = (nq ? Math.min(100, Math.round(answered / nq * 100)) : 0) + "%";
    el.setAttribute("aria-label", (s.label || "") + " " + sub.textContent + " " + main.textContent);
  }

  function mergeProgress(ev) {
    var a = H.asg;
    if (!a || a.assignment_id !== ev.assignment_id) return false;
    var s = (a.students || []).filter(function (x) { return x.student_id === ev.student_id; })[0];
    if (!s) { loadAssignment(false); return true; }
    ["state", "answered", "score", "label"].forEach(function (k) { if (ev[k] !== undefined) s[k] = ev[k]; });
    if (ev.needs_review !== undefined) s.needs_review = ev.needs_review;
    if (H.sheets[a.assignment_id]) delete H.sheets[a.assignment_id][ev.student_id];
    return true;
  }

  function queueLive() {
    if (H.renderQueued) return;
    H.renderQueued = true;
    window.requestAnimationFrame(function () { H.renderQueued = false; renderLive(false); });
  }

  /* ---------- results ---------- */

  function scoreBands(a) {
    var max = num(a.max_points) || 100;
    var edges = [0, 0.6, 0.7, 0.8, 0.9];
    var bands = edges.map(function (e, i) {
      return { lo: e, hi: i + 1 < edges.length ? edges[i + 1] : 1.0001, n: 0, key: ["fail", "pass", "fair", "good", "great"][i] };
    });
    (a.students || []).forEach(function (s) {
      var v = num(s.score);
      if (s.state !== "finished" || v === null) return;
      var r = v / max;
      for (var i = bands.length - 1; i >= 0; i--) if (r >= bands[i].lo) { bands[i].n++; break; }
    });
    bands.forEach(function (b) {
      b.from = Math.round(b.lo * max);
      b.to = b.hi > 1 ? max : Math.round(b.hi * max) - (max >= 20 ? 1 : 0);
    });
    return bands;
  }

  function rateClass(r) { r = num(r); return r === null ? "none" : r < 0.6 ? "low" : r < 0.85 ? "mid" : "high"; }

  function renderResults() {
    var a = H.asg;
    if (H.view !== "results" || !a || a.assignment_id !== H.aid) return;
    var sum = a.summary || {};
    var max = num(a.max_points) || 0;
    var c = counts(a);
    var bands = scoreBands(a);
    var top = Math.max(1, Math.max.apply(null, bands.map(function (b) { return b.n; })));
    var qs = (a.questions || []).slice();
    var studs = (a.students || []).slice().sort(function (x, y) { return labelCmp(x.label, y.label); });
    var aidE = esc(enc(a.assignment_id));
    $("hw-view-results").innerHTML =
      '<div class="hw-res-top">' +
        '<div class="hw-figs">' +
          fig(t("hw.mean"), score(sum.mean_score), t("hw.outOf", { n: score(max) })) +
          fig(t("hw.median"), score(sum.median_score), "") +
          fig(t("hw.handedIn"), c.finished + "/" + c.students, a.results_ready ? t("hw.allIn") : t("hw.stillWriting", { n: c.students - c.finished })) +
          '<button type="button" class="btn hw-fig hw-fig-btn" data-go="#/homework/review"><span class="hw-fig-k">' + esc(t("hw.needsReview")) +
            '</span><span class="hw-fig-v">' + esc(num(sum.needs_review) || 0) + '</span><span class="hw-fig-s">' + esc(t("hw.openReview")) + "</span></button>" +
        "</div>" +
        '<div class="hw-dist"><div class="hw-box-title">' + esc(t("hw.distribution")) + '</div><div class="hw-dist-bars">' +
          bands.map(function (b) {
            return '<div class="hw-dist-col" data-band="' + b.key + '"><span class="hw-dist-n">' + b.n + "</span>" +
              '<span class="hw-dist-area"><span class="hw-dist-bar" style="height:' + Math.round(b.n / top * 100) + '%"></span></span>' +
              '<span class="hw-dist-k">' + esc(t("hw.band." + b.key)) + ' <span class="hw-dist-r">' + b.from + "–" + b.to + "</span></span></div>";
          }).join("") + "</div></div>" +
        '<button type="button" class="btn hw-big hw-weakbtn" data-go="#/homework/weakness/' + aidE + '"><span class="ico">' + ICONS.svg("bulb") +
          "</span><span>" + esc(t("hw.weakThis")) + "</span></button>" +
      "</div>" +
      '<div class="hw-box-title">' + esc(t("hw.perQuestion")) + "</div>" +
      '<div class="hw-qbars" style="grid-template-columns: repeat(' + Math.max(1, qs.length) + ', minmax(0, 1fr))">' +
        qs.map(function (q) {
          var r = num(q.correct_rate);
          return '<button type="button" class="btn hw-qbar" data-go="#/homework/a/' + aidE + "/q/" + esc(enc(q.id)) + '" data-rate="' + rateClass(r) + '">' +
            '<span class="hw-qbar-v">' + esc(pct(r)) + "</span>" +
            '<span class="hw-qbar-track"><span class="hw-qbar-fill" style="height:' + (r === null ? 0 : Math.round(r * 100)) + '%"></span></span>' +
            '<span class="hw-qbar-k">' + esc(q.id) + "</span></button>";
        }).join("") + "</div>" +
      '<div class="hw-box-title">' + esc(t("hw.studentsTap")) + "</div>" +
      '<div class="hw-studs">' + studs.map(function (s) {
        var v = num(s.score);
        var r = v !== null && max ? v / max : null;
        return '<button type="button" class="btn hw-stud" data-go="#/homework/a/' + aidE + "/s/" + esc(enc(s.student_id)) + '" data-state="' + esc(s.state) +
          '" aria-label="' + esc(s.label + " " + (s.state === "finished" ? score(v) : t("hw.state." + s.state))) +
          '" data-rate="' + (s.state === "finished" ? rateClass(r) : "none") + '">' +
          '<span class="hw-stud-label">' + esc(s.label) + '</span><span class="hw-stud-score">' +
          (s.needs_review ? ICONS.svg("warning") : "") + esc(s.state === "finished" ? score(v) : t("hw.short." + s.state)) + "</span></button>";
      }).join("") + "</div>";
  }

  function fig(k, v, s) {
    return '<div class="hw-fig"><span class="hw-fig-k">' + esc(k) + '</span><span class="hw-fig-v">' + esc(v) +
      '</span><span class="hw-fig-s">' + esc(s) + "</span></div>";
  }

  /* ---------- one question: answers and who gave them ---------- */

  function renderQuestion() {
    var a = H.asg;
    if (H.view !== "question" || !a || a.assignment_id !== H.aid) return;
    var q = (a.questions || []).filter(function (x) { return x.id === H.qid; })[0];
    var box = $("hw-view-question");
    if (!q) { empty(box, t("hw.notFound")); return; }
    var dist = q.distribution || {};
    var keys = Object.keys(dist);
    var isChoice = /choice|true_false/.test(q.type || "");
    keys.sort(function (x, y) { return isChoice ? String(x).localeCompare(String(y)) : (dist[y] - dist[x]) || String(x).localeCompare(String(y)); });
    var total = keys.reduce(function (n, k) { return n + (num(dist[k]) || 0); }, 0);
    var top = Math.max(1, Math.max.apply(null, keys.map(function (k) { return num(dist[k]) || 0; }).concat([1])));
    var who = whoAnswered(a, q);
    var qs = (a.questions || []).map(function (x) { return x.id; });
    var i = qs.indexOf(q.id);
    var aidE = esc(enc(a.assignment_id));
    box.innerHTML =
      '<div class="hw-q-head">' +
        '<div class="hw-q-id">' + esc(q.id) + "</div>" +
        '<div class="hw-q-main"><div class="hw-q-prompt">' + esc(q.prompt || "") + "</div>" +
          '<div class="hw-q-meta">' + esc(typeName(q.type)) + " · " + esc(t("hw.points", { n: score(q.points) })) +
            (q.answer !== null && q.answer !== undefined ? " · " + esc(t("hw.correctAnswer")) + " <b>" + esc(answerText(q.answer, q.type)) + "</b>" : "") +
            " · " + esc(t("hw.correctRate")) + " <b>" + esc(pct(q.correct_rate)) + "</b>" +
            ((q.knowledge_points || []).length ? " · " + q.knowledge_points.map(function (k) { return esc(kpName(k)); }).join("、") : "") + "</div></div>" +
        '<div class="hw-q-nav">' +
          (i > 0 ? '<button type="button" class="btn hw-btn" data-go="#/homework/a/' + aidE + "/q/" + esc(enc(qs[i - 1])) + '">' + esc(t("hw.prevQ")) + "</button>" : "") +
          (i >= 0 && i < qs.length - 1 ? '<button type="button" class="btn hw-btn" data-go="#/homework/a/' + aidE + "/q/" + esc(enc(qs[i + 1])) + '">' + esc(t("hw.nextQ")) + "</button>" : "") +
        "</div>" +
      "</div>" +
      (keys.length ? '<div class="hw-answers">' + keys.map(function (k) {
        var n = num(dist[k]) || 0;
        var correct = q.answer !== null && q.answer !== undefined && String(k) === String(q.answer);
        var labels = who ? (who[k] || []) : null;
        return '<div class="hw-ans" data-correct="' + correct + '">' +
          '<div class="hw-ans-k">' + esc(answerText(k, q.type)) + (correct ? '<span class="hw-ans-ok">' + ICONS.svg("check") + "</span>" : "") + "</div>" +
          '<div class="hw-ans-barwrap"><div class="hw-ans-bar" style="width:' + Math.round(n / top * 100) + '%"></div>' +
            '<span class="hw-ans-n">' + esc(t("hw.people", { n: n })) + (total ? " · " + Math.round(n / total * 100) + "%" : "") + "</span></div>" +
          '<div class="hw-ans-who">' + (labels === null ? '<span class="hw-empty-hint">' + esc(t("hw.loading")) + "</span>" :
            labels.sort(function (x, y) { return labelCmp(x.label, y.label); }).map(function (s) {
              return '<button type="button" class="btn hw-chip" data-go="#/homework/a/' + aidE + "/s/" + esc(enc(s.sid)) + '">' + esc(s.label) + "</button>";
            }).join("")) + "</div></div>";
      }).join("") + "</div>" : '<div class="hw-none">' + esc(t("hw.noAnswers")) + "</div>");
    if (!who) loadSheets(a);
  }

  /* Who gave which answer: from the question's own list when the server sends one, else from the sheets. */
  function whoAnswered(a, q) {
    var direct = q.students_by_answer || q.who;
    if (direct && typeof direct === "object") {
      var byId = {};
      (a.students || []).forEach(function (s) { byId[s.student_id] = s.label; });
      var out = {};
      Object.keys(direct).forEach(function (k) {
        out[k] = (direct[k] || []).map(function (sid) { return { sid: sid, label: byId[sid] || sid }; });
      });
      return out;
    }
    var cache = H.sheets[a.assignment_id] || {};
    var studs = (a.students || []).filter(function (s) { return s.state !== "not_started"; });
    if (!studs.every(function (s) { return cache[s.student_id]; })) return null;
    var res = {};
    studs.forEach(function (s) {
      var ans = (cache[s.student_id].answers || []).filter(function (x) { return x.question_id === q.id; })[0];
      if (!ans) return;
      var k = ans.given === null || ans.given === undefined ? "" : String(ans.given);
      (res[k] = res[k] || []).push({ sid: s.student_id, label: s.label });
    });
    return res;
  }

  function loadSheets(a) {
    if (H.sheetsLoading === a.assignment_id) return;
    var aid = a.assignment_id;
    var cache = H.sheets[aid] = H.sheets[aid] || {};
    var todo = (a.students || []).filter(function (s) { return s.state !== "not_started" && !cache[s.student_id]; }).map(function (s) { return s.student_id; });
    if (!todo.length) return;
    H.sheetsLoading = aid;
    var failed = false;
    function worker() {
      var sid = todo.shift();
      if (!sid) return Promise.resolve();
      return K().request("GET", API + "/assignments/" + enc(aid) + "/students/" + enc(sid)).then(function (r) {
        if (r.ok && r.data) cache[sid] = r.data;
        else { cache[sid] = { answers: [] }; failed = true; }
      }, function () { cache[sid] = { answers: [] }; failed = true; }).then(worker);
    }
    var workers = [];
    for (var i = 0; i < SHEET_FETCHES; i++) workers.push(worker());
    Promise.all(workers).then(function () {
      H.sheetsLoading = null;
      if (failed) K().toast(t("hw.someSheetsFailed"), null, "error");
      if (H.view === "question" && H.aid === aid) renderQuestion();
    });
  }

  /* ---------- one student: sheet and error book ---------- */

  function loadStudent() {
    var aid = H.aid, sid = H.sid;
    var box = $("hw-view-student");
    if (!H.sheet || H.sheet.student_id !== sid || H.sheet._aid !== aid) { H.sheet = null; H.errorbook = null; empty(box, t("hw.loading")); }
    if (!H.asg || H.asg.assignment_id !== aid) loadAssignment(false);
    K().request("GET", API + "/assignments/" + enc(aid) + "/students/" + enc(sid)).then(function (r) {
      if (H.sid !== sid || H.aid !== aid) return;
      if (!r.ok || !r.data) { empty(box, r.status === 404 ? t("hw.notFound") : t("hw.loadFailed"), K().errorDetail(r)); return; }
      H.sheet = r.data;
      H.sheet._aid = aid;
      (H.sheets[aid] = H.sheets[aid] || {})[sid] = r.data;
      renderStudent();
    }, function (err) { empty(box, K().errorTitle(null, err)); });
    get(API + "/students/" + enc(sid) + "/errorbook", true).then(function (eb) {
      if (H.sid !== sid) return;
      H.errorbook = eb || { items: [], suggestions: [], failed: !eb };
      renderStudent();
    });
  }

  function renderStudent() {
    var sh = H.sheet;
    if (H.view !== "student" || !sh) return;
    var qmap = {};
    ((H.asg && H.asg.questions) || []).forEach(function (q) { qmap[q.id] = q; });
    var answers = (sh.answers || []).slice().sort(function (x, y) { return qCmp(x.question_id, y.question_id); });
    var studs = ((H.asg && H.asg.students) || []).slice().sort(function (x, y) { return labelCmp(x.label, y.label); });
    var idx = studs.map(function (s) { return s.student_id; }).indexOf(sh.student_id);
    var aidE = esc(enc(H.aid));
    var wrong = answers.filter(function (x) { return x.correct === false; }).length;
    var html =
      '<div class="hw-sheet-main">' +
        '<div class="hw-sheet-head"><span class="hw-sheet-label">' + esc(sh.label || sh.student_id) + "</span>" +
          '<span class="hw-sheet-score"><b>' + esc(score(sh.score)) + "</b> / " + esc(score(sh.max_points)) + "</span>" +
          '<span class="hw-sheet-sub">' + esc(t("hw.wrongN", { n: wrong })) + "</span>" +
          '<span class="hw-q-nav">' +
            (idx > 0 ? '<button type="button" class="btn hw-btn" data-go="#/homework/a/' + aidE + "/s/" + esc(enc(studs[idx - 1].student_id)) + '">' + esc(t("hw.prevS")) + "</button>" : "") +
            (idx >= 0 && idx < studs.length - 1 ? '<button type="button" class="btn hw-btn" data-go="#/homework/a/' + aidE + "/s/" + esc(enc(studs[idx + 1].student_id)) + '">' + esc(t("hw.nextS")) + "</button>" : "") +
          "</span></div>" +
        '<div class="hw-sheet-grid">' + answers.map(function (x) { return answerCard(x, qmap[x.question_id]); }).join("") + "</div>" +
      "</div>" +
      '<aside class="hw-side">' + errorbookHtml() + "</aside>";
    $("hw-view-student").innerHTML = html;
  }

  function answerCard(x, q) {
    var verdict = x.status === "blank" ? "blank" : x.status === "review" ? "review" : x.correct === true ? "right" : x.correct === false ? "wrong" : "none";
    var conf = num(x.confidence);
    var showRight = q && q.answer !== null && q.answer !== undefined && x.correct === false;
    return '<div class="hw-acard" data-verdict="' + verdict + '" data-qid="' + esc(x.question_id) + '">' +
      '<div class="hw-acard-head"><span class="hw-acard-q">' + esc(x.question_id) + "</span>" +
        '<span class="hw-verdict">' + verdictIcon(verdict) + esc(t("hw.verdict." + verdict)) + "</span></div>" +
      '<div class="hw-acard-ink">' + evidence(x, "", true) + "</div>" +
      '<div class="hw-acard-foot">' +
        '<span class="hw-acard-given">' + esc(t("hw.readAs")) + " <b>" + esc(verdict === "blank" ? "—" : answerText(x.given, x.type)) + "</b>" +
          (conf !== null ? ' <span class="hw-conf" data-low="' + (conf < 0.9) + '">' + esc(pct(conf)) + "</span>" : "") + "</span>" +
        (showRight ? '<span class="hw-acard-right">' + esc(t("hw.correctAnswer")) + " <b>" + esc(answerText(q.answer, q.type)) + "</b></span>" : "") +
        (x.status === "overridden" ? '<span class="hw-tag">' + esc(t("hw.overridden")) + "</span>" : "") +
      "</div>" +
      '<div class="hw-acard-side"><span class="hw-acard-score">' + esc(score(x.score)) + "/" + esc(score(x.points)) + "</span>" +
        '<button type="button" class="btn hw-btn hw-override" data-override="' + esc(x.question_id) + '">' + esc(t("hw.override")) + "</button></div>" +
      "</div>";
  }

  function verdictIcon(v) {
    if (v === "right") return ICONS.svg("check", "hw-vi");
    if (v === "wrong") return '<svg class="svg-ico hw-vi" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18"/></svg>';
    if (v === "review") return ICONS.svg("warning", "hw-vi");
    return ICONS.svg("minusCircle", "hw-vi");
  }

  function errorbookHtml() {
    var eb = H.errorbook;
    var head = '<h3 class="hw-side-title">' + esc(t("hw.errorbook")) + "</h3>";
    if (!eb) return head + '<div class="hw-empty-hint">' + esc(t("hw.loading")) + "</div>";
    if (eb.failed) return head + '<div class="hw-empty-hint">' + esc(t("hw.loadFailed")) + "</div>";
    var items = (eb.items || []).slice().sort(function (x, y) { return (num(y.at) || 0) - (num(x.at) || 0); });
    return head +
      '<div class="hw-eb">' + (items.length ? items.slice(0, 12).map(function (it) {
        return '<div class="hw-eb-item">' +
          '<div class="hw-eb-top"><b>' + esc(it.question_id) + "</b> " + esc(it.title || "") + "</div>" +
          '<div class="hw-eb-prompt">' + esc(it.prompt || "") + "</div>" +
          '<div class="hw-eb-row">' + evidence(it, "hw-ink-small", true) +
            '<span class="hw-eb-ans">' + esc(t("hw.given")) + " <b class=\"hw-bad\">" + esc(answerText(it.given, it.type)) + "</b><br>" +
            esc(t("hw.correctAnswer")) + ' <b class="hw-good">' + esc(answerText(it.correct_answer, it.type)) + "</b></span></div>" +
          ((it.knowledge_points || []).length ? '<div class="hw-eb-kp">' + it.knowledge_points.map(function (k) { return esc(kpName(k)); }).join("、") + "</div>" : "") +
          "</div>";
      }).join("") : '<div class="hw-empty-hint">' + esc(t("hw.noErrors")) + "</div>") + "</div>" +
      '<h3 class="hw-side-title">' + esc(t("hw.suggestions")) + "</h3>" +
      '<div class="hw-sugg">' + ((eb.suggestions || []).length ? eb.suggestions.map(function (s) {
        return '<div class="hw-sugg-item"><div class="hw-eb-prompt">' + esc(s.prompt) + "</div>" +
          '<div class="hw-eb-kp">' + esc(kpName(s.knowledge_point)) + " · " + esc(t("hw.answerIs", { a: s.answer })) + "</div></div>";
      }).join("") : '<div class="hw-empty-hint">' + esc(t("hw.noSuggestions")) + "</div>") + "</div>";
  }

  /* ---------- override a student's score ---------- */

  function openOverride(qid) {
    var x = H.sheet && (H.sheet.answers || []).filter(function (y) { return y.question_id === qid; })[0];
    if (!x) return;
    H.dialog = { kind: "override", qid: qid, points: num(x.points) || 0, score: num(x.score), reason: null, answer: x };
    renderDialog();
  }

  function overrideHtml() {
    var d = H.dialog;
    var step = d.points <= 10 && d.points % 1 === 0 && d.points <= 5 ? 0.5 : 1;
    var values = [];
    for (var v = 0; v <= d.points + 1e-9; v += step) values.push(Math.round(v * 10) / 10);
    if (values[values.length - 1] !== d.points) values.push(d.points);
    return '<div class="dialog hw-dialog-box hw-ovr" role="dialog" aria-modal="true">' +
      '<div class="dialog-head"><h2 class="dialog-title">' + esc(t("hw.overrideTitle", { label: H.sheet.label, q: d.qid })) + "</h2>" +
        '<button type="button" class="btn btn-close" data-dlg="close">' + esc(t("hw.cancel")) + "</button></div>" +
      '<div class="hw-ovr-ink">' + evidence(d.answer) + "</div>" +
      '<div class="hw-dlg-k">' + esc(t("hw.newScore", { n: score(d.points) })) + "</div>" +
      '<div class="hw-keys hw-score-keys">' + values.map(function (v) {
        return '<button type="button" class="btn hw-key" data-score="' + v + '" aria-pressed="' + (d.score === v) + '">' + esc(score(v)) + "</button>";
      }).join("") + "</div>" +
      '<div class="hw-dlg-k">' + esc(t("hw.reason")) + "</div>" +
      '<div class="hw-keys hw-reasons">' + REASONS.map(function (r) {
        return '<button type="button" class="btn hw-key hw-reason" data-reason="' + r + '" aria-pressed="' + (d.reason === r) + '">' + esc(t("hw.reason." + r)) + "</button>";
      }).join("") + "</div>" +
      '<div class="hw-dlg-foot"><button type="button" class="btn hw-big hw-primary" data-dlg="override"' +
        (d.score !== null && d.reason ? "" : " disabled") + ">" + ICONS.svg("check") + "<span>" + esc(t("hw.overrideSave")) + "</span></button></div></div>";
  }

  function saveOverride(btn) {
    var d = H.dialog;
    if (!d || d.score === null || !d.reason || H.busy) return;
    H.busy = true;
    var aid = H.aid, sid = H.sid;
    // the audit log keeps the reason in Chinese whatever the screen's language
    var reason = window.I18N.strings.zh["hw.reason." + d.reason] || d.reason;
    post(btn, API + "/override", { assignment_id: aid, student_id: sid, question_id: d.qid, score: d.score, reason: reason, by: "teacher" }).then(function (r) {
      if (!r) return;
      closeDialog();
      K().toast(t("hw.overrideDone", { total: score(r.total) }), null, "info");
      if (H.sheets[aid]) delete H.sheets[aid][sid];
      if (H.asg && H.asg.assignment_id === aid) loadAssignment(false);
      if (H.view === "student") loadStudent();
    }).finally(function () { H.busy = false; });
  }

  /* ---------- the review queue ---------- */

  function loadReview() {
    var box = $("hw-view-review");
    if (!H.review) empty(box, t("hw.loading"));
    Promise.all([
      get(API + "/review").then(function (r) {
        if (!r) return;
        var cur = currentItem();
        H.review = r.items || [];
        var at = cur ? H.review.map(function (x) { return x.review_id; }).indexOf(cur.review_id) : -1;
        H.reviewIdx = at >= 0 ? at : Math.min(H.reviewIdx, Math.max(0, H.review.length - 1));
        if (at < 0) { H.entry = ""; H.multi = {}; }
      }),
      H.assignments ? null : loadAssignments()
    ]).then(function () {
      setReviewBadge(H.review ? H.review.length : null);
      renderReview();
    });
  }

  function currentItem() { return H.review && H.review[H.reviewIdx] || null; }

  function refreshReviewCount() {
    clearTimeout(H.reviewTimer);
    H.reviewTimer = setTimeout(function () {
      get(API + "/review", true).then(function (r) {
        if (!r) return;
        setReviewBadge((r.items || []).length);
        if (H.view === "review" && H.review && (r.items || []).length !== H.review.length && !H.busy) loadReview();
      });
    }, 50);
  }

  function setReviewBadge(n) {
    var b = $("hw-review-badge");
    if (!b) return;
    b.hidden = !n;
    b.textContent = n ? String(n) : "";
  }

  function titleOf(aid) {
    var a = (H.assignments || []).filter(function (x) { return x.assignment_id === aid; })[0];
    return a ? a.title : "";
  }

  function keypadFor(type, options) {
    if (options && options.length && /choice|true_false/.test(type)) return options.slice();
    if (type === "single_choice" || type === "multiple_choice") return ["A", "B", "C", "D"];
    if (type === "true_false") return ["T", "F"];
    if (type === "numeric") return ["1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "0", "/", "-"];
    return null;
  }

  function renderReview() {
    var box = $("hw-view-review");
    if (H.view !== "review" || !H.review) return;
    var items = H.review;
    if (!items.length) { empty(box, t("hw.reviewEmpty"), t("hw.reviewEmptyHint")); return; }
    var it = currentItem();
    var alts = [];
    if (it.recognised !== null && it.recognised !== undefined && it.recognised !== "") alts.push([it.recognised, it.confidence]);
    (it.alternatives || []).forEach(function (p) {
      if (p && alts.every(function (x) { return String(x[0]) !== String(p[0]); })) alts.push([p[0], p[1]]);
    });
    var keys = keypadFor(it.type, it.options);
    var multi = it.type === "multiple_choice";
    var entry = multi ? Object.keys(H.multi).filter(function (k) { return H.multi[k]; }).sort().join("") : H.entry;
    var conf = num(it.confidence);
    box.innerHTML =
      '<div class="hw-rv-main" data-review="' + esc(it.review_id) + '">' +
        '<div class="hw-rv-head"><span class="hw-rv-label">' + esc(it.label || it.student_id) + "</span>" +
          '<span class="hw-rv-q">' + esc(it.question_id) + " · " + esc(typeName(it.type)) + "</span>" +
          '<span class="hw-rv-title">' + esc(titleOf(it.assignment_id)) + "</span>" +
          '<span class="hw-rv-pos">' + esc(t("hw.reviewPos", { i: H.reviewIdx + 1, n: items.length })) + "</span></div>" +
        (it.prompt ? '<div class="hw-rv-prompt">' + esc(it.prompt) + "</div>" : "") +
        '<div class="hw-rv-body"><div class="hw-rv-left">' +
        '<div class="hw-rv-ink">' + evidence(it, "hw-ink-big") + "</div>" +
        '<div class="hw-rv-reading">' + esc(t("hw.recognised")) + " <b>" + esc(it.recognised === null || it.recognised === undefined || it.recognised === "" ? t("hw.nothingRead") : answerText(it.recognised, it.type)) + "</b>" +
          (conf !== null ? ' <span class="hw-conf" data-low="true">' + esc(t("hw.confidence", { p: Math.round(conf * 100) })) + "</span>" : "") + "</div>" +
        '<div class="hw-dlg-k">' + esc(t("hw.pickReading")) + "</div>" +
        '<div class="hw-alts">' + (alts.length ? alts.map(function (p) {
          var c = num(p[1]);
          return '<button type="button" class="btn hw-alt" data-value="' + esc(p[0]) + '"><span class="hw-alt-v">' + esc(answerText(p[0], it.type)) + "</span>" +
            (c !== null ? '<span class="hw-alt-c">' + Math.round(c * 100) + "%</span>" : "") + "</button>";
        }).join("") : '<span class="hw-empty-hint">' + esc(t("hw.noAlternatives")) + "</span>") + "</div>" +
        '</div><div class="hw-rv-right">' +
        '<div class="hw-dlg-k">' + esc(t("hw.ownReading")) + "</div>" +
        '<div class="hw-entry-row">' +
          (keys ? '<div class="hw-entry" id="hw-entry" data-empty="' + !entry + '">' + esc(entry ? answerText(entry, it.type) : t("hw.entryHint")) + "</div>" :
            '<input id="hw-entry-input" class="hw-entry hw-entry-input" type="text" autocomplete="off" value="' + esc(H.entry) + '" placeholder="' + esc(t("hw.typeHint")) + '">') +
          '<button type="button" class="btn hw-big hw-primary" data-act="review-submit"' + (entry ? "" : " disabled") + ">" + ICONS.svg("check") +
            "<span>" + esc(t("hw.submitReading")) + "</span></button>" +
        "</div>" +
        (keys ? '<div class="hw-keys hw-keypad" data-type="' + esc(it.type) + '">' + keys.map(function (k) {
          return '<button type="button" class="btn hw-key" data-key="' + esc(k) + '"' + (multi ? ' aria-pressed="' + !!H.multi[k] + '"' : "") + ">" +
            esc(it.type === "true_false" ? answerText(k, it.type) : k) + "</button>";
        }).join("") + (multi ? "" : '<button type="button" class="btn hw-key hw-key-del" data-key="del">⌫</button>') +
          '<button type="button" class="btn hw-key hw-key-clear" data-key="clear">' + esc(t("hw.clear")) + "</button></div>" : "") +
        "</div></div>" +
      "</div>" +
      '<aside class="hw-side hw-rv-side"><h3 class="hw-side-title">' + esc(t("hw.reviewQueue", { n: items.length })) + "</h3>" +
        '<div class="hw-rv-list">' + items.map(function (x, i) {
          return '<button type="button" class="btn hw-rv-item" data-idx="' + i + '" aria-pressed="' + (i === H.reviewIdx) + '">' +
            '<span class="hw-rv-item-k">' + esc(x.label || x.student_id) + " · " + esc(x.question_id) + "</span>" +
            '<span class="hw-rv-item-s">' + esc(x.recognised === null || x.recognised === undefined || x.recognised === "" ? "?" : x.recognised) +
            (num(x.confidence) !== null ? " · " + Math.round(x.confidence * 100) + "%" : "") + "</span></button>";
        }).join("") + "</div></aside>";
    if (!keys) {
      var inp = $("hw-entry-input");
      if (inp && document.activeElement !== inp) { /* leave focus alone: the on-screen keyboard opens on a tap */ }
    }
  }

  function onKey(k) {
    var it = currentItem();
    if (!it) return;
    if (it.type === "multiple_choice") {
      if (k === "clear") H.multi = {};
      else H.multi[k] = !H.multi[k];
    } else if (it.type === "single_choice" || it.type === "true_false") {
      H.entry = k === "clear" || k === "del" ? "" : k;
    } else if (k === "del") H.entry = H.entry.slice(0, -1);
    else if (k === "clear") H.entry = "";
    else if (H.entry.length < 24) H.entry += k;
    renderReview();
  }

  function submitReading(value, btn) {
    var it = currentItem();
    if (!it || value === "" || value === null || value === undefined || H.busy) return;
    H.busy = true;
    post(btn, API + "/review/" + enc(it.review_id), { value: String(value), by: "teacher" }).then(function (r) {
      if (!r) return;
      K().toast(t("hw.reviewDone", { label: it.label || it.student_id, v: answerText(String(value), it.type), s: score(r.score) }), null, "info");
      H.review = H.review.filter(function (x) { return x.review_id !== it.review_id; });
      if (H.reviewIdx >= H.review.length) H.reviewIdx = Math.max(0, H.review.length - 1);
      H.entry = "";
      H.multi = {};
      var sc = H.sheets[it.assignment_id];
      if (sc) delete sc[it.student_id];
      setReviewBadge(H.review.length);
      renderReview();
    }).finally(function () { H.busy = false; });
  }

  /* ---------- weakness map ---------- */

  function loadWeakness() {
    var box = $("hw-view-weakness");
    ensureClasses().then(function () {
      var cls = H.classId;
      if (H.weakAid) {
        var a = (H.asg && H.asg.assignment_id === H.weakAid) ? H.asg : (H.assignments || []).filter(function (x) { return x.assignment_id === H.weakAid; })[0];
        if (a && a.class_id) cls = a.class_id;
      }
      if (!cls) { empty(box, t("hw.noClasses")); return; }
      if (!H.weakness || H.weakness.class_id !== cls) empty(box, t("hw.loading"));
      var path = API + "/classes/" + enc(cls) + "/weakness" + (H.weakAid ? "?assignment_id=" + enc(H.weakAid) : "");
      K().request("GET", path).then(function (r) {
        if (H.view !== "weakness") return;
        if (!r.ok || !r.data) { empty(box, t("hw.loadFailed"), K().errorDetail(r)); return; }
        H.weakness = r.data;
        H.weakness.class_id = H.weakness.class_id || cls;
        renderWeakness();
      }, function (err) { empty(box, K().errorTitle(null, err)); });
    });
  }

  function renderWeakness() {
    var w = H.weakness;
    if (H.view !== "weakness" || !w) return;
    var kps = (w.knowledge_points || []).slice();
    var mean = num(w.class_mean_error_rate);
    var box = $("hw-view-weakness");
    var scope = H.weakAid ? t("hw.weakScopeOne", { title: titleOf(H.weakAid) || (H.asg && H.asg.title) || "" }) : t("hw.weakScopeAll");
    box.innerHTML =
      '<div class="hw-wk-top">' + (H.weakAid ? "" : classBar()) +
        '<div class="hw-wk-scope">' + esc(w.class_id) + " · " + esc(scope) + "</div>" +
        '<div class="hw-wk-mean"><span class="hw-mean-swatch"></span>' + esc(t("hw.classMean", { p: pct(mean) })) + "</div></div>" +
      (kps.length ? '<div class="hw-wk-list">' + kps.map(function (k) {
        var er = num(k.error_rate) || 0;
        var vs = num(k.vs_mean);
        if (vs === null && mean !== null) vs = er - mean;
        var worse = vs !== null && vs > 0.05 ? "worse" : vs !== null && vs < -0.05 ? "better" : "same";
        return '<div class="hw-wk-row" data-vs="' + worse + '">' +
          '<div class="hw-wk-name"><span class="hw-wk-kp">' + esc(kpName(k.kp)) + '</span><span class="hw-wk-tag">' + esc(k.kp) + "</span></div>" +
          '<div class="hw-wk-track"><div class="hw-wk-bar" style="width:' + Math.round(Math.min(1, er) * 100) + '%"></div>' +
            (mean !== null ? '<div class="hw-wk-mark" style="left:' + Math.round(Math.min(1, mean) * 100) + '%"></div>' : "") +
            '<span class="hw-wk-v">' + esc(pct(er)) + "</span></div>" +
          '<div class="hw-wk-vs">' + esc(vs === null ? "" : (vs > 0 ? "+" : "") + Math.round(vs * 100) + "%") + "</div>" +
          '<div class="hw-wk-n">' + esc(t("hw.wrongOf", { n: num(k.students_wrong) || 0, a: num(k.attempts) || 0 })) + "</div></div>";
      }).join("") + "</div>" : '<div class="hw-none">' + esc(t("hw.noWeakness")) + "</div>");
  }

  /* ---------- homework time (双减) ---------- */

  function loadWorkload() {
    var box = $("hw-view-time");
    ensureClasses().then(function () {
      var cls = H.classId;
      if (!H.workload || H.workload.class_id !== cls) empty(box, t("hw.loading"));
      var path = API + "/workload?days=7" + (cls ? "&class_id=" + enc(cls) : "");
      K().request("GET", path).then(function (r) {
        if (H.view !== "time") return;
        if (!r.ok || !r.data) { empty(box, t("hw.loadFailed"), K().errorDetail(r)); return; }
        H.workload = r.data;
        if (!H.classId && r.data.class_id) H.classId = r.data.class_id;
        renderWorkload();
      }, function (err) { empty(box, K().errorTitle(null, err)); });
    });
  }

  function renderWorkload() {
    var w = H.workload;
    if (H.view !== "time" || !w) return;
    var limit = num(w.limit_minutes);
    var days = (w.days || []).slice().sort(function (x, y) { return String(x.date).localeCompare(String(y.date)); });
    var top = Math.max(limit || 0, 10);
    days.forEach(function (d) { top = Math.max(top, num(d.p90_minutes) || 0, num(d.mean_minutes) || 0); });
    top = Math.ceil(top * 1.1 / 10) * 10;
    var over = (w.students || []).filter(function (s) { return s.over_limit; })
      .sort(function (x, y) { return (num(y.today_active_minutes) || 0) - (num(x.today_active_minutes) || 0); });
    var subj = (w.by_subject || []).slice();
    var stop = Math.max(1, Math.max.apply(null, subj.map(function (s) { return num(s.mean_minutes) || 0; }).concat([limit || 0])));
    var h = function (v) { return Math.round(Math.min(1, (num(v) || 0) / top) * 100); };
    $("hw-view-time").innerHTML =
      '<div class="hw-tm-main">' +
        '<div class="hw-tm-top">' + classBar() +
          '<div class="hw-tm-limit">' + esc(limit === 0 ? t("hw.noWrittenHomework", { g: w.grade }) : t("hw.limit", { n: minutes(limit), g: w.grade })) + "</div>" +
          '<div class="hw-legend"><span class="hw-lg hw-lg-mean"></span>' + esc(t("hw.meanMin")) + '<span class="hw-lg hw-lg-p90"></span>' + esc(t("hw.p90Min")) +
            (limit ? '<span class="hw-lg hw-lg-limit"></span>' + esc(t("hw.limitLine")) + " " + esc(t("hw.minutes", { n: minutes(limit) })) : "") + "</div></div>" +
        '<div class="hw-tm-chart">' +
          (limit ? '<div class="hw-tm-plot"><div class="hw-tm-limitline" style="bottom:' + h(limit) + '%"></div></div>' : "") +
          (days.length ? days.map(function (d) {
            var overDay = limit !== null && limit > 0 && (num(d.p90_minutes) || 0) > limit;
            return '<div class="hw-tm-day" data-over="' + overDay + '">' +
              '<div class="hw-tm-bars"><div class="hw-tm-bar hw-tm-mean" style="height:' + h(d.mean_minutes) + '%"><span>' + esc(minutes(d.mean_minutes)) + "</span></div>" +
                '<div class="hw-tm-bar hw-tm-p90" style="height:' + h(d.p90_minutes) + '%"><span>' + esc(minutes(d.p90_minutes)) + "</span></div></div>" +
              '<div class="hw-tm-date">' + esc(String(d.date || "").slice(5).replace("-", "/")) + "</div>" +
              '<div class="hw-tm-over">' + esc(num(d.over_limit) ? t("hw.overN", { n: d.over_limit }) : "") + "</div></div>";
          }).join("") : '<div class="hw-none">' + esc(t("hw.noTime")) + "</div>") +
        "</div>" +
        '<div class="hw-box-title">' + esc(t("hw.bySubject")) + "</div>" +
        '<div class="hw-subj">' + (subj.length ? subj.map(function (s) {
          return '<div class="hw-subj-row"><span class="hw-subj-k">' + esc(subjectName(s.subject)) + '</span><span class="hw-subj-track">' +
            '<span class="hw-subj-bar" style="width:' + Math.round((num(s.mean_minutes) || 0) / stop * 100) + '%"></span></span>' +
            '<span class="hw-subj-v">' + esc(t("hw.minutes", { n: minutes(s.mean_minutes) })) + "</span></div>";
        }).join("") : '<div class="hw-empty-hint">' + esc(t("hw.noTime")) + "</div>") + "</div>" +
      "</div>" +
      '<aside class="hw-side"><h3 class="hw-side-title">' + esc(t("hw.overToday", { n: over.length })) + "</h3>" +
        '<div class="hw-over-list">' + (over.length ? over.map(function (s) {
          return '<div class="hw-over-item"><span class="hw-over-label">' + esc(s.label) + '</span><span class="hw-over-min">' +
            esc(t("hw.minutes", { n: minutes(s.today_active_minutes) })) + '</span><span class="hw-over-el">' +
            esc(t("hw.elapsedMin", { n: minutes(s.today_elapsed_minutes) })) + "</span></div>";
        }).join("") : '<div class="hw-empty-hint">' + esc(t("hw.noneOver")) + "</div>") + "</div>" +
        '<div class="hw-side-note">' + esc(t("hw.activeNote")) + "</div></aside>";
  }

  /* ---------- roster: pens to students ---------- */

  function loadRoster(cls) {
    var box = $("hw-view-roster");
    if (!H.roster) empty(box, t("hw.loading"));
    K().request("GET", API + "/roster" + (cls ? "?class_id=" + enc(cls) : "")).then(function (r) {
      if (H.view !== "roster") return;
      if (!r.ok || !r.data) { empty(box, r.status === 404 ? t("hw.notConfigured") : t("hw.loadFailed"), K().errorDetail(r)); return; }
      H.roster = r.data;
      learnClasses(r.data.classes);
      if (r.data.class_id) H.classId = r.data.class_id;
      renderRoster();
    }, function (err) { if (!H.roster) empty(box, K().errorTitle(null, err)); });
  }

  function penDot(pid) {
    var p = H.pens[pid];
    if (!p) return "";
    return '<span class="hw-pen-dot" data-connected="' + !!p.connected + '"></span>';
  }

  function renderRoster() {
    var r = H.roster;
    if (!r || H.view !== "roster") return;
    var students = (r.students || []).slice().sort(function (a, b) { return labelCmp(a.label, b.label); });
    var free = (r.unassigned_pens || []).slice().sort();
    $("hw-view-roster").innerHTML =
      '<div class="hw-roster-main">' + classBar() +
        '<div class="hw-roster-hint">' + esc(t("hw.rosterHint")) + "</div>" +
        '<div class="hw-roster-grid">' + students.map(function (s) {
          return '<button type="button" class="btn hw-rstu" data-pick="' + esc(s.student_id) + '" aria-pressed="' + (H.pick === s.student_id) + '"' +
            (s.pen_id ? "" : ' data-nopen="1"') + '><span class="hw-rstu-label">' + esc(s.label) + "</span>" +
            '<span class="hw-rstu-pen" title="' + esc(s.pen_id || "") + '">' + (s.pen_id ? penDot(s.pen_id) + esc(shortPen(s.pen_id)) : esc(t("hw.noPen"))) + "</span></button>";
        }).join("") + "</div></div>" +
      '<aside class="hw-side"><h3 class="hw-side-title">' + esc(t("hw.freePens")) + "</h3>" +
        '<div class="hw-free">' + (free.length ? free.map(function (p) {
          return '<button type="button" class="btn hw-freepen" data-pen="' + esc(p) + '"' + (H.pick ? "" : " disabled") + ">" + penDot(p) + esc(p) + "</button>";
        }).join("") : '<div class="hw-empty-hint">' + esc(t("hw.noFreePens")) + "</div>") + "</div></aside>";
  }

  /* A pen's sticker shows the end of its id (e.g. the MAC's last bytes): the tile shows the same. */
  function shortPen(pid) {
    pid = String(pid);
    return pid.length > 8 ? "…" + pid.slice(-5) : pid;
  }

  function rosterPick(sid) {
    if (H.pick && H.pick !== sid) {
      var other = studentById(sid);
      if (other && other.pen_id) { rosterAssign(other.pen_id, null); return; }
    }
    H.pick = H.pick === sid ? null : sid;
    renderRoster();
  }

  function studentById(sid) {
    return ((H.roster && H.roster.students) || []).filter(function (s) { return s.student_id === sid; })[0] || null;
  }

  function rosterAssign(pen, btn) {
    var sid = H.pick;
    if (!sid || !pen || H.busy) return;
    var me = studentById(sid);
    H.busy = true;
    post(btn, API + "/roster/assign", { pen_id: pen, student_id: sid }).then(function (r) {
      if (!r) return;
      var other = r.swapped_with ? studentById(r.swapped_with) : null;
      K().toast(other ? t("hw.swapped", { label: me ? me.label : sid, other: other.label }) :
        t("hw.assigned", { pen: pen, label: me ? me.label : sid }), null, "info");
      H.pick = null;
      loadRoster(H.roster && H.roster.class_id);
    }).finally(function () { H.busy = false; });
  }

  /* ---------- dialogs ---------- */

  function renderDialog() {
    var box = $("hw-dialog");
    var d = H.dialog;
    if (!d) { box.hidden = true; box.innerHTML = ""; return; }
    box.innerHTML = d.kind === "new" ? newDialogHtml() : overrideHtml();
    box.hidden = false;
  }

  function closeDialog() {
    H.dialog = null;
    var box = $("hw-dialog");
    if (box) { box.hidden = true; box.innerHTML = ""; }
  }

  function onDialogTap(ev) {
    K().touch();
    var box = $("hw-dialog");
    if (ev.target === box) { closeDialog(); return; }
    var el = ev.target.closest("button");
    if (!el || el.disabled || !H.dialog) return;
    var act = el.getAttribute("data-dlg");
    if (act === "close") { closeDialog(); return; }
    if (act === "start") { startAssignment(el); return; }
    if (act === "override") { saveOverride(el); return; }
    if (el.hasAttribute("data-tpl")) { H.dialog.template = el.getAttribute("data-tpl"); renderDialog(); return; }
    if (el.hasAttribute("data-dclass")) { H.dialog.classId = el.getAttribute("data-dclass"); renderDialog(); return; }
    if (el.hasAttribute("data-score")) { H.dialog.score = parseFloat(el.getAttribute("data-score")); renderDialog(); return; }
    if (el.hasAttribute("data-reason")) { H.dialog.reason = el.getAttribute("data-reason"); renderDialog(); }
  }

  /* ---------- taps ---------- */

  function onTap(ev) {
    K().touch();
    var el = ev.target.closest("button, a");
    if (!el || el.disabled) return;
    var act = el.getAttribute("data-act");
    var dest = el.getAttribute("data-go");
    if (act === "back") {
      var p = parentHash();
      if (p) go(p); else K().goHome();
      return;
    }
    if (dest) { go(dest); return; }
    if (act === "new") { openNew(); return; }
    if (act === "review-submit") {
      var it = currentItem();
      var v = it && it.type === "multiple_choice" ? Object.keys(H.multi).filter(function (k) { return H.multi[k]; }).sort().join("") : H.entry;
      submitReading(v.trim(), el);
      return;
    }
    if (el.hasAttribute("data-close")) { collect(el.getAttribute("data-close"), el); return; }
    if (el.classList.contains("hw-tile")) { openStudentFromTile(el.getAttribute("data-sid")); return; }
    if (el.hasAttribute("data-class")) { setClass(el.getAttribute("data-class")); return; }
    if (el.hasAttribute("data-value")) { submitReading(el.getAttribute("data-value"), el); return; }
    if (el.hasAttribute("data-key")) { onKey(el.getAttribute("data-key")); return; }
    if (el.hasAttribute("data-idx")) { H.reviewIdx = parseInt(el.getAttribute("data-idx"), 10) || 0; H.entry = ""; H.multi = {}; renderReview(); return; }
    if (el.hasAttribute("data-override")) { openOverride(el.getAttribute("data-override")); return; }
    if (el.hasAttribute("data-pick")) { rosterPick(el.getAttribute("data-pick")); return; }
    if (el.hasAttribute("data-pen")) { rosterAssign(el.getAttribute("data-pen"), el); }
  }

  function onInput(ev) {
    if (ev.target && ev.target.id === "hw-entry-input") {
      H.entry = ev.target.value;
      var btn = document.querySelector("[data-act='review-submit']");
      if (btn) btn.disabled = !H.entry.trim();
    }
  }

  function openStudentFromTile(sid) {
    var s = H.asg && (H.asg.students || []).filter(function (x) { return x.student_id === sid; })[0];
    if (!s || s.state === "not_started") return;
    go("#/homework/a/" + enc(H.aid) + "/s/" + enc(sid));
  }

  /* ---------- events, language ---------- */

  function onEvent(msg) {
    if (!H.ready) return;
    if (msg.topic === "pen.status") {
      if (msg.pen_id) H.pens[msg.pen_id] = msg;
      return;
    }
    if (msg.topic === "hw.progress") {
      if (mergeProgress(msg)) {
        if (H.view === "live") queueLive();
        else if (H.view === "results") later("asg", function () { loadAssignment(false); });
      }
      var a = (H.assignments || []).filter(function (x) { return x.assignment_id === msg.assignment_id; })[0];
      if (H.view === "home" || !a) later("list", function () { loadAssignments().then(function () { if (H.view === "home") renderHome(); }); });
      scheduleReviewCount();
      return;
    }
    if (msg.topic === "hw.results") {
      if (H.asg && H.asg.assignment_id === msg.assignment_id) {
        H.asg.results_ready = true;
        if (msg.summary) H.asg.summary = msg.summary;
        if (H.view === "live") {
          K().toast(t("hw.resultsReady"), null, "info");
          go("#/homework/a/" + enc(msg.assignment_id) + "/results");
          return;
        }
        if (H.view === "results") loadAssignment(false);
      }
      if (H.view === "home") { loadAssignments().then(function () { if (H.view === "home") renderHome(); }); }
      scheduleReviewCount();
    }
  }

  /* At most one refetch per 800 ms however fast the pens write (a throttle: a debounce would wait for a pause). */
  function later(key, fn) {
    var slot = H.later[key] = H.later[key] || {};
    slot.fn = fn;
    if (slot.timer) return;
    slot.timer = setTimeout(function () { slot.timer = null; var f = slot.fn; slot.fn = null; if (f) f(); }, 800);
  }

  function scheduleReviewCount() {
    if (H.reviewPending) return;
    H.reviewPending = true;
    setTimeout(function () { H.reviewPending = false; if (isOpen()) refreshReviewCount(); }, REVIEW_COUNT_MS);
  }

  function render() {
    if (!H.ready) return;
    applyText($("screen-homework"));
    renderHead();
    Object.keys(H.els).forEach(function (id) { H.els[id]._k = null; });
    if (H.view === "home") renderHome();
    if (H.view === "live") { $("hw-view-live").innerHTML = ""; renderLive(true); }
    if (H.view === "results") renderResults();
    if (H.view === "question") renderQuestion();
    if (H.view === "student") renderStudent();
    if (H.view === "review") renderReview();
    if (H.view === "weakness") renderWeakness();
    if (H.view === "time") renderWorkload();
    if (H.view === "roster") renderRoster();
    if (H.dialog) renderDialog();
  }

  function init() {
    if (H.ready) return;
    build();
    H.ready = true;
  }

  window.HOMEWORK = { init: init, show: show, hide: hide, resync: resync, onEvent: onEvent, render: render, _state: H };
  // kiosk.js runs first (deferred scripts keep their order): register; it routes a #/homework hash at once.
  if (window.KIOSK && window.KIOSK.registerScreen) {
    window.KIOSK.registerScreen({
      feature: "homework", route: "#/homework", section: "screen-homework",
      topics: ["hw.progress", "hw.results", "pen.status"], module: window.HOMEWORK
    });
  }
})();
