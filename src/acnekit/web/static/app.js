// acnekit page: upload a photo, show the detected lesions over it, let a clinician correct
// the circles, and export the corrected Acne04-v2 JSON and the HTML report.
// Every summary figure (count, grade, score, sizes) comes from the server (/api/assess,
// /api/summary): the page never computes them itself, so there is one implementation.
// The session (photo, corrections, scale) is autosaved in this browser (store.js) and
// restored after a reload; an exported JSON can be reopened with its photo.
import { post, sha256 } from "./api.js";
import { createEditor } from "./editor.js";
import { fmt, showSummary } from "./panel.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const MAX_UNDO = 100;
const PPM_MIN = 0.5, PPM_MAX = 1000; // the server's plausibility range (acnekit.web.service)

const st = {
  file: null, name: "", url: null, assessment: null, lesions: [], selected: -1, undo: [], lastTag: null,
  view: { s: 1, tx: 0, ty: 0 }, mode: "select", showCircles: true, scale: null, ruler: null,
  dirty: false, busy: false, seq: 0, pending: Promise.resolve(), timer: null, limits: null,
};

// ------------------------------------------------------------------ messages
function message(text, kind, action) {
  const m = $("message");
  m.replaceChildren(text || "");
  if (action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = action.label;
    b.addEventListener("click", action.run);
    m.appendChild(b);
  }
  m.className = "message" + (kind === "info" ? " info" : "");
  m.setAttribute("role", kind === "info" ? "status" : "alert");
  m.hidden = !text;
}
const onBusy = () => message("The server is busy with other photos; retrying\u2026", "info");

// ------------------------------------------------------------------ lesions <-> annotations
const FLAGS = ["graded", "graded_score", "in_skin", "region"];

function fromAnnotation(a) {
  const l = { x: a.coordinates[0], y: a.coordinates[1], r: a.radius, score: a.score === undefined ? null : a.score,
              source: a.source || (a.score === undefined ? "added" : "model") };
  if (a.removed) l.removed = true;
  for (const k of FLAGS) if (a[k] !== undefined) l[k] = a[k];
  return l;
}

function toAnnotation(l, i, imageId) {
  const a = { id: i, image_id: imageId, coordinates: [l.x, l.y], radius: l.r, class_name: "acne" };
  if (l.score !== null) a.score = l.score;
  a.source = l.source;
  if (l.removed) a.removed = true;
  for (const k of FLAGS) if (l[k] !== undefined) a[k] = l[k];
  return a;
}

function currentBody(extraInfo = {}) {
  const a = st.assessment;
  const reviewer = $("reviewer").value.trim();
  const info = { ...(a.info || {}), ...extraInfo };
  if (reviewer) info.reviewer = reviewer.slice(0, 200); else delete info.reviewer;
  return {
    images: a.images, info,
    annotations: st.lesions.map((l, i) => toAnnotation(l, i, a.images[0].id)),
    summary: { scale: st.scale || (a.summary && a.summary.scale) || null, model: (a.summary && a.summary.model) || null,
               // the face analysis (skin areas per region) and the photo's warnings are the photo's, not
               // the edits': carried so that the server keeps summary.regions and summary.warnings
               ...(a.summary && a.summary.face ? { face: a.summary.face } : {}),
               ...(a.summary && a.summary.warnings ? { warnings: a.summary.warnings } : {}) },
  };
}

