/* Line icons drawn locally (no icon font, no CDN). Feature tiles use the emoji sent by the daemon
 * only when no bundled icon fits and the box has a colour-emoji font; otherwise a neutral icon. */
(function () {
  "use strict";

  var P = {
    display: '<rect x="2.5" y="4" width="19" height="13" rx="2"/><path d="M8 21h8M12 17v4"/>',
    power: '<path d="M12 3v8"/><path d="M6.3 6.8a8 8 0 1 0 11.4 0"/>',
    standby: '<path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z"/>',
    speaker: '<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12"/>',
    mute: '<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M17 9.5l5 5M22 9.5l-5 5"/>',
    bell: '<path d="M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z"/><path d="M10 20.5a2 2 0 0 0 4 0"/>',
    back: '<path d="M15 4.5 7.5 12l7.5 7.5"/>',
    video: '<rect x="2.5" y="6" width="13" height="12" rx="2"/><path d="M15.5 10.5 21.5 7v10l-6-3.5"/>',
    users: '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0 1 13 0"/><path d="M16 4.8a3.5 3.5 0 0 1 0 6.4M18 14.2a6.5 6.5 0 0 1 3.5 5.8"/>',
    captions: '<rect x="2.5" y="5" width="19" height="14" rx="2.5"/><path d="M10.5 10.2a2.4 2.4 0 1 0 0 3.6M17.5 10.2a2.4 2.4 0 1 0 0 3.6"/>',
    mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21"/>',
    sparkle: '<path d="M11 3.5l1.9 5.1L18 10.5l-5.1 1.9L11 17.5l-1.9-5.1L4 10.5l5.1-1.9z"/><path d="M18.5 15.5l.8 2.2 2.2.8-2.2.8-.8 2.2-.8-2.2-2.2-.8 2.2-.8z"/>',
    cloud: '<path d="M7 19h10.5a4.2 4.2 0 0 0 .6-8.35A6.2 6.2 0 0 0 6.2 9.7 4.7 4.7 0 0 0 7 19z"/>',
    checklist: '<path d="M10 6h10.5M10 12h10.5M10 18h10.5"/><path d="M3.5 6l1.4 1.4L7.5 4.8M3.5 12l1.4 1.4 2.6-2.6M3.5 18l1.4 1.4 2.6-2.6"/>',
    bulb: '<path d="M9 18h6M10 21h4"/><path d="M12 3a6 6 0 0 0-3.5 10.9c.6.5 1 1.2 1 2V16h5v-.1c0-.8.4-1.5 1-2A6 6 0 0 0 12 3z"/>',
    camera: '<path d="M4 7h3l2-2.5h6L17 7h3a1.5 1.5 0 0 1 1.5 1.5v10A1.5 1.5 0 0 1 20 20H4a1.5 1.5 0 0 1-1.5-1.5v-10A1.5 1.5 0 0 1 4 7z"/><circle cx="12" cy="13" r="3.5"/>',
    book: '<path d="M4 19.5V5a2 2 0 0 1 2-2h14v15H6a2 2 0 0 0-2 2 2 2 0 0 0 2 2h14"/>',
    grid: '<rect x="3.5" y="3.5" width="7" height="7" rx="1.5"/><rect x="13.5" y="3.5" width="7" height="7" rx="1.5"/><rect x="3.5" y="13.5" width="7" height="7" rx="1.5"/><rect x="13.5" y="13.5" width="7" height="7" rx="1.5"/>',
    shield: '<path d="M12 2.8l8 3v6.1c0 4.6-3.4 8.4-8 9.3-4.6-.9-8-4.7-8-9.3V5.8z"/><path d="M12 8v5M12 16.3v.4"/>',
    warning: '<path d="M12 3.5 21.5 20h-19z"/><path d="M12 10v4.5M12 17.3v.4"/>',
    check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
    minusCircle: '<circle cx="12" cy="12" r="9"/><path d="M8 12h8"/>',
    speech: '<path d="M4.5 4.5h15a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5H10l-4.5 3.5v-3.5h-1A1.5 1.5 0 0 1 3 15V6a1.5 1.5 0 0 1 1.5-1.5z"/><path d="M7.5 9h9M7.5 12.5h5.5"/>',
    pen: '<path d="M15.5 4.5l4 4L9 19H5v-4z"/><path d="M13 7l4 4"/><path d="M13.5 20.5h6"/>',
    heart: '<path d="M12 20s-7.5-4.6-7.5-10A4.3 4.3 0 0 1 12 7.2 4.3 4.3 0 0 1 19.5 10c0 5.4-7.5 10-7.5 10z"/><path d="M5.5 12.5h3.5l1.5-2.5 2 4 1.5-2h4.5"/>',
    stopwatch: '<circle cx="12" cy="13.5" r="7.5"/><path d="M12 13.5V9.5M9.5 2.5h5M12 2.5V6M18.5 6.5l1.5-1.5"/>',
    input: '<rect x="2.5" y="4" width="19" height="13" rx="2"/><path d="M9 21h6M12 7.5v6M9.3 10.8 12 13.5l2.7-2.7"/>'
  };

  function svg(name, cls) {
    var body = P[name] || P.grid;
    return '<svg class="svg-ico' + (cls ? " " + cls : "") + '" viewBox="0 0 24 24" fill="none" stroke="currentColor" ' +
      'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">' +
      body + "</svg>";
  }

  /* Feature id → bundled icon, by keyword, so future features get a fitting icon without a new asset. */
  var KEYWORDS = [
    [/panel|display|screen|board/, "display"],
    [/dual|remote|teacher|record|capture|video|live/, "video"],
    [/english|speak|oral|dialog|chat/, "speech"],
    [/homework|pen|exam|write|writing/, "pen"],
    [/(^|_)pe($|_)|sport|heart|health/, "heart"],
    [/fitness|count|run|jump|timer/, "stopwatch"],
    [/attend|roll|checkin|presence/, "users"],
    [/caption|subtitle|transcri|asr/, "captions"],
    [/speech|voice|audio|mic/, "mic"],
    [/assist|ai_|llm|tutor|copilot/, "sparkle"],
    [/sync|cloud|upload/, "cloud"],
    [/quiz|vote|poll|response|survey|exam/, "checklist"],
    [/light|lamp/, "bulb"],
    [/camera|photo/, "camera"],
    [/lesson|plan|course|homework|book/, "book"]
  ];

  function bundledFor(featureId) {
    var id = String(featureId || "").toLowerCase();
    for (var i = 0; i < KEYWORDS.length; i++) if (KEYWORDS[i][0].test(id)) return KEYWORDS[i][1];
    return null;
  }

  /* True when the box can draw colour emoji (Noto Color Emoji installed); checked once. */
  var emojiOk = null;
  function canDrawEmoji() {
    if (emojiOk !== null) return emojiOk;
    emojiOk = false;
    try {
      var c = document.createElement("canvas");
      c.width = c.height = 32;
      var g = c.getContext("2d");
      g.textBaseline = "top";
      g.font = "28px sans-serif";
      g.fillStyle = "#000";
      g.fillText("\uD83D\uDCFA", 0, 0); // 📺
      var d = g.getImageData(0, 0, 32, 32).data;
      for (var i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && (Math.abs(d[i] - d[i + 1]) > 20 || Math.abs(d[i + 1] - d[i + 2]) > 20)) { emojiOk = true; break; }
      }
    } catch (e) { emojiOk = false; }
    return emojiOk;
  }

  function featureIcon(feature) {
    var name = bundledFor(feature.id);
    if (name) return svg(name, "tile-svg");
    if (feature.icon && canDrawEmoji()) {
      var span = document.createElement("span");
      span.className = "tile-emoji";
      span.textContent = feature.icon;
      return span.outerHTML;
    }
    return svg("grid", "tile-svg");
  }

  /* Fill every <span data-icon="name"> in root. */
  function fill(root) {
    var nodes = root.querySelectorAll("[data-icon]");
    for (var i = 0; i < nodes.length; i++) nodes[i].innerHTML = svg(nodes[i].getAttribute("data-icon"));
  }

  window.ICONS = { svg: svg, featureIcon: featureIcon, fill: fill };
})();
