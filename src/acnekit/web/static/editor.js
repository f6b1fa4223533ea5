// The photo and its circles: zoom and pan (wheel, drag, pinch), explicit modes (select /
// add / pan / ruler), moving and resizing circles with the pointer or the keyboard.
//
// Any circle can be moved whatever its size on screen: a press anywhere inside it, or
// within GRAB_PX of its centre, grabs it to move; resizing happens only through the square
// handle drawn beside the selected circle. A click on the skin adds a lesion only in add
// mode; in select mode it deselects; a drag pans in every mode.
import { svgEl } from "./panel.js";

const GRAB_PX = 9;     // a press this close (screen px) to a small circle's centre grabs it
const HANDLE_PX = 11;  // resize handle: size and distance beyond the circle's edge (screen px)
const DRAG_PX = 4;     // movement (screen px) before a press becomes a drag instead of a click
const STROKE_PX = 2;   // circle outline width on screen
export const MODES = ["select", "add", "pan", "ruler"];

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
const round2 = (v) => Math.round(v * 100) / 100;

export function createEditor(st, hooks) {
  const $ = (id) => document.getElementById(id);
  const stage = $("stage"), img = $("photo"), svg = $("overlay"), group = $("circles"), tools = $("tools");

  const size = () => ({ w: st.assessment.images[0].width, h: st.assessment.images[0].height });
  const visible = (l) => !l.removed;

  // ---------------------------------------------------------------- view
  function applyView() {
    const { s, tx, ty } = st.view;
    const { w, h } = size();
    for (const el of [img, svg]) {
      el.style.width = `${w * s}px`;
      el.style.height = `${h * s}px`;
      el.style.transform = `translate(${tx}px, ${ty}px)`;
    }
    group.setAttribute("stroke-width", String(STROKE_PX / s));
    group.style.setProperty("--sw", `${STROKE_PX / s}px`); // graded circles: a multiple of it (app.css)
    drawTools();
  }

  function fit() {
    const { w, h } = size();
    const W = stage.clientWidth, H = stage.clientHeight;
    const s = Math.min(W / w, H / h) * 0.98;
    st.view = { s, tx: (W - w * s) / 2, ty: (H - h * s) / 2 };
    draw();
    applyView();
  }

  function zoomAt(factor, cx, cy) {
    const v = st.view;
    const s = clamp(v.s * factor, 0.02, 60);
    st.view = { s, tx: cx - (cx - v.tx) * s / v.s, ty: cy - (cy - v.ty) * s / v.s };
    applyView();
  }
  const zoomCentre = (f) => zoomAt(f, stage.clientWidth / 2, stage.clientHeight / 2);

  function toImage(ev) {
    const rect = stage.getBoundingClientRect();
    const sx = ev.clientX - rect.left, sy = ev.clientY - rect.top;
    return { sx, sy, x: (sx - st.view.tx) / st.view.s, y: (sy - st.view.ty) / st.view.s };
  }

  // ---------------------------------------------------------------- drawing
  function draw() {
    group.replaceChildren();
    st.lesions.forEach((l, i) => {
      if (!visible(l)) return;
      const cls = ["lesion"];
      if (l.source === "added") cls.push("added");
      if (l.graded === true) cls.push("graded");
      else if (st.grading || l.graded === false) cls.push("ungraded"); // hand-added: not graded until marked
      if (l.in_skin === false) cls.push("outside");
      if (i === st.selected) cls.push("selected");
      group.appendChild(svgEl("circle", { cx: l.x, cy: l.y, r: l.r, "data-index": i, class: cls.join(" ") }));
    });
    drawTools();
  }

  function drawTools() {
    tools.replaceChildren();
    const s = st.view.s;
    const l = st.lesions[st.selected];
    if (l && st.showCircles) {
      const hx = l.x + l.r + HANDLE_PX / s, hs = HANDLE_PX / s;
      tools.appendChild(svgEl("line", { class: "tether", x1: l.x + l.r, y1: l.y, x2: hx, y2: l.y, "stroke-width": 1.5 / s }));
      tools.appendChild(svgEl("rect", { class: "handle", x: hx - hs / 2, y: l.y - hs / 2, width: hs, height: hs,
                                        "stroke-width": 1.5 / s }));
      tools.appendChild(svgEl("circle", { class: "centre", cx: l.x, cy: l.y, r: 2.5 / s }));
    }
    const r = st.ruler;
    if (r && r.points.length) {
      const g = svgEl("g", { class: "ruler" });
      const [a, b] = r.points;
      if (b) g.appendChild(svgEl("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, "stroke-width": 2 / s }));
      for (const p of r.points) g.appendChild(svgEl("circle", { cx: p.x, cy: p.y, r: 4 / s }));
      tools.appendChild(g);
    }
  }

  // ---------------------------------------------------------------- hit testing
  function hitTest(p) {
    if (!st.showCircles) return null;
    const s = st.view.s;
    const l = st.lesions[st.selected];
    if (l) {
      const hx = l.x + l.r + HANDLE_PX / s;
      if (Math.abs(p.x - hx) * s <= HANDLE_PX && Math.abs(p.y - l.y) * s <= HANDLE_PX) return { i: st.selected, part: "resize" };
    }
    let best = -1, bestR = Infinity;
    st.lesions.forEach((c, i) => {
      if (!visible(c)) return;
      const d = Math.hypot(p.x - c.x, p.y - c.y);
      if ((d <= c.r || d * s <= GRAB_PX) && c.r < bestR) { best = i; bestR = c.r; }
    });
    return best >= 0 ? { i: best, part: "move" } : null;
  }

  // ---------------------------------------------------------------- edits
  function snapshot() { return st.lesions.map((l) => ({ ...l })); }

  function defaultRadius() {
    const r = st.lesions.filter(visible).map((l) => l.r).sort((a, b) => a - b);
    if (r.length) return r[Math.floor(r.length / 2)];
    const { w, h } = size();
    return Math.max(2, Math.min(w, h) * 0.012);
  }

  function addAt(p) {
    const { w, h } = size();
    if (p.x < 0 || p.y < 0 || p.x > w || p.y > h) return;
    hooks.remember();
    const l = { x: round2(p.x), y: round2(p.y), r: round2(defaultRadius()), score: null, source: "added" };
    if (st.grading) l.graded = false; // explicit in the JSON; G / "Count for the grade" marks it
    st.lesions.push(l);
    st.selected = st.lesions.length - 1;
    hooks.changed();
  }

  function removeSelected() {
    const l = st.lesions[st.selected];
    if (!l) return;
    hooks.remember();
    if (l.source === "added") st.lesions.splice(st.selected, 1); // never a detection: nothing to keep
    else l.removed = true; // kept in the JSON with removed: true, never counted
    st.selected = -1;
    hooks.changed();
  }

  // A moved lesion's in_skin and region are re-derived by the server from the face geometry
  // the assessment carries (summary.face.geometry); without one they are kept.
  function relocated(l) {
    const face = st.assessment && st.assessment.summary && st.assessment.summary.face;
    if (face && face.geometry) { delete l.in_skin; delete l.region; }
  }

  function moveBy(dx, dy) {
    const l = st.lesions[st.selected];
    if (!l) return;
    const { w, h } = size();
    hooks.remember("key-move");
    l.x = round2(clamp(l.x + dx, 0, w));
    l.y = round2(clamp(l.y + dy, 0, h));
    relocated(l);
    hooks.changed();
  }

  function resizeBy(f) {
    const l = st.lesions[st.selected];
    if (!l) return;
    const { w, h } = size();
    hooks.remember("key-resize");
    l.r = round2(clamp(f > 1 ? Math.max(l.r * f, l.r + 0.5) : Math.min(l.r * f, l.r - 0.5), 0.5, Math.max(w, h)));
    hooks.changed();
  }

  function step(dir) {
    const idx = st.lesions.map((l, i) => (visible(l) ? i : -1)).filter((i) => i >= 0);
    if (!idx.length) return;
    // in reading order (top to bottom, then left to right), so N walks the face predictably
    idx.sort((a, b) => st.lesions[a].y - st.lesions[b].y || st.lesions[a].x - st.lesions[b].x);
    const k = idx.indexOf(st.selected);
    const next = idx[k < 0 ? (dir > 0 ? 0 : idx.length - 1) : (k + dir + idx.length) % idx.length];
    hooks.select(next);
    reveal(st.lesions[next]);
  }

  function reveal(l) { // pan so the circle is on screen
    const { s, tx, ty } = st.view;
    const sx = l.x * s + tx, sy = l.y * s + ty, W = stage.clientWidth, H = stage.clientHeight;
    if (sx < 20 || sy < 20 || sx > W - 20 || sy > H - 20) {
      st.view = { s, tx: W / 2 - l.x * s, ty: H / 2 - l.y * s };
      applyView();
    }
  }

  function setMode(mode) {
    if (!MODES.includes(mode)) return;
    st.mode = mode;
    for (const m of MODES) stage.classList.toggle(`mode-${m}`, m === mode);
    for (const b of document.querySelectorAll("[data-mode]")) b.setAttribute("aria-checked", String(b.dataset.mode === mode));
    $("mode-label").textContent = `Mode: ${mode}`;
    if (mode === "ruler") hooks.rulerStart();
    else hooks.rulerStop();
  }

  function toggleCircles(on = !st.showCircles) {
    st.showCircles = on;
    stage.classList.toggle("hide-circles", !on);
    $("toggle-circles").setAttribute("aria-pressed", String(on));
    drawTools();
  }

  // ---------------------------------------------------------------- pointer (mouse, pen, touch)
  const pointers = new Map();
  let drag = null, pinch = null;

  function pinchState() {
    const [a, b] = [...pointers.values()];
    return { d: Math.hypot(a.sx - b.sx, a.sy - b.sy), mx: (a.sx + b.sx) / 2, my: (a.sy + b.sy) / 2 };
  }

  stage.addEventListener("pointerdown", (ev) => {
    if (!st.assessment || st.busy || (ev.pointerType === "mouse" && ev.button !== 0)) return;
    const p = toImage(ev);
    pointers.set(ev.pointerId, p);
    stage.setPointerCapture(ev.pointerId);
    if (pointers.size === 2) { // a second finger: pinch zoom; the first finger's drag is dropped
      if (drag && drag.moved && drag.before) { st.lesions = drag.before; hooks.redraw(); }
      drag = null;
      pinch = { ...pinchState(), view0: { ...st.view } };
      return;
    }
    if (pointers.size > 2) return;
    const hit = st.mode === "select" || st.mode === "add" ? hitTest(p) : null;
    drag = { p0: p, moved: false, hit, view0: { ...st.view } };
    if (hit) {
      drag.l0 = { ...st.lesions[hit.i] };
      drag.before = snapshot();
      if (hit.i !== st.selected) hooks.select(hit.i);
    }
    stage.focus({ preventScroll: true });
  });

  stage.addEventListener("pointermove", (ev) => {
    if (!st.assessment) return;
    const p = toImage(ev);
    if (pointers.has(ev.pointerId)) pointers.set(ev.pointerId, p);
    if (pinch && pointers.size === 2) {
      const now = pinchState(), v = pinch.view0;
      const s = clamp(v.s * now.d / Math.max(pinch.d, 1), 0.02, 60);
      st.view = { s, tx: now.mx - (pinch.mx - v.tx) * s / v.s, ty: now.my - (pinch.my - v.ty) * s / v.s };
      applyView();
      return;
    }
    if (!drag) {
      if (st.mode === "select" || st.mode === "add") {
        const hit = hitTest(p);
        stage.style.cursor = !hit ? "" : hit.part === "resize" ? "ew-resize" : "move";
      }
      return;
    }
    if (!drag.moved && Math.hypot(p.sx - drag.p0.sx, p.sy - drag.p0.sy) < DRAG_PX) return;
    drag.moved = true;
    if (!drag.hit) {
      st.view = { ...drag.view0, tx: drag.view0.tx + p.sx - drag.p0.sx, ty: drag.view0.ty + p.sy - drag.p0.sy };
      applyView();
      return;
    }
    const { w, h } = size();
    const l = st.lesions[drag.hit.i];
    if (drag.hit.part === "resize") {
      l.r = round2(clamp(Math.hypot(p.x - l.x, p.y - l.y) - HANDLE_PX / st.view.s, 0.5, Math.max(w, h)));
    } else {
      l.x = round2(clamp(drag.l0.x + p.x - drag.p0.x, 0, w));
      l.y = round2(clamp(drag.l0.y + p.y - drag.p0.y, 0, h));
    }
    const c = group.querySelector(`circle[data-index="${drag.hit.i}"]`);
    if (c) { c.setAttribute("cx", l.x); c.setAttribute("cy", l.y); c.setAttribute("r", l.r); }
    drawTools();
    hooks.describe();
  });

  function endPointer(ev) {
    if (!pointers.has(ev.pointerId)) return;
    pointers.delete(ev.pointerId);
    if (stage.hasPointerCapture(ev.pointerId)) stage.releasePointerCapture(ev.pointerId);
    if (pinch) { if (pointers.size === 0) pinch = null; return; }
    const d = drag;
    drag = null;
    if (!d || ev.type === "pointercancel") return;
    if (d.hit && d.moved) {
      if (d.hit.part !== "resize" && st.lesions[d.hit.i]) relocated(st.lesions[d.hit.i]);
      hooks.remember(null, d.before);
      hooks.changed();
    } else if (!d.hit && !d.moved) {
      if (st.mode === "add") addAt(d.p0);
      else if (st.mode === "select") hooks.select(-1);
      else if (st.mode === "ruler") hooks.rulerPoint({ x: round2(d.p0.x), y: round2(d.p0.y) });
    }
  }
  stage.addEventListener("pointerup", endPointer);
  stage.addEventListener("pointercancel", endPointer);

  stage.addEventListener("wheel", (ev) => {
    if (!st.assessment) return;
    ev.preventDefault();
    const p = toImage(ev);
    zoomAt(Math.exp(-ev.deltaY * 0.0015), p.sx, p.sy);
  }, { passive: false });

  // ---------------------------------------------------------------- keyboard
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (!st.assessment || st.busy || t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement) return;
    if (ev.altKey) return;
    const k = ev.key, low = k.length === 1 ? k.toLowerCase() : k;
    if ((ev.ctrlKey || ev.metaKey)) {
      if (low === "z") { ev.preventDefault(); hooks.undo(); }
      return;
    }
    const s = st.view.s, fast = ev.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    let done = true;
    if (arrows[k]) {
      const [dx, dy] = arrows[k];
      if (st.lesions[st.selected]) moveBy(dx * fast * Math.max(1 / s, 0.5), dy * fast * Math.max(1 / s, 0.5));
      else { st.view = { ...st.view, tx: st.view.tx - dx * 40, ty: st.view.ty - dy * 40 }; applyView(); }
    } else if (k === "Delete" || k === "Backspace") removeSelected();
    else if (k === "Escape") { if (st.mode === "ruler") setMode("select"); else hooks.select(-1); }
    else if (k === "+" || k === "=") { if (st.lesions[st.selected]) resizeBy(1.15); else zoomCentre(1.25); }
    else if (k === "-" || k === "_") { if (st.lesions[st.selected]) resizeBy(1 / 1.15); else zoomCentre(0.8); }
    else if (k === "Enter" && st.mode === "add" && t === stage) {
      addAt({ x: (stage.clientWidth / 2 - st.view.tx) / s, y: (stage.clientHeight / 2 - st.view.ty) / s });
    }
    else if (low === "n") step(1);
    else if (low === "p") step(-1);
    else if (low === "v") setMode("select");
    else if (low === "a") setMode("add");
    else if (low === "h") setMode("pan");
    else if (low === "r") setMode("ruler");
    else if (low === "c") toggleCircles();
    else if (low === "g") hooks.toggleGraded();
    else if (k === "0") fit();
    else done = false;
    if (done && (arrows[k] || k === "Backspace" || k === " ")) ev.preventDefault();
  });

  $("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  $("zoom-out").addEventListener("click", () => zoomCentre(0.8));
  $("zoom-fit").addEventListener("click", () => st.assessment && fit());
  for (const b of document.querySelectorAll("[data-mode]")) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("toggle-circles").addEventListener("click", () => toggleCircles());
  window.addEventListener("resize", () => { if (st.assessment) fit(); });

  return { fit, draw, drawTools, applyView, removeSelected, setMode, toggleCircles };
}
