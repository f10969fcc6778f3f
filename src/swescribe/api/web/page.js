// What every part of the web page shares: its state, strings, messages, the API call,
// and how jobs and times are shown.
import { STRINGS } from "./strings.js";

export const FINAL = new Set(["completed", "failed"]);

export const POLL_MS = 2000;

export const KEY_STORAGE = "swescribe.apiKey";

export const LANG_STORAGE = "swescribe.language";

export const state = {
  lang: "en",
  apiKey: "",
  jobs: [],
  uploading: new Set(), // job ids whose upload runs in this page
  localAudio: new Map(), // job id -> object URL of the File uploaded from this page
  names: new Map(), // job id -> the file name the user picked
  lastStatus: new Map(),
  upload: null, // the latest upload: {name, percent, done, jobId}
  keyRefused: false, // the service answered 401 to the saved key
  scrollToJob: null, // a new job's id: its row is scrolled into view once drawn
  openJobId: null,
  transcript: null,
  speakerNames: new Map(), // speaker label (S1) -> the name the user gave it
  voices: [], // the key's enrolled voices: {id, name, created_at, seconds}
  enrolling: null, // the open "This is…" form: {index, draft, error, focus}
  live: null, // the Live view's session (live.js)
  liveText: new Map(), // job id -> the live captions of a session saved as that job
  liveTextOpen: new Set(), // job ids whose live captions are unfolded in the job list
  pollTimer: null,
  refreshing: false,
  refreshAgain: false,
};

export const $ = (id) => document.getElementById(id);

export function t(key, ...args) {
  const value = STRINGS[state.lang][key] ?? STRINGS.en[key] ?? key;
  return typeof value === "function" ? value(...args) : value;
}

// Settings (the language) live in localStorage. The API key lives in sessionStorage (this
// tab only, gone when it closes) unless the user asks to remember it on this device.
function storage(kind) {
  try {
    return kind === "session" ? window.sessionStorage : window.localStorage;
  } catch {
    return null; // storage is off (private mode): the page still works for this visit
  }
}

export function stored(name, kind = "local") {
  try {
    return storage(kind)?.getItem(name) ?? null;
  } catch {
    return null;
  }
}

export function store(name, value, kind = "local") {
  try {
    if (value === null) storage(kind)?.removeItem(name);
    else storage(kind)?.setItem(name, value);
  } catch {
    // storage is full or off: the page still works for this visit
  }
}

export function storedKey() {
  const remembered = stored(KEY_STORAGE);
  return { key: stored(KEY_STORAGE, "session") || remembered || "", remembered: !!remembered };
}

export function storeKey(key, remember) {
  store(KEY_STORAGE, key, "session");
  store(KEY_STORAGE, remember ? key : null);
}

export function announce(text) {
  const region = $("status-message");
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

export function showError(error) {
  let text = error.message || String(error);
  if (error.status) text += ` (HTTP ${error.status}, ${error.code})`;
  if (error.status === 401) {
    text += ` ${t("keyRejected")}`;
    state.keyRefused = true;
    showKeyState();
  }
  $("error-text").textContent = `${t("errorPrefix")} ${text}`;
  $("error-box").hidden = false;
}

// The line under the key: what the page knows of it (saved, remembered, refused).
export function showKeyState() {
  let text = t("keyMissing");
  if (state.apiKey && state.keyRefused) text = t("keyRefusedState");
  else if (state.apiKey) text = $("key-remember").checked ? t("keyRemembered") : t("keySaved");
  $("key-state").textContent = text;
}

export function clearError() {
  $("error-box").hidden = true;
  $("error-text").textContent = "";
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function errorFrom(status, statusText, readJson) {
  try {
    const body = await readJson();
    return new ApiError(status, body.error.code, body.error.message);
  } catch {
    return new ApiError(status, "http_error", statusText || `HTTP ${status}`);
  }
}

export async function api(path, options = {}) {
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

export function requireKey() {
  if (state.apiKey) return true;
  showError(new Error(t("needKey")));
  $("api-key").focus();
  return false;
}

export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function statusLabel(status) {
  const key = `status${status.charAt(0).toUpperCase()}${status.slice(1)}`;
  return STRINGS.en[key] ? t(key) : status;
}

export function jobName(job) {
  if (state.names.has(job.job_id)) return state.names.get(job.job_id);
  if (job.s3_key) return job.s3_key.split("/").pop();
  if (job.audio_url) return job.audio_url.split("/").pop() || job.audio_url;
  return t("unnamed");
}

export function progressText(job) {
  if (job.status === "completed") return "100 %";
  if (job.status === "processing" && typeof job.progress === "number") {
    const percent = `${Math.round(job.progress * 100)} %`;
    if (typeof job.eta_seconds !== "number") return percent;
    return `${percent} · ${t("timeLeft", clock(job.eta_seconds))}`;
  }
  return "–";
}

// A long file name shortened in the middle (its start and its extension stay), so it
// fits one line beside the status; the whole name goes in the title and to screen readers.
export const SHORT_NAME = 36;

export function shortName(name) {
  if (name.length <= SHORT_NAME) return name;
  const tail = name.slice(-12);
  return `${name.slice(0, SHORT_NAME - tail.length - 1)}…${tail}`;
}
