// The experiment page: Optuna's pictures of a search, fetched once the page has loaded (they
// take seconds for a large search), and the cancel button, after which the page shows the
// experiment as it now is.
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

const searchFigures = document.getElementById("search-figures");
if (searchFigures) drawSearchFigures(searchFigures);
const cancelExperiment = document.getElementById("cancel-experiment");
if (cancelExperiment) {
  const question = "Cancel every queued and running run of this experiment?";
  cancelButton(cancelExperiment, question, () => window.location.reload());
}
