// Live updates without reloads: on each change event the page fetches
// itself and swaps <main> in place, so the scroll position, open <details>
// and the file anchor stay where they were.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var timer = null;
  var busy = false;
  var again = false;

  function setStatus(text, cls) {
    if (!status) return;
    status.textContent = text;
    status.className = "live " + (cls || "");
  }

  function openDetails(root) {
    var keys = [];
    root.querySelectorAll("details[open]").forEach(function (d, i) { keys.push(i); });
    return keys;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected && new URL(r.url).pathname === "/login") { location.href = r.url; return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("live");
        var cur = document.getElementById("live");
        if (!next || !cur || next.innerHTML === cur.innerHTML) return;
        var open = openDetails(cur);
        var x = window.scrollX, y = window.scrollY;
        cur.innerHTML = next.innerHTML;
        var all = cur.querySelectorAll("details");
        open.forEach(function (i) { if (all[i]) all[i].open = true; });
        window.scrollTo(x, y);
        document.title = doc.title;
        document.dispatchEvent(new CustomEvent("patchgit:updated"));
      })
      .catch(function () { setStatus("offline", "off"); })
      .finally(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  if (!window.EventSource) { setInterval(refresh, 5000); return; }
  var es = new EventSource("/events");
  var dropped = false;
  es.addEventListener("open", function () { setStatus("live", "on"); if (dropped) { dropped = false; schedule(); } });
  es.addEventListener("change", schedule);
  es.addEventListener("error", function () { dropped = true; setStatus("reconnecting", "off"); });
  // Ages ("5m") drift; redraw them now and then even when nothing changes.
  setInterval(refresh, 60000);
})();
