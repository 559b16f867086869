// Role-play recording (MediaRecorder), upload with progress, and the report's
// audio/transcript sync. No inline scripts: CSP allows only same-origin files.
"use strict";

function fmtTime(s) {
  s = Math.floor(s);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function setupRecorder(form) {
  const startBtn = document.getElementById("rec-start");
  const pauseBtn = document.getElementById("rec-pause");
  const stopBtn = document.getElementById("rec-stop");
  const timeEl = document.getElementById("rec-time");
  const level = document.getElementById("rec-level");
  const status = document.getElementById("rec-status");
  const playback = document.getElementById("rec-playback");
  const fileInput = document.getElementById("audio");
  const errorBox = document.getElementById("upload-error");
  const bar = document.getElementById("upload-progress");
  let recorder = null, chunks = [], blob = null, stream = null, elapsed = 0, ticker = null, meterTimer = null;

  function showError(msg) { errorBox.textContent = msg; errorBox.hidden = false; }

  if (!window.MediaRecorder || !navigator.mediaDevices) {
    startBtn.disabled = true;
    status.textContent = "This browser cannot record audio. Upload a file instead.";
  }

  startBtn.addEventListener("click", async () => {
    errorBox.hidden = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      status.textContent = "";
      showError(e.name === "NotAllowedError"
        ? "Microphone access was refused. Allow the microphone in your browser's site settings, or upload a file instead."
        : "No microphone could be opened (" + e.name + "). Check it is connected, or upload a file instead.");
      return;
    }
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    meterTimer = setInterval(() => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128) / 128);
      level.value = peak;
    }, 100);
    const type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "";
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    chunks = []; blob = null; elapsed = 0;
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      playback.src = URL.createObjectURL(blob);
      playback.hidden = false;
      status.textContent = "Recorded " + fmtTime(elapsed) + ". Listen back, then upload.";
      stream.getTracks().forEach((t) => t.stop());
      clearInterval(meterTimer); level.value = 0;
      ctx.close();
    };
    recorder.start(1000);
    ticker = setInterval(() => { if (recorder.state === "recording") { elapsed += 1; timeEl.textContent = fmtTime(elapsed); } }, 1000);
    status.textContent = "Recording…";
    startBtn.disabled = true; pauseBtn.disabled = false; stopBtn.disabled = false;
    form.dataset.recording = "1";
  });

  pauseBtn.addEventListener("click", () => {
    if (!recorder) return;
    if (recorder.state === "recording") { recorder.pause(); pauseBtn.textContent = "Resume"; status.textContent = "Paused."; }
    else if (recorder.state === "paused") { recorder.resume(); pauseBtn.textContent = "Pause"; status.textContent = "Recording…"; }
  });

  stopBtn.addEventListener("click", () => {
    if (!recorder || recorder.state === "inactive") return;
    recorder.stop(); clearInterval(ticker);
    startBtn.disabled = false; pauseBtn.disabled = true; stopBtn.disabled = true;
    pauseBtn.textContent = "Pause"; startBtn.textContent = "Record again";
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
