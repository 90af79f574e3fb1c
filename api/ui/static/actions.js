// Cancel buttons: a confirmed, same-origin POST to the button's data-url (the cookie goes with
// it) carrying the page's CSRF token; onDone gets the API's answer, a refusal shows its message
// in #cancel-error.
"use strict";
function cancelButton(button, question, onDone) {
  button.addEventListener("click", async () => {
    if (!window.confirm(question)) return;
    const token = document.querySelector('meta[name="csrf-token"]').content;
    button.disabled = true;
    const response = await fetch(button.dataset.url, {
      method: "POST",
      headers: { "X-CSRF-Token": token },
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      onDone(body);
      return;
    }
    const detail = Array.isArray(body.detail) ? body.detail[0].msg : response.statusText;
    document.getElementById("cancel-error").textContent = `not cancelled: ${detail}`;
    button.disabled = false;
  });
}
