// Tocsin dashboard: refreshes the page's content (#content) every data-refresh seconds while the tab is visible,
// unless the user is typing in it or has paused it. Without this script the pages work the same, without refresh.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!seconds || !window.fetch || !window.DOMParser) { return; }
  var toggle = document.getElementById("live-toggle");
  var paused = false;
  try { paused = window.localStorage.getItem("tocsin.live") === "off"; } catch (e) { /* storage off */ }
  if (toggle) {
    toggle.hidden = false;
    var show = function () {
      toggle.setAttribute("aria-pressed", paused ? "false" : "true");
      toggle.textContent = paused ? "Paused" : "Live";
      toggle.title = paused ? "Automatic refresh is paused: press to resume" : "This page refreshes every " + seconds + " s: press to pause";
    };
    show();
    toggle.addEventListener("click", function () {
      paused = !paused;
      try { window.localStorage.setItem("tocsin.live", paused ? "off" : "on"); } catch (e) { /* storage off */ }
      show();
      if (!paused) { refresh(); }
    });
  }
  var busy = false;
  function typing() {
    var a = document.activeElement;
    var content = document.getElementById("content");
    return a && content && content.contains(a) && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
  }
  function refresh() {
    if (busy || paused || document.hidden || typing()) { return; }
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        var current = document.getElementById("content");
        if (!fresh || !current || typing()) { return; }
        var open = Array.prototype.map.call(current.querySelectorAll("details[open]"), function (d) { return d.className; });
        current.innerHTML = fresh.innerHTML;
        open.forEach(function (c) { var d = c && current.querySelector("details." + c); if (d) { d.open = true; } });
        var footer = new DOMParser().parseFromString(html, "text/html").querySelector("footer.bottom");
        var oldFooter = document.querySelector("footer.bottom");
        if (footer && oldFooter) { oldFooter.innerHTML = footer.innerHTML; }
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
})();
