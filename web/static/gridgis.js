// The community selector: go as soon as one is chosen (the button is the
// fallback without JavaScript).
(function () {
  "use strict";
  var form = document.querySelector(".gg-choose");
  if (!form) { return; }
  var button = form.querySelector("button");
  if (button) { button.hidden = true; }
  form.querySelector("select").addEventListener("change", function () { form.submit(); });
})();
