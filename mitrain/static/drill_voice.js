// Spoken drill answers: record a few seconds with the shared recorder
// (recorder.js), put the clip into the form's file field and send the form as
// usual; the server transcribes it, codes it and shows the feedback page.
// No inline scripts (CSP: script-src 'self').
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("spoken-form");
  if (!form) return;
  const fileInput = form.querySelector("input[type=file]");
  const errorBox = document.getElementById("rec-error");
  const serverError = document.getElementById("spoken-error");
  const showError = (msg) => { errorBox.textContent = msg; errorBox.hidden = false; };
  let recorded = false;

  window.MitrainRecorder.attach({
    start: document.getElementById("rec-start"), stop: document.getElementById("rec-stop"),
    time: document.getElementById("rec-time"), level: document.getElementById("rec-level"),
    status: document.getElementById("rec-status"), playback: document.getElementById("rec-playback"),
  }, {
    instead: "type your answer instead",
    next: "press \u201cCheck my spoken answer\u201d",
    maxSeconds: parseInt(form.dataset.maxSeconds, 10) || 30,
    onError: showError,
    onStart: () => { errorBox.hidden = true; if (serverError) serverError.hidden = true; recorded = false; },
    onRecorded: (blob) => {
      const type = (blob.type || "audio/webm").split(";")[0];
      const ext = type.includes("ogg") ? ".ogg" : type.includes("mp4") ? ".m4a" : ".webm";
      try {
        // A file field can be given a recorded clip through a DataTransfer.
        const dt = new DataTransfer();
        dt.items.add(new File([blob], "answer" + ext, { type: type }));
        fileInput.files = dt.files;
        recorded = true;
      } catch (e) {
        showError("This browser cannot send the recording. Please type your answer instead.");
      }
    },
  });

  fileInput.addEventListener("change", () => { recorded = fileInput.files.length > 0; });
  form.addEventListener("submit", (e) => {
    if (!recorded && !(fileInput.files && fileInput.files.length)) {
      e.preventDefault();
      showError("Record your answer first: press Record, speak, then press Stop.");
    }
  });
});
