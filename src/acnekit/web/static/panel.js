// The side panel: headline (grade name first), facts, regions, legend and size histogram,
// all from the server's summary. Every field other helpers may add (summary.count_band,
// summary.scale.source, summary.regions, summary.edits, per-lesion graded / in_skin) is
// optional: shown when present, nothing breaks when absent.
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
export const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(Number(v)) ? "\u2013" : Number(v).toFixed(d));

const SCALE_SOURCES = { given: "entered by hand", manual: "entered by hand", ruler: "two-point ruler",
                        iris: "estimated from the iris", none: "unknown" };
const METHODS = { "hayashi-count-bands": "count band on all lesions" };

const GRADE_NAMES = ["mild", "moderate", "severe", "very severe"]; // acnekit.grading.HAYASHI_NAMES
const cap = (t) => (t ? t.charAt(0).toUpperCase() + t.slice(1) : t);

export function showSummary(s, lesions) {
  let g = s.grade || null, cb = s.count_band || null;
  // old assessments: summary.grade was the all-lesion count band and there was no count_band
  if (g && g.method === "hayashi-count-bands") { cb = cb || g; g = null; }
  const n = s.count ?? 0;
  if (g) {
    $("grade-name").textContent = cap(g.name ? String(g.name) : `grade ${g.grade}`);
    $("grade-method").textContent = `reference grade, ${g.grade} on the 0\u20133 scale`;
    $("graded-count").textContent = String(g.count);
    $("graded-count").dataset.count = String(g.count);
    $("graded-what").textContent = `graded lesions counted by the grade (of ${n})`;
    $("headline").title = g.explanation || "";
  } else {
    $("grade-name").textContent = cb ? cap(String(cb.name)) : "\u2013";
    $("grade-method").textContent = cb ? `count band on all lesions (${cb.grade} on the 0\u20133 scale); no reference grade`
      : "acne grade";
    $("graded-count").textContent = String(n);
    $("graded-count").dataset.count = String(n);
    $("graded-what").textContent = "lesions counted";
    $("headline").title = "";
  }
  showProbabilities(g);
  $("count").textContent = String(n);
  $("count").dataset.count = String(n);
  $("caveat").textContent = (g && g.caveat) || "Counts, sizes and grades are estimates by a detection model; they are " +
    "not a diagnosis.";
  $("band-row").hidden = !cb;
  if (cb) {
    $("band").textContent = `${cb.name ?? ""}${cb.band ? ` (${cb.band} lesions)` : ""}`;
    $("band-caveat").textContent = g ? (cb.caveat || "") : "";
    $("band-caveat").hidden = !g || !cb.caveat;
  }
  showWarnings(s.warnings);
  const sev = s.severity || {};
  $("score").textContent = fmt(sev.score, 1);
  const pct = sev.inputs ? ` (${fmt(sev.inputs.area_percent, 2)} % of photo)` : "";
  $("area").textContent = (s.total_area_mm2 !== null && s.total_area_mm2 !== undefined
    ? `${fmt(s.total_area_mm2, 1)} mm\u00b2` : `${fmt(s.total_area_px2, 0)} px\u00b2`) + pct;
  const z = s.sizes || {};
  $("median").textContent = z.diameter_mm ? `${fmt(z.diameter_mm.p50, 2)} mm`
    : z.radius_px ? `${fmt(2 * z.radius_px.p50, 1)} px` : "\u2013";
  showScale(s.scale || {});
  const e = s.edits;
  $("edits").textContent = e ? `${e.detected} detected, ${e.added} added, ${e.removed} removed` +
    (e.outside_skin ? `, ${e.outside_skin} outside the skin (not counted)` : "") : "\u2013";
  showRegions(s.regions);
  showLegend(lesions);
  drawHistogram((z.histogram) || {});
}

