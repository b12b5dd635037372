// The labelling page: shows the batch, sends each answer as it is given,
// polls the server for progress and for answers from other tabs.
"use strict";

const client = "tab-" + Math.random().toString(36).slice(2, 10);
let state = null;      // the last /api/state
let focus = 0;         // the focused card
let shownRound = -1;   // the batch the cards were built for
const mine = {};       // id -> the answer this tab gave last

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  });
  children.forEach((c) => e.append(c));
  return e;
}

function notice(text, kind) {
  const box = document.getElementById("notices");
  const line = el("div", {class: kind || "error"}, text);
  box.prepend(line);
  setTimeout(() => line.remove(), kind === "info" ? 6000 : 15000);
}

async function send(item, answer) {
  if (state.training.running) {
    notice("a round is training on this batch; wait for the next batch");
    return;
  }
  const r = await fetch("/api/label", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({id: item.id, answer: answer, client: client})});
  const body = await r.json();
  if (!r.ok) { notice(body.error); return; }
  const prev = body.previous;
  if (prev && prev.client !== client && prev.answer !== answer) {
    notice(`${item.id} was answered "${prev.answer}" in another tab; ` +
           `it is now "${answer}" (the last answer counts)`, "info");
  }
  mine[item.id] = answer;
  item.answer = answer; item.client = client;
  paintCard(item);
  updateHeader();
}

function buildCards() {
  const batch = document.getElementById("batch");
  batch.replaceChildren();
  state.batch.forEach((item) => {
    const card = el("div", {class: "card", id: "card-" + item.pos});
    card.addEventListener("click", () => setFocus(item.pos));
    if (state.kind === "images") {
      card.append(el("img", {src: `/api/image/${state.round}/${item.pos}`,
                             alt: item.id}));
    } else {
      card.append(el("div", {class: "text"}, item.text));
    }
    const meta = [item.id];
    if (item.predicted !== undefined) {
      meta.push(`model: ${item.predicted} (${(100 * item.confidence)
        .toFixed(0)}%)`);
    }
    if (item.score !== undefined) {
      meta.push(`${state.score_name}: ${item.score.toFixed(3)}`);
    }
    card.append(el("div", {class: "meta"}, meta.join(" · ")));
    card.append(el("div", {class: "answer"}));
    const buttons = el("div", {class: "buttons"});
    state.classes.forEach((name, i) => {
      const b = el("button", {"data-answer": name,
                              title: i < 9 ? `key ${i + 1}` : ""},
                   i < 9 ? `${i + 1} ${name}` : name);
      b.addEventListener("click", () => send(item, name));
      buttons.append(b);
    });
    ["skip", "unsure"].forEach((name) => {
      const b = el("button", {"data-answer": name}, name);
      b.addEventListener("click", () => send(item, name));
      buttons.append(b);
    });
    card.append(buttons);
    batch.append(card);
  });
  shownRound = state.round;
  focus = 0;
}

function paintCard(item) {
  const card = document.getElementById("card-" + item.pos);
  if (!card) return;
  const skip = item.answer === "skip" || item.answer === "unsure";
  card.classList.toggle("answered", !!item.answer && !skip);
  card.classList.toggle("skipped", skip);
  card.classList.toggle("focused", item.pos === focus);
  card.querySelector(".answer").textContent = item.answer || "";
  card.querySelectorAll("button").forEach((b) => {
    b.classList.toggle("chosen", b.dataset.answer === item.answer);
  });
}

function setFocus(pos) {
  if (!state || !state.batch.length) return;
  focus = Math.max(0, Math.min(state.batch.length - 1, pos));
  state.batch.forEach(paintCard);
  const card = document.getElementById("card-" + focus);
  if (card) card.scrollIntoView({block: "nearest"});
}

function updateHeader() {
  const answered = state.batch.filter((i) => i.answer).length;
  const text = state.done
    ? `Done: ${state.labeled} labeled (budget ${state.budget}).`
    : `Round ${state.round} · labeled ${state.labeled} of budget ` +
      `${state.budget} · this batch: ${answered} of ${state.batch.length} ` +
      `answered · acquisition: ${state.acquisition}`;
  document.getElementById("progress-text").textContent = text;
  document.getElementById("train").disabled =
    state.done || state.training.running;
}

