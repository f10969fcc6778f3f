// The swescribe web page: upload audio, follow jobs, read and play back transcripts.
// Plain JavaScript, no build step; every user-facing string is in STRINGS (strings.js).
"use strict";

(() => {
  const FINAL = new Set(["completed", "failed"]);
  const POLL_MS = 2000;
  const KEY_STORAGE = "swescribe.apiKey";
  const LANG_STORAGE = "swescribe.language";

  const state = {
    lang: "en",
    apiKey: "",
    jobs: [],
    uploading: new Set(), // job ids whose upload runs in this page
    localAudio: new Map(), // job id -> object URL of the File uploaded from this page
    names: new Map(), // job id -> the file name the user picked
    lastStatus: new Map(),
    upload: null, // the latest upload: {name, percent, done}
    openJobId: null,
    transcript: null,
    pollTimer: null,
    refreshing: false,
    refreshAgain: false,
  };

  const $ = (id) => document.getElementById(id);

  function t(key, ...args) {
    const value = STRINGS[state.lang][key] ?? STRINGS.en[key] ?? key;
    return typeof value === "function" ? value(...args) : value;
  }

  function stored(name) {
    try {
      return window.localStorage.getItem(name);
    } catch {
      return null;
    }
  }

  function store(name, value) {
    try {
      if (value === null) window.localStorage.removeItem(name);
      else window.localStorage.setItem(name, value);
    } catch {
      // storage is off (private mode): the page still works for this visit
    }
  }

  // ---- messages -------------------------------------------------------------------

  function announce(text) {
    const region = $("status-message");
    region.textContent = "";
    window.setTimeout(() => {
      region.textContent = text;
    }, 50);
  }

  function showError(error) {
    let text = error.message || String(error);
    if (error.status) text += ` (HTTP ${error.status}, ${error.code})`;
    if (error.status === 401) text += ` ${t("keyRejected")}`;
    $("error-text").textContent = `${t("errorPrefix")} ${text}`;
    $("error-box").hidden = false;
  }

  function clearError() {
    $("error-box").hidden = true;
    $("error-text").textContent = "";
  }

  // ---- the API --------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function errorFrom(status, statusText, readJson) {
    try {
      const body = await readJson();
      return new ApiError(status, body.error.code, body.error.message);
    } catch {
      return new ApiError(status, "http_error", statusText || `HTTP ${status}`);
    }
  }

  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    headers.set("X-API-Key", state.apiKey);
    let response;
    try {
      response = await fetch(path, { ...options, headers, cache: "no-store" });
    } catch {
      throw new Error(t("networkError"));
    }
    if (!response.ok) {
      throw await errorFrom(response.status, response.statusText, () => response.json());
    }
    return response;
  }

  function requireKey() {
    if (state.apiKey) return true;
    showError(new Error(t("needKey")));
    $("api-key").focus();
    return false;
  }

  // ---- formatting -----------------------------------------------------------------

  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = String(whole % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function statusLabel(status) {
    const key = `status${status.charAt(0).toUpperCase()}${status.slice(1)}`;
    return STRINGS.en[key] ? t(key) : status;
  }

  function jobName(job) {
    if (state.names.has(job.job_id)) return state.names.get(job.job_id);
    if (job.s3_key) return job.s3_key.split("/").pop();
    if (job.audio_url) return job.audio_url.split("/").pop() || job.audio_url;
    return t("unnamed");
  }

  function progressText(job) {
    if (job.status === "completed") return "100 %";
    if (job.status === "processing" && typeof job.progress === "number") {
      return `${Math.round(job.progress * 100)} %`;
    }
    return "–";
  }

  // ---- API key --------------------------------------------------------------------

  function showKeyState() {
    $("key-state").textContent = state.apiKey ? t("keySaved") : t("keyMissing");
  }

  function saveKey(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    state.apiKey = key;
    store(KEY_STORAGE, key);
    state.jobs = [];
    state.lastStatus.clear();
    closeTranscript();
    renderJobs();
    showKeyState();
    clearError();
    announce(t("keySavedNow"));
    refreshJobs();
  }

  function forgetKey() {
    window.clearTimeout(state.pollTimer);
    state.apiKey = "";
    store(KEY_STORAGE, null);
    $("api-key").value = "";
    state.jobs = [];
    state.lastStatus.clear();
    closeTranscript();
    renderJobs();
    showKeyState();
    announce(t("keyForgotten"));
  }

  // ---- uploads --------------------------------------------------------------------

  function sameOriginUpload(url) {
    // The local upload endpoint is served by this same server: reach it at the address
    // this page was opened with, whatever public URL the service announces.
    const target = new URL(url, window.location.href);
    if (target.pathname.includes("/v1/uploads/")) {
      return new URL(target.pathname + target.search, window.location.href).href;
    }
    return target.href;
  }

  function showUploadProgress(name, percent, done = false) {
    state.upload = { name, percent, done };
    renderUploadProgress();
  }

  function renderUploadProgress() {
    if (!state.upload) return;
    const { name, percent, done } = state.upload;
    $("upload-status").hidden = false;
    $("upload-label").textContent = done ? t("uploaded", name) : t("uploading", name, percent);
    $("upload-progress").value = percent;
  }

  function sendFile(upload, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(upload.method, sameOriginUpload(upload.url));
      let body = file;
      if (upload.fields && Object.keys(upload.fields).length) {
        body = new FormData();
        for (const [name, value] of Object.entries(upload.fields)) body.append(name, value);
        body.append("file", file, file.name);
      } else {
        for (const [name, value] of Object.entries(upload.headers || {})) {
          xhr.setRequestHeader(name, value);
        }
      }
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(Math.round((100 * event.loaded) / event.total));
      });
      xhr.addEventListener("load", async () => {
        if (xhr.status < 400) {
          resolve();
          return;
        }
        reject(await errorFrom(xhr.status, xhr.statusText, async () => JSON.parse(xhr.responseText)));
      });
      xhr.addEventListener("error", () => reject(new Error(t("networkError"))));
      xhr.send(body);
    });
  }

  async function uploadFile(file) {
    if (!requireKey()) return;
    clearError();
    showUploadProgress(file.name, 0);
    let job = null;
    try {
      const response = await api("v1/jobs", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ filename: file.name }),
      });
      job = await response.json();
      state.names.set(job.job_id, file.name);
      state.localAudio.set(job.job_id, URL.createObjectURL(file));
      state.uploading.add(job.job_id);
      refreshJobs();
      await sendFile(job.upload, file, (percent) => showUploadProgress(file.name, percent));
      showUploadProgress(file.name, 100, true);
      announce(t("uploaded", file.name));
    } catch (error) {
      announce(t("uploadFailed", file.name));
      showError(error);
    } finally {
      if (job) state.uploading.delete(job.job_id);
      refreshJobs();
    }
  }

  async function uploadFiles(files) {
    for (const file of Array.from(files)) await uploadFile(file);
  }

  function setUpDropZone() {
    const zone = $("drop-zone");
    const input = $("file-input");
    zone.addEventListener("click", () => input.click());
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        input.click();
      }
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        uploadFiles(event.dataTransfer.files);
      }
    });
    input.addEventListener("change", () => {
      const files = Array.from(input.files || []);
      input.value = "";
      uploadFiles(files);
    });
  }

  // ---- the job list ---------------------------------------------------------------

  function needsPolling() {
    return state.jobs.some(
      (job) => !FINAL.has(job.status) && (job.status !== "registered" || state.uploading.has(job.job_id)),
    );
  }

  async function refreshJobs() {
    if (state.refreshing) {
      state.refreshAgain = true; // one list request at a time, one timer at a time
      return;
    }
    window.clearTimeout(state.pollTimer);
    state.pollTimer = null;
    if (!state.apiKey) return;
    state.refreshing = true;
    let keepPolling = true;
    try {
      const page = await (await api("v1/jobs?limit=100")).json();
      state.jobs = page.jobs;
      $("jobs-more").hidden = !page.next_cursor;
      $("jobs-more").textContent = t("jobsMore", page.jobs.length);
      announceChanges();
      renderJobs();
    } catch (error) {
      showError(error);
      keepPolling = error.status !== 401; // a passing failure is retried, a bad key is not
    } finally {
      state.refreshing = false;
    }
    if (state.refreshAgain) {
      state.refreshAgain = false;
      refreshJobs();
    } else if (keepPolling && needsPolling()) {
      state.pollTimer = window.setTimeout(refreshJobs, POLL_MS);
    }
  }

  function announceChanges() {
    const changes = [];
    for (const job of state.jobs) {
      const before = state.lastStatus.get(job.job_id);
      if (before !== undefined && before !== job.status) {
        changes.push(t("statusChanged", jobName(job), statusLabel(job.status)));
      }
      state.lastStatus.set(job.job_id, job.status);
    }
    if (changes.length) announce(changes.join(" "));
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
    return td;
  }

  function actionButton(label, ariaLabel, action, jobId) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-label", ariaLabel);
    button.dataset.action = action;
    button.dataset.jobId = jobId;
    return button;
  }

  function renderJobs() {
    const focused = document.activeElement;
    const refocus =
      focused && focused.dataset && focused.dataset.action
        ? [focused.dataset.action, focused.dataset.jobId]
        : null;
    const body = $("jobs-body");
    body.replaceChildren();
    for (const job of state.jobs) {
      const row = document.createElement("tr");
      row.dataset.jobId = job.job_id;
      row.dataset.status = job.status;
      const name = jobName(job);
      const fileCell = cell(row, name, "file");
      fileCell.title = job.job_id;
      const statusCell = cell(row, "");
      const badge = document.createElement("span");
      badge.className = `badge status-${job.status}`;
      badge.textContent = statusLabel(job.status);
      statusCell.append(badge);
      if (job.status === "failed" && job.error_message) {
        const why = document.createElement("span");
        why.className = "failure";
        why.textContent = job.error_message;
        statusCell.append(why);
      }
      cell(row, progressText(job), "progress");
      cell(row, typeof job.audio_duration === "number" ? clock(job.audio_duration) : "–");
      cell(row, job.created_at ? new Date(job.created_at).toLocaleString(state.lang) : "–");
      const actions = cell(row, "", "actions");
      if (job.status === "completed") {
        actions.append(actionButton(t("open"), t("openLabel", name), "open", job.job_id));
      }
      actions.append(actionButton(t("remove"), t("removeLabel", name), "delete", job.job_id));
      body.append(row);
    }
    $("jobs-table").hidden = state.jobs.length === 0;
    $("jobs-empty").hidden = state.jobs.length !== 0;
    if (refocus) {
      const again = body.querySelector(
        `button[data-action="${refocus[0]}"][data-job-id="${refocus[1]}"]`,
      );
      if (again) again.focus();
    }
  }

  async function deleteJob(jobId) {
    const job = state.jobs.find((j) => j.job_id === jobId);
    const name = job ? jobName(job) : jobId;
    if (!window.confirm(t("confirmDelete", name))) return;
    try {
      await api(`v1/jobs/${encodeURIComponent(jobId)}`, { method: "DELETE" });
    } catch (error) {
      showError(error);
      return;
    }
    if (state.openJobId === jobId) closeTranscript();
    const url = state.localAudio.get(jobId);
    if (url) URL.revokeObjectURL(url);
    state.localAudio.delete(jobId);
    state.lastStatus.delete(jobId);
    announce(t("deleted", name));
    await refreshJobs();
    $("jobs-heading").focus();
  }

  // ---- the transcript -------------------------------------------------------------

  function transcriptName() {
    const job = state.jobs.find((j) => j.job_id === state.openJobId);
    return job ? jobName(job) : state.openJobId;
  }

  async function openTranscript(jobId) {
    clearError();
    let transcript;
    try {
      transcript = await (await api(`v1/jobs/${encodeURIComponent(jobId)}/transcript?format=json`)).json();
    } catch (error) {
      showError(error);
      return;
    }
    state.openJobId = jobId;
    state.transcript = transcript;
    const player = $("player");
    const audioUrl = state.localAudio.get(jobId) || (await storedAudioUrl(jobId));
    player.pause();
    if (audioUrl) {
      player.src = audioUrl;
      player.hidden = false;
    } else {
      player.removeAttribute("src");
      player.load();
      player.hidden = true;
    }
    $("audio-missing").hidden = Boolean(audioUrl);
    renderTranscript();
    $("transcript-panel").hidden = false;
    $("transcript-heading").focus();
    announce(t("transcriptLoaded", transcriptName(), transcript.segments.length));
  }

  // The uploaded audio as the service stores it: a short-lived link an <audio> element can
  // play and seek (HTTP Range) without the API key. None for jobs fetched from a URL.
  async function storedAudioUrl(jobId) {
    try {
      const link = await (await api(`v1/jobs/${encodeURIComponent(jobId)}/audio-link`)).json();
      return link.url;
    } catch {
      return null;
    }
  }

  function renderTranscript() {
    if (!state.transcript) return;
    $("transcript-heading").textContent = t("transcriptOf", transcriptName());
    const list = $("segments");
    list.replaceChildren();
    if (!state.transcript.segments.length) {
      const empty = document.createElement("li");
      empty.className = "hint";
      empty.textContent = t("noSegments");
      list.append(empty);
    }
    for (const segment of state.transcript.segments) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "segment";
      button.dataset.start = String(segment.start);
      button.dataset.end = String(segment.end);
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = `${clock(segment.start)}–${clock(segment.end)}`;
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = segment.text.trim();
      button.append(time, text);
      item.append(button);
      list.append(item);
    }
    for (const button of document.querySelectorAll("button.download")) {
      button.setAttribute("aria-label", t("downloadAs", button.dataset.format.toUpperCase()));
    }
  }

  function closeTranscript() {
    const player = $("player");
    player.pause();
    state.openJobId = null;
    state.transcript = null;
    $("transcript-panel").hidden = true;
    $("segments").replaceChildren();
  }

  function playFrom(button) {
    const start = Number(button.dataset.start);
    const player = $("player");
    if (player.hidden) {
      announce(t("audioMissing"));
      return;
    }
    player.currentTime = start;
    player.play().catch(() => {
      // playback may be refused (no audio output); the position is still set
    });
    announce(t("playingFrom", clock(start)));
  }

  function markPlayingSegment() {
    const now = $("player").currentTime;
    for (const button of document.querySelectorAll("#segments button.segment")) {
      const playing = now >= Number(button.dataset.start) && now < Number(button.dataset.end);
      button.classList.toggle("playing", playing);
      if (playing) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  function fileNameFrom(response, fallback) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="?([^";]+)"?/.exec(disposition);
    return match ? match[1] : fallback;
  }

  async function download(format) {
    const jobId = state.openJobId;
    if (!jobId) return;
    try {
      const response = await api(`v1/jobs/${encodeURIComponent(jobId)}/transcript?format=${format}`);
      const stem = transcriptName().replace(/\.[^.]+$/, "");
      const name = fileNameFrom(response, `${stem}.${format}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce(t("downloaded", name));
    } catch (error) {
      showError(error);
    }
  }

  async function copyText() {
    if (!state.transcript) return;
    const text = state.transcript.segments.map((s) => s.text.trim()).join("\n");
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.append(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      if (!ok) {
        announce(t("copyFailed"));
        return;
      }
    }
    announce(t("copied"));
  }

  // ---- language -------------------------------------------------------------------

  function applyLanguage(lang) {
    state.lang = STRINGS[lang] ? lang : "en";
    document.documentElement.lang = state.lang;
    $("language-select").value = state.lang;
    for (const element of document.querySelectorAll("[data-i18n]")) {
      element.textContent = t(element.dataset.i18n);
    }
    for (const element of document.querySelectorAll("[data-i18n-html]")) {
      element.innerHTML = t(element.dataset.i18nHtml); // our own constant strings only
    }
    $("drop-zone").setAttribute("aria-label", t("dropLabel"));
    showKeyState();
    renderUploadProgress();
    renderJobs();
    renderTranscript();
    if (!$("jobs-more").hidden) $("jobs-more").textContent = t("jobsMore", state.jobs.length);
  }

  function initialLanguage() {
    const saved = stored(LANG_STORAGE);
    if (saved && STRINGS[saved]) return saved;
    return (navigator.language || "en").toLowerCase().startsWith("sv") ? "sv" : "en";
  }

  // ---- wiring ---------------------------------------------------------------------

  function start() {
    state.apiKey = stored(KEY_STORAGE) || "";
    $("api-key").value = state.apiKey;
    applyLanguage(initialLanguage());
    $("language-select").addEventListener("change", (event) => {
      store(LANG_STORAGE, event.target.value);
      applyLanguage(event.target.value);
    });
    $("key-form").addEventListener("submit", saveKey);
    $("key-forget").addEventListener("click", forgetKey);
    $("error-close").addEventListener("click", clearError);
    $("jobs-refresh").addEventListener("click", () => {
      clearError();
      refreshJobs();
    });
    $("jobs-body").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      if (button.dataset.action === "open") openTranscript(button.dataset.jobId);
      if (button.dataset.action === "delete") deleteJob(button.dataset.jobId);
    });
    $("segments").addEventListener("click", (event) => {
      const button = event.target.closest("button.segment");
      if (button) playFrom(button);
    });
    $("player").addEventListener("timeupdate", markPlayingSegment);
    $("transcript-close").addEventListener("click", () => {
      closeTranscript();
      $("jobs-heading").focus();
    });
    for (const button of document.querySelectorAll("button.download")) {
      button.addEventListener("click", () => download(button.dataset.format));
    }
    $("copy-text").addEventListener("click", copyText);
    setUpDropZone();
    if (state.apiKey) refreshJobs();
  }

  start();
})();
