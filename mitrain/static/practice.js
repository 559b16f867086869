// Role-play recording (the recorder itself is recorder.js), upload with progress,
// and the report's audio/transcript sync. No inline scripts: CSP allows only
// same-origin files.
"use strict";

function setupRecorder(form) {
  const fileInput = document.getElementById("audio");
  const errorBox = document.getElementById("upload-error");
  const bar = document.getElementById("upload-progress");
  let blob = null;

  function showError(msg) { errorBox.textContent = msg; errorBox.hidden = false; }

  // Microphone, meter, timer, pause and stop live in recorder.js (shared with drills).
  window.MitrainRecorder.attach({
    start: document.getElementById("rec-start"), pause: document.getElementById("rec-pause"),
    stop: document.getElementById("rec-stop"), time: document.getElementById("rec-time"),
    level: document.getElementById("rec-level"), status: document.getElementById("rec-status"),
    playback: document.getElementById("rec-playback"),
  }, {
    instead: "upload a file instead",
    next: "upload it",
    onError: showError,
    onStart: () => { errorBox.hidden = true; blob = null; form.dataset.recording = "1"; },
    onRecorded: (b) => { blob = b; },
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    errorBox.hidden = true;
    if (!document.getElementById("consent").checked) {
      showError("Please confirm that everyone on the recording agreed to be recorded.");
      return;
    }
    const data = new FormData(form);
    if (blob && !(fileInput.files && fileInput.files.length)) {
      data.set("audio", blob, "recording.webm");
    } else if (!(fileInput.files && fileInput.files.length)) {
      showError("Record something or choose a file to upload first.");
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false; bar.value = 0;
    document.getElementById("upload-button").disabled = true;
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = Math.round(100 * ev.loaded / ev.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      if (xhr.status === 201 && body.url) { window.location = body.url; return; }
      document.getElementById("upload-button").disabled = false;
      showError(body.error || body.message || ("The upload failed (" + xhr.status + "). Nothing was saved."));
    };
    xhr.onerror = () => {
      document.getElementById("upload-button").disabled = false;
      showError("The upload was interrupted. Nothing was saved; check your connection and try again.");
    };
    xhr.send(data);
  });
}

function setupTranscript(player, list) {
  const items = Array.from(list.querySelectorAll(".utt[data-start]")).filter((li) => li.dataset.start !== "");
  items.forEach((li) => {
    const seek = () => { player.currentTime = parseFloat(li.dataset.start); player.play(); };
    li.addEventListener("click", seek);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") seek(); });
  });
  player.addEventListener("timeupdate", () => {
    const t = player.currentTime;
    items.forEach((li) => {
      const on = t >= parseFloat(li.dataset.start) && t < parseFloat(li.dataset.end || "1e9");
      li.classList.toggle("current", on);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("recording-form");
  if (form) setupRecorder(form);
  const player = document.getElementById("player");
  const list = document.getElementById("transcript");
  if (player && list) setupTranscript(player, list);
  document.querySelectorAll("form.confirm").forEach((f) => f.addEventListener("submit", (e) => {
    if (!window.confirm(f.dataset.confirm)) e.preventDefault();
  }));
});