function drawCurve() {
  const svg = document.getElementById("curve");
  const w = 300, h = 200, pad = 30;
  const pts = state.curve.map((c) => [c.labeled,
    c.test_accuracy !== null ? c.test_accuracy : c.train_accuracy]);
  const test = state.curve.some((c) => c.test_accuracy !== null);
  document.getElementById("curve-note").textContent = pts.length
    ? `${test ? "test" : "training"} accuracy against labels` +
      (state.training.last_s ? ` · last round ${state.training.last_s} s` : "")
    : "appears after the first training round";
  const xs = pts.map((p) => p[0]);
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs);
  const sx = (x) => pad + (w - 2 * pad) * (x - x0) / (x1 - x0 || 1);
  const sy = (y) => h - pad - (h - 2 * pad) * y;
  let s = `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" ` +
    `y2="${h - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" ` +
    `x2="${pad}" y2="${h - pad}" stroke="#888"/>` +
    `<text x="${pad - 4}" y="${pad + 4}" font-size="10" ` +
    `text-anchor="end">1</text><text x="${pad - 4}" y="${h - pad}" ` +
    `font-size="10" text-anchor="end">0</text>` +
    `<text x="${w - pad}" y="${h - 8}" font-size="10" ` +
    `text-anchor="end">${x1} labels</text>`;
  if (pts.length) {
    s += `<polyline fill="none" stroke="#2b6fd6" stroke-width="2" points="` +
      pts.map((p) => `${sx(p[0])},${sy(p[1])}`).join(" ") + `"/>`;
    pts.forEach((p) => {
      s += `<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3" fill="#2b6fd6">` +
        `<title>${p[0]} labels: ${(100 * p[1]).toFixed(1)}%</title></circle>`;
    });
  }
  svg.innerHTML = s;
}

function drawCounts() {
  const box = document.getElementById("counts");
  const counts = state.class_counts;
  const most = Math.max(1, ...Object.values(counts));
  box.replaceChildren(...state.classes.map((name) => {
    const n = counts[name] || 0;
    return el("div", {class: "count"}, el("span", {class: "name"}, name),
              el("span", {class: "fill", style: `width:${150 * n / most}px`}),
              String(n));
  }));
  const bad = state.unreadable;
  document.getElementById("unreadable-title").hidden = !bad.length;
  document.getElementById("unreadable").replaceChildren(
    ...bad.map(([id, why]) => el("li", {}, `${id}: ${why}`)));
}

function render() {
  if (state.round !== shownRound) buildCards();
  state.batch.forEach((item) => {
    if (mine[item.id] && item.client !== client && item.answer !== mine[item.id]) {
      notice(`${item.id} was changed to "${item.answer}" in another tab`,
             "info");
      mine[item.id] = item.answer;
    }
    paintCard(item);
  });
  updateHeader();
  const t = state.training;
  document.getElementById("training").hidden = !t.running;
  document.getElementById("training-text").textContent = t.running
    ? `${t.phase || "training"} · ${t.elapsed.toFixed(0)} s` : "";
  drawCurve();
  drawCounts();
}

let lastError = null;
async function poll() {
  try {
    const r = await fetch("/api/state");
    state = await r.json();
    if (state.training.error && state.training.error !== lastError) {
      notice(state.training.error);
    }
    lastError = state.training.error;
    render();
  } catch (e) {
    document.getElementById("progress-text").textContent =
      "the server does not answer; restart it with the same command " +
      "(no answer is lost)";
  }
}

async function train() {
  if (!state || state.training.running || state.done) return;
  const open = state.batch.filter((i) => !i.answer).length;
  if (open && !confirm(`${open} examples have no answer; they go back to ` +
                       `the pool. Train now?`)) return;
  const r = await fetch("/api/train", {method: "POST"});
  if (!r.ok) notice((await r.json()).error);
  poll();
}

document.getElementById("train").addEventListener("click", train);
document.addEventListener("keydown", (e) => {
  if (!state || e.ctrlKey || e.metaKey || e.altKey) return;
  const item = state.batch[focus];
  const cols = Math.max(1, Math.round(
    document.getElementById("batch").clientWidth / 180));
  if (e.key >= "1" && e.key <= "9") {
    const name = state.classes[Number(e.key) - 1];
    if (item && name) { send(item, name); setFocus(focus + 1); }
  } else if (e.key === "s" || e.key === "u") {
    if (item) { send(item, e.key === "s" ? "skip" : "unsure"); setFocus(focus + 1); }
  } else if (e.key === "ArrowRight") { setFocus(focus + 1); }
  else if (e.key === "ArrowLeft") { setFocus(focus - 1); }
  else if (e.key === "ArrowDown") { setFocus(focus + cols); }
  else if (e.key === "ArrowUp") { setFocus(focus - cols); }
  else if (e.key === "Enter") { train(); }
  else return;
  e.preventDefault();
});

poll();
setInterval(poll, 1500);
