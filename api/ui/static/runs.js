// A filter or order that does not parse: put the cursor on the problem in its box.
"use strict";
const problem = document.querySelector(".typed-error");
if (problem) {
  const box = document.getElementById(problem.dataset.box);
  const at = Number(problem.dataset.position);
  if (box) {
    box.classList.add("invalid");
    box.focus();
    box.setSelectionRange(at, Math.min(at + 1, box.value.length));
  }
}
