// The built-in error page's script. Served as written, without these comment lines and the
// indentation. Everything works without it: it only adds the Copy button, the live countdown
// and the automatic reload (the page's <noscript> meta refresh reloads without JavaScript).
// Keep `return` and its value on one line: a line break after `return` ends the statement.
(function(){
  var d = document, b = d.getElementById("copy"), r = d.getElementById("rid");
  // The Copy button: hidden until the script can make it work.
  if (b && r) {
    b.hidden = false;
    b.onclick = function(){
      var t = r.textContent, ok = function(){ b.textContent = "Copied" };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(t).then(ok);
        return
      }
      // Plain http (no Clipboard API): select the id and copy the selection.
      var g = d.createRange(), s = getSelection();
      g.selectNodeContents(r);
      s.removeAllRanges();
      s.addRange(g);
      try { d.execCommand("copy"); ok() } catch (e) {}
    }
  }
  // The countdown, when the page knows when to try again (Retry-After).
  var c = d.getElementById("count");
  if (!c) return;
  var n = +c.getAttribute("data-seconds"),
    auto = c.hasAttribute("data-auto"),
    m = d.getElementById("retry"),
    k = "gatewayerrors:" + location.href,
    v = [0, 0];
  // Reloads in a row for this tab and URL: [count, time of the last one].
  try { v = JSON.parse(sessionStorage.getItem(k)) || v } catch (e) {}
  // A reload long after the last one starts a new series.
  if (Date.now() - v[1] > (n + 120) * 1e3) v = [0, 0];
  // Same wording as the server's duration_text(): "45 seconds", "2 min 30 s".
  function f(n){
    if (n < 60) return n + (n == 1 ? " second" : " seconds");
    var s = n % 60;
    return Math.floor(n / 60) + " min" + (s ? " " + s + " s" : "")
  }
  var i = setInterval(function(){
    if (--n > 0) {
      c.textContent = f(n);
      return
    }
    clearInterval(i);
    // Reload only when the page says it may (GET/HEAD), at most 10 times in a row.
    if (auto && v[0] < 10) {
      try { sessionStorage.setItem(k, JSON.stringify([v[0] + 1, Date.now()])) } catch (e) {}
      m.textContent = "Trying again\u2026";
      location.reload()
    } else m.textContent = auto ? "Still not working. Please try again later." : "You can try again now."
  }, 1e3)
})();
