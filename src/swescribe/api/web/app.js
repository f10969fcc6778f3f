// The swescribe web page: upload audio, live captions from the microphone, follow jobs,
// read and play back transcripts.
// Plain JavaScript modules, no build step; every user-facing string is in strings.js.
// This module starts the page: the key, the language, and the wiring of every control.
import { STRINGS } from "./strings.js";
import {
  $,
  LANG_STORAGE,
  announce,
  clearError,
  showKeyState,
  state,
  store,
  storeKey,
  stored,
  storedKey,
  t,
} from "./page.js";
import { renderUploadProgress, setUpDropZone } from "./upload.js";
import { deleteJob, refreshJobs, renderJobs } from "./jobs.js";
import { renderLive, setUpLive } from "./live.js";
import { refreshVoices, renderVoices } from "./voices.js";
import {
  closeTranscript,
  copyText,
  download,
  markPlayingSegment,
  openTranscript,
  playFrom,
  renderTranscript,
} from "./transcript.js";

export function saveKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  state.apiKey = key;
  state.keyRefused = false;
  storeKey(key, $("key-remember").checked);
  state.jobs = [];
  state.lastStatus.clear();
  closeTranscript();
  renderJobs();
  showKeyState();
  clearError();
  announce(t("keySavedNow"));
  refreshJobs();
  refreshVoices();
}

export function forgetKey() {
  window.clearTimeout(state.pollTimer);
  state.apiKey = "";
  state.keyRefused = false;
  storeKey(null, false);
  $("api-key").value = "";
  $("key-remember").checked = false;
  state.jobs = [];
  state.lastStatus.clear();
  state.voices = [];
  closeTranscript();
  renderJobs();
  renderVoices();
  showKeyState();
  announce(t("keyForgotten"));
}

export function applyLanguage(lang) {
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
  renderLive();
  renderJobs();
  renderVoices();
  renderTranscript();
  if (!$("jobs-more").hidden) $("jobs-more").textContent = t("jobsMore", state.jobs.length);
}

export function initialLanguage() {
  const saved = stored(LANG_STORAGE);
  if (saved && STRINGS[saved]) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("sv") ? "sv" : "en";
}

function start() {
  const { key, remembered } = storedKey();
  state.apiKey = key;
  $("api-key").value = key;
  $("key-remember").checked = remembered;
  applyLanguage(initialLanguage());
  $("language-select").addEventListener("change", (event) => {
    store(LANG_STORAGE, event.target.value);
    applyLanguage(event.target.value);
  });
  $("key-form").addEventListener("submit", saveKey);
  $("key-forget").addEventListener("click", forgetKey);
  $("key-remember").addEventListener("change", () => {
    if (state.apiKey) storeKey(state.apiKey, $("key-remember").checked);
    showKeyState();
  });
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
  setUpLive();
  if (state.apiKey) {
    refreshJobs();
    refreshVoices();
  }
}

start();
