// acnekit compare page: POST /api/compare, draw before | after (warped with the returned
// matrix) on a canvas, persisting lesions linked, new / resolved in squares; export the JSON.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const COL = { persisting: "#00e600", resolved: "#00c8ff", new: "#ff00ff", outside: "#a0a0a0" };
  let exportUrl = null;

  function loadImage(file) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("cannot display " + file.name));
      img.src = URL.createObjectURL(file);
    });
  }

  function row(cells, head) {
    const tr = document.createElement("tr");
    cells.forEach((c, i) => {
      const td = document.createElement(head || i === 0 ? "th" : "td");
      td.textContent = c;
      if (!head && i > 0) td.className = "num";
      tr.appendChild(td);
    });
    return tr;
  }

  function fmt(v, d) {
    if (v === null || v === undefined) return "–";
    return Number.isInteger(v) ? String(v) : Number(v).toFixed(d);
  }

  function tables(d) {
    const counts = $("counts");
    counts.replaceChildren(row(["lesions", "number"], true));
    for (const [k, v] of Object.entries(d.counts)) counts.appendChild(row([k, String(v)]));
    const ch = $("changes");
    ch.replaceChildren(row(["change (common region)", "before", "after", "change", "%"], true));
    for (const [k, v] of Object.entries(d.changes)) {
      if (!v || typeof v !== "object" || (v.before === null && v.after === null)) continue;
      const pct = v.percent === null || v.percent === undefined ? "–" : (v.percent >= 0 ? "+" : "") + v.percent.toFixed(0) + "%";
      ch.appendChild(row([k + (v.unit ? " (" + v.unit + ")" : ""), fmt(v.before, 2), fmt(v.after, 2), fmt(v.change, 2), pct]));
    }
  }

  function draw(d, before, after) {
    const bw = d.photos.before.width, bh = d.photos.before.height;
    const k = Math.min(1, 900 / Math.max(bw, bh));
    const pw = Math.round(bw * k), ph = Math.round(bh * k), gap = 8;
    const cv = $("view");
    cv.width = 2 * pw + gap; cv.height = ph;
    const ctx = cv.getContext("2d");
    ctx.fillStyle = "#181818"; ctx.fillRect(0, 0, cv.width, cv.height);
    ctx.drawImage(before, 0, 0, pw, ph);
    const m = d.registration.matrix;  // after px -> before px
    ctx.save();
    ctx.beginPath(); ctx.rect(pw + gap, 0, pw, ph); ctx.clip();
    ctx.setTransform(k * m[0][0], k * m[1][0], k * m[0][1], k * m[1][1], pw + gap + k * m[0][2], k * m[1][2]);
    ctx.drawImage(after, 0, 0, d.photos.after.width, d.photos.after.height);
    ctx.restore();
    const lw = Math.max(1, Math.round(Math.max(pw, ph) / 500));
    ctx.lineWidth = lw;
    const mark = (x, y, r, status, dx) => {
      const cx = x * k + dx, cy = y * k, cr = Math.max(2, r * k);
      ctx.strokeStyle = COL[status] || "#fff";
      ctx.beginPath(); ctx.arc(cx, cy, cr, 0, 2 * Math.PI); ctx.stroke();
      if (status === "new" || status === "resolved") ctx.strokeRect(cx - cr - 3, cy - cr - 3, 2 * cr + 6, 2 * cr + 6);
      return [cx, cy];
    };
    const anns = new Map(d.assessments.before.annotations.map((a) => [a.id, a]));
    const pb = new Map(), pa = new Map();
    for (const r of d.lesions.before) {
      const a = anns.get(r.id);
      pb.set(r.id, mark(a.coordinates[0], a.coordinates[1], a.radius, r.status, 0));
    }
    for (const r of d.lesions.after) {
      pa.set(r.id, mark(r.coordinates_in_before[0], r.coordinates_in_before[1], r.radius_in_before, r.status, pw + gap));
    }
    ctx.strokeStyle = "#ffff00"; ctx.lineWidth = Math.max(1, lw / 2);
    for (const l of d.links) {
      const a = pb.get(l.before), b = pa.get(l.after);
      ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    }
  }

  async function submit(ev) {
    ev.preventDefault();
    const fb = $("before").files[0], fa = $("after").files[0];
    if (!fb || !fa) return;
    const status = $("status");
    status.className = ""; status.textContent = "Comparing…";
    $("go").disabled = true;
    try {
      const body = new FormData();
      body.append("before", fb); body.append("after", fa);
      if ($("ppm").value) body.append("px_per_mm", $("ppm").value);
      const res = await fetch("/api/compare", { method: "POST", body });
      const d = await res.json();
      if (!res.ok) throw new Error(d.detail || res.statusText);
      const [ib, ia] = await Promise.all([loadImage(fb), loadImage(fa)]);
      draw(d, ib, ia);
      tables(d);
      if (exportUrl) URL.revokeObjectURL(exportUrl);
      exportUrl = URL.createObjectURL(new Blob([JSON.stringify(d, null, 1)], { type: "application/json" }));
      $("export").href = exportUrl; $("export").hidden = false;
      $("result").hidden = false;
      const c = d.counts;
      status.textContent = `${c.persisting} persisting, ${c.new} new, ${c.resolved} resolved`;
    } catch (e) {
      status.className = "error"; status.textContent = e.message;
      $("result").hidden = true;
    } finally {
      $("go").disabled = false;
    }
  }

  $("form").addEventListener("submit", submit);
})();
