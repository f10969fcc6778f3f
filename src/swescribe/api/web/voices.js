// Known voices (issue 28): the key's enrolled voices, listed and deleted, and "This is…"
// beside a diarized segment, which enrols that stretch of the job's audio under a name.
import { $, announce, api, clock, showError, state, t } from "./page.js";

export async function refreshVoices() {
  if (!state.apiKey) {
    state.voices = [];
    renderVoices();
    return;
  }
  try {
    state.voices = (await (await api("v1/speakers")).json()).speakers;
  } catch (error) {
    if (error.status !== 401) showError(error); // a bad key is reported by the job list
    state.voices = [];
  }
  renderVoices();
}

export function renderVoices() {
  const list = $("voices-list");
  list.replaceChildren();
  for (const voice of state.voices) {
    const item = document.createElement("li");
    item.className = "voice";
    const name = document.createElement("span");
    name.className = "voice-name";
    name.textContent = voice.name;
    const about = document.createElement("span");
    about.className = "hint voice-about";
    const made = voice.created_at ? new Date(voice.created_at).toLocaleString(state.lang) : "–";
    about.textContent = t("voiceAbout", made, voice.seconds.toFixed(1));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = t("remove");
    remove.setAttribute("aria-label", t("voiceRemoveLabel", voice.name));
    remove.addEventListener("click", () => deleteVoice(voice));
    item.append(name, about, remove);
    list.append(item);
  }
  $("voices-empty").hidden = state.voices.length !== 0;
}

export async function deleteVoice(voice) {
  if (!window.confirm(t("voiceConfirmDelete", voice.name))) return;
  try {
    await api(`v1/speakers/${encodeURIComponent(voice.id)}`, { method: "DELETE" });
  } catch (error) {
    showError(error);
    return;
  }
  announce(t("voiceDeleted", voice.name));
  await refreshVoices();
  $("voices-heading").focus();
}

// The open "This is…" form: which segment, what is typed, the API's answer to the last try.
// Kept in state so the form survives the transcript being drawn again (renames, language).
export function closeEnrolForm() {
  state.enrolling = null;
}

export function enrolControl(segment, index, onChange) {
  const span = `${clock(segment.start)}–${clock(segment.end)}`;
  const control = document.createElement("button");
  control.type = "button";
  control.className = "enrol-voice";
  control.id = `enrol-voice-${index}`;
  control.textContent = t("thisIs");
  control.setAttribute("aria-label", t("thisIsLabel", span));
  const open = state.enrolling && state.enrolling.index === index;
  control.setAttribute("aria-expanded", String(Boolean(open)));
  if (open) control.setAttribute("aria-controls", `enrol-form-${index}`);
  control.addEventListener("click", () => {
    state.enrolling = open ? null : { index, draft: "", error: "", focus: !open };
    onChange();
    if (open) $(control.id).focus();
  });
  return open ? [control, enrolForm(segment, index, span, onChange)] : [control];
}

function enrolForm(segment, index, span, onChange) {
  const form = document.createElement("form");
  form.id = `enrol-form-${index}`;
  form.className = "enrol-form row";
  const input = document.createElement("input");
  input.id = `enrol-name-${index}`;
  input.type = "text";
  input.maxLength = 64;
  input.required = true;
  input.autocomplete = "off";
  input.value = state.enrolling.draft;
  const label = document.createElement("label");
  label.htmlFor = input.id;
  label.textContent = t("enrolNameLabel", span);
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.className = "primary";
  submit.textContent = t("enrol");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = t("cancel");
  const error = document.createElement("p");
  error.id = `enrol-error-${index}`;
  error.className = "enrol-error";
  error.setAttribute("role", "alert");
  error.textContent = state.enrolling.error;
  error.hidden = !state.enrolling.error;
  input.setAttribute("aria-describedby", error.id);
  if (state.enrolling.error) input.setAttribute("aria-invalid", "true");
  const backToControl = () => {
    closeEnrolForm();
    onChange();
    $(`enrol-voice-${index}`)?.focus();
  };
  input.addEventListener("input", () => {
    state.enrolling.draft = input.value;
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      backToControl();
    }
  });
  cancel.addEventListener("click", backToControl);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.replace(/\s+/g, " ").trim();
    if (!name) return;
    submit.disabled = true;
    const body = { name, job_id: state.openJobId, start: segment.start, end: segment.end };
    try {
      await api("v1/speakers", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      state.enrolling = { index, draft: input.value, error: enrolError(error), focus: true };
      onChange();
      return;
    }
    announce(t("voiceEnrolled", name));
    await refreshVoices();
    backToControl();
  });
  if (state.enrolling.focus) {
    state.enrolling.focus = false;
    window.setTimeout(() => input.focus(), 0); // once the form is in the page
  }
  form.append(label, input, submit, cancel, error);
  return form;
}

function enrolError(error) {
  let text = error.message || String(error);
  if (error.status) text += ` (HTTP ${error.status}, ${error.code})`;
  return `${t("errorPrefix")} ${text}`;
}
