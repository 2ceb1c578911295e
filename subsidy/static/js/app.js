/* The staff pages' behaviour, from this file only: the pages are served with a Content-Security-
   Policy that runs no inline script, so forms say what they need in data- attributes.
   - form[data-confirm], button[data-confirm]: ask before an irreversible step;
   - select[data-autosubmit]: submit its form on change;
   - [data-print]: print the page;
   - .countdown[data-ends]: time left of a publicity period (the server decides, this only shows);
   - form[data-busy]: disable the submit button and show the busy note while a long upload runs. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    var button = event.submitter;
    if (button && button.hasAttribute("data-confirm")) { question = button.getAttribute("data-confirm"); }
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    var busy = form.getAttribute("data-busy");
    if (busy !== null) {
      var input = form.querySelector("input[type=file]");
      if (input && !input.files.length) { return; }
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      var note = busy && document.getElementById(busy);
      if (note) { note.hidden = false; }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-autosubmit") && event.target.form) {
      event.target.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print]") : null;
    if (target) { window.print(); }
  });

  function countdown(el) {
    var ends = new Date(el.getAttribute("data-ends"));
    function tick() {
      var ms = ends - new Date();
      if (ms <= 0) { el.textContent = el.getAttribute("data-done"); return; }
      var d = Math.floor(ms / 86400000), h = Math.floor(ms % 86400000 / 3600000), m = Math.floor(ms % 3600000 / 60000);
      el.textContent = (el.getAttribute("data-template") || "距公示期结束还有 {d} 天 {h} 小时 {m} 分")
        .replace("{d}", d).replace("{h}", h).replace("{m}", m);
      setTimeout(tick, 30000);
    }
    tick();
  }
  document.querySelectorAll(".countdown[data-ends]").forEach(countdown);
})();
