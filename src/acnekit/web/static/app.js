// acnekit page: upload a photo, show the detected lesions over it, let a clinician correct
// the circles, and export the corrected Acne04-v2 JSON and the HTML report.
// Every summary figure (count, grade, score, sizes) comes from the server (/api/assess,
// /api/summary): the page never computes them itself, so there is one implementation.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const EDGE_PX = 7;   // a press this close (screen px) to a circle's edge grabs the edge
  const DRAG_PX = 4;   // movement (screen px) before a press becomes a drag instead of a click
  const STROKE_PX = 2; // circle outline width on screen
  const MAX_UNDO = 100;

  const st = {
    file: null, url: null, assessment: null, lesions: [], selected: -1, undo: [],
    view: { s: 1, tx: 0, ty: 0 }, seq: 0, pending: Promise.resolve(), limits: null, scale: null,
  };
  const stage = $("stage"), img = $("photo"), svg = $("overlay"), group = $("circles");

  // ------------------------------------------------------------------ messages and API
  function message(text, kind) {
    const m = $("message");
    m.textContent = text || "";
    m.className = "message" + (kind === "info" ? " info" : "");
    m.hidden = !text;
  }

  async function apiError(resp) {
    let detail = resp.statusText;
    try {
      const body = await resp.json();
      detail = body.detail || JSON.stringify(body);
    } catch (_) { /* not JSON */ }
    return new Error(`${detail} (HTTP ${resp.status})`);
  }

  async function post(url, body, tries = 5) {
    for (let i = 0; ; i++) {
      const resp = await fetch(url, body instanceof FormData ? { method: "POST", body }
        : { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
      if (resp.status === 503 && i < tries) { // server busy: wait as it asks, then retry
        message("The server is busy with other photos; retrying\u2026", "info");
        await new Promise((r) => setTimeout(r, 1000 * (Number(resp.headers.get("Retry-After")) || 2)));
        continue;
      }
      if (!resp.ok) throw await apiError(resp);
      return resp;
    }
  }

  async function loadHealth() {
    try {
      const h = await (await fetch("/api/health")).json();
      st.limits = h;
      $("model").textContent = `model: ${h.model.name} \u00b7 limit ${h.max_upload_mb} MB`;
    } catch (e) {
      message("Cannot reach the acnekit server: " + e.message);
    }
  }

  // ------------------------------------------------------------------ upload
  function photoSize() {
    const im = st.assessment.images[0];
    return { w: im.width, h: im.height };
  }

  async function upload(file) {
    if (!file) return;
    message("");
    if (st.limits && file.size > st.limits.max_upload_mb * 1048576) {
      message(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB, over the server's limit of ` +
              `${st.limits.max_upload_mb} MB.`);
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    const ppm = parseFloat($("ppm").value);
    if (ppm > 0) form.append("px_per_mm", String(ppm));
    $("busy").hidden = false;
    $("drop").hidden = true;
    const url = URL.createObjectURL(file);
    const probe = new Image(); // the page keeps showing the previous photo until this one is assessed
    const loaded = new Promise((resolve, reject) => {
      probe.onload = resolve;
      probe.onerror = () => reject(new Error("this browser cannot display the photo's format; convert it to JPEG or PNG"));
    });
    loaded.catch(() => {}); // reported below, after the upload's own errors
    probe.src = url;
    try {
      const resp = await post("/api/assess", form);
      const assessment = await resp.json();
      await loaded;
      if (st.url) URL.revokeObjectURL(st.url);
      Object.assign(st, { file, url, assessment, selected: -1, undo: [], scale: null,
                          lesions: assessment.annotations.map(fromAnnotation) });
      $("undo").disabled = $("delete").disabled = true;
      const { w, h } = photoSize();
      if (probe.naturalWidth !== w || probe.naturalHeight !== h) {
        message(`The browser shows the photo at ${probe.naturalWidth}x${probe.naturalHeight} px but it is ` +
                `${w}x${h} px upright; circles may not line up.`);
      } else {
        message("");
      }
      img.src = url;
      img.alt = `${assessment.images[0].file_name}: ${assessment.annotations.length} lesions circled`;
      img.hidden = false;
      svg.removeAttribute("hidden");
      $("zoombar").hidden = false;
      svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
      fit();
      showSummary(assessment.summary);
      describeSelected();
      for (const id of ["export-json", "export-report"]) $(id).disabled = false;
      stage.focus();
    } catch (e) {
      URL.revokeObjectURL(url);
      if (!st.assessment) $("drop").hidden = false;
      message(`${file.name}: ${e.message}`);
    } finally {
      $("busy").hidden = true;
    }
  }

  const fromAnnotation = (a) => ({ x: a.coordinates[0], y: a.coordinates[1], r: a.radius,
                                   score: a.score === undefined ? null : a.score });

  // ------------------------------------------------------------------ view (zoom and pan)
  function applyView() {
    const { s, tx, ty } = st.view;
    const { w, h } = photoSize();
    for (const el of [img, svg]) {
      el.style.width = `${w * s}px`;
      el.style.height = `${h * s}px`;
      el.style.transform = `translate(${tx}px, ${ty}px)`;
    }
    group.setAttribute("stroke-width", String(STROKE_PX / s));
    drawHandle();
  }

  function fit() {
    const { w, h } = photoSize();
    const W = stage.clientWidth, H = stage.clientHeight;
    const s = Math.min(W / w, H / h) * 0.98;
    st.view = { s, tx: (W - w * s) / 2, ty: (H - h * s) / 2 };
    drawCircles();
    applyView();
  }

  function zoomAt(factor, cx, cy) {
    const v = st.view;
    const s = Math.min(Math.max(v.s * factor, 0.02), 40);
    st.view = { s, tx: cx - (cx - v.tx) * s / v.s, ty: cy - (cy - v.ty) * s / v.s };
    applyView();
  }

  function toImage(ev) {
    const rect = stage.getBoundingClientRect();
    const sx = ev.clientX - rect.left, sy = ev.clientY - rect.top;
    return { sx, sy, x: (sx - st.view.tx) / st.view.s, y: (sy - st.view.ty) / st.view.s };
  }

  // ------------------------------------------------------------------ circles
  function drawCircles() {
    group.replaceChildren();
    st.lesions.forEach((l, i) => {
      const c = document.createElementNS(SVGNS, "circle");
      c.setAttribute("cx", l.x);
      c.setAttribute("cy", l.y);
      c.setAttribute("r", l.r);
      c.setAttribute("data-index", i);
      c.setAttribute("class", "lesion" + (l.score === null ? " manual" : "") + (i === st.selected ? " selected" : ""));
      group.appendChild(c);
    });
    drawHandle();
  }

  function drawHandle() {
    let h = svg.querySelector("circle.handle");
    const l = st.lesions[st.selected];
    if (!l) { if (h) h.remove(); return; }
    if (!h) {
      h = document.createElementNS(SVGNS, "circle");
      h.setAttribute("class", "handle");
      svg.appendChild(h);
    }
    h.setAttribute("cx", l.x + l.r);
    h.setAttribute("cy", l.y);
    h.setAttribute("r", 4 / st.view.s);
    h.setAttribute("stroke-width", 1.5 / st.view.s);
  }

  function updateCircle(i) {
    const c = group.children[i], l = st.lesions[i];
    c.setAttribute("cx", l.x);
    c.setAttribute("cy", l.y);
    c.setAttribute("r", l.r);
    drawHandle();
  }

  function select(i) {
    st.selected = i;
    drawCircles();
    $("delete").disabled = i < 0;
    describeSelected();
  }

  function describeSelected() {
    const l = st.lesions[st.selected];
    if (!l) { $("selected").textContent = "No circle selected."; return; }
    const ppm = st.assessment.summary.scale.px_per_mm;
    const size = ppm ? `diameter ${(2 * l.r / ppm).toFixed(2)} mm` : `radius ${l.r.toFixed(1)} px`;
    const origin = l.score === null ? "added by hand" : `detected, score ${l.score.toFixed(2)}`;
    $("selected").textContent = `Lesion ${st.selected + 1} of ${st.lesions.length}: ${size}, ` +
      `centre (${l.x.toFixed(0)}, ${l.y.toFixed(0)}); ${origin}.`;
  }

  // The circle under a point: an edge within EDGE_PX wins (the closest edge), else the
  // smallest circle containing the point.
  function hitTest(p) {
    const tol = EDGE_PX / st.view.s;
    let edge = -1, edgeD = Infinity, inside = -1, insideR = Infinity;
    st.lesions.forEach((l, i) => {
      const d = Math.hypot(p.x - l.x, p.y - l.y);
      const off = Math.abs(d - l.r);
      if (off <= tol && off < edgeD) { edge = i; edgeD = off; }
      if (d < l.r && l.r < insideR) { inside = i; insideR = l.r; }
    });
    return edge >= 0 ? { i: edge, part: "edge" } : inside >= 0 ? { i: inside, part: "inside" } : null;
  }

  function defaultRadius() {
    const r = st.lesions.map((l) => l.r).sort((a, b) => a - b);
    if (r.length) return r[Math.floor(r.length / 2)];
    const { w, h } = photoSize();
    return Math.max(2, Math.min(w, h) * 0.012);
  }

  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  const round2 = (v) => Math.round(v * 100) / 100;

  function remember() {
    st.undo.push(st.lesions.map((l) => ({ ...l })));
    if (st.undo.length > MAX_UNDO) st.undo.shift();
    $("undo").disabled = false;
  }

  function edited() {
    drawCircles();
    describeSelected();
    refresh();
  }

  function addAt(p) {
    const { w, h } = photoSize();
    if (p.x < 0 || p.y < 0 || p.x > w || p.y > h) return;
    remember();
    st.lesions.push({ x: round2(p.x), y: round2(p.y), r: round2(defaultRadius()), score: null });
    st.selected = st.lesions.length - 1;
    $("delete").disabled = false;
    edited();
  }

  function deleteSelected() {
    if (st.selected < 0) return;
    remember();
    st.lesions.splice(st.selected, 1);
    st.selected = -1;
    $("delete").disabled = true;
    edited();
  }

  function undo() {
    const prev = st.undo.pop();
    if (!prev) return;
    st.lesions = prev;
    st.selected = -1;
    $("undo").disabled = st.undo.length === 0;
    $("delete").disabled = true;
    edited();
  }

  // ------------------------------------------------------------------ pointer
  let drag = null;

  stage.addEventListener("pointerdown", (ev) => {
    if (!st.assessment || ev.button !== 0 || ev.target.closest(".zoom")) return;
    const p = toImage(ev);
    const hit = hitTest(p);
    drag = { p0: p, moved: false, hit, view0: { ...st.view }, before: st.lesions.map((l) => ({ ...l })) };
    if (hit) {
      drag.l0 = { ...st.lesions[hit.i] };
      if (hit.i !== st.selected) select(hit.i);
    }
    stage.setPointerCapture(ev.pointerId);
    stage.focus();
  });

  stage.addEventListener("pointermove", (ev) => {
    if (!st.assessment) return;
    const p = toImage(ev);
    if (!drag) {
      const hit = hitTest(p);
      stage.style.cursor = !hit ? "crosshair" : hit.part === "edge" ? "nwse-resize" : "move";
      return;
    }
    if (!drag.moved && Math.hypot(p.sx - drag.p0.sx, p.sy - drag.p0.sy) < DRAG_PX) return;
    drag.moved = true;
    const { w, h } = photoSize();
    if (!drag.hit) {
      st.view = { ...drag.view0, tx: drag.view0.tx + p.sx - drag.p0.sx, ty: drag.view0.ty + p.sy - drag.p0.sy };
      stage.style.cursor = "grabbing";
      applyView();
      return;
    }
    const l = st.lesions[drag.hit.i];
    if (drag.hit.part === "edge") {
      l.r = round2(clamp(Math.hypot(p.x - l.x, p.y - l.y), 0.5, Math.max(w, h)));
    } else {
      l.x = round2(clamp(drag.l0.x + p.x - drag.p0.x, 0, w));
      l.y = round2(clamp(drag.l0.y + p.y - drag.p0.y, 0, h));
    }
    updateCircle(drag.hit.i);
    describeSelected();
  });

  function endDrag(ev) {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (stage.hasPointerCapture(ev.pointerId)) stage.releasePointerCapture(ev.pointerId);
    if (ev.type === "pointercancel") return;
    if (!d.hit && !d.moved) {
      addAt(d.p0);
    } else if (d.hit && d.moved) {
      st.undo.push(d.before);
      if (st.undo.length > MAX_UNDO) st.undo.shift();
      $("undo").disabled = false;
      edited();
    }
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  stage.addEventListener("wheel", (ev) => {
    if (!st.assessment) return;
    ev.preventDefault();
    const p = toImage(ev);
    zoomAt(Math.exp(-ev.deltaY * 0.0015), p.sx, p.sy);
  }, { passive: false });

  function zoomCentre(f) { zoomAt(f, stage.clientWidth / 2, stage.clientHeight / 2); }
  $("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  $("zoom-out").addEventListener("click", () => zoomCentre(0.8));
  $("zoom-fit").addEventListener("click", fit);
  window.addEventListener("resize", () => { if (st.assessment) fit(); });

  document.addEventListener("keydown", (ev) => {
    if (!st.assessment || ev.target instanceof HTMLInputElement) return;
    if (ev.key === "Delete" || ev.key === "Backspace") { ev.preventDefault(); deleteSelected(); }
    else if (ev.key === "Escape") select(-1);
    else if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") { ev.preventDefault(); undo(); }
    else if (ev.key === "+" || ev.key === "=") zoomCentre(1.25);
    else if (ev.key === "-") zoomCentre(0.8);
    else if (ev.key === "0") fit();
  });
  $("delete").addEventListener("click", deleteSelected);
  $("undo").addEventListener("click", undo);

  // ------------------------------------------------------------------ summary
  function currentBody() {
    const a = st.assessment;
    const imageId = a.images[0].id;
    return {
      images: a.images, info: a.info,
      annotations: st.lesions.map((l, i) => ({ id: i, image_id: imageId, coordinates: [l.x, l.y], radius: l.r,
                                              class_name: "acne", ...(l.score === null ? {} : { score: l.score }) })),
      summary: { scale: st.scale || a.summary.scale, model: a.summary.model },
    };
  }

  function refresh() {
    const seq = ++st.seq;
    $("pending").hidden = false;
    $("count").textContent = String(st.lesions.length); // shown at once; confirmed by the server below
    st.pending = (async () => {
      try {
        const fresh = await (await post("/api/summary", currentBody())).json();
        if (seq !== st.seq) return; // a newer edit is on its way
        st.assessment = fresh;
        showSummary(fresh.summary);
        describeSelected();
        message("");
      } catch (e) {
        if (seq === st.seq) message("Could not update the summary: " + e.message);
        throw e;
      } finally {
        if (seq === st.seq) $("pending").hidden = true;
      }
    })();
    st.pending.catch(() => {});
    return st.pending;
  }

  const fmt = (v, d) => (v === null || v === undefined ? "\u2013" : Number(v).toFixed(d));

  function showSummary(s) {
    $("count").textContent = String(s.count);
    $("count").dataset.count = String(s.count);
    $("grade").textContent = String(s.grade.grade);
    $("grade-name").textContent = `grade (${s.grade.name})`;
    $("score").textContent = fmt(s.severity.score, 1);
    $("band").textContent = `${s.grade.band} lesions (bands ${s.grade.labels.join(" / ")})`;
    const cal = s.calibrated_grade;
    $("cal-row").hidden = !cal;
    if (cal) $("cal").textContent = `${cal.grade} (${cal.name})`;
    const pct = fmt(s.severity.inputs.area_percent, 2);
    $("area").textContent = s.total_area_mm2 !== null ? `${fmt(s.total_area_mm2, 1)} mm\u00b2 (${pct} % of photo)`
      : `${fmt(s.total_area_px2, 0)} px\u00b2 (${pct} % of photo)`;
    const z = s.sizes;
    $("median").textContent = z.diameter_mm ? `${fmt(z.diameter_mm.p50, 2)} mm diameter`
      : z.radius_px ? `${fmt(z.radius_px.p50, 1)} px radius` : "\u2013";
    $("scale").textContent = s.scale.px_per_mm ? `${fmt(s.scale.px_per_mm, 2)} px/mm (${s.scale.source})`
      : "unknown: sizes in pixels";
    $("caveat").textContent = s.grade.caveat;
    $("caveat").hidden = !s.grade.caveat;
    drawHistogram(z.histogram);
  }

  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawHistogram(hist) {
    const box = $("hist");
    box.replaceChildren();
    const counts = hist.counts || [], edges = hist.edges || [];
    const unit = hist.quantity === "radius_mm" ? "radius (mm)" : "radius (px)";
    if (!counts.length) {
      box.appendChild(svgEl("text", { x: 150, y: 75, "text-anchor": "middle" }, "no lesions"));
      return;
    }
    const L = 30, R = 10, T = 10, B = 34, W = 300 - L - R, H = 150 - T - B;
    const top = Math.max(...counts, 1), bw = W / counts.length;
    box.appendChild(svgEl("line", { x1: L, y1: T + H, x2: L + W, y2: T + H, stroke: "#333" }));
    box.appendChild(svgEl("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(top)));
    box.appendChild(svgEl("text", { x: L - 4, y: T + H, "text-anchor": "end" }, "0"));
    counts.forEach((c, i) => {
      const bh = H * c / top;
      const r = svgEl("rect", { x: L + i * bw + 1, y: T + H - bh, width: Math.max(bw - 2, 1), height: bh });
      r.appendChild(svgEl("title", {}, `${fmt(edges[i], 2)}\u2013${fmt(edges[i + 1], 2)}: ${c}`));
      box.appendChild(r);
    });
    for (const i of [0, counts.length / 2, counts.length]) {
      box.appendChild(svgEl("text", { x: L + i * bw, y: T + H + 12, "text-anchor": "middle" }, fmt(edges[i], 1)));
    }
    box.appendChild(svgEl("text", { x: L + W / 2, y: 146, "text-anchor": "middle" }, `lesion ${unit}`));
  }

  $("ppm").addEventListener("change", () => {
    if (!st.assessment) return;
    const v = parseFloat($("ppm").value);
    st.scale = v > 0 ? { px_per_mm: v, source: "given" } : { px_per_mm: null, source: "none" };
    refresh();
  });

  // ------------------------------------------------------------------ export
  function stem() {
    const name = st.assessment.images[0].file_name.replace(/\.[^.]*$/, "");
    return name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "") || "photo";
  }

  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  $("export-json").addEventListener("click", async () => {
    try {
      await st.pending;
      const text = JSON.stringify(st.assessment, null, 1) + "\n";
      download(new Blob([text], { type: "application/json" }), `${stem()}-assessment.json`);
    } catch (e) {
      message("Export failed: " + e.message);
    }
  });

  $("export-report").addEventListener("click", async () => {
    const button = $("export-report");
    button.disabled = true;
    try {
      await st.pending;
      const form = new FormData();
      form.append("file", st.file, st.file.name);
      form.append("assessment", new Blob([JSON.stringify(st.assessment)], { type: "application/json" }),
                  "assessment.json");
      const resp = await post("/api/report", form);
      download(await resp.blob(), `${stem()}-report.html`);
    } catch (e) {
      message("Report failed: " + e.message);
    } finally {
      button.disabled = false;
    }
  });

  // ------------------------------------------------------------------ file input, drag and drop
  $("file").addEventListener("change", (ev) => { upload(ev.target.files[0]); ev.target.value = ""; });
  for (const t of ["dragover", "drop"]) document.addEventListener(t, (ev) => ev.preventDefault());
  stage.addEventListener("dragover", (ev) => { ev.preventDefault(); stage.classList.add("dragover"); });
  stage.addEventListener("dragleave", () => stage.classList.remove("dragover"));
  stage.addEventListener("drop", (ev) => {
    ev.preventDefault();
    stage.classList.remove("dragover");
    const f = ev.dataTransfer.files[0];
    if (f) upload(f);
  });

  loadHealth();
})();
