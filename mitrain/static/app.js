// mitrain front-end helpers. No framework, no external scripts (CSP: script-src 'self').
"use strict";

// Job progress component: <div class="job-progress" data-job-url="..."> polls the
// job status endpoint and updates a <progress> bar until the job is done or failed.
function watchJob(el) {
  const url = el.dataset.jobUrl;
  const bar = el.querySelector("progress");
  const stage = el.querySelector(".job-stage");
  const error = el.querySelector(".job-error");
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
    bar.value = job.progress;
    stage.textContent = job.status === "failed" ? "Failed" : job.stage + " (" + job.progress + "%)";
    el.dataset.status = job.status;
    if (job.status === "failed") {
      error.hidden = false;
      error.textContent = job.error || "The job failed.";
      el.dispatchEvent(new CustomEvent("job:failed", { bubbles: true, detail: job }));
    } else if (job.status === "done") {
      el.dispatchEvent(new CustomEvent("job:done", { bubbles: true, detail: job }));
      if (el.dataset.reloadOnDone !== undefined) window.location.reload();
    } else {
      setTimeout(poll, delay);
    }
  }
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".job-progress[data-job-url]").forEach(watchJob);
  document.querySelectorAll("input.copy").forEach((i) => i.addEventListener("focus", () => i.select()));
});
