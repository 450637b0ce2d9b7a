// The page of rdlr serve: send a recording to POST /predict and draw the class probabilities as bars.
// Plain JavaScript, no external assets: the page works offline. A microphone recording is encoded here as
// 16-bit PCM WAV, one of the two formats the service takes.
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadModels() {
  const response = await fetch("models");
  models = (await response.json()).models;
  for (const model of models) {
    const option = document.createElement("option");
    option.value = model.name;
    option.textContent = `${model.name} (${model.classes.join(", ")})`;
    $("model").append(option);
  }
  showCard();
}

function showCard() {
  const model = models.find((m) => m.name === $("model").value);
  $("card").textContent = model ? JSON.stringify(model.card, null, 1) : "";
}

function drawBars(answer) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const [name, p] of Object.entries(answer.probabilities)) {
    const item = document.createElement("li");
    if (name === answer.label) item.className = "best";
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const track = document.createElement("div");
    track.className = "track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-label", name);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", String(p));
    bar.dataset.probability = String(p);
    track.append(bar);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${(100 * p).toFixed(1)}%`;
    item.append(label, track, value);
    bars.append(item);
  }
  $("label").textContent = answer.label;
  $("details").textContent = `model ${answer.model}, ${answer.seconds.toFixed(2)} s of audio`;
  $("result").hidden = false;
}

async function send(body, what) {
  const query = new URLSearchParams({ model: $("model").value });
  setStatus(`Predicting ${what} ...`, false);
  $("send").disabled = true;
  try {
    const response = await fetch(`predict?${query}`, { method: "POST", body });
    const answer = await response.json();
    if (!response.ok) {
      setStatus(`Error ${response.status}: ${answer.error}`, true);
      return;
    }
    drawBars(answer);
    setStatus(`${what}: ${answer.label}`, false);
  } catch (error) {
    setStatus(`The service did not answer: ${error}`, true);
  } finally {
    $("send").disabled = false;
  }
}

function wavBytes(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * samples.length, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * samples.length, true);
  samples.forEach((s, i) => view.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  return new Blob([view], { type: "audio/wav" });
}

let recorder = null;

async function toggleRecording() {
  if (recorder) {
    recorder.stop();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    setStatus(`No microphone: ${error.message}`, true);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((track) => track.stop());
    recorder = null;
    $("record").textContent = "Record";
    $("record").setAttribute("aria-pressed", "false");
    const context = new AudioContext();
    const audio = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
    await send(wavBytes(audio.getChannelData(0), audio.sampleRate), "the recording");
  };
  recorder.start();
  $("record").textContent = "Stop";
  $("record").setAttribute("aria-pressed", "true");
  setStatus("Recording: press Stop when done.", false);
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) {
    setStatus("Choose a WAV or FLAC file first.", true);
    return;
  }
  send(file, file.name);
});
$("record").addEventListener("click", toggleRecording);
$("model").addEventListener("change", showCard);
loadModels().catch((error) => setStatus(`Cannot list the models: ${error}`, true));
