// Haven safeguarding records: the blank-screen button and Esc hide the page at once and go to
// a neutral page; a tap on a body-map outline fills the next empty mark row.
(function () {
  "use strict";
  function hide(ev) {
    if (ev) { ev.preventDefault(); }
    document.documentElement.style.visibility = "hidden";
    window.location.replace("/blank");
  }
  var button = document.getElementById("blank-screen");
  if (button) { button.addEventListener("click", hide); }
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { hide(ev); } });

  var category = document.getElementById("category");
  if (category) {
    category.addEventListener("change", function () {
      var guides = document.querySelectorAll("#category-guidance .guide");
      for (var i = 0; i < guides.length; i++) { guides[i].hidden = guides[i].getAttribute("data-key") !== category.value; }
    });
  }

  var outlines = document.querySelectorAll("img.bodymap-outline");
  for (var i = 0; i < outlines.length; i++) {
    outlines[i].addEventListener("click", function (ev) {
      var img = ev.currentTarget;
      var rect = img.getBoundingClientRect();
      var x = Math.max(0, Math.min(1000, Math.round((ev.clientX - rect.left) / rect.width * 1000)));
      var y = Math.max(0, Math.min(1000, Math.round((ev.clientY - rect.top) / rect.height * 1000)));
      var rows = document.querySelectorAll(".mark-row");
      for (var r = 0; r < rows.length; r++) {
        var n = rows[r].getAttribute("data-n");
        var xi = document.getElementById("mark_x_" + n);
        if (xi.value === "") {
          document.getElementById("mark_view_" + n).value = img.getAttribute("data-view");
          xi.value = x;
          document.getElementById("mark_y_" + n).value = y;
          var dot = document.createElement("span");
          dot.className = "bodymap-dot";
          dot.textContent = n;
          dot.style.left = (x / 10) + "%";
          dot.style.top = (y / 10) + "%";
          img.parentNode.appendChild(dot);
          rows[r].classList.add("filled");
          document.getElementById("mark_desc_" + n).focus();
          return;
        }
      }
    });
  }
})();
