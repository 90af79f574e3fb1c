// A runs table's "Compare selected": the picked runs go to /ui/compare?run_ids=1,2,...
"use strict";
for (const form of document.querySelectorAll("form.compare")) {
  const table = form.nextElementSibling;
  const button = form.querySelector("button");
  const max = Number(form.dataset.max);
  const picked = () => [...table.querySelectorAll("input.pick:checked")].map((box) => box.value);
  table.addEventListener("change", () => {
    const n = picked().length;
    button.disabled = n < 2 || n > max;
    button.textContent = n ? `Compare ${n} selected` : "Compare selected";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.assign(`${document.body.dataset.root}/ui/compare?run_ids=${picked().join(",")}`);
  });
}
