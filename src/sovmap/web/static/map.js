// The map's PNG export: draws the server's SVG (/map.svg) on a canvas at twice its size and
// offers the result as a download. No library; the SVG is same-origin, so the canvas is clean.
(function () {
  "use strict";
  function download(url, name) {
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  function toPng(button) {
    fetch(button.getAttribute("data-svg"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (text) {
        var img = new Image();
        img.onload = function () {
          var scale = 2;
          var canvas = document.createElement("canvas");
          canvas.width = img.naturalWidth * scale;
          canvas.height = img.naturalHeight * scale;
          var ctx = canvas.getContext("2d");
          ctx.fillStyle = "#ffffff";
          ctx.fillRect(0, 0, canvas.width, canvas.height);
          ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
          download(canvas.toDataURL("image/png"), button.getAttribute("data-name"));
          button.setAttribute("data-done", "1");
        };
        img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var b = document.getElementById("map-png");
    if (b) b.addEventListener("click", function () { toPng(b); });
  });
})();
