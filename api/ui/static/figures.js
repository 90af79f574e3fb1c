// Draws every plotly figure the server embedded in the page as
// <script type="application/json" data-figure="ID"> next to <div id="ID">;
// drawFigure also serves figures a page fetches after it loads.
"use strict";
function drawFigure(target, figure) {
  Plotly.newPlot(target, figure.data, figure.layout || {}, {
    displaylogo: false,
    responsive: true,
  });
}
for (const source of document.querySelectorAll("script[data-figure]")) {
  drawFigure(document.getElementById(source.dataset.figure), JSON.parse(source.textContent));
}
