// The job list: fetched and polled while jobs run, rendered as a table, deletions.
import {
  $,
  FINAL,
  POLL_MS,
  announce,
  api,
  clock,
  jobName,
  progressText,
  shortName,
  showError,
  showKeyState,
  state,
  statusLabel,
  t,
} from "./page.js";
import { closeTranscript } from "./transcript.js";

export function needsPolling() {
  return state.jobs.some(
    (job) => !FINAL.has(job.status) && (job.status !== "registered" || state.uploading.has(job.job_id)),
  );
}

export async function refreshJobs() {
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
    if (state.keyRefused) {
      state.keyRefused = false; // the key works after all (the service was restarted)
      showKeyState();
    }
    $("jobs-more").hidden = !page.next_cursor;
    $("jobs-more").textContent = t("jobsMore", page.jobs.length);
    announceChanges();
    clearFinishedUpload();
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

export function announceChanges() {
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

// The upload line and its bar stay while the uploaded file waits and is transcribed, and
// leave once its job is done (the row says how it ended) or gone.
export function clearFinishedUpload() {
  const upload = state.upload;
  if (!upload || !upload.done) return;
  const job = state.jobs.find((j) => j.job_id === upload.jobId);
  if (job && !FINAL.has(job.status)) return;
  state.upload = null;
  $("upload-status").hidden = true;
  $("upload-label").textContent = "";
  $("upload-progress").value = 0;
}

// The file cell: the name on one line, shortened in the middle when long; the whole name
// on hover (title) and, in place of the short one, for screen readers.
function fileCell(row, name) {
  const td = cell(row, "", "file");
  const shown = document.createElement("span");
  shown.className = "name";
  shown.title = name;
  const short = shortName(name);
  shown.textContent = short;
  td.append(shown);
  if (short !== name) {
    shown.setAttribute("aria-hidden", "true");
    const whole = document.createElement("span");
    whole.className = "visually-hidden";
    whole.textContent = name;
    td.append(whole);
  }
  return td;
}

// Progress of a transcription: a bar that moves, the share and the time left beside it.
function progressCell(row, job, name) {
  const td = cell(row, progressText(job), "progress");
  if (job.status === "processing" && typeof job.progress === "number") {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = Math.round(job.progress * 100);
    bar.setAttribute("aria-label", t("progressLabel", name));
    td.prepend(bar);
  }
  return td;
}

export function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

export function actionButton(label, ariaLabel, action, jobId) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-label", ariaLabel);
  button.dataset.action = action;
  button.dataset.jobId = jobId;
  return button;
}

// The live captions of a session saved as this job, beside it (kept in this tab only).
function liveTextDetails(jobId) {
  const details = document.createElement("details");
  details.className = "live-text";
  const summary = document.createElement("summary");
  summary.textContent = t("liveTextSummary");
  const text = document.createElement("p");
  text.textContent = state.liveText.get(jobId) || t("liveTextEmpty");
  details.append(summary, text);
  details.open = state.liveTextOpen.has(jobId); // a row is redrawn when its job changes
  details.addEventListener("toggle", () => {
    if (details.open) state.liveTextOpen.add(jobId);
    else state.liveTextOpen.delete(jobId);
  });
  return details;
}

function jobRow(job) {
  const row = document.createElement("tr");
  row.dataset.jobId = job.job_id;
  row.dataset.status = job.status;
  const name = jobName(job);
  const file = fileCell(row, name);
  if (state.liveText.has(job.job_id)) file.append(liveTextDetails(job.job_id));
  const statusCell = cell(row, "", "status");
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
  progressCell(row, job, name);
  cell(row, typeof job.audio_duration === "number" ? clock(job.audio_duration) : "–");
  cell(row, job.created_at ? new Date(job.created_at).toLocaleString(state.lang) : "–");
  const actions = cell(row, "", "actions");
  if (job.status === "completed") {
    actions.append(actionButton(t("open"), t("openLabel", name), "open", job.job_id));
  }
  actions.append(actionButton(t("remove"), t("removeLabel", name), "delete", job.job_id));
  return row;
}

// Everything a row is drawn from (kept on the row as a property, not in the DOM): a row
// whose drawing did not change is kept as it is.
function rowSource(job) {
  return JSON.stringify([job, state.lang, state.liveText.get(job.job_id) ?? null]);
}

// Polling redraws only the rows that changed, so a selection, a hover or an open detail
// in the others survives it; rows are moved into the list's order, gone jobs removed.
export function renderJobs() {
  const focused = document.activeElement;
  const refocus =
    focused && focused.dataset && focused.dataset.action
      ? [focused.dataset.action, focused.dataset.jobId]
      : null;
  const body = $("jobs-body");
  const shown = new Map([...body.rows].map((row) => [row.dataset.jobId, row]));
  let next = body.firstElementChild;
  for (const job of state.jobs) {
    const source = rowSource(job);
    let row = shown.get(job.job_id);
    if (!row || row.drawnFrom !== source) {
      const fresh = jobRow(job);
      fresh.drawnFrom = source;
      if (row) row.replaceWith(fresh);
      if (next === row) next = fresh;
      row = fresh;
    }
    if (row === next) next = row.nextElementSibling;
    else body.insertBefore(row, next);
  }
  while (next) {
    const gone = next;
    next = next.nextElementSibling;
    gone.remove();
  }
  $("jobs-table").hidden = state.jobs.length === 0;
  $("jobs-empty").hidden = state.jobs.length !== 0;
  const fresh = state.scrollToJob && body.querySelector(`tr[data-job-id="${state.scrollToJob}"]`);
  if (fresh) {
    state.scrollToJob = null; // once: a user scrolling away is not pulled back on each poll
    fresh.scrollIntoView({ block: "nearest" }); // the view only: focus stays where it is
  }
  if (refocus && document.activeElement !== focused) {
    const again = body.querySelector(
      `button[data-action="${refocus[0]}"][data-job-id="${refocus[1]}"]`,
    );
    if (again) again.focus();
  }
}

export async function deleteJob(jobId) {
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
  state.liveText.delete(jobId);
  announce(t("deleted", name));
  await refreshJobs();
  $("jobs-heading").focus();
}