// ------------------------------------------------------------------ editor hooks
const editor = createEditor(st, {
  remember(tag = null, before = null) {
    const now = Date.now();
    if (tag && st.lastTag && st.lastTag.tag === tag && now - st.lastTag.t < 1500) { st.lastTag.t = now; return; }
    st.lastTag = tag ? { tag, t: now } : null;
    st.undo.push(before || st.lesions.map((l) => ({ ...l })));
    if (st.undo.length > MAX_UNDO) st.undo.shift();
  },
  changed: edited,
  select,
  describe: describeSelected,
  redraw: () => { editor.draw(); describeSelected(); },
  undo,
  toggleGraded,
  rulerStart() { st.ruler = { points: [] }; $("ruler-box").hidden = false; describeRuler(); },
  rulerStop() { st.ruler = null; $("ruler-box").hidden = true; editor.drawTools(); },
  rulerPoint(p) {
    if (!st.ruler) return;
    if (st.ruler.points.length >= 2) st.ruler.points = [];
    st.ruler.points.push(p);
    describeRuler();
    editor.drawTools();
    if (st.ruler.points.length === 2) $("ruler-mm").focus();
  },
});

function select(i) {
  st.selected = i;
  editor.draw();
  describeSelected();
  updateButtons();
}

function edited() {
  st.dirty = true;
  editor.draw();
  describeSelected();
  updateButtons();
  $("count").textContent = String(st.lesions.filter(counted).length); // at once; confirmed by the server
  scheduleRefresh();
  autosave();
}

function undo() {
  const prev = st.undo.pop();
  if (!prev) return;
  st.lesions = prev;
  st.selected = -1;
  st.lastTag = null;
  edited();
}

const counted = (l) => !l.removed && l.in_skin !== false;

// Mark the selected lesion as counted by the reference grade or not (G). Only where the
// assessment has a reference grade; the server recomputes the grade from the flags.
function toggleGraded() {
  const l = st.lesions[st.selected];
  if (!st.grading || !l || l.removed || l.in_skin === false || st.busy) return;
  st.undo.push(st.lesions.map((c) => ({ ...c })));
  st.lastTag = null;
  l.graded = l.graded !== true;
  edited();
}

function updateButtons() {
  const l = st.lesions[st.selected];
  const ready = !!st.assessment && !st.busy;
  $("delete").disabled = !ready || !l;
  $("restore").hidden = !(l && l.in_skin === false);
  const tg = $("toggle-graded");
  tg.hidden = !(st.grading && l);
  tg.disabled = !ready || !l || l.in_skin === false;
  tg.setAttribute("aria-pressed", String(!!(l && l.graded === true)));
  tg.firstChild.textContent = l && l.graded === true ? "Stop counting for the grade " : "Count for the grade ";
  $("undo").disabled = !ready || st.undo.length === 0;
  for (const id of ["export-json", "export-report", "start-over"]) $(id).disabled = !ready;
}

function describeSelected() {
  const l = st.lesions[st.selected];
  if (!l || !st.assessment) { $("selected").textContent = "No circle selected."; return; }
  const ppm = st.assessment.summary && st.assessment.summary.scale && st.assessment.summary.scale.px_per_mm;
  const size = ppm ? `diameter ${(2 * l.r / ppm).toFixed(2)} mm (${(2 * l.r).toFixed(1)} px)` : `diameter ${(2 * l.r).toFixed(1)} px`;
  const origin = l.source === "added" ? "added by hand" : `detected${l.score !== null ? `, score ${fmt(l.score, 2)}` : ""}`;
  const flags = [l.in_skin === false ? "" : l.graded === true ? "counted by the grade"
                 : st.grading || l.graded === false ? "not counted by the grade" : "", l.in_skin === false ? "outside the skin: not counted" : "",
                 l.region ? `region ${l.region.replace(/_/g, " ")}` : ""].filter(Boolean);
  const n = st.lesions.filter((c) => !c.removed).length;
  const k = st.lesions.slice(0, st.selected + 1).filter((c) => !c.removed).length;
  $("selected").textContent = `Lesion ${k} of ${n}: ${size}, centre (${l.x.toFixed(0)}, ${l.y.toFixed(0)}); ${origin}` +
    (flags.length ? `; ${flags.join("; ")}` : "") + ".";
}

