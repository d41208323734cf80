// maillage: live pages. The node says on /direct (server-sent events) that a
// shared document changed; the page fetches itself again and replaces its
// regions marked data-live, except a region the person is editing. Without
// JavaScript, every page works and shows changes at its next load.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !document.querySelector("[data-live]")) {
    return;
  }
  var status = document.getElementById("direct-statut");
  var waiting = false;
  var again = false;

  // A region is being edited when it holds the focus or a changed field.
  function editing(region) {
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active) &&
        /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit") continue;
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) return true;
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function hour() {
    var d = new Date();
    var m = d.getMinutes();
    return d.getHours() + " h " + (m < 10 ? "0" + m : m);
  }

  function refresh() {
    waiting = true;
    again = false;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Maillage-Direct": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var changed = false;
        var regions = document.querySelectorAll("[data-live]");
        for (var i = 0; i < regions.length; i++) {
          var old = regions[i];
          var now = fresh.querySelector('[data-live="' + old.getAttribute("data-live") + '"]');
          if (!now || now.innerHTML === old.innerHTML || editing(old)) continue;
          old.replaceWith(document.importNode(now, true));
          changed = true;
        }
        if (changed) {
          document.body.setAttribute("data-live-updates",
            String(Number(document.body.getAttribute("data-live-updates") || 0) + 1));
          if (status) status.textContent = "Page mise à jour à " + hour() + ".";
        }
      })
      .catch(function () {})
      .then(function () {
        waiting = false;
        if (again) refresh();
      });
  }

  // The stream is closed when the page is left, and opened again if the
  // browser shows the page from its back-forward cache: a browser keeps six
  // connections per site, and streams of pages kept in that cache would
  // hold them until later pages wait.
  var source = null;
  function listen() {
    if (source) return;
    source = new EventSource("/direct");
    source.addEventListener("change", function () {
      if (waiting) {
        again = true;
      } else {
        refresh();
      }
    });
  }
  window.addEventListener("pagehide", function () {
    if (source) {
      source.close();
      source = null;
    }
  });
  window.addEventListener("pageshow", function (e) {
    listen();
    if (e.persisted) refresh();
  });
  listen();
})();
