/* Digits drawing page: draw with pointer events, predict through the API, correct in one tap. No dependencies. */
(() => {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const canvas = $("#pad");
  const ctx = canvas.getContext("2d");
  const statusEl = $("#status");
  const answerEl = $("#answer");
  const digitEl = $("#digit");
  const confidenceEl = $("#confidence");
  const barsEl = $("#bars");
  const seenEl = $("#seen");
  const wrongBtn = $("#wrong");
  const choicesEl = $("#choices");
  const numberEl = $("#number-digits");
  const recentEl = $("#recent");
  const AUTO_PREDICT_MS = 700;
  const UPLOAD_SIZE = 280;   // longest side of the image sent: the model reads a 20 px digit, whatever the screen
  const LOW = (window.DIGITS && window.DIGITS.lowConfidence) || 0.7;

  let strokes = [];          // each stroke: array of [x, y] in 0..1 canvas coordinates
  let current = null;        // the stroke being drawn
  let timer = null;          // auto-predict timer
  let result = null;         // last API answer: {drawings: [...], number: "..."}
  let selected = 0;          // which digit of a number is shown / corrected
  let busy = false;

  const mode = () => document.querySelector('input[name="mode"]:checked').value;
  const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";

  /* ---------- canvas: sizing for high-DPI screens, and redrawing strokes ---------- */
  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    redraw();
  }
  function brush() { return Math.max(4, Math.min(canvas.width, canvas.height) / 14); }
  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = brush();
    for (const stroke of strokes) drawStroke(stroke);
  }
  function point(p) { return [p[0] * canvas.width, p[1] * canvas.height]; }
  function drawStroke(stroke) {
    if (stroke.length === 1) {
      const [x, y] = point(stroke[0]);
      ctx.beginPath(); ctx.arc(x, y, brush() / 2, 0, Math.PI * 2); ctx.fill();
      return;
    }
    ctx.beginPath();
    let [x0, y0] = point(stroke[0]);
    ctx.moveTo(x0, y0);
    for (let i = 1; i < stroke.length - 1; i++) {   // quadratic smoothing through midpoints
      const [x1, y1] = point(stroke[i]);
      const [x2, y2] = point(stroke[i + 1]);
      ctx.quadraticCurveTo(x1, y1, (x1 + x2) / 2, (y1 + y2) / 2);
    }
    const [xl, yl] = point(stroke[stroke.length - 1]);
    ctx.lineTo(xl, yl);
    ctx.stroke();
  }
  /* The drawing as sent, at most UPLOAD_SIZE px a side: a high-density screen's canvas is ~1000 px wide, and that
     PNG is ~6x the bytes to send and store and 10-20 ms for the server to decode (0.5 ms at 280 px), for the same
     28x28 model input. */
  function exportImage() {
    const scale = Math.min(1, UPLOAD_SIZE / Math.max(canvas.width, canvas.height));
    if (scale === 1) return canvas.toDataURL("image/png");
    const out = document.createElement("canvas");
    out.width = Math.round(canvas.width * scale);
    out.height = Math.round(canvas.height * scale);
    const outCtx = out.getContext("2d");
    outCtx.imageSmoothingQuality = "high";
    outCtx.drawImage(canvas, 0, 0, out.width, out.height);
    return out.toDataURL("image/png");
  }
  function localPoint(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    canvas.setPointerCapture(event.pointerId);
    current = [localPoint(event)];
    strokes.push(current);
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) current.push(localPoint(e));
    redraw();
  });
  function endStroke(event) {
    if (!current) return;
    event.preventDefault();
    current = null;
    clearTimeout(timer);
    timer = setTimeout(predict, AUTO_PREDICT_MS);
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  // No scrolling, zooming or context menu while drawing on a phone.
  for (const type of ["touchstart", "touchmove", "gesturestart", "contextmenu"]) {
    canvas.addEventListener(type, (e) => e.preventDefault(), { passive: false });
  }

  function undo() { clearTimeout(timer); strokes.pop(); redraw(); say(strokes.length ? "Last stroke undone." : "Canvas is empty."); }
  function clear() { clearTimeout(timer); strokes = []; redraw(); answerEl.hidden = true; result = null; say("Cleared. Draw a digit."); }

  /* ---------- talking to the API ---------- */
  function say(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "status" + (kind ? " " + kind : "");
  }
  async function api(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      const detail = data.detail || (data.label && data.label[0]) || (data.image && data.image[0]) || response.statusText;
      throw new Error(detail);
    }
    return data;
  }

  async function predict() {
    clearTimeout(timer);
    if (busy) return;
    if (!strokes.length) { say("The canvas is empty: draw a digit first.", "error"); return; }
    busy = true;
    say("Reading your drawing…");
    const asNumber = mode() === "number";
    try {
      const data = await api(asNumber ? "/api/numbers/" : "/api/predictions/", { image: exportImage() });
      result = asNumber ? { number: data.number, drawings: data.digits } : { number: String(data.digit), drawings: [data] };
      selected = 0;
      show();
      remember(result.drawings);
    } catch (error) {
      say(error.message, "error");
    } finally {
      busy = false;
    }
  }

  function show() {
    const drawing = result.drawings[selected];
    const unsure = result.drawings.some((d) => d.uncertain);
    answerEl.hidden = false;
    digitEl.textContent = result.drawings.length > 1 ? result.number : String(drawing.digit);
    digitEl.classList.toggle("unsure", unsure);
    const pct = Math.round(drawing.confidence * 100);
    confidenceEl.textContent = `${pct}% sure` + (result.drawings.length > 1 ? ` of digit ${selected + 1} (${drawing.digit})` : "");
    seenEl.src = drawing.input_image;
    barsEl.innerHTML = "";
    drawing.probabilities.forEach((p, d) => {
      const li = document.createElement("li");
      li.className = d === drawing.digit ? "top" : "";
      li.innerHTML = `<span>${d}</span><span class="track"><span class="fill" style="width:${(p * 100).toFixed(1)}%"></span></span><span class="pct">${(p * 100).toFixed(1)}%</span>`;
      li.setAttribute("aria-label", `${d}: ${(p * 100).toFixed(1)} percent`);
      barsEl.appendChild(li);
    });
    numberEl.hidden = result.drawings.length < 2;
    numberEl.innerHTML = "";
    result.drawings.forEach((d, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = d.correction.label ?? d.digit;
      b.setAttribute("aria-pressed", String(i === selected));
      b.setAttribute("aria-label", `Digit ${i + 1}: ${b.textContent}`);
      b.addEventListener("click", () => { selected = i; show(); });
      numberEl.appendChild(b);
    });
    choicesEl.hidden = true;
    wrongBtn.setAttribute("aria-expanded", "false");
    const said = result.drawings.length > 1 ? `the number ${result.number}` : `a ${drawing.digit}`;
    if (unsure) {
      say(`I'm not sure — it might be ${said} (${pct}% sure). If it's wrong, tell me.`);
    } else {
      say(`I think it's ${said}, ${pct}% sure.`);
    }
  }

  function buildChoices() {
    const grid = choicesEl.querySelector(".choice-grid");
    for (let d = 0; d <= 9; d++) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(d);
      b.dataset.label = String(d);
      b.setAttribute("aria-label", `It is a ${d}`);
      b.addEventListener("click", () => correct(d));
      grid.appendChild(b);
    }
  }

  async function correct(label) {
    const drawing = result.drawings[selected];
    try {
      const data = await api(drawing.correction_url, { label, token: drawing.correction_token });
      Object.assign(drawing, { correction: data.correction });
      if (result.drawings.length > 1) {
        result.number = result.drawings.map((d) => d.correction.label ?? d.digit).join("");
      }
      show();
      say(`Thank you! Saved as a ${label}. I'll learn from it.`, "thanks");
      remember([]);
    } catch (error) {
      say(`Could not save the correction: ${error.message}`, "error");
    }
  }

  /* ---------- the recent strip, kept for this browser session ---------- */
  const RECENT_KEY = "digits.recent";
  let recent = [];
  try { recent = JSON.parse(sessionStorage.getItem(RECENT_KEY) || "[]"); } catch (e) { recent = []; }
  function remember(drawings) {
    for (const d of drawings) recent.unshift(d);
    recent = recent.slice(0, 12);
    sessionStorage.setItem(RECENT_KEY, JSON.stringify(recent.map((d) => ({
      id: d.id, digit: d.digit, input_image: d.input_image, correction: d.correction,
    }))));
    renderRecent();
  }
  function renderRecent() {
    recentEl.innerHTML = "";
    if (!recent.length) {
      recentEl.innerHTML = "<li>Nothing yet.</li>";
      return;
    }
    for (const d of recent) {
      const li = document.createElement("li");
      const fixed = d.correction && d.correction.label !== null && d.correction.label !== undefined;
      li.innerHTML = `<img alt="drawing ${d.id}" src="${d.input_image}"><span>${d.digit}</span>` +
        (fixed ? ` → <span class="fixed">${d.correction.label}</span>` : "");
      li.dataset.id = d.id;
      recentEl.appendChild(li);
    }
  }

  /* ---------- wiring ---------- */
  wrongBtn.addEventListener("click", () => {
    choicesEl.hidden = !choicesEl.hidden;
    wrongBtn.setAttribute("aria-expanded", String(!choicesEl.hidden));
    if (!choicesEl.hidden) choicesEl.querySelector("button").focus();
  });
  $("#predict").addEventListener("click", predict);
  $("#undo").addEventListener("click", undo);
  $("#clear").addEventListener("click", clear);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      canvas.style.aspectRatio = mode() === "number" ? "2 / 1" : "1 / 1";
      strokes = [];
      resize();
      answerEl.hidden = true;
      say(mode() === "number" ? "Write a number, digits side by side." : "Draw a digit.");
    });
  }
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); undo(); }
    else if (event.key === "Escape") { clear(); }
    else if (event.key === "Enter" && (event.target === canvas || event.target === document.body)) { event.preventDefault(); predict(); }
  });
  window.addEventListener("resize", resize);
  buildChoices();
  renderRecent();
  resize();
})();
