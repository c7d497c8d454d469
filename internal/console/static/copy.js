// Copy buttons of the scimd admin console. The pages work without this script: the
// buttons stay hidden and the values can be selected by hand.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var el = document.getElementById(button.getAttribute("data-copy"));
      if (!el) {
        return;
      }
      var text = "value" in el && el.tagName === "INPUT" ? el.value : el.textContent;
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else if (el.select) {
        el.select();
        document.execCommand("copy");
        done();
      }
    });
  });
})();
