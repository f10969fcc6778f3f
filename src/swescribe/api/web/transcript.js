// The transcript view: segments with times, playback from a segment, downloads, copy.
import { $, announce, api, clearError, clock, jobName, showError, state, t } from "./page.js";
import {
  displayName,
  renameInFile,
  renderSpeakerNames,
  speakerClass,
  speakersOf,
} from "./speakers.js";
import { closeEnrolForm, enrolControl } from "./voices.js";

export function transcriptName() {
  const job = state.jobs.find((j) => j.job_id === state.openJobId);
  return job ? jobName(job) : state.openJobId;
}

export async function openTranscript(jobId) {
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
  state.speakerNames = new Map();
  closeEnrolForm();
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
export async function storedAudioUrl(jobId) {
  try {
    const link = await (await api(`v1/jobs/${encodeURIComponent(jobId)}/audio-link`)).json();
    return link.url;
  } catch {
    return null;
  }
}

export function renderTranscript() {
  if (!state.transcript) return;
  $("transcript-heading").textContent = t("transcriptOf", transcriptName());
  if (!state.speakerNames) state.speakerNames = new Map();
  renderSpeakerNames(state.transcript, state.speakerNames, renderTranscript);
  const list = $("segments");
  list.replaceChildren();
  if (!state.transcript.segments.length) {
    const empty = document.createElement("li");
    empty.className = "hint";
    empty.textContent = t("noSegments");
    list.append(empty);
  }
  const starts = paragraphStarts(state.transcript);
  for (const [index, segment] of state.transcript.segments.entries()) {
    const item = document.createElement("li");
    item.className = "segment-row";
    // A paragraph (issue 29) is shown as space before its first segment; every segment
    // stays its own button in the one list, so keyboard and screen reader paths are as before.
    if (index > 0 && starts.has(segment.id)) item.classList.add("paragraph-start");
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
    if (segment.speaker) {
      const who = document.createElement("span");
      who.className = `speaker-chip ${speakerClass(state.transcript, segment.speaker)}`;
      who.textContent = displayName(state.speakerNames, segment.speaker);
      button.classList.add("has-speaker", speakerClass(state.transcript, segment.speaker));
      button.dataset.speaker = segment.speaker;
      button.append(time, who, text);
    } else {
      button.append(time, text);
    }
    item.append(button);
    // Beside the segment, not inside it: a button cannot hold another control.
    if (segment.speaker && state.openJobId) {
      item.append(...enrolControl(segment, index, renderTranscript));
    }
    list.append(item);
  }
  for (const button of document.querySelectorAll("button.download")) {
    button.setAttribute("aria-label", t("downloadAs", button.dataset.format.toUpperCase()));
  }
}

// The ids of the segments that begin a paragraph (none in JSON from before paragraphs).
function paragraphStarts(transcript) {
  return new Set((transcript.paragraphs || []).map((p) => p.segment_ids[0]));
}

export function closeTranscript() {
  const player = $("player");
  player.pause();
  state.openJobId = null;
  state.transcript = null;
  state.speakerNames = new Map();
  closeEnrolForm();
  $("speakers-panel").hidden = true;
  $("transcript-panel").hidden = true;
  $("segments").replaceChildren();
}

export function playFrom(button) {
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

export function markPlayingSegment() {
  const now = $("player").currentTime;
  for (const button of document.querySelectorAll("#segments button.segment")) {
    const playing = now >= Number(button.dataset.start) && now < Number(button.dataset.end);
    button.classList.toggle("playing", playing);
    if (playing) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

export function fileNameFrom(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return match ? match[1] : fallback;
}

export async function download(format) {
  const jobId = state.openJobId;
  if (!jobId) return;
  try {
    const response = await api(`v1/jobs/${encodeURIComponent(jobId)}/transcript?format=${format}`);
    const stem = transcriptName().replace(/\.[^.]+$/, "");
    const name = fileNameFrom(response, `${stem}.${format}`);
    let blob = await response.blob();
    if (state.speakerNames && state.speakerNames.size && speakersOf(state.transcript).length) {
      const renamed = renameInFile(format, await blob.text(), state.speakerNames);
      blob = new Blob([renamed], { type: blob.type });
    }
    const url = URL.createObjectURL(blob);
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

export async function copyText() {
  if (!state.transcript) return;
  const starts = paragraphStarts(state.transcript);
  const text = state.transcript.segments
    .map((s, index) => {
      const line = s.speaker
        ? `${displayName(state.speakerNames, s.speaker)}: ${s.text.trim()}`
        : s.text.trim();
      return index > 0 && starts.has(s.id) ? `\n${line}` : line;
    })
    .join("\n");
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
