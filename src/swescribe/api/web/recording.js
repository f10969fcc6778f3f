// The audio of a live session, kept in the page so it can be saved as a job: PCM16 chunks
// as the worklet made them, bounded, and written out as a WAV file on saving.

export const RATE = 16000; // the engine's own rate: the server does not resample it
export const CHUNK_SAMPLES = RATE / 10; // 100 ms per append
export const MAX_RECORDED_SECONDS = 3 * 3600; // the service's default longest session; 345 MB

export class Recording {
  constructor(maxSeconds = MAX_RECORDED_SECONDS) {
    this.maxBytes = maxSeconds * RATE * 2;
    this.chunks = [];
    this.bytes = 0;
    this.full = false; // past the bound: later audio is not kept
    this.startedAt = new Date();
  }

  // Keeps a chunk unless the recording is full; false when it was not kept.
  keep(chunk) {
    if (this.bytes + chunk.byteLength > this.maxBytes) {
      this.full = true;
      return false;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
    return true;
  }

  get seconds() {
    return this.bytes / 2 / RATE;
  }

  fileName() {
    const pad = (n) => String(n).padStart(2, "0");
    const at = this.startedAt;
    const day = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
    return `live-${day}-${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}.wav`;
  }

  // A WAV file of the chunks (mono PCM16 little-endian); the chunks are not copied.
  toWav() {
    return new File([wavHeader(this.bytes), ...this.chunks], this.fileName(), {
      type: "audio/wav",
    });
  }
}

export function wavHeader(dataBytes, rate = RATE) {
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i += 1) header.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  header.setUint32(4, 36 + dataBytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true); // the fmt chunk's size
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true); // bytes per second
  header.setUint16(32, 2, true); // bytes per frame
  header.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  header.setUint32(40, dataBytes, true);
  return header.buffer;
}

export function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
