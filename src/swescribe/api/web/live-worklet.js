// The Live view's AudioWorklet: microphone audio, at whatever rate the browser runs its
// audio, resampled to mono PCM16 little-endian at the rate the page asks for (16 kHz,
// the rate the engine decodes), posted to the page in chunks of `chunkSamples`.
// A worklet runs on the audio thread; it is loaded as a file of this origin (the CSP).

class PcmResampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunkSamples } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    // A moving average over one output period: a cheap low-pass against aliasing.
    this.window = Math.max(1, Math.round(this.step));
    this.history = new Float32Array(this.window);
    this.historyAt = 0;
    this.sum = 0;
    this.previous = 0;
    this.next = 1; // where the next output sample falls, in input samples after `previous`
    this.chunkSamples = chunkSamples;
    this.newChunk();
  }

  newChunk() {
    this.chunk = new ArrayBuffer(this.chunkSamples * 2);
    this.view = new DataView(this.chunk);
    this.filled = 0;
  }

  emit(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.view.setInt16(this.filled * 2, clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff, true);
    this.filled += 1;
    if (this.filled === this.chunkSamples) {
      this.port.postMessage(this.chunk, [this.chunk]);
      this.newChunk();
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const length = channels[0].length;
    for (let i = 0; i < length; i += 1) {
      let mono = 0;
      for (const channel of channels) mono += channel[i];
      mono /= channels.length;
      this.sum += mono - this.history[this.historyAt];
      this.history[this.historyAt] = mono;
      this.historyAt = (this.historyAt + 1) % this.window;
      const smoothed = this.sum / this.window;
      while (this.next <= 1) {
        this.emit(this.previous + (smoothed - this.previous) * this.next);
        this.next += this.step;
      }
      this.next -= 1;
      this.previous = smoothed;
    }
    return true;
  }
}

registerProcessor("pcm-resampler", PcmResampler);
