// The experiment page: Optuna's pictures of a search, fetched once the page has loaded (they
// take seconds for a large search), and the cancel button: a same-origin POST (the cookie
// goes with it) carrying the page's CSRF token, after which the page shows the experiment as
// it now is.
"use strict";
async function drawSearchFigures(container) {
  const note = document.getElementById("search-figures-note");
  const response = await fetch(container.dataset.url);
  // A lapsed sign-in answers with the sign-in form, not JSON.
  const figures = response.ok ? await response.json().catch(() => null) : null;
  if (figures === null) {
    note.textContent = `Optuna's pictures could not be drawn: ${response.statusText}`;
  } else if (Object.keys(figures).length === 0) {
    note.textContent = "Optuna's pictures appear once two trials have finished.";
  } else {
    container.hidden = false;
    note.hidden = true;
    for (const [id, figure] of Object.entries(figures)) {
      drawFigure(document.getElementById(id), figure);
    }
  }
}

async function cancelExperiment(event) {
  const button = event.currentTarget;
  if (!window.confirm("Cancel every queued and running run of this experiment?")) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  button.disabled = true;
  const response = await fetch(button.dataset.url, {
    method: "POST",
    headers: { "X-CSRF-Token": token },
  });
  if (response.ok) {
    window.location.reload();
    return;
  }
  const body = await response.json().catch(() => ({}));
  const detail = Array.isArray(body.detail) ? body.detail[0].msg : response.statusText;
  document.getElementById("cancel-error").textContent = `not cancelled: ${detail}`;
  button.disabled = false;
}

const searchFigures = document.getElementById("search-figures");
if (searchFigures) drawSearchFigures(searchFigures);
document.getElementById("cancel-experiment")?.addEventListener("click", cancelExperiment);
