// Draws every plotly figure the server embedded in the page as
// <script type="application/json" data-figure="ID"> next to <div id="ID">.
"use strict";
for (const source of document.querySelectorAll("script[data-figure]")) {
  const figure = JSON.parse(source.textContent);
  const target = document.getElementById(source.dataset.figure);
  Plotly.newPlot(target, figure.data, figure.layout || {}, {
    displaylogo: false,
    responsive: true,
  });
}
