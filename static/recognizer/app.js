/* Digits drawing page: draw with pointer events, read the drawing through the API, correct it in one tap.
 * No dependencies and no build step: this file is served as it is. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const layout = $("#layout");
  const canvas = $("#pad");
  const ctx = canvas.getContext("2d");
  const placeholder = $("#placeholder");
  const statusEl = $("#status");
  const answerEl = $("#answer");
  const digitEl = $("#digit");
  const badgeEl = $("#badge");
  const confidenceEl = $("#confidence");
  const seenEl = $("#seen");
  const numberEl = $("#number-digits");
  const barsEl = $("#bars");
  const wrongBtn = $("#wrong");
  const choicesEl = $("#choices");
  const choiceGrid = choicesEl.querySelector(".choice-grid");
  const recentEl = $("#recent");
  const quickEl = $("#quick");
  const countEl = $("#count");
  const miscountBtn = $("#miscount");
  const countsEl = $("#counts");
  const countGrid = countsEl.querySelector(".count-grid");

  const URLS = { digit: layout.dataset.predictUrl, number: layout.dataset.numberUrl, recent: layout.dataset.recentUrl };
  // How long after the pen lifts the drawing is read: longer for a number, so the pause between digits is no end.
  const AUTO_PREDICT_MS = { digit: 700, number: 1500 };
  // The pen's width as a fraction of the canvas's shorter side: the same look on any screen and canvas size.
  const BRUSH_FRACTION = 1 / 14;
  // The most digits a number may have (DIGITS_MAX_NUMBER_DIGITS): "Wrong number of digits?" offers no more.
  const MAX_DIGITS = Number(layout.dataset.maxDigits) || 12;

  const state = {
    strokes: [], // each stroke: a list of [x, y, t] or [x, y, t, pressure] points, x and y in 0..1 canvas coordinates
    started: null, // performance.now() at the drawing's first pointer-down: t is milliseconds since then
    pointer: "unknown", // the drawing's pointer type: "mouse", "touch" or "pen"
    current: null, // the stroke being drawn
    pointerId: null, // the one pointer drawing it (a second finger is ignored)
    version: 0, // bumped on every change of the drawing
    timer: null, // the auto-predict timer
    busy: false, // a prediction request is in flight
    again: false, // another prediction was asked for while one was in flight
    result: null, // what the panel shows: {kind, drawings, version, splitUrl (a number's: to say how many digits)}
    selected: 0, // which digit of a number the panel details
    recent: [],
  };

  const mode = () => document.querySelector('input[name="mode"]:checked').value;
  const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
  // Rounded, but never to a certainty the model does not have: 0.9996 is "over 99%", not "100%".
  const percent = (p) => (p >= 0.995 ? "over 99%" : `${Math.round(p * 100)}%`);
  const finePercent = (p) => (p > 0.999 ? ">99.9%" : p < 0.001 ? "<0.1%" : `${(p * 100).toFixed(1)}%`);
  const labelOf = (drawing) => drawing.correction.label ?? drawing.digit;
  // A person said it is no digit at all (the correction's not_a_digit; its label is then null).
  const saidNotADigit = (drawing) => drawing.correction.not_a_digit === true;
  const isCorrected = (drawing) =>
    saidNotADigit(drawing) || (drawing.correction.label !== null && drawing.correction.label !== undefined);
  // What stands for the drawing in the big answer, a number's digits and the strip: its digit, or ✕ for not a digit.
  const shownLabel = (drawing) => (saidNotADigit(drawing) ? "✕" : String(labelOf(drawing)));
  /** What the person said it is, in words: "a 7", "an 8", "not a digit". */
  const said = (drawing) => {
    if (saidNotADigit(drawing)) return "not a digit";
    return `${drawing.correction.label === 8 ? "an" : "a"} ${drawing.correction.label}`;
  };
  // The plausible digits, most probable first (the API's candidates: two or three when ambiguous).
  const candidatesOf = (drawing) => (drawing.candidates && drawing.candidates.length ? drawing.candidates : [drawing.digit]);
  const isAmbiguous = (drawing) =>
    drawing.uncertain_reason === "ambiguous" && !isCorrected(drawing) && candidatesOf(drawing).length > 1;
  const isNotADigit = (drawing) => drawing.uncertain_reason === "not_a_digit" && !isCorrected(drawing);
  /** "a 4 or a 9", "a 1, a 7 or a 4" */
  const eitherOr = (drawing) => {
    const names = candidatesOf(drawing).map((d) => `${d === 8 ? "an" : "a"} ${d}`);
    return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
  };
  const element = (tag, props = {}, children = []) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  /* ---------- the canvas: sized for high-DPI screens, strokes kept as data and redrawn ---------- */
  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio);
    const height = Math.round(canvas.clientHeight * ratio);
    if (width && height && (canvas.width !== width || canvas.height !== height)) {
      canvas.width = width;
      canvas.height = height;
    }
    redraw();
  }
  const brush = () => Math.max(2, Math.min(canvas.width, canvas.height) * BRUSH_FRACTION);
  const toCanvas = ([x, y]) => [x * canvas.width, y * canvas.height];

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = ctx.fillStyle = "#000";
    ctx.lineWidth = brush();
    for (const stroke of state.strokes) drawStroke(stroke);
    placeholder.hidden = state.strokes.length > 0;
  }

  function drawStroke(stroke) {
    const [x0, y0] = toCanvas(stroke[0]);
    if (stroke.length === 1) {
      ctx.beginPath();
      ctx.arc(x0, y0, brush() / 2, 0, Math.PI * 2);
      ctx.fill();
      return;
    }
    // Smooth: a quadratic curve through the midpoints between samples, so fast strokes are not jagged polygons.
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    for (let i = 1; i < stroke.length - 1; i++) {
      const [x1, y1] = toCanvas(stroke[i]);
      const [x2, y2] = toCanvas(stroke[i + 1]);
      ctx.quadraticCurveTo(x1, y1, (x1 + x2) / 2, (y1 + y2) / 2);
    }
    ctx.lineTo(...toCanvas(stroke[stroke.length - 1]));
    ctx.stroke();
  }

  /** Width over height of the ink on the canvas, in screen proportions: a number drawn as one digit is wide. */
  function inkAspect() {
    const points = state.strokes.flat();
    if (!points.length) return 1;
    const span = (axis) => Math.max(...points.map((p) => p[axis])) - Math.min(...points.map((p) => p[axis]));
    return (span(0) * canvas.width) / Math.max(span(1) * canvas.height, brush());
  }

  /* The drawing as sent, at most UPLOAD_SIZE px on its shorter side: a high-density phone's canvas is ~1000 px wide,
     and that PNG is ~6x the bytes to send and store and 10-20 ms for the server to decode (0.5 ms at 280 px), for the
     same 28x28 model input. */
  const UPLOAD_SIZE = 280;
  function exportImage() {
    const scale = Math.min(1, UPLOAD_SIZE / Math.min(canvas.width, canvas.height));
    if (scale === 1) return canvas.toDataURL("image/png");
    const out = document.createElement("canvas");
    out.width = Math.round(canvas.width * scale);
    out.height = Math.round(canvas.height * scale);
    const outCtx = out.getContext("2d");
    outCtx.imageSmoothingQuality = "high";
    outCtx.drawImage(canvas, 0, 0, out.width, out.height);
    return out.toDataURL("image/png");
  }
  /* A point as the API's strokes take it: [x, y, t] in 0..1 canvas fractions and ms since the drawing began, plus the
     pressure when the device reports a real one (a pen; mice report 0.5 while pressed, or 0). */
  function localPoint(event) {
    const rect = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    const round = (v, digits) => Number(v.toFixed(digits));
    if (state.started === null) state.started = event.timeStamp;
    const point = [
      round(clamp((event.clientX - rect.left) / rect.width), 4),
      round(clamp((event.clientY - rect.top) / rect.height), 4),
      Math.max(0, Math.round(event.timeStamp - state.started)),
    ];
    if (event.pointerType === "pen" && event.pressure > 0) point.push(round(event.pressure, 3));
    return point;
  }
  /** The strokes as the API accepts them beside the image (recognizer/core/strokes.py). */
  function exportStrokes() {
    return { aspect: Number((canvas.width / canvas.height).toFixed(4)), pointer: state.pointer, strokes: state.strokes };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (state.current || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    // Focus the pad (so Enter reads the drawing, not the last button pressed) without showing a keyboard ring.
    canvas.focus({ preventScroll: true, focusVisible: false });
    clearTimeout(state.timer);
    canvas.setPointerCapture(event.pointerId);
    state.pointerId = event.pointerId;
    if (!state.strokes.length) state.started = null; // a new drawing: its time starts at this pointer-down
    state.pointer = ["mouse", "touch", "pen"].includes(event.pointerType) ? event.pointerType : "unknown";
    state.current = [localPoint(event)];
    state.strokes.push(state.current);
    changed();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!state.current || event.pointerId !== state.pointerId) return;
    event.preventDefault();
    const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const sample of samples.length ? samples : [event]) state.current.push(localPoint(sample));
    redraw();
  });
  function endStroke(event) {
    if (!state.current || event.pointerId !== state.pointerId) return;
    event.preventDefault();
    state.current = null;
    state.pointerId = null;
    schedule();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  // No scrolling, zooming, text selection or long-press menu while drawing on a phone (touch-action: none in
  // the CSS does most of it; these cover older browsers).
  for (const type of ["touchstart", "touchmove", "touchend", "gesturestart", "contextmenu", "selectstart"]) {
    canvas.addEventListener(type, (event) => event.preventDefault(), { passive: false });
  }

  function changed() {
    state.version++;
    redraw();
    if (state.result && !answerEl.hidden) {
      answerEl.classList.add("stale");
      quickEl.classList.add("stale");
      closeChoices(false);
      closeCounts(false);
    }
  }
  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(predict, AUTO_PREDICT_MS[mode()]);
  }

  function undo() {
    clearTimeout(state.timer);
    if (!state.strokes.length) {
      say("Nothing to undo: the canvas is empty.");
      return;
    }
    state.strokes.pop();
    changed();
    if (state.strokes.length) {
      say("Last stroke undone.");
      schedule();
    } else {
      hideAnswer();
      say("Last stroke undone: the canvas is empty.");
    }
  }
  function clear() {
    clearTimeout(state.timer);
    state.strokes = [];
    changed();
    hideAnswer();
    say(mode() === "number" ? "Cleared. Write a number, digits side by side." : "Cleared. Draw a digit.");
  }

  /* ---------- talking to the API ---------- */
  function say(text, kind = "") {
    statusEl.textContent = text;
    statusEl.className = `status ${kind}`.trim();
  }

  async function api(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: body === undefined ? "GET" : "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf() },
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Error("I could not reach the server. Check the connection and try again.");
    }
    const data = await response.json().catch(() => ({}));
    if (data.code === "model_unavailable") {
      throw new Error("The recognizer is not available right now. Try again soon.");
    }
    if (!response.ok) {
      const first = (value) => (Array.isArray(value) ? value[0] : value);
      throw new Error(first(data.detail) || first(data.label) || first(data.image) || `Error ${response.status}.`);
    }
    return data;
  }

  async function predict() {
    clearTimeout(state.timer);
    if (!state.strokes.length) {
      hideAnswer();
      say("The canvas is empty: draw a digit first.", "error");
      return;
    }
    if (state.busy) {
      state.again = true;
      return;
    }
    if (state.result && state.result.version === state.version) {
      announce(); // this very drawing was read already: say it again rather than store it twice
      return;
    }
    const kind = mode();
    const version = state.version;
    state.busy = true;
    state.again = false;
    answerEl.setAttribute("aria-busy", "true");
    say(kind === "number" ? "Reading your number…" : "Reading your drawing…");
    try {
      const data = await api(URLS[kind], { image: exportImage(), strokes: exportStrokes() });
      if (version === state.version) {
        const drawings = kind === "number" ? data.digits : [data];
        show({ kind, version, drawings, splitUrl: data.split_url });
      } // else the drawing changed while it was read: the change scheduled a new reading (or emptied the canvas)
      loadRecent();
    } catch (error) {
      say(error.message, "error");
    } finally {
      state.busy = false;
      answerEl.removeAttribute("aria-busy");
      if (state.again && state.strokes.length && !state.current) predict();
    }
  }

  /* ---------- the answer ---------- */
  /** Show a reading: the first digit the model is unsure of selected (else the first), and say it. */
  function show(result) {
    state.result = result;
    const unsure = result.drawings.findIndex((d) => d.uncertain);
    state.selected = unsure < 0 ? 0 : unsure;
    render();
    announce();
  }

  function hideAnswer() {
    answerEl.hidden = true;
    quickEl.hidden = true;
    state.result = null;
    closeChoices(false);
    closeCounts(false);
  }

  function render() {
    const { drawings } = state.result;
    const several = drawings.length > 1;
    const drawing = drawings[state.selected];
    answerEl.hidden = false;
    answerEl.classList.remove("stale");
    answerEl.classList.toggle("several", several); // each digit shows its own 28x28 view in its button
    answerEl.dataset.drawings = drawings.map((d) => d.id).join(" ");

    renderQuick();
    digitEl.replaceChildren(
      ...drawings.map((d, i) => {
        const notADigit = isNotADigit(d);
        const shown = notADigit ? "?" : shownLabel(d) + (d.uncertain && !isCorrected(d) && !several ? "?" : "");
        const kind = isCorrected(d) ? "fixed" : d.uncertain ? "unsure" : "";
        const selected = several && i === state.selected ? "selected" : "";
        return element("span", { textContent: shown, className: `${kind} ${selected}`.trim() });
      }),
    );

    const [badge, badgeKind] = isCorrected(drawing)
      ? ["Corrected", "fixed"]
      : isNotADigit(drawing)
        ? ["Not a digit?", "unsure"]
        : isAmbiguous(drawing)
          ? [`${candidatesOf(drawing).join(" or ")}?`, "unsure"]
          : drawing.uncertain
          ? ["Not sure", "unsure"]
          : ["Sure", "sure"];
    badgeEl.textContent = badge;
    badgeEl.className = `badge ${badgeKind}`;
    const which = several ? `Digit ${state.selected + 1} of ${drawings.length}: ` : "";
    confidenceEl.textContent = isCorrected(drawing)
      ? `${which}you said ${saidNotADigit(drawing) ? "not a digit" : drawing.correction.label}, I read ${drawing.digit}`
      : `${which}${percent(drawing.confidence)} sure`;
    seenEl.src = drawing.input_image;
    seenEl.alt = `The 28 by 28 pixel image the model saw${several ? ` for digit ${state.selected + 1}` : ""}`;

    numberEl.hidden = !several;
    numberEl.replaceChildren(
      ...(several ? drawings : []).map((d, i) => {
        const className = d.uncertain && !isCorrected(d) ? "unsure" : "";
        const button = element("button", { type: "button", className }, [
          element("img", { src: d.input_image, alt: "", width: 42, height: 42 }),
          element("span", { textContent: shownLabel(d) }),
        ]);
        button.setAttribute("aria-pressed", String(i === state.selected));
        const name = saidNotADigit(d) ? "not a digit" : labelOf(d);
        button.setAttribute(
          "aria-label",
          `Digit ${i + 1}: ${name}${isCorrected(d) ? ", corrected" : d.uncertain ? ", not sure" : ""}`,
        );
        button.addEventListener("click", () => {
          state.selected = i;
          render();
          say(`Digit ${i + 1}: ${describe(d)}`);
        });
        return button;
      }),
    );

    barsEl.replaceChildren(
      ...drawing.probabilities.map((p, digit) => {
        const fill = element("span", { className: "fill" });
        fill.style.width = `${(p * 100).toFixed(1)}%`;
        const track = element("span", { className: "track" }, [fill]);
        track.setAttribute("aria-hidden", "true");
        return element("li", { className: digit === drawing.digit ? "best" : "" }, [
          element("span", { className: "label", textContent: String(digit) }),
          track,
          element("span", { className: "pct", textContent: finePercent(p) }),
        ]);
      }),
    );

    renderCounts();
    wrongBtn.textContent = isCorrected(drawing) ? "Still wrong?" : "Wrong?";
    for (const button of choiceGrid.children) {
      const notADigit = button.dataset.label === NOT_A_DIGIT;
      const current = notADigit
        ? saidNotADigit(drawing)
        : !saidNotADigit(drawing) && Number(button.dataset.label) === labelOf(drawing);
      button.classList.toggle("current", current);
      const name = notADigit ? "Not a digit" : `It is a ${button.dataset.label}`;
      button.setAttribute("aria-label", `${name}${current ? " (my current answer)" : ""}`);
    }
  }

  /** The compact answer over the canvas: the digit (or number) and a word on how sure, in view at once. */
  function renderQuick() {
    const { drawings } = state.result;
    if (state.result.version !== state.version) {
      quickEl.hidden = true; // an earlier drawing from the strip: not what the canvas holds
      return;
    }
    const several = drawings.length > 1;
    const drawing = drawings[0];
    let text;
    let note = "";
    if (several) {
      text = drawings.map((d) => (isNotADigit(d) ? "?" : shownLabel(d))).join("");
      note = drawings.some((d) => d.uncertain && !isCorrected(d)) ? "not sure" : "";
    } else if (isCorrected(drawing)) {
      [text, note] = [shownLabel(drawing), saidNotADigit(drawing) ? "not a digit" : "corrected"];
    } else if (isNotADigit(drawing)) {
      [text, note] = ["?", "not a digit?"];
    } else if (isAmbiguous(drawing)) {
      [text, note] = [`${candidatesOf(drawing).join(" or ")}?`, ""];
    } else {
      text = String(drawing.digit) + (drawing.uncertain ? "?" : "");
      note = drawing.uncertain ? "not sure" : percent(drawing.confidence);
    }
    const unsure = drawings.some((d) => d.uncertain && !isCorrected(d));
    quickEl.className = `quick ${unsure ? "unsure" : drawings.every(isCorrected) ? "fixed" : ""}`.trim();
    quickEl.querySelector(".quick-answer").textContent = text;
    quickEl.querySelector(".quick-note").textContent = note;
    quickEl.hidden = false;
  }

  function describe(drawing) {
    if (isCorrected(drawing)) return `you said it is ${said(drawing)} (I read ${drawing.digit}).`;
    if (isNotADigit(drawing)) {
      return `that doesn't look like a digit to me (my best guess: ${drawing.digit}, ${percent(drawing.confidence)}).`;
    }
    if (isAmbiguous(drawing)) return `${eitherOr(drawing)}? I can't tell which.`;
    if (drawing.uncertain) return `I'm not sure: maybe a ${drawing.digit}, only ${percent(drawing.confidence)} sure.`;
    return `a ${drawing.digit}, ${percent(drawing.confidence)} sure.`;
  }

  function announce() {
    const { drawings, kind } = state.result;
    const drawing = drawings[0];
    if (drawings.length === 1) {
      if (isCorrected(drawing)) {
        say(`You said it is ${said(drawing)}.`, "thanks");
      } else if (isNotADigit(drawing)) {
        const hint = kind === "digit" && inkAspect() > 1.6 ? " Writing several digits? Choose “A number”." : "";
        say(`That doesn't look like a digit to me. If it is one, tap “Wrong?” and tell me which.${hint}`, "unsure");
      } else if (isAmbiguous(drawing)) {
        const [first, ...others] = candidatesOf(drawing);
        const question = eitherOr(drawing).replace(/^a/, "A");
        const other = others.length === 1 ? `the ${others[0]}` : "another";
        say(`${question}? I can't tell which; I'd say ${first}. If it's ${other}, tap “Wrong?” and tell me.`, "unsure");
      } else if (drawing.uncertain) {
        const sure = percent(drawing.confidence);
        say(`I'm not sure. Maybe a ${drawing.digit}, but only ${sure} sure. Wrong? Tell me.`, "unsure");
      } else {
        say(`It's a ${drawing.digit} (${percent(drawing.confidence)} sure).`);
      }
      return;
    }
    const number = drawings.map((d) => (isNotADigit(d) ? "?" : d.digit)).join("");
    const unsure = drawings.map((d, i) => (d.uncertain ? i + 1 : 0)).filter(Boolean);
    if (!unsure.length) {
      const lowest = Math.min(...drawings.map((d) => d.confidence));
      const least = lowest >= 0.995 ? percent(lowest) : `at least ${percent(lowest)}`;
      say(`It's the number ${number} (every digit ${least} sure).`);
    } else {
      const which = unsure.length === 1 ? `digit ${unsure[0]}` : `digits ${unsure.join(", ")}`;
      say(`I read ${number}, but I'm not sure of ${which}. Choose a digit to see it or correct it.`, "unsure");
    }
  }

  /* ---------- correcting: "Wrong?" then one tap on the right digit, or on "Not a digit" ---------- */
  const NOT_A_DIGIT = "not_a_digit"; // the "Not a digit" button's data-label
  for (let digit = 0; digit <= 9; digit++) {
    const button = element("button", { type: "button", textContent: String(digit) });
    button.dataset.label = String(digit);
    button.addEventListener("click", () => correct({ label: digit }));
    choiceGrid.append(button);
  }
  const notADigitBtn = element("button", { type: "button", className: "not-a-digit", textContent: "Not a digit" });
  notADigitBtn.dataset.label = NOT_A_DIGIT;
  notADigitBtn.addEventListener("click", () => correct({ not_a_digit: true }));
  choiceGrid.append(notADigitBtn);
  function openChoices() {
    choicesEl.hidden = false;
    wrongBtn.setAttribute("aria-expanded", "true");
    choiceGrid.querySelector("button").focus();
  }
  function closeChoices(returnFocus) {
    choicesEl.hidden = true;
    wrongBtn.setAttribute("aria-expanded", "false");
    if (returnFocus) wrongBtn.focus();
  }

  /** Send a correction: ``{label: 0-9}`` or ``{not_a_digit: true}``. */
  async function correct(answer) {
    const drawing = state.result.drawings[state.selected];
    for (const button of choiceGrid.children) button.disabled = true;
    try {
      const data = await api(drawing.correction_url, { ...answer, token: drawing.correction_token });
      drawing.correction = data.correction;
      render();
      closeChoices(true);
      const where = state.result.drawings.length > 1 ? ` for digit ${state.selected + 1}` : "";
      say(`Thank you! Saved as ${said(drawing)}${where}. I'll learn from it.`, "thanks");
      loadRecent();
    } catch (error) {
      say(`Sorry, the correction was not saved: ${error.message}`, "error");
    } finally {
      for (const button of choiceGrid.children) button.disabled = false;
    }
  }

  /* ---------- a number split wrong: the person says how many digits, and it is read again ---------- */
  /** One button per count, from 1 to two more than read (at least 6, at most MAX_DIGITS); the current one dashed. */
  function renderCounts() {
    const { splitUrl, drawings } = state.result;
    countEl.hidden = !splitUrl;
    if (!splitUrl) return;
    const read = drawings.length;
    const buttons = [];
    for (let count = 1; count <= Math.min(MAX_DIGITS, Math.max(6, read + 2)); count++) {
      const button = element("button", { type: "button", textContent: String(count) });
      const current = count === read;
      button.classList.toggle("current", current);
      button.setAttribute("aria-label", `${count} digit${count === 1 ? "" : "s"}${current ? " (as I read it)" : ""}`);
      button.addEventListener("click", () => split(count));
      buttons.push(button);
    }
    countGrid.replaceChildren(...buttons);
  }
  function openCounts() {
    countsEl.hidden = false;
    miscountBtn.setAttribute("aria-expanded", "true");
    countGrid.querySelector("button").focus();
  }
  function closeCounts(returnFocus) {
    countsEl.hidden = true;
    miscountBtn.setAttribute("aria-expanded", "false");
    if (returnFocus) miscountBtn.focus();
  }

  async function split(count) {
    const { splitUrl, version, drawings } = state.result;
    for (const button of countGrid.children) button.disabled = true;
    say(`Reading it again as ${count} digit${count === 1 ? "" : "s"}…`);
    try {
      const data = await api(splitUrl, { digits: count, token: drawings[0].correction_token });
      closeCounts(false);
      show({ kind: "number", version, drawings: data.digits, splitUrl: data.split_url });
      miscountBtn.focus();
      loadRecent();
    } catch (error) {
      say(`Sorry, I could not read it again: ${error.message}`, "error");
    } finally {
      for (const button of countGrid.children) button.disabled = false;
    }
  }

  /* ---------- this session's recent drawings, as the server stored them ---------- */
  async function loadRecent() {
    try {
      state.recent = await api(URLS.recent);
    } catch (error) {
      return; // the strip is a convenience: keep the last one shown
    }
    renderRecent();
  }
  function renderRecent() {
    if (!state.recent.length) {
      const empty = element("li", { className: "empty", textContent: "Nothing yet: your drawings appear here." });
      recentEl.replaceChildren(empty);
      return;
    }
    recentEl.replaceChildren(
      ...state.recent.map((d) => {
        const caption = isCorrected(d)
          ? [element("s", { textContent: `${d.digit}` }), " → ", element("b", { textContent: shownLabel(d) })]
          : [`${d.digit}${d.uncertain ? "?" : ""}`];
        const button = element("button", { type: "button" }, [
          element("img", { src: d.input_image, alt: "", width: 48, height: 48 }),
          element("span", { className: "caption" }, caption),
        ]);
        button.setAttribute(
          "aria-label",
          `Drawing read as ${d.digit}${d.uncertain ? " (not sure)" : ""}` +
            `${isCorrected(d) ? `, corrected to ${saidNotADigit(d) ? "not a digit" : d.correction.label}` : ""}. Show it.`,
        );
        button.addEventListener("click", () => {
          state.result = { kind: "digit", version: null, drawings: [d] };
          state.selected = 0;
          render();
          say(`Your earlier drawing: ${describe(d)}`);
          answerEl.scrollIntoView({ block: "nearest" });
        });
        return element("li", { className: isCorrected(d) ? "fixed" : d.uncertain ? "unsure" : "" }, [button]);
      }),
    );
    recentEl.querySelectorAll("li").forEach((li, i) => (li.dataset.id = state.recent[i].id));
  }

  /* ---------- wiring ---------- */
  wrongBtn.addEventListener("click", () => (choicesEl.hidden ? openChoices() : closeChoices(false)));
  miscountBtn.addEventListener("click", () => (countsEl.hidden ? openCounts() : closeCounts(false)));
  $("#predict").addEventListener("click", predict);
  $("#undo").addEventListener("click", undo);
  $("#clear").addEventListener("click", clear);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      const number = mode() === "number";
      layout.classList.toggle("number-mode", number);
      placeholder.textContent = number ? "Write a number here, digits side by side" : "Draw a digit here";
      state.strokes = [];
      changed();
      hideAnswer();
      resize();
      say(number ? "Write a number, digits side by side." : "Draw a digit.");
    });
  }
  document.addEventListener("keydown", (event) => {
    const onControl = event.target.closest && event.target.closest("button, input, a, select, textarea, summary");
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === "Escape") {
      if (!choicesEl.hidden) closeChoices(true);
      else if (!countsEl.hidden) closeCounts(true);
      else clear();
    } else if (event.key === "Enter" && !onControl) {
      event.preventDefault();
      predict();
    }
  });
  new ResizeObserver(resize).observe(canvas);
  window.addEventListener("resize", resize); // also catches a new devicePixelRatio (browser zoom, another screen)
  resize();
  renderRecent();
  loadRecent();
})();
