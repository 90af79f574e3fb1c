// The run page: figures.js draws the curves read from the store; while the run is queued or
// running this script grows them from the run's event stream (one point per finished epoch,
// each trace named by its metric). The cancel button; once the run has ended the page
// reloads to show its summary and artifacts.
"use strict";
(function () {
  const page = document.getElementById("run");
  const ENDED = ["succeeded", "failed", "cancelled", "pruned"];
  let lastEpoch = Number(page.dataset.lastEpoch);

  function showStatus(status) {
    const badge = document.getElementById("status");
    badge.textContent = status;
    badge.className = "status " + status;
    const button = document.getElementById("cancel-run");
    if (button && ENDED.includes(status)) button.hidden = true;
    const waiting = document.getElementById("waiting-for");
    if (waiting && status !== "queued") waiting.hidden = true;
  }

  function showError(error) {
    const line = document.getElementById("run-error");
    const where = error.epoch ? ` at epoch ${error.epoch}` : "";
    line.textContent = `${error.type}${where}: ${error.message}`;
    line.hidden = false;
  }

  function addEpoch(message) {
    const data = JSON.parse(message.data);
    // The stream starts after the page's last epoch; one it drew already is never drawn twice.
    if (data.epoch <= lastEpoch) return;
    lastEpoch = data.epoch;
    document.getElementById("epochs-done").textContent = data.epoch;
    for (const plot of document.querySelectorAll("#run .figure")) {
      const names = plot.data.map((trace) => trace.name);
      const update = {
        x: names.map(() => [data.epoch]),
        y: names.map((name) => [data.metrics[name] ?? null]),
      };
      Plotly.extendTraces(plot, update, names.map((_, index) => index));
    }
  }

  function follow() {
    // After what the page drew; on a reconnect EventSource's Last-Event-ID takes over.
    const after = encodeURIComponent(page.dataset.followAfter);
    const source = new EventSource(`${document.body.dataset.root}/runs/${page.dataset.runId}/events?after=${after}`);
    source.addEventListener("epoch", addEpoch);
    source.addEventListener("status", (message) => {
      const data = JSON.parse(message.data);
      showStatus(data.status);
      if (data.error) showError(data.error);
    });
    source.addEventListener("end", () => {
      source.close();
      window.location.reload();
    });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) return; // it reconnects by itself
      const note = document.getElementById("live-note");
      note.textContent = "Live updates stopped: reload the page for the latest epochs.";
      note.hidden = false;
    });
  }

  const cancelRun = document.getElementById("cancel-run");
  // Cancelled: the stream's end then reloads the page.
  if (cancelRun) cancelButton(cancelRun, "Cancel this run?", (body) => showStatus(body.status));
  // Deferred scripts run in order: figures.js has drawn the plots by now.
  if (page.dataset.live === "true") follow();
})();
