// mitrain front-end helpers. No framework, no external scripts (CSP: script-src 'self').
"use strict";

// Job progress component: <div class="job-progress" data-job-url="..."> polls the
// job status endpoint and updates a <progress> bar until the job is done or failed.
// With data-reload-on-finish the page reloads when the job ends either way, so the
// server renders the result, or the reason for the failure and a retry button.
function watchJob(el) {
  const url = el.dataset.jobUrl;
  const bar = el.querySelector("progress");
  const stage = el.querySelector(".job-stage");
  const error = el.querySelector(".job-error");
  const reload = el.dataset.reloadOnFinish !== undefined;
  let delay = 1000;
  async function poll() {
    let job;
    try {
      const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) throw new Error("status " + resp.status);
      job = await resp.json();
    } catch (e) {
      stage.textContent = "Lost contact with the server; retrying…";
      delay = Math.min(delay * 2, 15000);
      setTimeout(poll, delay);
      return;
    }
    delay = 1000;
    el.dataset.status = job.status;
    if (job.status === "failed") {
      bar.hidden = true;
      stage.textContent = "Failed";
      error.hidden = false;
      error.textContent = job.error || "The job failed.";
      el.dispatchEvent(new CustomEvent("job:failed", { bubbles: true, detail: job }));
      if (reload) window.location.reload();
    } else if (job.status === "done") {
      bar.value = 100;
      stage.textContent = "Done";
      el.dispatchEvent(new CustomEvent("job:done", { bubbles: true, detail: job }));
      if (reload) window.location.reload();
    } else {
      bar.value = job.progress;
      // A queued job with an error is waiting out a back-off after a temporary problem.
      stage.textContent = job.status === "queued" && job.error
        ? "A temporary problem interrupted this; it will try again by itself…"
        : job.stage + " (" + job.progress + "%)";
      setTimeout(poll, delay);
    }
  }
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".job-progress[data-job-url]").forEach(watchJob);
  document.querySelectorAll("input.copy").forEach((i) => i.addEventListener("focus", () => i.select()));
});
