// acnekit compare page: POST /api/compare, draw before | after (warped with the returned
// matrix) on a canvas, persisting lesions linked, new / resolved in squares; export the JSON.
// Corrections: select a lesion on either side (click, or arrow keys on the focused canvas) and
// remove it (Delete key or button; kept with removed: true), or add one in "Add lesion" mode
// (source: "added"); each edit POSTs the comparison to /api/compare/rematch, which re-matches
// on the same registration without re-detecting.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const COL = { persisting: "#00e600", resolved: "#00c8ff", new: "#ff00ff", outside: "#a0a0a0" };
  let exportUrl = null;
  // state of the shown comparison: JSON, photos, drawing geometry, hit targets, selection
  const st = { d: null, ib: null, ia: null, k: 1, pw: 0, ph: 0, gap: 8, targets: [], sel: null, adding: false, busy: false };

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
    const pw = Math.round(bw * k), ph = Math.round(bh * k), gap = st.gap;
    Object.assign(st, { k, pw, ph, targets: [] });
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
    const mark = (x, y, r, status, dx, side, id, added) => {
      const cx = x * k + dx, cy = y * k, cr = Math.max(2, r * k);
      ctx.strokeStyle = COL[status] || "#fff";
      ctx.setLineDash(added ? [4, 3] : []);
      ctx.beginPath(); ctx.arc(cx, cy, cr, 0, 2 * Math.PI); ctx.stroke();
      ctx.setLineDash([]);
      if (status === "new" || status === "resolved") ctx.strokeRect(cx - cr - 3, cy - cr - 3, 2 * cr + 6, 2 * cr + 6);
      st.targets.push({ side, id, cx, cy, cr, status });
      return [cx, cy];
    };
    const annsB = new Map(d.assessments.before.annotations.map((a) => [a.id, a]));
    const annsA = new Map(d.assessments.after.annotations.map((a) => [a.id, a]));
    const pb = new Map(), pa = new Map();
    for (const r of d.lesions.before) {
      const a = annsB.get(r.id);
      if (!a || a.removed) continue;
      pb.set(r.id, mark(a.coordinates[0], a.coordinates[1], a.radius, r.status, 0, "before", r.id, a.source === "added"));
    }
    for (const r of d.lesions.after) {
      const a = annsA.get(r.id);
      if (!a || a.removed || !r.coordinates_in_before) continue;
      pa.set(r.id, mark(r.coordinates_in_before[0], r.coordinates_in_before[1], r.radius_in_before, r.status, pw + gap,
        "after", r.id, a.source === "added"));
    }
    const sel = st.sel && st.targets.find((t) => t.side === st.sel.side && t.id === st.sel.id);
    if (sel) {
      ctx.save();
      ctx.lineWidth = Math.max(2, lw + 1);
      for (const [col, pad] of [["#000", 5], ["#fff", 3]]) {
        ctx.strokeStyle = col;
        ctx.beginPath(); ctx.arc(sel.cx, sel.cy, sel.cr + pad, 0, 2 * Math.PI); ctx.stroke();
      }
      ctx.restore();
    } else {
      st.sel = null;
    }
    ctx.strokeStyle = "#ffff00"; ctx.lineWidth = Math.max(1, lw / 2);
    for (const l of d.links) {
      const a = pb.get(l.before), b = pa.get(l.after);
      if (!a || !b) continue;
      ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    }
  }

  function summaryText(d) {
    const c = d.counts;
    let t = `${c.persisting} persisting, ${c.new} new, ${c.resolved} resolved`;
    const cor = d.corrections;
    if (cor) {
      const rm = cor.before.removed + cor.after.removed, ad = cor.before.added + cor.after.added;
      if (rm || ad) t += ` (corrected: ${rm} removed, ${ad} added)`;
    }
    return t;
  }

  function selText() {
    const s = st.sel;
    if (!s) return "No lesion selected.";
    const t = st.targets.find((x) => x.side === s.side && x.id === s.id);
    return `Selected: ${s.side} lesion ${s.id}` + (t ? ` (${t.status})` : "") + ".";
  }

  function show(d) {
    st.d = d;
    draw(d, st.ib, st.ia);
    tables(d);
    if (exportUrl) URL.revokeObjectURL(exportUrl);
    exportUrl = URL.createObjectURL(new Blob([JSON.stringify(d, null, 1)], { type: "application/json" }));
    $("export").href = exportUrl; $("export").hidden = false;
    $("result").hidden = false;
    $("status").className = "";
    $("status").textContent = summaryText(d);
    $("sel").textContent = selText();
    $("remove").disabled = !st.sel || st.busy;
  }

  function select(t) {
    st.sel = t ? { side: t.side, id: t.id } : null;
    draw(st.d, st.ib, st.ia);
    $("sel").textContent = selText();
    $("remove").disabled = !st.sel || st.busy;
  }

  function setAdding(on) {
    st.adding = on;
    $("add").setAttribute("aria-pressed", on ? "true" : "false");
    $("view").classList.toggle("adding", on);
  }

  async function rematch(d) {
    st.busy = true;
    $("remove").disabled = true; $("add").disabled = true;
    $("status").className = ""; $("status").textContent = "Re-matching…";
    try {
      const res = await fetch("/api/compare/rematch", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(d),
      });
      const out = await res.json();
      if (!res.ok) throw new Error(out.detail || res.statusText);
      st.busy = false;
      show(out);
    } catch (e) {
      st.busy = false;
      show(st.d);  // the edit is not applied: the shown comparison stays as it was
      $("status").className = "error"; $("status").textContent = "Correction not applied: " + e.message;
    } finally {
      $("add").disabled = false;
    }
  }

  function edited() {
    return JSON.parse(JSON.stringify(st.d));
  }

  function removeSelected() {
    if (!st.sel || st.busy || !st.d) return;
    const d = edited();
    const a = d.assessments[st.sel.side].annotations.find((x) => x.id === st.sel.id);
    if (!a) return;
    a.removed = true;
    st.sel = null;
    rematch(d);
  }

  function median(v, dflt) {
    if (!v.length) return dflt;
    const s = [...v].sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  }

  function addAt(side, bx, by) {
    // bx, by: the click in the before photo's pixels (the after photo is drawn warped onto it)
    const d = edited();
    const anns = d.assessments[side].annotations;
    let x = bx, y = by;
    if (side === "after") {  // before px -> after px: invert the after -> before matrix
      const m = d.registration.matrix;
      const det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
      const u = bx - m[0][2], v = by - m[1][2];
      x = (m[1][1] * u - m[0][1] * v) / det;
      y = (-m[1][0] * u + m[0][0] * v) / det;
    }
    const im = d.photos[side];
    if (!(x >= 0 && y >= 0 && x < im.width && y < im.height)) {
      $("status").className = "error"; $("status").textContent = "That point is outside the " + side + " photo.";
      return;
    }
    const r = median(anns.filter((a) => !a.removed).map((a) => a.radius), 8);
    const id = anns.reduce((mx, a) => Math.max(mx, a.id), -1) + 1;
    anns.push({ id, image_id: im.id === undefined ? 0 : im.id, coordinates: [x, y], radius: r, class_name: "acne",
      source: "added" });
    st.sel = { side, id };
    rematch(d);
  }

  function onCanvasClick(ev) {
    if (!st.d || st.busy) return;
    const cv = $("view"), box = cv.getBoundingClientRect();
    const x = (ev.clientX - box.left) * cv.width / box.width, y = (ev.clientY - box.top) * cv.height / box.height;
    const side = x < st.pw ? "before" : x >= st.pw + st.gap ? "after" : null;
    if (!side || y < 0 || y >= st.ph) return;
    if (st.adding) {
      const dx = side === "after" ? st.pw + st.gap : 0;
      addAt(side, (x - dx) / st.k, y / st.k);
      return;
    }
    let best = null, bd = Infinity;
    for (const t of st.targets) {
      if (t.side !== side) continue;
      const dist = Math.hypot(t.cx - x, t.cy - y);
      if (dist <= t.cr + 6 && dist < bd) { best = t; bd = dist; }
    }
    select(best);
  }

  function onKey(ev) {
    if (!st.d || $("result").hidden) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    if ((ev.key === "Delete" || ev.key === "Backspace") && st.sel) {
      ev.preventDefault();
      removeSelected();
    } else if (ev.key === "Escape") {
      setAdding(false);
      select(null);
    } else if (ev.target === $("view") && (ev.key === "ArrowRight" || ev.key === "ArrowLeft") && st.targets.length) {
      ev.preventDefault();
      const n = st.targets.length;
      const cur = st.sel ? st.targets.findIndex((t) => t.side === st.sel.side && t.id === st.sel.id) : -1;
      const next = cur < 0 ? (ev.key === "ArrowRight" ? 0 : n - 1) : (cur + (ev.key === "ArrowRight" ? 1 : n - 1)) % n;
      select(st.targets[next]);
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
      Object.assign(st, { ib, ia, sel: null });
      setAdding(false);
      show(d);
    } catch (e) {
      status.className = "error"; status.textContent = e.message;
      $("result").hidden = true;
      st.d = null;
    } finally {
      $("go").disabled = false;
    }
  }

  $("form").addEventListener("submit", submit);
  $("view").addEventListener("click", onCanvasClick);
  $("add").addEventListener("click", () => setAdding(!st.adding));
  $("remove").addEventListener("click", removeSelected);
  document.addEventListener("keydown", onKey);
})();
