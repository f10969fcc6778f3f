// The Live view: the microphone through an AudioWorklet (PCM16 at 16 kHz) to /v1/realtime
// (OpenAI's Realtime protocol, the key as a subprotocol), captions turn by turn with the
// unconfirmed tail muted, and the session's audio saved as a job for the batch engine.
import { $, announce, clearError, requireKey, showError, state, t } from "./page.js";
import { CHUNK_SAMPLES, RATE, Recording, base64 } from "./recording.js";
import { jobRequest, uploadFile } from "./upload.js";

const MAX_BUFFERED_BYTES = 1024 * 1024; // audio not yet on the wire: past it, appends wait
const STOP_WAIT_MS = 5000; // the longest wait for the last turn's text after Stop
const DELTA = "conversation.item.input_audio_transcription.delta";
const COMPLETED = "conversation.item.input_audio_transcription.completed";
const QUIET_ERRORS = new Set(["input_audio_buffer_commit_empty"]);

export class LiveError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function realtimeUrl() {
  const url = new URL("v1/realtime?intent=transcription", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export function sessionUpdate(vocabulary) {
  const transcription = { model: "whisper-1", language: "sv" };
  if (vocabulary.trim()) transcription.prompt = vocabulary.trim();
  return {
    type: "session.update",
    session: {
      type: "transcription",
      audio: {
        input: {
          format: { type: "audio/pcm", rate: RATE },
          transcription,
          turn_detection: { type: "server_vad" },
        },
      },
    },
  };
}

function newLive() {
  return {
    status: "idle", // idle, starting, running, stopping
    socket: null,
    audio: null, // {context, stream, node}
    turns: new Map(), // item id -> {element, confirmed, tentative, done}
    recording: null,
    lastError: null,
    settle: null, // resolves the wait for the last turn after Stop
    saved: false,
    slowWarned: false,
  };
}

function live() {
  state.live ??= newLive();
  return state.live;
}

export function liveText() {
  const texts = [...live().turns.values()].map((turn) => turn.confirmed.trim());
  return texts.filter(Boolean).join("\n");
}

export function renderLive() {
  const session = live();
  const busy = session.status === "starting" || session.status === "stopping";
  const running = session.status === "running";
  const toggle = $("live-toggle");
  toggle.textContent = running || session.status === "stopping" ? t("liveStop") : t("liveStart");
  toggle.disabled = busy;
  const recorded = session.recording && session.recording.bytes > 0;
  $("live-save").disabled = session.status !== "idle" || !recorded || session.saved;
  let text = t("liveIdle");
  if (session.status === "starting") text = t("liveStarting");
  if (running) text = t("liveRunning");
  if (session.status === "stopping") text = t("liveStopping");
  if (session.status === "idle" && recorded) {
    text = session.saved ? t("liveSaved") : t("liveRecorded", Math.round(session.recording.seconds));
  }
  if (session.recording?.full) text += ` ${t("liveRecordingFull")}`;
  $("live-state").textContent = text;
}

export async function toggleLive() {
  const session = live();
  if (session.status === "running") await stopLive();
  else if (session.status === "idle") await startLive();
}

async function startLive() {
  if (!requireKey()) return;
  clearError();
  const session = newLive();
  state.live = session;
  session.status = "starting";
  $("live-captions").replaceChildren();
  renderLive();
  try {
    session.audio = await openMicrophone((chunk) => onChunk(session, chunk));
    session.socket = await openSocket(session);
  } catch (error) {
    closeMicrophone(session);
    session.status = "idle";
    renderLive();
    showError(error);
    return;
  }
  session.socket.send(JSON.stringify(sessionUpdate($("vocabulary-input").value)));
  session.recording = new Recording();
  session.status = "running";
  session.audio.source.connect(session.audio.node);
  renderLive();
  announce(t("liveStarted"));
}

async function stopLive() {
  const session = live();
  session.status = "stopping";
  renderLive();
  closeMicrophone(session);
  const socket = session.socket;
  const open = [...session.turns.values()].some((turn) => !turn.done);
  if (socket && socket.readyState === WebSocket.OPEN && open) {
    const settled = new Promise((resolve) => {
      session.settle = resolve;
      window.setTimeout(resolve, STOP_WAIT_MS);
    });
    socket.send(JSON.stringify({ type: "input_audio_buffer.commit" }));
    await settled;
  }
  session.status = "idle";
  if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  for (const turn of session.turns.values()) finishTurn(turn);
  renderLive();
  announce(t("liveStopped"));
}

async function openMicrophone(onAudio) {
  if (!window.isSecureContext) throw new Error(t("liveInsecure"));
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
    throw new Error(t("liveUnsupported"));
  }
  let stream;
  try {
    // Raw audio: the model was trained on it, and the browser's voice processing for
    // calls (echo cancellation, noise suppression) can cut quiet words.
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false },
    });
  } catch {
    throw new Error(t("liveNoMicrophone"));
  }
  const context = new AudioContext();
  try {
    await context.audioWorklet.addModule("web/live-worklet.js");
    const node = new AudioWorkletNode(context, "pcm-resampler", {
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: RATE, chunkSamples: CHUNK_SAMPLES },
    });
    node.port.onmessage = (message) => onAudio(message.data);
    const mute = new GainNode(context, { gain: 0 }); // the graph runs only when it ends
    node.connect(mute).connect(context.destination); // at the output; nothing is heard
    const source = new MediaStreamAudioSourceNode(context, { mediaStream: stream });
    await context.resume();
    return { context, stream, node, source };
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    context.close();
    throw error;
  }
}

