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

export function showSummary(s, lesions) {
  const g = s.grade || {};
  const name = g.name ? String(g.name) : "\u2013";
  $("grade-name").textContent = name.charAt(0).toUpperCase() + name.slice(1);
  const method = METHODS[g.method] || (g.method ? String(g.method).replace(/[-_]/g, " ") : "grade");
  $("grade-method").textContent = g.grade === undefined ? method : `${method} (${g.grade} on the 0\u20133 scale)`;
  $("count").textContent = String(s.count);
  $("count").dataset.count = String(s.count);
  $("caveat").textContent = g.caveat || "Counts, sizes and grades are estimates by a detection model; they are " +
    "not a diagnosis.";
  const cb = s.count_band;
  $("band-row").hidden = !(cb || g.band);
  if (cb) $("band").textContent = `${cb.name ?? ""}${cb.band ? ` (${cb.band} lesions)` : ""}`;
  else if (g.band) $("band").textContent = `${g.band} lesions${g.labels ? ` (bands ${g.labels.join(" / ")})` : ""}`;
  const sev = s.severity || {};
  $("score").textContent = fmt(sev.score, 1);
  const pct = sev.inputs ? ` (${fmt(sev.inputs.area_percent, 2)} % of photo)` : "";
  $("area").textContent = (s.total_area_mm2 !== null && s.total_area_mm2 !== undefined
    ? `${fmt(s.total_area_mm2, 1)} mm\u00b2` : `${fmt(s.total_area_px2, 0)} px\u00b2`) + pct;
  const z = s.sizes || {};
  $("median").textContent = z.diameter_mm ? `${fmt(z.diameter_mm.p50, 2)} mm`
    : z.radius_px ? `${fmt(2 * z.radius_px.p50, 1)} px` : "\u2013";
  const sc = s.scale || {};
  const src = SCALE_SOURCES[sc.source] || sc.source || "";
  $("scale").textContent = sc.px_per_mm ? `${fmt(sc.px_per_mm, 2)} px/mm, ${src}` +
    (sc.uncertainty ? ` (\u00b1${typeof sc.uncertainty === "number" ? fmt(100 * sc.uncertainty, 0) + " %" : sc.uncertainty})` : "")
    : "unknown: sizes in pixels";
  const e = s.edits;
  $("edits").textContent = e ? `${e.detected} detected, ${e.added} added, ${e.removed} removed` +
    (e.outside_skin ? `, ${e.outside_skin} outside the skin (not counted)` : "") : "\u2013";
  showRegions(s.regions);
  showLegend(lesions);
  drawHistogram((z.histogram) || {});
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
  if (lesions.some((l) => l.graded !== undefined)) items.splice(1, 0, ["ungraded", "not counted by the grade (dashed)"]);
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
