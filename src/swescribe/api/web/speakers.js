// Speakers in a diarized transcript (issue 18): a colour per speaker, and names the user
// gives them, used on the page and in every download (the service's files say S1, S2 …).
import { $, announce, t } from "./page.js";

const PALETTE_SIZE = 8;

export function speakersOf(transcript) {
  const order = [];
  for (const segment of transcript?.segments || []) {
    if (segment.speaker && !order.includes(segment.speaker)) order.push(segment.speaker);
  }
  return order;
}

// The colour class of a speaker: by its place in order of first appearance.
export function speakerClass(transcript, speaker) {
  const index = speakersOf(transcript).indexOf(speaker);
  return `speaker-${index < 0 ? 0 : index % PALETTE_SIZE}`;
}

export function cleanName(name) {
  return String(name).replace(/\s+/g, " ").trim().slice(0, 40);
}

// names: Map of label (S1) -> name the user gave; a label without a name stays as it is.
export function displayName(names, speaker) {
  return (names && names.get(speaker)) || speaker;
}

export function renderSpeakerNames(transcript, names, onChange) {
  const panel = $("speakers-panel");
  const list = $("speaker-names");
  list.replaceChildren();
  const speakers = speakersOf(transcript);
  panel.hidden = speakers.length === 0;
  for (const speaker of speakers) {
    const row = document.createElement("div");
    row.className = `speaker-name ${speakerClass(transcript, speaker)}`;
    const label = document.createElement("label");
    label.htmlFor = `speaker-name-${speaker}`;
    label.className = "speaker-chip";
    label.textContent = speaker;
    const input = document.createElement("input");
    input.id = `speaker-name-${speaker}`;
    input.type = "text";
    input.maxLength = 40;
    input.value = names.get(speaker) || "";
    input.placeholder = speaker;
    input.setAttribute("aria-label", t("speakerNameLabel", speaker));
    input.addEventListener("change", () => {
      const name = cleanName(input.value);
      if (name) names.set(speaker, name);
      else names.delete(speaker);
      onChange();
      announce(t("speakerRenamed", speaker, name || speaker));
    });
    row.append(label, input);
    list.append(row);
  }
}

function escapeVtt(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// The service's file in a format, with the user's names instead of S1, S2 …
export function renameInFile(format, text, names) {
  if (!names || names.size === 0) return text;
  if (format === "json") {
    const data = JSON.parse(text);
    const rename = (speaker) => (speaker ? displayName(names, speaker) : speaker);
    for (const segment of data.segments || []) {
      if (segment.speaker) segment.speaker = rename(segment.speaker);
      for (const word of segment.words || []) if (word.speaker) word.speaker = rename(word.speaker);
    }
    for (const paragraph of data.paragraphs || []) {
      if (paragraph.speaker) paragraph.speaker = rename(paragraph.speaker);
    }
    if (data.diarization) {
      data.diarization.speakers = (data.diarization.speakers || []).map(rename);
      for (const turn of data.diarization.turns || []) turn.speaker = rename(turn.speaker);
    }
    return `${JSON.stringify(data, null, 2)}\n`;
  }
  // One pass per file, each label looked up once, with replacer functions: a name is
  // literal text (never "$&" or "$1"), and swapping two names swaps them.
  const named = (match, label, write) => (names.get(label) ? write(names.get(label)) : match);
  if (format === "vtt") {
    return text.replace(/<v ([^>\n]*)>/g, (match, label) =>
      named(match, label, (name) => `<v ${escapeVtt(name)}>`),
    );
  }
  if (format === "srt") {
    // A label opens the first text line of a cue, right after its timing line.
    return text.replace(/(--> [0-9:,]+\n)(S\d+): /g, (match, timing, label) =>
      named(match, label, (name) => `${timing}${name.replace(/-->/g, "->")}: `),
    );
  }
  return text.replace(/^(S\d+): /gm, (match, label) => named(match, label, (name) => `${name}: `));
}
