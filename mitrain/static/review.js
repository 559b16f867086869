// mitrain review workspace: audio synced with the transcript, keyboard coding, autosave.
// No framework, no inline scripts (CSP). Every change is POSTed at once as JSON with the
// CSRF token; text boxes save while typing and when the page is hidden (keepalive).
"use strict";

(function () {
  const root = document.getElementById("review");
  if (!root) return;

  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const base = root.dataset.baseUrl;
  const keys = JSON.parse(root.dataset.keys);
  const readonly = root.dataset.readonly === "true";
  const player = document.getElementById("player");
  const status = document.getElementById("save-status");
  const notice = document.getElementById("notice");
  const rows = Array.from(document.querySelectorAll("#transcript .utt"));
  const KEEP = "mitrain-review-current-" + root.dataset.reviewId;
  let current = -1;
  let pending = 0;
  const flushers = []; // text boxes with unsaved typing register here (flushed before sign-off)

  // ------------------------------------------------------------------ saving
  function say(text, kind) {
    status.textContent = text;
    status.dataset.kind = kind || "";
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  async function post(url, body, opts) {
    pending += 1;
    say("Saving…", "saving");
    let resp;
    try {
      resp = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        keepalive: !!(opts && opts.keepalive),
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      });
    } catch (e) {
      pending -= 1;
      say("Not saved: the server could not be reached. Check your connection and try again.", "error");
      throw e;
    }
    pending -= 1;
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { error: "The server sent an unexpected answer (" + resp.status + ")." }; }
    if (!resp.ok || data.ok === false) {
      say("Not saved.", "error");
      showNotice(data.error || data.message || "That change could not be saved.");
      const err = new Error(data.error || "failed");
      err.data = data;
      err.status = resp.status;
      throw err;
    }
    const t = new Date();
    say("Saved at " + t.toLocaleTimeString(), "saved");
    return data;
  }

  function refreshSummary(summary) {
    if (!summary) return;
    document.querySelectorAll("[data-summary]").forEach((td) => {
      const [side, key] = td.dataset.summary.split(".");
      const v = summary[side] ? summary[side][key] : null;
      const kind = td.dataset.kind;
      let text = "–";
      if (v !== null && v !== undefined) {
        text = kind === "pct" ? Math.round(v) + "%" : kind === "ratio" ? Number(v).toFixed(2) : String(v);
      }
      td.textContent = text;
      const band = summary[side] && summary[side].bands ? summary[side].bands[key] : undefined;
      if (band !== undefined) td.dataset.band = band;
    });
  }

  function rememberAndReload() {
    if (current >= 0) sessionStorage.setItem(KEEP, rows[current].dataset.id);
    window.location.reload();
  }

  // Changes go to the server one at a time, in the order they were made: each answer
  // carries the session summary as the server then saw it, so answers overtaking each
  // other (three keys pressed quickly) would leave an older summary on screen, and a
  // second change to a row must send the version the first one returned.
  // A queued change counts as pending from the start, so sign-off and leaving wait for it.
  let queue = Promise.resolve();
  function change(row, op, body) {
    pending += 1;
    const run = queue.then(() => send(row, op, body));
    queue = run.catch(() => null).then(() => { pending -= 1; });
    return run;
  }

  async function send(row, op, body) {
    body = Object.assign({ version: Number(row.dataset.version) }, body || {});
    let data;
    try {
      data = await post(base + "/" + row.dataset.id + "/" + op, body);
    } catch (e) {
      if (e.status === 409) setTimeout(rememberAndReload, 2500);
      return null;
    }
    showNotice(data.notice || "");
    if (data.reload || op === "speaker" || op === "text") {
      if (data.notice) sessionStorage.setItem(KEEP + "-notice", data.notice);
      rememberAndReload();
      return data;
    }
    const u = data.utterance;
    if (u) {
      row.dataset.version = u.version;
      row.classList.toggle("changed", u.changed);
      const sel = row.querySelector(".code-select");
      if (sel && sel.value !== (u.code || "")) sel.value = u.code || "";
    }
    refreshSummary(data.summary);
    return data;
  }

  // ------------------------------------------------------------------ current utterance
  function setCurrent(i, opts) {
    if (i < 0 || i >= rows.length) return;
    if (current >= 0) {
      rows[current].classList.remove("current");
      rows[current].removeAttribute("aria-current");
    }
    current = i;
    const row = rows[i];
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    if (!opts || opts.scroll !== false) row.scrollIntoView({ block: "nearest" });
    if (opts && opts.focus) row.focus({ preventScroll: true });
  }

  function seekTo(row) {
    if (!player || row.dataset.start === "") return;
    player.currentTime = Number(row.dataset.start);
  }

  function rowAt(t) {
    let found = -1;
    for (let i = 0; i < rows.length; i++) {
      const s = rows[i].dataset.start;
      if (s === "") continue;
      if (Number(s) <= t + 0.05) found = i; else break;
    }
    return found;
  }

  if (player) {
    player.addEventListener("timeupdate", () => {
      const i = rowAt(player.currentTime);
      if (i >= 0 && i !== current) setCurrent(i);
      rows.forEach((r, k) => r.classList.toggle("playing", k === i && !player.paused));
    });
    player.addEventListener("pause", () => rows.forEach((r) => r.classList.remove("playing")));
  }

  // ------------------------------------------------------------------ row controls
  rows.forEach((row, i) => {
    row.addEventListener("click", (ev) => {
      if (ev.target.closest("input, textarea, select, button, details")) {
        if (current !== i) setCurrent(i, { scroll: false });
        return;
      }
      setCurrent(i, { scroll: false });
      seekTo(row);
    });
    const sel = row.querySelector(".code-select");
    sel.addEventListener("change", () => change(row, "code", { code: sel.value || null }));

    const comment = row.querySelector(".comment");
    let timer = null;
    let saved = comment.value;
    const saveComment = (keepalive) => {
      clearTimeout(timer);
      if (comment.value === saved) return Promise.resolve();
      saved = comment.value;
      if (keepalive) {
        return post(base + "/" + row.dataset.id + "/comment", { comment: saved, version: Number(row.dataset.version) }, { keepalive: true }).catch(() => {});
      }
      return change(row, "comment", { comment: saved });
    };
    flushers.push(() => saveComment(false));
    comment.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(saveComment, 800); });
    comment.addEventListener("blur", () => saveComment(false));
    window.addEventListener("pagehide", () => saveComment(true));

    row.querySelectorAll("[data-action]").forEach((btn) => {
      btn.addEventListener("click", (ev) => {
        ev.stopPropagation();
        setCurrent(i, { scroll: false });
        const action = btn.dataset.action;
        const edit = row.querySelector(".utt-edit");
        const area = row.querySelector(".edit-text");
        if (action === "seek") { seekTo(row); if (player) player.play(); }
        else if (action === "speaker") {
          change(row, "speaker", { speaker: row.dataset.speaker === "practitioner" ? "client" : "practitioner" });
        } else if (action === "edit") { edit.hidden = false; area.focus(); }
        else if (action === "cancel-edit") { edit.hidden = true; area.value = row.querySelector(".utt-text").textContent; }
        else if (action === "save-text") change(row, "text", { text: area.value });
        else if (action === "split") {
          if (area.value !== row.querySelector(".utt-text").textContent) {
            showNotice("Save or cancel your text changes before splitting.");
            return;
          }
          change(row, "split", { at: area.selectionStart });
        } else if (action === "merge") change(row, "merge", {});
      });
    });
  });

  // ------------------------------------------------------------------ keyboard
  function inField(el) {
    return el && (el.matches("input, textarea, select") || el.isContentEditable);
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape" && inField(document.activeElement)) {
      document.activeElement.blur();
      if (current >= 0) rows[current].focus({ preventScroll: true });
      return;
    }
    if (inField(document.activeElement)) return;
    if (ev.target.closest && ev.target.closest("button, a, summary") && (ev.key === " " || ev.key === "Enter")) return;
    const key = ev.key;
    if (key === "ArrowDown") { setCurrent(Math.min(rows.length - 1, current + 1), { focus: true }); ev.preventDefault(); return; }
    if (key === "ArrowUp") { setCurrent(Math.max(0, current - 1), { focus: true }); ev.preventDefault(); return; }
    if (player) {
      if (key === " ") { if (player.paused) player.play(); else player.pause(); ev.preventDefault(); return; }
      if (key === "ArrowLeft") { player.currentTime = Math.max(0, player.currentTime - 5); ev.preventDefault(); return; }
      if (key === "ArrowRight") { player.currentTime = Math.min(player.duration || Infinity, player.currentTime + 5); ev.preventDefault(); return; }
      if (key === "Enter" && current >= 0) { seekTo(rows[current]); player.play(); ev.preventDefault(); return; }
    }
    if (readonly || current < 0) return;
    const row = rows[current];
    let code = null;
    if (key === "0") code = "";
    else code = (keys[row.dataset.speaker] || {})[key.toLowerCase()];
    if (code === undefined || code === null) return;
    ev.preventDefault();
    const sel = row.querySelector(".code-select");
    sel.value = code;
    change(row, "code", { code: code || null });
    if (current < rows.length - 1) setCurrent(current + 1, { focus: true });
  });

  // ------------------------------------------------------------------ globals and note
  document.querySelectorAll("fieldset.global").forEach((fs) => {
    fs.addEventListener("change", async (ev) => {
      const input = ev.target;
      try {
        const data = await post(root.dataset.globalsUrl, { name: fs.dataset.global, value: Number(input.value) });
        const missing = document.getElementById("missing-globals");
        if (missing) {
          missing.hidden = data.missing.length === 0;
          missing.querySelector("span").textContent = data.missing.join(", ");
        }
        showNotice("");
      } catch (e) { /* the notice says why */ }
    });
  });

  const note = document.getElementById("overall-note");
  if (note && !note.disabled) {
    let timer = null;
    let saved = note.value;
    const saveNote = (keepalive) => {
      clearTimeout(timer);
      if (note.value === saved) return Promise.resolve();
      saved = note.value;
      return post(root.dataset.noteUrl, { note: saved }, { keepalive: keepalive }).catch(() => { saved = null; });
    };
    flushers.push(() => saveNote(false));
    note.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => saveNote(false), 1000); });
    note.addEventListener("blur", () => saveNote(false));
    window.addEventListener("pagehide", () => saveNote(true));
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") saveNote(true); });
  }

  // Sign-off: save any unsaved typing first, and let in-flight saves land.
  const signOff = document.getElementById("sign-off");
  if (signOff) {
    const form = signOff.form;
    form.addEventListener("submit", async (ev) => {
      if (form.dataset.flushed) return;
      ev.preventDefault();
      signOff.disabled = true;
      await Promise.all(flushers.map((f) => f()));
      for (let i = 0; i < 50 && pending > 0; i++) await new Promise((r) => setTimeout(r, 100));
      form.dataset.flushed = "1";
      form.submit();
    });
  }

  // Warn before leaving while a save is still on its way.
  window.addEventListener("beforeunload", (ev) => { if (pending > 0) { ev.preventDefault(); ev.returnValue = ""; } });

  // ------------------------------------------------------------------ start
  const kept = sessionStorage.getItem(KEEP);
  const keptNotice = sessionStorage.getItem(KEEP + "-notice");
  sessionStorage.removeItem(KEEP);
  sessionStorage.removeItem(KEEP + "-notice");
  if (keptNotice) showNotice(keptNotice);
  const start = kept ? rows.findIndex((r) => r.dataset.id === kept) : -1;
  if (rows.length) setCurrent(start >= 0 ? start : 0, { scroll: start >= 0, focus: true });
})();