function closeMicrophone(session) {
  const audio = session.audio;
  session.audio = null;
  if (!audio) return;
  audio.node.port.onmessage = null;
  for (const track of audio.stream.getTracks()) track.stop();
  audio.context.close();
}

function openSocket(session) {
  return new Promise((resolve, reject) => {
    const key = `openai-insecure-api-key.${state.apiKey}`;
    const socket = new WebSocket(realtimeUrl(), ["realtime", key]);
    socket.onopen = () => resolve(socket);
    socket.onmessage = (message) => onServerEvent(session, message.data);
    socket.onclose = (event) => {
      if (session.status === "starting") reject(new Error(t("liveNoConnection")));
      else onClosed(session, event);
    };
  });
}

function onChunk(session, chunk) {
  if (session.status !== "running") return;
  session.recording.keep(chunk);
  const socket = session.socket;
  if (socket.readyState !== WebSocket.OPEN) return;
  if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
    if (!session.slowWarned) showError(new Error(t("liveSlowNetwork")));
    session.slowWarned = true;
    return; // live text skips it; the recording keeps it
  }
  socket.send(JSON.stringify({ type: "input_audio_buffer.append", audio: base64(chunk) }));
}

function onServerEvent(session, data) {
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  if (event.type === "input_audio_buffer.speech_started") turnOf(session, event.item_id);
  if (event.type === DELTA) {
    const turn = turnOf(session, event.item_id);
    addConfirmed(turn, event.delta || "");
    turn.tentative = event.tentative || "";
    showTurn(turn);
  }
  if (event.type === COMPLETED) {
    const turn = turnOf(session, event.item_id);
    const final = event.transcript || "";
    if (final.startsWith(turn.confirmed)) addConfirmed(turn, final.slice(turn.confirmed.length));
    else {
      turn.confirmed = final;
      turn.element.querySelector(".confirmed").textContent = final;
    }
    finishTurn(turn);
  }
  if (event.type === "error") {
    const { code, message } = event.error || {};
    session.lastError = new LiveError(code, message);
    if (!QUIET_ERRORS.has(code)) showError(new Error(t("liveServerError", message, code)));
  }
  if (session.settle && [...session.turns.values()].every((turn) => turn.done)) session.settle();
  if (event.type === "error" && session.status === "stopping") session.settle?.();
}

function onClosed(session, event) {
  session.settle?.();
  if (session.status !== "running") return;
  closeMicrophone(session);
  session.status = "idle";
  for (const turn of session.turns.values()) finishTurn(turn);
  renderLive();
  const last = session.lastError;
  const why = last ? t("liveServerError", last.message, last.code) : event.reason || "";
  showError(new Error(t("liveClosed", event.code, why)));
}

function turnOf(session, itemId) {
  let turn = session.turns.get(itemId);
  if (turn) return turn;
  const element = document.createElement("p");
  element.className = "live-turn";
  element.dataset.itemId = itemId;
  const confirmed = document.createElement("span");
  confirmed.className = "confirmed";
  const tentative = document.createElement("span");
  tentative.className = "tentative";
  tentative.setAttribute("aria-hidden", "true"); // it may still change: not read out
  element.append(confirmed, tentative);
  $("live-captions").append(element);
  turn = { element, confirmed: "", tentative: "", done: false };
  session.turns.set(itemId, turn);
  return turn;
}

function addConfirmed(turn, text) {
  if (!text) return;
  turn.confirmed += text;
  // Appended as a node of its own, so a screen reader reads only the new words.
  keepScrolled(() => turn.element.querySelector(".confirmed").append(text));
}

function showTurn(turn) {
  keepScrolled(() => {
    turn.element.querySelector(".tentative").textContent = turn.tentative;
  });
}

function finishTurn(turn) {
  turn.done = true;
  turn.tentative = "";
  turn.element.classList.add("done");
  showTurn(turn);
}

// Follows new text down unless the reader has scrolled up to read something earlier.
function keepScrolled(change) {
  const box = $("live-captions");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
  change();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

export async function saveLive() {
  const session = live();
  if (session.status !== "idle" || !session.recording?.bytes || session.saved) return;
  const file = session.recording.toWav();
  const text = liveText();
  const request = jobRequest(file.name, $("vocabulary-input").value, $("live-diarize"), null);
  const job = await uploadFile(file, request, (created) => state.liveText.set(created.job_id, text));
  if (!job) return;
  session.saved = true;
  renderLive();
}

export function setUpLive() {
  $("live-toggle").addEventListener("click", toggleLive);
  $("live-save").addEventListener("click", saveLive);
  renderLive();
}
