// Lockgate console: the few behaviours htmx does not cover — streamed answers (NDJSON over fetch),
// uploads with per-file progress, and the chunk dialog that reference pills open.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

// htmx leaves 4xx/5xx answers unswapped by default: show the console's error fragment instead.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status >= 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(value, digits) {
  return value === undefined || value === null ? "—" : Number(value).toPrecision(digits || 3);
}

// -- the chunk dialog ------------------------------------------------------------------------------

async function openChunk(url, opener) {
  const dialog = document.getElementById("chunk-dialog");
  const body = dialog.querySelector("[data-chunk-body]");
  body.textContent = "Loading…";
  dialog.showModal();
  const response = await fetch(url, { headers: { "HX-Request": "true" } });
  body.innerHTML = await response.text();
  dialog.addEventListener("close", () => opener && opener.focus(), { once: true });
}

document.addEventListener("click", (event) => {
  const pill = event.target.closest("[data-chunk-url]");
  if (pill) {
    event.preventDefault();
    openChunk(pill.dataset.chunkUrl, pill);
  }
});

function pill(source) {
  const button = el("button", {
    type: "button",
    class: "pill",
    "data-chunk-url": `/ui/documents/${source.document_id}/chunks/${source.chunk_id}`,
    "aria-label": `Reference ${source.n}: ${source.name || "chunk " + source.chunk_id}, score ${fmt(source.score)}`,
  }, `[${source.n}] ${source.name || "chunk " + source.chunk_id}`);
  return button;
}

// -- streamed answers ------------------------------------------------------------------------------

function render(box, message) {
  const answer = box.querySelector("[data-answer]");
  if (message.type === "delta") {
    answer.textContent += message.text;
  } else if (message.type === "sources") {
    const list = box.querySelector("[data-sources]");
    list.replaceChildren(...message.sources.map(pill));
    if (!message.sources.length) list.textContent = "No chunk matched.";
  } else if (message.type === "usage") {
    const stats = box.querySelector("[data-stats]");
    stats.replaceChildren(
      el("span", { "data-tokens": message.total_tokens }, `tokens: ${message.prompt_tokens} in, ${message.completion_tokens} out`),
      el("span", { "data-cost": message.cost }, `cost: ${fmt(message.cost, 4)}`),
      el("span", { "data-carbon": message.kgco2eq_max ?? "" },
        message.kgco2eq_max === null || message.kgco2eq_max === undefined
          ? "carbon: see usage"
          : `carbon: ${fmt(message.kgco2eq_min)}–${fmt(message.kgco2eq_max)} kgCO2eq`),
    );
  } else if (message.type === "error") {
    box.querySelector("[data-error]").textContent = message.message;
  } else if (message.type === "done") {
    box.dataset.state = "done";
    box.dispatchEvent(new CustomEvent("answered", { bubbles: true, detail: message }));
  }
}

async function stream(form) {
  const box = document.querySelector(form.dataset.stream);
  box.querySelector("[data-answer]").textContent = "";
  box.querySelector("[data-error]").textContent = "";
  const sources = box.querySelector("[data-sources]");
  if (sources) sources.textContent = "";
  box.querySelector("[data-stats]").textContent = "";
  box.dataset.state = "streaming";
  box.setAttribute("aria-busy", "true"); // screen readers read the answer once it is complete
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-CSRF-Token": csrf(), Accept: "application/x-ndjson" },
    });
    if (!response.ok) {
      const holder = el("div");
      holder.innerHTML = await response.text();
      render(box, { type: "error", message: holder.textContent.trim() || response.statusText });
      box.dataset.state = "failed";
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, end).trim();
        buffered = buffered.slice(end + 1);
        if (line) render(box, JSON.parse(line));
      }
    }
  } catch (error) {
    render(box, { type: "error", message: `The answer was interrupted: ${error}` });
    box.dataset.state = "failed";
  } finally {
    submit.disabled = false;
    box.setAttribute("aria-busy", "false");
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("form[data-stream]")) {
    event.preventDefault();
    stream(form);
  }
});

// -- uploads: drag and drop, several files, one request and one status line per file ----------------

function uploadOne(zone, file, list) {
  const item = el("li", { class: "status-busy", "data-file": file.name });
  const label = el("span", {}, `${file.name}: uploading 0%`);
  const bar = el("progress", { max: "100", value: "0", "aria-label": `${file.name} upload progress` });
  item.append(label, " ", bar);
  list.append(item);
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", zone.dataset.uploadUrl);
    request.setRequestHeader("X-CSRF-Token", csrf());
    request.setRequestHeader("HX-Request", "true");
    request.upload.onprogress = (progress) => {
      if (!progress.lengthComputable) return;
      const percent = Math.round((100 * progress.loaded) / progress.total);
      bar.value = percent;
      label.textContent = percent < 100 ? `${file.name}: uploading ${percent}%` : `${file.name}: processing…`;
    };
    request.onload = () => {
      bar.value = 100;
      const holder = el("div");
      holder.innerHTML = request.responseText;
      const ok = request.status < 300;
      item.className = ok ? "status-ready" : "status-failed";
      item.dataset.state = ok ? "ready" : "failed";
      label.textContent = `${file.name}: ${holder.textContent.trim()}`;
      resolve();
    };
    request.onerror = () => {
      item.className = "status-failed";
      item.dataset.state = "failed";
      label.textContent = `${file.name}: upload failed (network)`;
      resolve();
    };
    const body = new FormData();
    body.append("file", file, file.name);
    request.send(body);
  });
}

async function uploadAll(zone, files) {
  const list = zone.parentElement.querySelector("[data-upload-list]");
  await Promise.all([...files].map((file) => uploadOne(zone, file, list)));
  document.body.dispatchEvent(new Event("uploaded"));
}

function wireUploads(root) {
  for (const zone of root.querySelectorAll("[data-upload-url]")) {
    if (zone.dataset.wired) continue;
    zone.dataset.wired = "1";
    const input = zone.querySelector("input[type=file]");
    input.addEventListener("change", () => {
      uploadAll(zone, input.files);
      input.value = "";
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      uploadAll(zone, event.dataTransfer.files);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => wireUploads(document));
document.addEventListener("htmx:afterSettle", (event) => wireUploads(event.target));
