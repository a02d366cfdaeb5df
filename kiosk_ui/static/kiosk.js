/* Classroom Edge kiosk page: status bar, feature tiles, panel control, live events.
 * Talks only to the daemon's local HTTP API (docs/api.md); no framework, no build step. */
(function () {
  "use strict";

  var t = window.I18N.t;
  var ICONS = window.ICONS;

  var STATUS_EVERY_MS = 5000;      // status bar refresh (also on events)
  var FEATURES_EVERY_MS = 30000;   // tiles refresh (also on component.state)
  var PANEL_EVERY_MS = 10000;      // panel state fallback refresh while its screen is open
  var HEALTH_EVERY_MS = 2000;      // while the event stream is down
  var INDICATOR_GRACE_MS = 1500;   // do not flash "Reconnecting…" for a blip
  var WS_MAX_BACKOFF_MS = 10000;
  var WS_STUCK_RELOAD_MS = 120000; // daemon answers but the stream keeps failing: reload the page
  var COMMAND_TIMEOUT_MS = 10000;  // a panel command never keeps its button busy longer than this
  var IDLE_HOME_MS = 5 * 60000;    // an untouched sub-screen returns home
  var VOLUME_STEP = 5;
  var TOAST_MS = 6000;

  var S = {
    bootId: null,
    tzOffsetMin: null,
    skewMs: 0,
    reloading: false,
    safe: false,
    status: null,
    features: null,
    featuresKey: "",
    panel: null,
    inputsKey: "",
    busy: null,
    vol: { target: null, timer: null, inflight: false },
    ws: null,
    wsOpen: false,
    wsAttempt: 0,
    wsTimer: null,
    downSince: null,
    indicatorTimer: null,
    healthTimer: null,
    statusFailures: 0,
    lastTouch: Date.now(),
    debounce: {}
  };

  function $(id) { return document.getElementById(id); }

  function esc(s) {
    return String(s === null || s === undefined ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function later(name, fn, ms) {
    clearTimeout(S.debounce[name]);
    S.debounce[name] = setTimeout(fn, ms);
  }

  /* ---------- HTTP ---------- */

  /* Resolves {ok, status, data}; rejects only on network failure or timeout (err.name "AbortError"). */
  function request(method, path, body, timeoutMs) {
    var ctrl = new AbortController();
    var timer = setTimeout(function () { ctrl.abort(); }, timeoutMs || 6000);
    var init = { method: method, cache: "no-store", signal: ctrl.signal, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    }).finally(function () { clearTimeout(timer); });
  }

  function getJSON(path) {
    return request("GET", path).then(function (r) {
      if (!r.ok) throw new Error(path + " → HTTP " + r.status);
      return r.data;
    });
  }

  /* ---------- daemon identity: reload when it restarted (new assets) ---------- */

  function seenBoot(id) {
    if (!id || S.reloading) return;
    if (S.bootId === null) { S.bootId = id; return; }
    if (id !== S.bootId) reloadFresh();
  }

  /* Reload the page so a new daemon's assets apply. The static files carry no Cache-Control, so first
   * refetch them past the HTTP cache (cache: "reload"); otherwise Chromium may reuse old copies. */
  function reloadFresh() {
    if (S.reloading) return;
    S.reloading = true;
    var urls = ["/"];
    var els = document.querySelectorAll("script[src], link[href]");
    for (var i = 0; i < els.length; i++) urls.push(els[i].getAttribute("src") || els[i].getAttribute("href"));
    var go = function () { window.location.reload(); };
    Promise.all(urls.map(function (u) {
      return fetch(u, { cache: "reload" }).catch(function () { return null; });
    })).then(go, go);
    setTimeout(go, 5000);
  }

  /* ---------- safe mode ---------- */

  function enterSafeMode(errors) {
    var wasSafe = S.safe;
    S.safe = true;
    // Keep the longest-known list: /api/status and /api/health both carry config_errors.
    if (errors && errors.length) S.safeErrors = errors;
    else if (!S.safeErrors || !S.safeErrors.length) {
      S.safeErrors = [];
      if (!wasSafe) {
        getJSON("/api/health").then(function (h) {
          if (S.safe && h.config_errors && h.config_errors.length) { S.safeErrors = h.config_errors; renderSafeMode(); }
        }, function () { /* shown without the list */ });
      }
    }
    $("app").hidden = true;
    $("alerts-dialog").hidden = true;
    $("conn-indicator").hidden = true;
    $("toasts").innerHTML = "";
    $("safe-mode").hidden = false;
    renderSafeMode();
  }

  function leaveSafeMode() {
    if (!S.safe) return;
    S.safe = false;
    $("safe-mode").hidden = true;
    $("app").hidden = false;
  }

  function renderSafeMode() {
    if (!S.safe) return;
    var list = $("safe-errors");
    list.innerHTML = "";
    (S.safeErrors || []).forEach(function (msg) {
      var li = document.createElement("li");
      li.textContent = msg;
      list.appendChild(li);
    });
    list.hidden = !(S.safeErrors || []).length;
  }

  function checkSafe(flag, errors) {
    if (flag) enterSafeMode(errors);
    else leaveSafeMode();
  }

  /* ---------- status bar ---------- */

  /* The clock shows the device's local time (device.timezone, as /api/status reports it), which may
   * differ from the browser's own time zone on a box whose system clock runs in UTC. */
  function deviceOffsetMin(iso) {
    var m = /([+-])(\d\d):?(\d\d)$/.exec(iso || "");
    if (m) return (m[1] === "-" ? -1 : 1) * (parseInt(m[2], 10) * 60 + parseInt(m[3], 10));
    if (/Z$/.test(iso || "")) return 0;
    return null;
  }

  /* A Date whose UTC fields read as device-local wall time. */
  function deviceWall(epochMs) {
    var off = S.tzOffsetMin;
    if (off === null || off === undefined) off = -new Date(epochMs).getTimezoneOffset();
    return new Date(epochMs + off * 60000);
  }

  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  function fmtTime(epochMs) {
    var w = deviceWall(epochMs);
    return pad2(w.getUTCHours()) + ":" + pad2(w.getUTCMinutes());
  }

  function fmtDate(epochMs) {
    var w = deviceWall(epochMs);
    try {
      return w.toLocaleDateString(window.I18N.locale(), { month: "long", day: "numeric", weekday: "long", timeZone: "UTC" });
    } catch (e) {
      return w.toISOString().slice(0, 10);
    }
  }

  function nowMs() { return Date.now() + (S.skewMs || 0); }

  function tickClock() {
    var now = nowMs();
    $("sb-clock").textContent = fmtTime(now);
    $("sb-date").textContent = fmtDate(now);
  }

  function learnTime(iso) {
    var off = deviceOffsetMin(iso);
    if (off !== null) S.tzOffsetMin = off;
    var server = Date.parse(iso || "");
    if (!isNaN(server)) {
      var skew = server - Date.now();
      // Same box, same clock: only correct a real disagreement, not the API's whole-second rounding.
      S.skewMs = Math.abs(skew) > 60000 ? skew : 0;
    }
    tickClock();
  }

  function renderStatus() {
    var s = S.status;
    if (!s) return;
    var dev = s.device || {};
    var room = [dev.school, dev.classroom].filter(function (x) { return x; }).join(" · ");
    $("sb-room").textContent = room || t("status.roomUnknown");

    var lessonEl = $("sb-lesson");
    if (s.lesson) {
      var parts = [s.lesson.title, s.lesson.teacher];
      if (s.lesson.ends_at) {
        var end = Date.parse(s.lesson.ends_at);
        if (!isNaN(end)) parts.push(t("status.lessonUntil", { time: fmtTime(end) }));
      }
      lessonEl.textContent = parts.filter(function (x) { return x; }).join(" · ");
      lessonEl.setAttribute("data-state", "lesson");
    } else {
      lessonEl.textContent = t("status.noLesson");
      lessonEl.setAttribute("data-state", "none");
    }

    var cloud = s.cloud || {};
    var cstate = cloud.state || "unknown";
    $("sb-cloud").setAttribute("data-state", cstate);
    $("sb-cloud-state").textContent = t("cloud." + cstate);
    var q = $("sb-cloud-queued");
    if (typeof cloud.queued === "number" && cloud.queued > 0) {
      q.textContent = t("cloud.queued", { n: cloud.queued });
      q.hidden = false;
    } else {
      q.hidden = true;
    }

    var alerts = s.alerts || [];
    var sev = "none";
    alerts.forEach(function (a) {
      if (a.severity === "critical") sev = "critical";
      else if (a.severity === "warning" && sev !== "critical") sev = "warning";
      else if (sev === "none") sev = "info";
    });
    var btn = $("sb-alerts");
    btn.setAttribute("data-severity", sev);
    $("sb-alerts-text").textContent = alerts.length ? t("alerts.count", { n: alerts.length }) : t("alerts.none");
    if (!$("alerts-dialog").hidden) renderAlertsList();
  }

  function refreshStatus() {
    return getJSON("/api/status").then(function (s) {
      S.statusFailures = 0;
      seenBoot(s.boot_id);
      S.status = s;
      learnTime(s.time);
      checkSafe(!!s.safe_mode, s.config_errors);
      renderStatus();
    }, function () {
      S.statusFailures += 1;
      // The stream claims to be open but the daemon does not answer (a daemon stuck shutting down keeps
      // old sockets open while refusing new ones): confirm with /api/health, then drop the stream.
      var ws = S.ws;
      if (ws && S.wsOpen) {
        getJSON("/api/health").then(function (h) { seenBoot(h.boot_id); }, function () { dropSocket(ws); });
      }
    });
  }

  /* ---------- alerts dialog ---------- */

  function renderAlertsList() {
    var list = $("alerts-list");
    var alerts = (S.status && S.status.alerts) || [];
    list.innerHTML = "";
    if (!alerts.length) {
      var li = document.createElement("li");
      li.className = "alert-empty";
      li.textContent = t("alerts.empty");
      list.appendChild(li);
      return;
    }
    var order = { critical: 0, warning: 1, info: 2 };
    alerts.slice().sort(function (a, b) {
      return (order[a.severity] === undefined ? 3 : order[a.severity]) - (order[b.severity] === undefined ? 3 : order[b.severity]);
    }).forEach(function (a) {
      var item = document.createElement("li");
      item.className = "alert-item";
      item.setAttribute("data-severity", a.severity || "info");
      item.innerHTML =
        '<span class="alert-sev">' + esc(t("severity." + (a.severity || "info"))) + "</span>" +
        '<span class="alert-body"><span class="alert-source">' + esc(a.source) + "</span>" +
        '<span class="alert-msg">' + esc(a.message) + "</span></span>";
      list.appendChild(item);
    });
  }

  function openAlerts() {
    renderAlertsList();
    $("alerts-dialog").hidden = false;
  }

  function closeAlerts() { $("alerts-dialog").hidden = true; }

  /* ---------- home tiles ---------- */

  var SCREENS = { panel_control: "#/panel" };
  var OPENABLE = { ready: true, degraded: true, failed: true };

  /* ---------- feature screens (pe.js, homework.js, ...) ----------
   * A feature's screen module registers itself with KIOSK.registerScreen({feature, route, section, topics, module}):
   * `route` "#/x" owns "#/x" and "#/x/..."; `section` is the <section> it draws in; `topics` are the event topics it
   * wants; `module` is an object (or a function returning it) with init(), show(hash), hide(), resync(),
   * onEvent(msg) and render(). Smart PE is listed here because pe.js publishes itself as window.PE. */
  var FEATURE_SCREENS = [];

  function screenModule(def) {
    var m = typeof def.module === "function" ? def.module() : def.module;
    return m || null;
  }

  function eachScreen(fn) {
    FEATURE_SCREENS.forEach(function (def) {
      var m = screenModule(def);
      if (m) fn(m, def);
    });
  }

  function registerScreen(def) {
    FEATURE_SCREENS = FEATURE_SCREENS.filter(function (d) { return d.feature !== def.feature; });
    FEATURE_SCREENS.push(def);
    SCREENS[def.feature] = def.route;
    if (!S.started) return;
    var m = screenModule(def);
    if (m && m.init) m.init();
    S.featuresKey = "";
    renderFeatures();
    route();
  }

  registerScreen({
    feature: "smart_pe", route: "#/pe", section: "screen-pe", topics: ["pe.wall", "pe.alert", "hr.adapter"],
    module: function () { return window.PE; }
  });

  function screenFor(hash) {
    for (var i = 0; i < FEATURE_SCREENS.length; i++) {
      var def = FEATURE_SCREENS[i];
      if (hash === def.route || hash.indexOf(def.route + "/") === 0) return def;
    }
    return null;
  }

  function featureTitle(f) {
    var title = f.title || {};
    return title[window.I18N.lang] || title.zh || title.en || f.id;
  }

  function renderFeatures() {
    var feats = S.features;
    if (!feats) return;
    var key = window.I18N.lang + "|" + JSON.stringify(feats);
    if (key === S.featuresKey) return;
    S.featuresKey = key;

    var html = "";
    feats.forEach(function (f) {
      var state = f.state || "unavailable";
      var route = SCREENS[f.id];
      var openable = !!route && OPENABLE[state];
      var stateLine;
      if (state === "ready") {
        stateLine = route
          ? ICONS.svg("check", "state-ico") + esc(t("tile.ready"))
          : ICONS.svg("check", "state-ico") + esc(t("tile.running"));
      } else if (state === "degraded" || state === "failed") {
        stateLine = '<span class="tile-badge">' + ICONS.svg("warning", "state-ico") + esc(t("tile." + state)) + "</span>";
      } else {
        stateLine = ICONS.svg("minusCircle", "state-ico") + esc(t("tile." + state));
      }
      var inner =
        '<span class="tile-icon">' + ICONS.featureIcon(f) + "</span>" +
        '<span class="tile-title">' + esc(featureTitle(f)) + "</span>" +
        '<span class="tile-state">' + stateLine + "</span>" +
        (f.detail && state !== "ready" ? '<span class="tile-detail">' + esc(f.detail) + "</span>" : "");
      var attrs = ' class="tile" data-feature="' + esc(f.id) + '" data-state="' + esc(state) + '"';
      if (openable) {
        html += '<button type="button"' + attrs + ' data-route="' + esc(route) + '">' + inner + "</button>";
      } else {
        html += '<div role="group" aria-disabled="true"' + attrs + (state === "ready" ? ' data-passive="1"' : "") + ">" +
          inner + "</div>";
      }
    });
    if (!feats.length) html = '<div class="loading">' + esc(t("home.empty")) + "</div>";
    var box = $("tiles");
    box.innerHTML = html;
    box.setAttribute("data-count", String(feats.length));
    renderPanel();
    route();
  }

  function refreshFeatures() {
    return getJSON("/api/features").then(function (f) {
      S.features = Array.isArray(f) ? f : [];
      renderFeatures();
    }, function () { /* keep the last tiles; the status bar shows the link state */ });
  }

  function onTileTap(ev) {
    var tile = ev.target.closest(".tile");
    if (!tile) return;
    var r = tile.getAttribute("data-route");
    if (r) { window.location.hash = r; return; }
    var state = tile.getAttribute("data-state");
    if (tile.getAttribute("data-passive")) toast(t("tile.noScreen"), null, "info");
    else if (state === "unconfigured") toast(t("tile.unconfigured"), null, "info");
  }

  /* ---------- routing ---------- */

  function featureOpenable(id) {
    if (!S.features) return true; // not known yet: show it, the tiles refresh decides
    var f = S.features.filter(function (x) { return x.id === id; })[0];
    return !!f && !!OPENABLE[f.state];
  }

  function route() {
    var hash = window.location.hash || "#/";
    var wantPanel = hash === "#/panel";
    var want = screenFor(hash);
    var wantModule = want ? screenModule(want) : null;
    if (want && (!wantModule || !featureOpenable(want.feature))) {
      if (wantModule) {
        want = null;
        wantModule = null;
        if (window.history && window.history.replaceState) window.history.replaceState(null, "", "#/");
      } else {
        want = null; // its script has not run yet: it routes again when it registers
      }
    }
    FEATURE_SCREENS.forEach(function (def) {
      var el = $(def.section);
      if (el) el.hidden = def !== want;
      var m = screenModule(def);
      if (def !== want && m && m.hide) m.hide();
    });
    if (want) {
      $("screen-home").hidden = true;
      $("screen-panel").hidden = true;
      document.body.setAttribute("data-screen", want.feature === "smart_pe" ? "pe" : want.feature);
      wantModule.show(hash);
      return;
    }
    if (wantPanel && S.features) {
      var pf = S.features.filter(function (f) { return f.id === "panel_control"; })[0];
      if (!pf || !OPENABLE[pf.state]) {
        wantPanel = false;
        if (window.history && window.history.replaceState) window.history.replaceState(null, "", "#/");
      }
    }
    var wasPanel = !$("screen-panel").hidden;
    $("screen-home").hidden = wantPanel;
    $("screen-panel").hidden = !wantPanel;
    document.body.setAttribute("data-screen", wantPanel ? "panel" : "home");
    if (wantPanel && !wasPanel) {
      S.lastTouch = Date.now();
      renderPanel();
      refreshPanel();
    }
  }

  function goHome() {
    if (window.location.hash !== "#/" && window.location.hash !== "") window.location.hash = "#/";
  }

  /* ---------- panel screen ---------- */

  function panelOpen() { return !$("screen-panel").hidden; }

  function refreshPanel() {
    return getJSON("/api/panel").then(function (p) {
      S.panel = p;
      renderPanel();
    }, function () { renderPanel(); });
  }

  function mergePanelStatus(ev) {
    if (!S.panel) { refreshPanel(); return; }
    ["connected", "power", "input_source", "volume", "muted"].forEach(function (k) {
      if (ev[k] !== undefined) S.panel[k] = ev[k];
    });
    renderPanel();
  }

  function setBusy(btn, busy) {
    btn.classList.toggle("is-busy", busy);
    if (busy) btn.setAttribute("aria-busy", "true");
    else btn.removeAttribute("aria-busy");
  }

  function renderInputs(p) {
    var inputs = (p && p.inputs) || [];
    var key = JSON.stringify(inputs);
    if (key === S.inputsKey) return;
    S.inputsKey = key;
    var box = $("inputs");
    box.innerHTML = "";
    inputs.forEach(function (inp) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-choice btn-input";
      b.setAttribute("data-input", inp.id);
      b.innerHTML = '<span class="ico" aria-hidden="true">' + ICONS.svg("input") + "</span>" +
        '<span class="btn-label">' + esc(inp.label || inp.id) + "</span>";
      box.appendChild(b);
    });
    box.setAttribute("data-count", String(inputs.length));
  }

  function renderPanel() {
    var p = S.panel;
    var connected = !!(p && p.connected);
    var off = !!(p && p.power === "off");

    var screen = $("screen-panel");
    screen.setAttribute("data-power", p ? String(p.power) : "unknown");
    screen.setAttribute("data-connected", String(connected));

    var pf = (S.features || []).filter(function (f) { return f.id === "panel_control"; })[0];
    $("panel-title").textContent = pf ? featureTitle(pf) : t("panel.title");

    var conn = $("panel-conn");
    conn.setAttribute("data-state", !p ? "unknown" : connected ? "online" : "offline");
    $("panel-conn-text").textContent = !p ? "—" : connected ? t("panel.connected") : t("panel.disconnected");

    var hint = $("panel-hint");
    var hintText = !p ? t("panel.loading") : !connected ? t("panel.disconnectedHint") : off ? t("panel.offHint") : "";
    hint.textContent = hintText;
    hint.hidden = !hintText;
    hint.setAttribute("data-kind", p && !connected ? "error" : "info");

    renderInputs(p);

    var powerBtns = document.querySelectorAll(".btn-power");
    for (var i = 0; i < powerBtns.length; i++) {
      var b = powerBtns[i];
      b.disabled = !connected;
      b.setAttribute("aria-pressed", String(!!p && p.power === b.getAttribute("data-power")));
    }

    var inputBtns = document.querySelectorAll(".btn-input");
    for (i = 0; i < inputBtns.length; i++) {
      var ib = inputBtns[i];
      ib.disabled = !connected || off;
      ib.setAttribute("aria-pressed", String(!!p && p.input_source === ib.getAttribute("data-input")));
    }

    var max = p && typeof p.max_volume === "number" ? p.max_volume : 100;
    var shown = S.vol.target !== null ? S.vol.target : p ? p.volume : null;
    var known = typeof shown === "number";
    $("vol-level").textContent = known ? String(shown) : "—";
    $("vol-fill").style.width = known && max > 0 ? Math.min(100, (shown / max) * 100) + "%" : "0%";
    $("vol-max").textContent = t("panel.volumeMax", { n: max });
    var volDisplay = document.querySelector(".volume-display");
    volDisplay.classList.toggle("is-pending", S.vol.target !== null);
    var muted = !!(p && p.muted);
    volDisplay.classList.toggle("is-muted", muted);
    $("vol-muted").hidden = !muted;

    var volOk = connected && !off;
    $("btn-vol-down").disabled = !volOk || (known && shown <= 0);
    $("btn-vol-up").disabled = !volOk || (known && shown >= max);

    var mb = $("btn-mute");
    mb.disabled = !volOk;
    mb.setAttribute("aria-pressed", String(muted));
    $("btn-mute-text").textContent = muted ? t("panel.unmute") : t("panel.mute");
    var ico = $("btn-mute-ico");
    var want = muted ? "mute" : "speaker";
    if (ico.getAttribute("data-icon") !== want) {
      ico.setAttribute("data-icon", want);
      ico.innerHTML = ICONS.svg(want);
    }
  }

  function errorTitle(r, err) {
    if (err) return err.name === "AbortError" ? t("err.timeout") : t("err.network");
    var known = { 400: "err.400", 502: "err.502", 503: "err.503", 504: "err.504" };
    return t(known[r.status] || "err.generic");
  }

  function errorDetail(r) {
    if (!r || !r.data) return null;
    return r.data.error || null;
  }

  function commandOk(r) { return r.ok && !(r.data && r.data.ok === false); }

  /* One discrete command at a time; the button shows a spinner and is always released. */
  function sendCommand(btn, path, body, apply) {
    if (S.busy) return;
    S.busy = path;
    setBusy(btn, true);
    request("POST", path, body, COMMAND_TIMEOUT_MS).then(function (r) {
      if (commandOk(r)) {
        if (S.panel) apply(S.panel);
      } else {
        toast(errorTitle(r), errorDetail(r), "error");
      }
    }, function (err) {
      toast(errorTitle(null, err), null, "error");
    }).finally(function () {
      S.busy = null;
      setBusy(btn, false);
      renderPanel();
    });
  }

  function onPanelTap(ev) {
    var btn = ev.target.closest("button");
    if (!btn || btn.disabled) return;
    if (btn.id === "btn-back") { goHome(); return; }
    if (btn.id === "btn-vol-down") { nudgeVolume(-VOLUME_STEP); return; }
    if (btn.id === "btn-vol-up") { nudgeVolume(VOLUME_STEP); return; }
    if (btn.classList.contains("btn-power")) {
      var on = btn.getAttribute("data-power") === "on";
      sendCommand(btn, "/api/panel/power", { on: on }, function (p) { p.power = on ? "on" : "off"; });
      return;
    }
    if (btn.classList.contains("btn-input")) {
      var src = btn.getAttribute("data-input");
      sendCommand(btn, "/api/panel/input", { source: src }, function (p) { p.input_source = src; });
      return;
    }
    if (btn.id === "btn-mute") {
      var want = !(S.panel && S.panel.muted);
      sendCommand(btn, "/api/panel/mute", { muted: want }, function (p) { p.muted = want; });
    }
  }

  /* Volume taps accumulate into a target shown at once (dimmed until the panel confirms). */
  function nudgeVolume(delta) {
    var p = S.panel;
    if (!p) return;
    var max = typeof p.max_volume === "number" ? p.max_volume : 100;
    var base = S.vol.target !== null ? S.vol.target : typeof p.volume === "number" ? p.volume : 0;
    var next = Math.max(0, Math.min(max, base + delta));
    if (next === base) return;
    S.vol.target = next;
    renderPanel();
    clearTimeout(S.vol.timer);
    S.vol.timer = setTimeout(flushVolume, 350);
  }

  function flushVolume() {
    if (S.vol.inflight || S.vol.target === null) return;
    var level = S.vol.target;
    S.vol.inflight = true;
    request("POST", "/api/panel/volume", { level: level }, COMMAND_TIMEOUT_MS).then(function (r) {
      if (commandOk(r)) {
        if (S.panel) S.panel.volume = level;
      } else {
        toast(errorTitle(r), errorDetail(r), "error");
        S.vol.target = null;
      }
    }, function (err) {
      toast(errorTitle(null, err), null, "error");
      S.vol.target = null;
    }).finally(function () {
      S.vol.inflight = false;
      if (S.vol.target !== null && S.panel && S.vol.target === S.panel.volume) S.vol.target = null;
      renderPanel();
      if (S.vol.target !== null) flushVolume();
    });
  }

  /* ---------- toasts ---------- */

  function toast(title, detail, kind) {
    // The daemon's errors may start with the same Chinese headline ("大屏未响应: …"): say it once.
    if (detail && detail.indexOf(title) === 0) detail = detail.slice(title.length).replace(/^[\s:：,，-]+/, "");
    var box = $("toasts");
    while (box.children.length >= 3) box.removeChild(box.firstChild);
    var el = document.createElement("div");
    el.className = "toast";
    el.setAttribute("data-kind", kind || "info");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.innerHTML = '<span class="toast-ico">' + ICONS.svg(kind === "error" ? "warning" : "check") + "</span>" +
      '<span class="toast-body"><span class="toast-title">' + esc(title) + "</span>" +
      (detail ? '<span class="toast-detail">' + esc(detail) + "</span>" : "") + "</span>";
    el.addEventListener("click", function () { el.remove(); });
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, TOAST_MS);
  }

  /* ---------- live events (WebSocket) with reconnect ---------- */

  function showIndicator(show) {
    clearTimeout(S.indicatorTimer);
    if (!show) {
      $("conn-indicator").hidden = true;
      return;
    }
    S.indicatorTimer = setTimeout(function () {
      if (!S.wsOpen && !S.safe) $("conn-indicator").hidden = false;
    }, INDICATOR_GRACE_MS);
  }

  function setStreamUp(up) {
    document.body.setAttribute("data-stream", up ? "up" : "down");
    if (up) {
      S.downSince = null;
      showIndicator(false);
      clearInterval(S.healthTimer);
      S.healthTimer = null;
      return;
    }
    if (S.downSince === null) {
      // First failure only: later failed attempts must not restart the grace period.
      S.downSince = Date.now();
      showIndicator(true);
    }
    if (!S.healthTimer) S.healthTimer = setInterval(pollHealthWhileDown, HEALTH_EVERY_MS);
  }

  /* While the stream is down: as soon as the daemon answers, reload if it restarted, else reconnect now. */
  function pollHealthWhileDown() {
    getJSON("/api/health").then(function (h) {
      seenBoot(h.boot_id);
      if (S.reloading) return;
      checkSafe(h.status === "safe_mode", h.config_errors);
      if (S.downSince !== null && Date.now() - S.downSince > WS_STUCK_RELOAD_MS) {
        reloadFresh();
        return;
      }
      if (!S.ws) {
        S.wsAttempt = 0;
        connectWS();
      }
    }, function () { /* daemon still down */ });
  }

  function scheduleReconnect() {
    clearTimeout(S.wsTimer);
    var delay = Math.min(WS_MAX_BACKOFF_MS, 500 * Math.pow(2, S.wsAttempt)) * (0.8 + 0.4 * Math.random());
    S.wsAttempt = Math.min(S.wsAttempt + 1, 10);
    S.wsTimer = setTimeout(connectWS, delay);
  }

  function connectWS() {
    clearTimeout(S.wsTimer);
    if (S.ws || S.reloading) return;
    var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/api/events";
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    S.ws = ws;
    var helloTimer = setTimeout(function () {
      if (!S.wsOpen) dropSocket(ws);
    }, 8000);
    ws.onmessage = function (m) {
      var msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      if (!msg || typeof msg !== "object") return;
      if (msg.topic === "hello") {
        clearTimeout(helloTimer);
        seenBoot(msg.boot_id);
        if (S.reloading) return;
        S.wsOpen = true;
        S.wsAttempt = 0;
        setStreamUp(true);
        refreshStatus();
        refreshFeatures();
        if (panelOpen()) refreshPanel();
        eachScreen(function (m) { if (m.resync) m.resync(); });
        return;
      }
      onEvent(msg);
    };
    ws.onclose = function () {
      clearTimeout(helloTimer);
      dropSocket(ws);
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  /* Forget a socket at once (never wait for a closing handshake a dead daemon will not answer),
   * show the stream as down and schedule the next attempt. */
  function dropSocket(ws) {
    if (S.ws !== ws) return;
    S.ws = null;
    S.wsOpen = false;
    ws.onclose = null;
    ws.onmessage = null;
    try { ws.close(); } catch (e) { /* already closed */ }
    if (S.reloading) return;
    setStreamUp(false);
    scheduleReconnect();
  }

  function onEvent(msg) {
    switch (msg.topic) {
      case "panel.status":
        mergePanelStatus(msg);
        break;
      case "component.state":
        later("status", refreshStatus, 300);
        later("features", refreshFeatures, 300);
        break;
      case "device.alert":
        later("status", refreshStatus, 300);
        break;
      default:
        FEATURE_SCREENS.forEach(function (def) {
          if (!def.topics || def.topics.indexOf(msg.topic) < 0) return;
          var m = screenModule(def);
          if (m && m.onEvent) m.onEvent(msg);
        });
        break;
    }
  }

  /* ---------- language ---------- */

  function renderLangSwitch() {
    var btns = document.querySelectorAll(".lang-btn");
    for (var i = 0; i < btns.length; i++) {
      btns[i].setAttribute("aria-pressed", String(btns[i].getAttribute("data-lang") === window.I18N.lang));
    }
  }

  function setLang(lang) {
    window.I18N.setLang(lang);
    document.title = t("app.title");
    renderLangSwitch();
    tickClock();
    renderStatus();
    S.featuresKey = "";
    renderFeatures();
    renderPanel();
    renderSafeMode();
    eachScreen(function (m) { if (m.render) m.render(); });
  }

  /* ---------- start ---------- */

  function wire() {
    $("tiles").addEventListener("click", onTileTap);
    $("screen-panel").addEventListener("click", onPanelTap);
    $("sb-alerts").addEventListener("click", openAlerts);
    $("alerts-close").addEventListener("click", closeAlerts);
    $("alerts-dialog").addEventListener("click", function (ev) {
      if (ev.target === $("alerts-dialog")) closeAlerts();
    });
    var langs = document.querySelectorAll(".lang-btn");
    for (var i = 0; i < langs.length; i++) {
      langs[i].addEventListener("click", function (ev) { setLang(ev.currentTarget.getAttribute("data-lang")); });
    }
    window.addEventListener("hashchange", route);
    // A touchscreen kiosk: no long-press menu, no drag ghosts, no pinch-zoom gestures.
    document.addEventListener("contextmenu", function (ev) { ev.preventDefault(); });
    document.addEventListener("dragstart", function (ev) { ev.preventDefault(); });
    document.addEventListener("pointerdown", function () { S.lastTouch = Date.now(); }, true);
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") closeAlerts(); });
    eachScreen(function (m) { if (m.init) m.init(); });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !S.ws) { S.wsAttempt = 0; connectWS(); }
    });
    window.addEventListener("online", function () { if (!S.ws) { S.wsAttempt = 0; connectWS(); } });
  }

  /* For pe.js (the Smart PE screens): the same request helpers, toasts and navigation. */
  window.KIOSK = {
    request: request,
    getJSON: getJSON,
    toast: toast,
    esc: esc,
    goHome: goHome,
    errorTitle: errorTitle,
    errorDetail: errorDetail,
    commandOk: commandOk,
    registerScreen: registerScreen,
    fmtTime: fmtTime,
    touch: function () { S.lastTouch = Date.now(); }
  };

  function start() {
    window.I18N.applyStatic(document);
    document.title = t("app.title");
    ICONS.fill(document);
    renderLangSwitch();
    wire();
    tickClock();
    setInterval(tickClock, 1000);
    S.started = true;
    route();
    renderPanel();
    document.body.setAttribute("data-stream", "down");

    getJSON("/api/health").then(function (h) {
      seenBoot(h.boot_id);
      if (h.status === "safe_mode") enterSafeMode(h.config_errors);
    }, function () { /* the stream and the status poll retry */ });
    refreshStatus();
    refreshFeatures();
    connectWS();

    setInterval(refreshStatus, STATUS_EVERY_MS);
    setInterval(refreshFeatures, FEATURES_EVERY_MS);
    setInterval(function () {
      if (panelOpen()) {
        if (!S.busy && !S.vol.inflight && S.vol.target === null) refreshPanel();
        if (Date.now() - S.lastTouch > IDLE_HOME_MS) goHome();
      }
    }, PANEL_EVERY_MS);
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
