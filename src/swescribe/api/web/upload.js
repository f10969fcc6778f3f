// Uploads: a job per file, the file streamed to its upload URL with a progress bar.
import {
  $,
  announce,
  api,
  clearError,
  errorFrom,
  requireKey,
  showError,
  state,
  t,
} from "./page.js";
import { refreshJobs } from "./jobs.js";

export function sameOriginUpload(url) {
  // The local upload endpoint is served by this same server: reach it at the address
  // this page was opened with, whatever public URL the service announces.
  const target = new URL(url, window.location.href);
  if (target.pathname.includes("/v1/uploads/")) {
    return new URL(target.pathname + target.search, window.location.href).href;
  }
  return target.href;
}

export function showUploadProgress(name, percent, done = false, jobId = null) {
  state.upload = { name, percent, done, jobId };
  renderUploadProgress();
}

export function renderUploadProgress() {
  if (!state.upload) {
    $("upload-status").hidden = true;
    $("upload-label").textContent = "";
    $("upload-progress").value = 0;
    return;
  }
  const { name, percent, done } = state.upload;
  $("upload-status").hidden = false;
  $("upload-label").textContent = done ? t("uploaded", name) : t("uploading", name, percent);
  $("upload-progress").value = percent;
}

export function sendFile(upload, file, onProgress) {
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

// What the page asks of a new job: its file name, the custom vocabulary (the model's
// initial prompt, docs/api.md), and speaker labels when ticked.
export function jobRequest(filename, vocabulary, diarizeBox = $("diarize"), speakersBox = $("speakers")) {
  const request = { filename };
  const prompt = vocabulary.trim();
  if (prompt) request.prompt = prompt;
  if (diarizeBox?.checked) {
    request.diarize = true;
    const speakers = Number(speakersBox?.value || 0);
    if (Number.isInteger(speakers) && speakers >= 1 && speakers <= 32) request.speakers = speakers;
  }
  return request;
}

// Creates a job for the file and uploads it; the job, or null when either step failed.
export async function uploadFile(
  file,
  request = jobRequest(file.name, $("vocabulary-input").value),
  onCreated = () => {},
) {
  if (!requireKey()) return null;
  clearError();
  showUploadProgress(file.name, 0);
  let job = null;
  try {
    const response = await api("v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    job = await response.json();
    onCreated(job);
    state.names.set(job.job_id, file.name);
    state.localAudio.set(job.job_id, URL.createObjectURL(file));
    state.uploading.add(job.job_id);
    state.scrollToJob = job.job_id;
    showUploadProgress(file.name, 0, false, job.job_id);
    refreshJobs();
    await sendFile(job.upload, file, (percent) =>
      showUploadProgress(file.name, percent, false, job.job_id),
    );
    showUploadProgress(file.name, 100, true, job.job_id);
    announce(t("uploaded", file.name));
    return job;
  } catch (error) {
    announce(t("uploadFailed", file.name));
    showError(error);
    return null;
  } finally {
    if (job) state.uploading.delete(job.job_id);
    refreshJobs();
  }
}

export async function uploadFiles(files) {
  for (const file of Array.from(files)) await uploadFile(file);
}

export function setUpDropZone() {
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