function describeRuler() {
  const pts = st.ruler ? st.ruler.points : [];
  $("ruler-apply").disabled = pts.length !== 2;
  $("ruler-text").textContent = pts.length < 2 ? `Ruler: click point ${pts.length + 1} of 2 on the photo.`
    : `Ruler: ${Math.hypot(pts[1].x - pts[0].x, pts[1].y - pts[0].y).toFixed(1)} px between the points.`;
}

// ------------------------------------------------------------------ summary from the server
function scheduleRefresh() {
  clearTimeout(st.timer);
  $("pending").hidden = false;
  st.timer = setTimeout(() => refresh(), 150);
}

function refresh(extraInfo) {
  clearTimeout(st.timer);
  st.timer = null;
  const seq = ++st.seq;
  $("pending").hidden = false;
  const body = currentBody(extraInfo);
  const sent = st.lesions.slice();
  st.pending = (async () => {
    try {
      const fresh = await (await post("/api/summary", body, { onBusy })).json();
      if (seq !== st.seq) return fresh; // a newer edit is on its way
      st.assessment = fresh;
      adoptFlags(sent, fresh.annotations);
      showSummary(fresh.summary, st.lesions);
      describeSelected();
      if (!$("message").classList.contains("info")) message("");
      return fresh;
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

// Lesions sent without in_skin (added or moved) or without a region take the ones the server
// derived from the face geometry, unless they changed since (the next refresh tells then).
function adoptFlags(sent, anns) {
  if (!Array.isArray(anns)) return;
  const live = new Set(st.lesions);
  let changed = false;
  sent.forEach((l, i) => {
    const a = anns[i];
    if (!a || !live.has(l) || (l.in_skin !== undefined && l.region != null)) return;
    if (a.coordinates[0] !== l.x || a.coordinates[1] !== l.y) return;
    for (const k of ["in_skin", "region"]) {
      if (a[k] !== undefined && a[k] !== l[k]) { l[k] = a[k]; changed = true; }
    }
  });
  if (changed) { editor.draw(); updateButtons(); }
}

// ------------------------------------------------------------------ autosave
let saveTimer = null;
function autosave() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, 100);
}

async function saveNow() {
  if (!st.assessment || !st.file) return;
  try {
    await store.save({ blob: st.file, name: st.name, assessment: { ...currentBody(), summary: st.assessment.summary },
                       scale: st.scale, dirty: st.dirty, reviewer: $("reviewer").value, savedAt: Date.now() });
    $("saved").textContent = `Autosaved in this browser at ${new Date().toLocaleTimeString()}` +
      (st.dirty ? " (not yet exported)." : ".");
  } catch (e) {
    $("saved").textContent = "Autosave failed: " + e.message + ". Export to keep your work.";
  }
}

async function restore() {
  let s;
  try { s = await store.load(); } catch (_) { return; }
  if (!s || !s.blob || !s.assessment) return;
  try {
    await show(s.blob, s.name, s.assessment);
    st.scale = s.scale || null;
    st.dirty = !!s.dirty;
    $("reviewer").value = s.reviewer || "";
    message(`Restored your session of ${s.name} (autosaved ${new Date(s.savedAt).toLocaleString()}).`, "info",
            { label: "Start over", run: startOver });
    await refresh();
    saveNow();
  } catch (e) {
    message("Could not restore the saved session: " + e.message);
  }
}

async function startOver() {
  if (st.dirty && !confirm(`Discard your corrections to ${st.name}? They have not been exported.`)) return;
  await store.clear().catch(() => {});
  location.reload();
}

window.addEventListener("beforeunload", (ev) => {
  if (st.dirty) { ev.preventDefault(); ev.returnValue = ""; }
});

// ------------------------------------------------------------------ showing a result
function loadImage(url) {
  return new Promise((resolve, reject) => {
    const probe = new Image();
    probe.onload = () => resolve(probe);
    probe.onerror = () => reject(new Error("this browser cannot display the photo's format; convert it to JPEG or PNG"));
    probe.src = url;
  });
}

function setIdentity(stale, text) {
  const box = $("identity");
  box.classList.toggle("stale", !!stale);
  $("stage").classList.toggle("stale", !!stale);
  if (text !== undefined) { box.textContent = text; return; }
  const im = st.assessment.images[0];
  const b = document.createElement("b");
  b.textContent = im.file_name;
  const parts = [b, ` \u00b7 ${im.width}\u00d7${im.height} px`];
  if (im.sha256) {
    const code = document.createElement("code");
    code.textContent = im.sha256.slice(0, 12);
    code.title = `SHA-256 ${im.sha256}`;
    parts.push(" \u00b7 SHA-256 ", code);
  }
  box.replaceChildren(...parts);
}

// Show ``blob`` (the photo) with ``assessment`` (its JSON): every piece of the previous
// result is replaced at once, so no old circle or figure stays under the new name.
async function show(blob, name, assessment) {
  const url = URL.createObjectURL(blob);
  let probe;
  try { probe = await loadImage(url); } catch (e) { URL.revokeObjectURL(url); throw e; }
  if (st.url) URL.revokeObjectURL(st.url);
  Object.assign(st, { file: blob, name, url, assessment, selected: -1, undo: [], scale: null, lastTag: null,
                      lesions: assessment.annotations.map(fromAnnotation) });
  const sm = assessment.summary || {};
  st.grading = !!(sm.grade && sm.grade.method !== "hayashi-count-bands") || st.lesions.some((l) => l.graded !== undefined) ||
    !!(sm.model && sm.model.graded);
  const im = assessment.images[0];
  const img = $("photo");
  img.src = url;
  img.alt = `${im.file_name}: ${st.lesions.filter(counted).length} lesions circled`;
  img.hidden = false;
  $("overlay").removeAttribute("hidden");
  $("overlay").setAttribute("viewBox", `0 0 ${im.width} ${im.height}`);
  $("drop").hidden = true;
  // The px/mm field holds only a scale entered by hand: an estimated one (iris) or a ruler's is
  // shown as its placeholder, so that it is never sent as a manual scale with the next photo.
  const sc = sm.scale || {};
  const ppm = sc.px_per_mm ? String(Math.round(sc.px_per_mm * 1000) / 1000) : "";
  const manual = ["manual", "given"].includes(sc.source);
  $("ppm").value = manual ? ppm : "";
  $("ppm").placeholder = ppm && !manual ? `${ppm} (${sc.source})` : "unknown";
  setIdentity(false);
  editor.fit();
  showSummary(assessment.summary, st.lesions);
  describeSelected();
  updateButtons();
  $("model").textContent = `acnekit ${assessment.info && assessment.info.acnekit_version || ""} \u00b7 model ` +
    `${(assessment.summary && assessment.summary.model && assessment.summary.model.name) || "unknown"}`;
  if (probe.naturalWidth !== im.width || probe.naturalHeight !== im.height) {
    message(`The browser shows the photo at ${probe.naturalWidth}x${probe.naturalHeight} px but it is ` +
            `${im.width}x${im.height} px upright; circles may not line up.`);
  }
}

function confirmDiscard(next) {
  return !st.dirty || confirm(`Replace ${st.name} with ${next}? Your corrections to ${st.name} have not been ` +
                              "exported and will be discarded.");
}

function beginBusy(text) {
  st.busy = true;
  $("busy").textContent = text;
  $("busy").hidden = false;
  if (st.assessment) setIdentity(true, `${text} The previous result (${st.name}) is hidden until this one is ready.`);
  updateButtons();
}

function endBusy(failed) {
  st.busy = false;
  $("busy").hidden = true;
  if (st.assessment) setIdentity(false);
  else $("drop").hidden = false;
  updateButtons();
  if (failed && st.assessment) $("message").append(` The result shown is still that of ${st.name}.`);
}

// ------------------------------------------------------------------ upload a photo
function ppmValue() {
  const raw = $("ppm").value.trim();
  if (!raw) return null;
  const v = Number(raw);
  if (!(v >= PPM_MIN && v <= PPM_MAX)) throw new Error(`px/mm must be between ${PPM_MIN} and ${PPM_MAX}; got ${raw}`);
  return v;
}

async function upload(file) {
  if (!file || st.busy || !confirmDiscard(file.name)) return;
  message("");
  if (st.limits && file.size > st.limits.max_upload_mb * 1048576) {
    message(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB, over the server's limit of ${st.limits.max_upload_mb} MB.`);
    return;
  }
  let ppm;
  try { ppm = ppmValue(); } catch (e) { message(e.message); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  if (ppm) form.append("px_per_mm", String(ppm));
  beginBusy(`Assessing ${file.name}\u2026`);
  let failed = false;
  try {
    const assessment = await (await post("/api/assess", form, { onBusy })).json();
    await show(file, file.name, assessment);
    st.dirty = false;
    message("");
    await saveNow();
    $("stage").focus({ preventScroll: true });
  } catch (e) {
    failed = true;
    message(`${file.name} could not be assessed: ${e.message}.`);
  } finally {
    endBusy(failed);
  }
}

// ------------------------------------------------------------------ reopen an exported JSON with its photo
async function reopen(files) {
  const list = [...files];
  const json = list.find((f) => /\.json$/i.test(f.name) || f.type === "application/json");
  const photo = list.find((f) => f !== json);
  if (!json || !photo) { message("Choose two files together: the exported JSON and its photo."); return; }
  if (st.busy || !confirmDiscard(photo.name)) return;
  beginBusy(`Reopening ${json.name} with ${photo.name}\u2026`);
  let failed = false;
  try {
    let obj;
    try { obj = JSON.parse(await json.text()); } catch (e) { throw new Error(`${json.name} is not valid JSON`); }
    const im = obj && Array.isArray(obj.images) && obj.images[0];
    if (!im) throw new Error(`${json.name} holds no image`);
    const digest = await sha256(photo);
    if (im.sha256 && digest && im.sha256 !== digest) {
      throw new Error(`${photo.name} is not the photo of ${json.name}: its SHA-256 ${digest.slice(0, 12)} differs ` +
                      `from the ${im.sha256.slice(0, 12)} recorded for ${im.file_name}`);
    }
    if (!im.sha256 && digest) im.sha256 = digest; // older JSON: bind it to this photo from now on
    const fresh = await (await post("/api/summary", obj, { onBusy })).json();
    await show(photo, photo.name, fresh);
    const wi = fresh.images[0];
    const probe = $("photo");
    if (probe.naturalWidth && (probe.naturalWidth !== wi.width || probe.naturalHeight !== wi.height)) {
      throw new Error(`${photo.name} is ${probe.naturalWidth}x${probe.naturalHeight} px, not the ${wi.width}x${wi.height} of ${json.name}`);
    }
    st.scale = fresh.summary && fresh.summary.scale;
    $("reviewer").value = (fresh.info && fresh.info.reviewer) || $("reviewer").value;
    st.dirty = false;
    message(`Reopened ${json.name} with ${photo.name}: carry on correcting.`, "info");
    await saveNow();
  } catch (e) {
    failed = true;
    message(`Could not reopen: ${e.message}.`);
  } finally {
    endBusy(failed);
  }
}

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

async function exported() {
  await st.pending.catch(() => {});
  return refresh({ exported_at: new Date().toISOString() });
}

$("export-json").addEventListener("click", async () => {
  try {
    const fresh = await exported();
    download(new Blob([JSON.stringify(fresh, null, 1) + "\n"], { type: "application/json" }), `${stem()}-assessment.json`);
    st.dirty = false;
    saveNow();
  } catch (e) {
    message("Export failed: " + e.message);
  }
});

$("export-report").addEventListener("click", async () => {
  const button = $("export-report");
  button.disabled = true;
  try {
    const fresh = await exported();
    const form = new FormData();
    form.append("file", st.file, st.name);
    form.append("assessment", new Blob([JSON.stringify(fresh)], { type: "application/json" }), "assessment.json");
    const resp = await post("/api/report", form, { onBusy });
    download(await resp.blob(), `${stem()}-report.html`);
  } catch (e) {
    message("Report failed: " + e.message);
  } finally {
    button.disabled = false;
  }
});

// ------------------------------------------------------------------ controls
$("delete").addEventListener("click", () => editor.removeSelected());
$("restore").addEventListener("click", () => {
  const l = st.lesions[st.selected];
  if (!l) return;
  st.undo.push(st.lesions.map((c) => ({ ...c })));
  l.in_skin = true;
  edited();
});
$("toggle-graded").addEventListener("click", toggleGraded);
$("undo").addEventListener("click", undo);
$("start-over").addEventListener("click", startOver);
$("reviewer").addEventListener("change", () => { if (st.assessment) { st.dirty = true; autosave(); } });

$("ppm").addEventListener("change", () => {
  if (!st.assessment) return;
  let v;
  try { v = ppmValue(); } catch (e) { message(e.message); return; }
  st.scale = v ? { px_per_mm: v, source: "manual" } : { px_per_mm: null, source: "none" };
  edited();
});

$("ruler-apply").addEventListener("click", () => {
  const pts = st.ruler && st.ruler.points;
  const mm = Number($("ruler-mm").value);
  if (!pts || pts.length !== 2) return;
  if (!(mm > 0)) { message("Give the distance between the two ruler points in mm."); return; }
  const px = Math.hypot(pts[1].x - pts[0].x, pts[1].y - pts[0].y);
  if (!(px / mm >= PPM_MIN && px / mm <= PPM_MAX)) {
    message(`${px.toFixed(1)} px over ${mm} mm is ${(px / mm).toFixed(3)} px/mm, outside the plausible ${PPM_MIN} to ${PPM_MAX}.`);
    return;
  }
  st.scale = { ruler: { p1: [pts[0].x, pts[0].y], p2: [pts[1].x, pts[1].y], mm }, source: "ruler" };
  editor.setMode("select");
  edited();
});
$("ruler-cancel").addEventListener("click", () => editor.setMode("select"));
$("ruler-mm").addEventListener("keydown", (ev) => { if (ev.key === "Enter") $("ruler-apply").click(); });

$("choose").addEventListener("click", () => $("file").click());
$("file").addEventListener("change", (ev) => { const f = ev.target.files[0]; ev.target.value = ""; upload(f); });
$("reopen").addEventListener("click", () => $("reopen-files").click());
$("reopen-files").addEventListener("change", (ev) => { const f = [...ev.target.files]; ev.target.value = ""; reopen(f); });

const stage = $("stage");
for (const t of ["dragover", "drop"]) document.addEventListener(t, (ev) => ev.preventDefault());
stage.addEventListener("dragover", (ev) => { ev.preventDefault(); stage.classList.add("dragover"); });
stage.addEventListener("dragleave", () => stage.classList.remove("dragover"));
stage.addEventListener("drop", (ev) => {
  ev.preventDefault();
  stage.classList.remove("dragover");
  const files = [...ev.dataTransfer.files];
  if (files.length === 2 && files.some((f) => /\.json$/i.test(f.name))) reopen(files);
  else if (files[0]) upload(files[0]);
});

async function loadHealth() {
  try {
    const h = await (await fetch("/api/health")).json();
    st.limits = h;
    if (!st.assessment) $("model").textContent = `acnekit ${h.version} \u00b7 model ${h.model.name} \u00b7 upload limit ${h.max_upload_mb} MB`;
  } catch (e) {
    message("Cannot reach the acnekit server: " + e.message);
  }
}

loadHealth();
restore();
