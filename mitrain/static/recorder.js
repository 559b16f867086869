// Shared microphone recorder (MediaRecorder) for role-plays and spoken drill
// answers: permission handling, level meter, elapsed time, pause/resume, stop,
// an optional time limit, playback before upload. Pages wire it to their own
// buttons (practice.js, drill_voice.js). No inline scripts (CSP: script-src 'self').
"use strict";

window.MitrainRecorder = (function () {
  function fmtTime(s) {
    s = Math.floor(s);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function supported() {
    return !!(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function micProblem(e, instead) {
    if (e.name === "NotAllowedError" || e.name === "SecurityError") {
      return "Microphone access was refused. Allow the microphone in your browser's site settings, or " + instead + ".";
    }
    return "No microphone could be opened (" + e.name + "). Check it is connected, or " + instead + ".";
  }

  // ui: {start, stop, pause?, time, level, status, playback} elements.
  // opts: {instead: "upload a file instead", next: "upload it", maxSeconds?,
  //        onError(msg), onStart(), onRecorded(blob, seconds)}.
  function attach(ui, opts) {
    let recorder = null, stream = null, ctx = null, ticker = null, meter = null;
    let elapsed = 0, last = 0, hitLimit = false;

    if (!supported()) {
      ui.start.disabled = true;
      ui.status.textContent = "This browser cannot record audio: " + opts.instead + ".";
      return;
    }

    function meterOn() {
      ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      ctx.createMediaStreamSource(stream).connect(analyser);
      const data = new Uint8Array(analyser.fftSize);
      meter = setInterval(() => {
        analyser.getByteTimeDomainData(data);
        let peak = 0;
        for (const v of data) peak = Math.max(peak, Math.abs(v - 128) / 128);
        ui.level.value = peak;
      }, 100);
    }

    function tick() {
      const now = performance.now();
      if (recorder.state === "recording") elapsed += (now - last) / 1000;
      last = now;
      ui.time.textContent = fmtTime(elapsed);
      if (opts.maxSeconds && elapsed >= opts.maxSeconds) { hitLimit = true; stop(); }
    }

    function stop() {
      if (!recorder || recorder.state === "inactive") return;
      recorder.stop();
      clearInterval(ticker);
      ui.start.disabled = false; ui.stop.disabled = true;
      if (ui.pause) { ui.pause.disabled = true; ui.pause.textContent = "Pause"; }
      ui.start.textContent = "Record again";
    }

    ui.start.addEventListener("click", async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (e) {
        ui.status.textContent = "";
        opts.onError(micProblem(e, opts.instead));
        return;
      }
      meterOn();
      const type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "";
      recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      const chunks = [];
      elapsed = 0; hitLimit = false; last = performance.now();
      recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
      recorder.onstop = () => {
        const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        ui.playback.src = URL.createObjectURL(blob);
        ui.playback.hidden = false;
        stream.getTracks().forEach((t) => t.stop());
        clearInterval(meter); ui.level.value = 0;
        ctx.close();
        ui.status.textContent = (hitLimit ? "Stopped at the " + fmtTime(opts.maxSeconds) + " limit. " : "")
          + "Recorded " + fmtTime(elapsed) + ". Listen back if you like, then " + (opts.next || "send it") + ".";
        opts.onRecorded(blob, elapsed);
      };
      recorder.start(1000);
      ticker = setInterval(tick, 200);
      ui.status.textContent = "Recording…";
      ui.start.disabled = true; ui.stop.disabled = false;
      if (ui.pause) ui.pause.disabled = false;
      if (opts.onStart) opts.onStart();
    });

    if (ui.pause) {
      ui.pause.addEventListener("click", () => {
        if (!recorder) return;
        if (recorder.state === "recording") { recorder.pause(); ui.pause.textContent = "Resume"; ui.status.textContent = "Paused."; }
        else if (recorder.state === "paused") { recorder.resume(); ui.pause.textContent = "Pause"; ui.status.textContent = "Recording…"; }
      });
    }
    ui.stop.addEventListener("click", stop);
  }

  return { attach: attach, fmtTime: fmtTime, supported: supported };
})();
