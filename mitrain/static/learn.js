// Learning pages: character counter for drill answers, busy state while the
// coder checks an answer, focus on feedback, and the certificate's print button.
// No inline scripts (CSP: script-src 'self').
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("textarea.learn-answer[data-max-chars]").forEach((box) => {
    const max = parseInt(box.dataset.maxChars, 10);
    const counter = document.getElementById("answer-count");
    const update = () => {
      if (!counter) return;
      const n = box.value.trim().length;
      counter.textContent = n.toLocaleString("en-GB") + " of " + max.toLocaleString("en-GB") + " characters";
      counter.classList.toggle("error", n > max);
    };
    box.addEventListener("input", update);
    update();
  });

  document.querySelectorAll("form[data-busy-text]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      const button = form.querySelector("[type=submit]");
      if (!button) return;
      // After the submit has been dispatched, so the click still submits and a
      // submit another handler stopped (drill_voice.js) does not look busy.
      setTimeout(() => {
        if (e.defaultPrevented) return;
        form.setAttribute("aria-busy", "true");
        button.value = form.dataset.busyText;
        button.disabled = true;
      }, 0);
    });
  });

  const feedback = document.getElementById("feedback");
  if (feedback) feedback.focus();

  document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
});
