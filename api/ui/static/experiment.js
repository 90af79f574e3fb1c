// The experiment page's cancel button: a same-origin POST (the cookie goes with it) that
// carries the page's CSRF token; the page then shows the experiment as it now is.
"use strict";
const cancelButton = document.getElementById("cancel-experiment");
if (cancelButton) {
  cancelButton.addEventListener("click", async () => {
    if (!window.confirm("Cancel every queued and running run of this experiment?")) return;
    const token = document.querySelector('meta[name="csrf-token"]').content;
    cancelButton.disabled = true;
    const response = await fetch(cancelButton.dataset.url, {
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
    cancelButton.disabled = false;
  });
}
