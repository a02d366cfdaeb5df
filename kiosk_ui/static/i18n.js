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
      "safe.contact": "请联系技术人员",

      "pe.title": "智慧体育",
      "pe.roster": "手环分配",
      "pe.reports": "历史报告",
      "pe.wall": "课堂实况",
      "pe.sort": "排序",
      "pe.sort.label": "按学号",
      "pe.sort.bpm": "按心率",
      "pe.sort.zone": "按强度",
      "pe.sort.alert": "告警优先",
      "pe.elapsed": "已进行",
      "pe.planned": "计划 {t}",
      "pe.avgBpm": "平均心率",
      "pe.target": "目标 {lo}–{hi}",
      "pe.density": "练习密度",
      "pe.densityTarget": "目标 {p}%",
      "pe.inTarget": "{p}% 在目标区间",
      "pe.start": "开始上课",
      "pe.stop": "结束下课",
      "pe.stopConfirm": "再按一次确认下课",
      "pe.effort": "标记运动结束",
      "pe.effortDone": "已标记，1 分钟和 2 分钟后记录恢复心率",
      "pe.noLesson": "尚未开始上课",
      "pe.noLessonHint": "学生戴好手环后，按“开始上课”。",
      "pe.loading": "正在读取…",
      "pe.signal.lost": "信号丢失",
      "pe.signal.no_contact": "未贴紧",
      "pe.signal.no_band": "无手环",
      "pe.battery": "电量低",
      "pe.zone": "区间 {z}",
      "pe.alert.critical": "心率危险",
      "pe.alert.high": "心率过高",
      "pe.alert.signal": "信号异常",
      "pe.ack": "已知晓",
      "pe.moreAlerts": "另有 {n} 条",
      "pe.curve": "心率曲线",
      "pe.close": "关闭",
      "pe.curveEmpty": "还没有心率数据",
      "pe.report": "课堂报告",
      "pe.reportLoading": "正在生成报告…",
      "pe.pdf": "下载 PDF",
      "pe.csv": "下载 CSV",
      "pe.classDensity": "班级练习密度",
      "pe.classAvg": "班级平均心率",
      "pe.indivMet": "个人密度 ≥ {p}%",
      "pe.met": "达标",
      "pe.notMet": "未达标",
      "pe.people": "{n} / {total} 人",
      "pe.col.student": "学生",
      "pe.col.avg": "平均",
      "pe.col.peak": "最高",
      "pe.col.density": "密度",
      "pe.col.zones": "各区间分钟",
      "pe.col.rec1": "恢复 1 分",
      "pe.col.rec2": "恢复 2 分",
      "pe.col.alerts": "告警",
      "pe.pastLessons": "历史课程",
      "pe.noLessons": "还没有已结束的课",
      "pe.students": "{n} 人",
      "pe.rosterHint": "先点学生，再点一个手环（或另一位学生，两人互换手环）。",
      "pe.unassigned": "空闲手环",
      "pe.noUnassigned": "没有空闲手环",
      "pe.noBand": "无手环",
      "pe.assigned": "已把 {band} 分给 {label}",
      "pe.swapped": "已互换：{label} 与 {other}",
      "pe.problems": "需要处理",
      "pe.class": "班级",
      "pe.alertEnded": "已恢复，请确认",
      "pe.nextSlot": "下节体育课：{title} {when}",
      "pe.notConfigured": "智慧体育未配置"
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
      "safe.contact": "Please contact a technician",

      "pe.title": "Smart PE",
      "pe.roster": "Bands",
      "pe.reports": "Reports",
      "pe.wall": "Live class",
      "pe.sort": "Sort",
      "pe.sort.label": "By number",
      "pe.sort.bpm": "By heart rate",
      "pe.sort.zone": "By intensity",
      "pe.sort.alert": "Alerts first",
      "pe.elapsed": "Elapsed",
      "pe.planned": "of {t}",
      "pe.avgBpm": "Class average",
      "pe.target": "Target {lo}–{hi}",
      "pe.density": "Exercise density",
      "pe.densityTarget": "Target {p}%",
      "pe.inTarget": "{p}% in target",
      "pe.start": "Start lesson",
      "pe.stop": "End lesson",
      "pe.stopConfirm": "Tap again to end",
      "pe.effort": "Mark effort end",
      "pe.effortDone": "Marked: recovery is taken after 1 and 2 minutes",
      "pe.noLesson": "No lesson running",
      "pe.noLessonHint": "When the students wear their bands, press “Start lesson”.",
      "pe.loading": "Loading…",
      "pe.signal.lost": "Signal lost",
      "pe.signal.no_contact": "No contact",
      "pe.signal.no_band": "No band",
      "pe.battery": "Low battery",
      "pe.zone": "Zone {z}",
      "pe.alert.critical": "Dangerous heart rate",
      "pe.alert.high": "Heart rate high",
      "pe.alert.signal": "Signal problem",
      "pe.ack": "Acknowledge",
      "pe.moreAlerts": "{n} more",
      "pe.curve": "Heart-rate curve",
      "pe.close": "Close",
      "pe.curveEmpty": "No heart-rate data yet",
      "pe.report": "Lesson report",
      "pe.reportLoading": "Preparing the report…",
      "pe.pdf": "Download PDF",
      "pe.csv": "Download CSV",
      "pe.classDensity": "Class exercise density",
      "pe.classAvg": "Class average heart rate",
      "pe.indivMet": "Individual density ≥ {p}%",
      "pe.met": "Met",
      "pe.notMet": "Not met",
      "pe.people": "{n} / {total} students",
      "pe.col.student": "Student",
      "pe.col.avg": "Avg",
      "pe.col.peak": "Peak",
      "pe.col.density": "Density",
      "pe.col.zones": "Minutes per zone",
      "pe.col.rec1": "Recovery 1 min",
      "pe.col.rec2": "Recovery 2 min",
      "pe.col.alerts": "Alerts",
      "pe.pastLessons": "Past lessons",
      "pe.noLessons": "No finished lessons yet",
      "pe.students": "{n} students",
      "pe.rosterHint": "Tap a student, then a band (or another student to swap their bands).",
      "pe.unassigned": "Free bands",
      "pe.noUnassigned": "No free bands",
      "pe.noBand": "No band",
      "pe.assigned": "{band} now worn by {label}",
      "pe.swapped": "Swapped: {label} and {other}",
      "pe.problems": "To fix",
      "pe.class": "Class",
      "pe.alertEnded": "over, please confirm",
      "pe.nextSlot": "Next PE lesson: {title} {when}",
      "pe.notConfigured": "Smart PE is not configured"
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
