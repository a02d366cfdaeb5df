/* Classroom Edge kiosk: every user-visible string, Chinese first.
 * t("key", {name: value}) fills {name} placeholders; a missing English string falls back to Chinese. */
(function () {
  "use strict";

  var STRINGS = {
    zh: {
      "app.title": "课堂助手",
      "app.loading": "正在连接设备…",
      "lang.zh": "中文",
      "lang.en": "English",
      "lang.label": "界面语言",

      "status.noLesson": "无课程",
      "status.lessonUntil": "至 {time}",
      "status.roomUnknown": "教室",
      "status.cloud": "云端",
      "cloud.not_configured": "未配置",
      "cloud.online": "在线",
      "cloud.offline": "离线",
      "cloud.unknown": "—",
      "cloud.queued": "{n} 条待上传",
      "alerts.none": "设备正常",
      "alerts.count": "{n} 条告警",
      "alerts.title": "设备告警",
      "alerts.empty": "目前没有告警，设备运行正常。",
      "alerts.close": "关闭",
      "severity.info": "提示",
      "severity.warning": "警告",
      "severity.critical": "严重",

      "conn.reconnecting": "重新连接中…",

      "home.empty": "暂无可用功能",
      "tile.ready": "点击进入",
      "tile.running": "运行中",
      "tile.unconfigured": "未配置",
      "tile.degraded": "部分异常",
      "tile.failed": "故障",
      "tile.unavailable": "不可用",
      "tile.noScreen": "该功能在后台自动运行，无需操作",

      "nav.back": "返回主页",

      "panel.title": "大屏控制",
      "panel.connected": "已连接",
      "panel.disconnected": "未连接",
      "panel.disconnectedHint": "大屏未连接，请检查大屏电源和连接线。",
      "panel.offHint": "大屏已关机，请先按“开机”。",
      "panel.power": "电源",
      "panel.powerOn": "开机",
      "panel.powerOff": "关机",
      "panel.input": "信号源",
      "panel.volume": "音量",
      "panel.volumeDown": "音量减小",
      "panel.volumeUp": "音量增大",
      "panel.volumeMax": "上限 {n}",
      "panel.mute": "静音",
      "panel.unmute": "取消静音",
      "panel.muted": "已静音",
      "panel.current": "当前",
      "panel.loading": "正在读取大屏状态…",

      "err.504": "大屏未响应",
      "err.503": "大屏未连接",
      "err.502": "大屏拒绝了该操作",
      "err.400": "操作无效",
      "err.network": "无法连接设备服务",
      "err.timeout": "大屏未响应",
      "err.generic": "操作失败",
      "ok.done": "已完成",

      "safe.title": "配置有误，设备处于安全模式",
      "safe.errors": "配置错误：",
      "safe.contact": "请联系技术人员"
    },
    en: {
      "app.title": "Classroom Assistant",
      "app.loading": "Connecting to the device…",
      "lang.zh": "中文",
      "lang.en": "English",
      "lang.label": "Language",

      "status.noLesson": "No lesson",
      "status.lessonUntil": "until {time}",
      "status.roomUnknown": "Classroom",
      "status.cloud": "Cloud",
      "cloud.not_configured": "Not configured",
      "cloud.online": "Online",
      "cloud.offline": "Offline",
      "cloud.unknown": "—",
      "cloud.queued": "{n} queued",
      "alerts.none": "All OK",
      "alerts.count": "{n} alerts",
      "alerts.title": "Device alerts",
      "alerts.empty": "No alerts. The device is working normally.",
      "alerts.close": "Close",
      "severity.info": "Info",
      "severity.warning": "Warning",
      "severity.critical": "Critical",

      "conn.reconnecting": "Reconnecting…",

      "home.empty": "No features available",
      "tile.ready": "Tap to open",
      "tile.running": "Running",
      "tile.unconfigured": "Not configured",
      "tile.degraded": "Partly working",
      "tile.failed": "Failed",
      "tile.unavailable": "Unavailable",
      "tile.noScreen": "This feature runs by itself; nothing to do here",

      "nav.back": "Home",

      "panel.title": "Panel control",
      "panel.connected": "Connected",
      "panel.disconnected": "Not connected",
      "panel.disconnectedHint": "The panel is not connected. Check its power and cable.",
      "panel.offHint": "The panel is off. Press “Power on” first.",
      "panel.power": "Power",
      "panel.powerOn": "Power on",
      "panel.powerOff": "Power off",
      "panel.input": "Input",
      "panel.volume": "Volume",
      "panel.volumeDown": "Volume down",
      "panel.volumeUp": "Volume up",
      "panel.volumeMax": "Limit {n}",
      "panel.mute": "Mute",
      "panel.unmute": "Unmute",
      "panel.muted": "Muted",
      "panel.current": "Current",
      "panel.loading": "Reading the panel's state…",

      "err.504": "The panel did not respond",
      "err.503": "The panel is not connected",
      "err.502": "The panel refused the command",
      "err.400": "Invalid request",
      "err.network": "Cannot reach the device service",
      "err.timeout": "The panel did not respond",
      "err.generic": "The command failed",
      "ok.done": "Done",

      "safe.title": "Configuration error: the device is in safe mode",
      "safe.errors": "Configuration errors:",
      "safe.contact": "Please contact a technician"
    }
  };

  var STORAGE_KEY = "classroom.kiosk.lang";
  var lang = "zh";
  try {
    var saved = window.localStorage.getItem(STORAGE_KEY);
    if (saved && STRINGS[saved]) lang = saved;
  } catch (e) { /* storage unavailable: stay Chinese */ }

  function t(key, params) {
    var s = (STRINGS[lang] && STRINGS[lang][key]);
    if (s === undefined) s = STRINGS.zh[key];
    if (s === undefined) return key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return params[name] === undefined ? m : String(params[name]);
      });
    }
    return s;
  }

  function setLang(next) {
    if (!STRINGS[next]) return;
    lang = next;
    try { window.localStorage.setItem(STORAGE_KEY, next); } catch (e) { /* ignore */ }
    applyStatic(document);
  }

  /* Elements marked data-i18n="key" get their text; data-i18n-aria="key" their aria-label. */
  function applyStatic(root) {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    var nodes = root.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute("data-i18n"));
    nodes = root.querySelectorAll("[data-i18n-aria]");
    for (i = 0; i < nodes.length; i++) nodes[i].setAttribute("aria-label", t(nodes[i].getAttribute("data-i18n-aria")));
  }

  window.I18N = {
    t: t,
    setLang: setLang,
    applyStatic: applyStatic,
    get lang() { return lang; },
    locale: function () { return lang === "zh" ? "zh-CN" : "en-GB"; },
    strings: STRINGS
  };
})();