function showProbabilities(g) {
  const box = $("probs");
  box.replaceChildren();
  const p = g && Array.isArray(g.probabilities) ? g.probabilities : null;
  box.hidden = !p;
  if (!p) return;
  const label = document.createElement("span");
  label.className = "probs-label";
  label.textContent = "Probability:";
  box.appendChild(label);
  p.forEach((v, i) => {
    const item = document.createElement("span");
    item.className = "prob" + (i === g.grade ? " hit" : "");
    item.dataset.grade = String(i);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.max(0, Math.min(1, Number(v) || 0)) * 100}%`;
    const name = (g.labels && g.labels.length === 4 ? GRADE_NAMES[i] : `grade ${i}`) || `grade ${i}`;
    item.append(bar, `${name} ${fmt(100 * v, 0)} %`);
    item.title = `${name}${g.labels && g.labels[i] ? ` (${g.labels[i]} graded lesions)` : ""}: ${fmt(100 * v, 1)} %`;
    box.appendChild(item);
  });
}

function showWarnings(warnings) {
  const box = $("warnings");
  box.replaceChildren();
  const list = Array.isArray(warnings) ? warnings.filter((w) => typeof w === "string" && w) : [];
  box.hidden = list.length === 0;
  for (const w of list) {
    const li = document.createElement("li");
    li.textContent = w;
    box.appendChild(li);
  }
}

// ``uncertainty`` is one standard deviation in px/mm (acnekit.scale.Scale), not a fraction.
function showScale(sc) {
  const src = SCALE_SOURCES[sc.source] || sc.source || "";
  const el = $("scale");
  el.dataset.source = sc.source || "none";
  el.title = sc.note || "";
  if (!sc.px_per_mm) {
    el.textContent = "unknown: sizes in pixels" + (sc.note ? ` (${sc.note})` : "");
    return;
  }
  const u = typeof sc.uncertainty === "number" && sc.uncertainty > 0
    ? ` \u00b1 ${fmt(sc.uncertainty, 2)} (\u00b1${fmt(100 * sc.uncertainty / sc.px_per_mm, 0)} %)` : "";
  el.textContent = `${fmt(sc.px_per_mm, 2)}${u} px/mm, ${src}` + (sc.source === "iris" && sc.note ? `: ${sc.note}` : "");
}

function showRegions(regions) {
  const body = $("regions");
  body.replaceChildren();
  const entries = regions && typeof regions === "object" ? Object.entries(regions) : [];
  $("regions-box").hidden = entries.length === 0;
  for (const [name, r] of entries) {
    const tr = document.createElement("tr");
    for (const v of [name.replace(/_/g, " "), r && r.count, r && r.per_cm2 !== undefined ? fmt(r.per_cm2, 2) : "\u2013"]) {
      const td = document.createElement("td");
      td.textContent = v === undefined || v === null ? "\u2013" : String(v);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function showLegend(lesions) {
  const items = [["det", "detected"], ["man", "added by hand"], ["sel", "selected"]];
  if (lesions.some((l) => l.graded !== undefined)) {
    items.splice(0, 1, ["graded", "counted by the grade (thick)"], ["ungraded", "detected, not counted by the grade (dashed)"]);
  }
  if (lesions.some((l) => l.in_skin === false)) items.push(["outside", "outside the skin: not counted"]);
  const box = $("legend");
  box.replaceChildren();
  for (const [cls, text] of items) {
    const span = document.createElement("span");
    const sw = document.createElement("span");
    sw.className = `sw ${cls}`;
    span.append(sw, text);
    box.appendChild(span);
  }
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}
export { svgEl };

// The server's histogram is of radii; the page labels sizes as diameters throughout, so the
// bin edges are doubled (the same bins, in diameter).
function drawHistogram(hist) {
  const box = $("hist");
  box.replaceChildren();
  const counts = hist.counts || [], edges = (hist.edges || []).map((e) => 2 * e);
  const unit = hist.quantity === "radius_mm" ? "diameter (mm)" : "diameter (px)";
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
