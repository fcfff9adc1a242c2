// The city view's district selector: go as soon as one is chosen (the button
// is the fallback without JavaScript).
(function () {
  "use strict";
  var form = document.querySelector(".gg-city-filter");
  if (!form) { return; }
  var button = form.querySelector("button");
  if (button) { button.hidden = true; }
  form.querySelector("select").addEventListener("change", function () { form.submit(); });
})();
