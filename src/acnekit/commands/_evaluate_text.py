"""Text summaries printed by `acnekit evaluate`: detection / counting / grading against an
Acne04-v2 ground truth, and grades / graded counts against reference grades and boxes."""

from __future__ import annotations

from acnekit.commands._common import table


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def format_result(r: dict) -> str:
    """The human-readable summary printed by `acnekit evaluate`."""
    s, im, d, c, g = r["settings"], r["images"], r["detection"], r["counting"], r["grading"]
    rule = f"IoU >= {s['iou']:g}" if s["match"] == "iou" else "centre distance <= max(r_gt, r_pred)"
    out = [f"ground truth: {r['gt']}  ({im['gt']} images; {im['evaluated']} evaluated, {d['ground_truth']} lesions)",
           f"predictions:  {r['pred']}  ({im['with_predictions']} images, {d['predictions']} circles)"]
    if im.get("left_out"):
        out.append(f"ground-truth images left out (no prediction entry): {im['left_out']} "
                   f"(--all-gt scores them as all missed)")
    if im["missing_predictions"]:
        names = im["missing_predictions"]
        shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
        out.append(f"images with no prediction entry (all lesions missed): {len(names)}: {shown}")
    if im["rescaled_predictions"]:
        out.append(f"predictions rescaled to the ground truth's image size: {len(im['rescaled_predictions'])} images")
    out += [f"note: {n}" for n in r["notes"]]
    out += [f"WARNING: {w}" for w in r.get("warnings", [])]
    at, best, sz = d["at_threshold"], d["best_f1"], d["sizes"]
    rows = [
        ["AP50 (COCO 101-point)", _f(d["ap50"])],
        ["AP75", _f(d["ap75"])],
        ["AP@[0.50:0.95]", _f(d["ap50_95"])],
    ]
    if s["match"] == "centre":
        rows.append(["AP (centre rule)", _f(d["ap"])])
    rows += [
        [f"score threshold ({s['score_threshold_source']})", f"{s['score_threshold']:.4g}"],
        ["TP / FP / FN", f"{at['tp']} / {at['fp']} / {at['fn']}"],
        ["precision", _f(at["precision"])],
        ["recall (sensitivity)", _f(at["recall"])],
        ["F1", _f(at["f1"])],
        ["best F1 (at threshold)", "n/a" if best is None else f"{best['f1']:.3f} (score >= {best['threshold']:.4g})"],
        ["radius MAE, px", _f(sz["radius_mae_px"], 2) + ("" if "radius_mae_mm" not in sz
                                                          else f"  ({_f(sz['radius_mae_mm'], 3)} mm)")],
        ["radius bias (pred - gt), px", _f(sz["radius_bias_px"], 2)],
        ["centre distance, px", _f(sz["centre_distance_mean_px"], 2)],
    ]
    out += ["", f"Detection (hit: {rule})", table(rows)]
    out += ["", "Counting (per image, predicted - true)", table([
        ["MAE", _f(c["mae"], 2)], ["MSE", _f(c["mse"], 2)], ["RMSE", _f(c["rmse"], 2)],
        ["mean error (bias)", _f(c["mean_error"], 2)]])]
    out += ["", f"Grading (Hayashi bands {g['labels']})"] + grade_block(g, "counts")
    return "\n".join(out)


def grade_block(g: dict, label_header: str = "name") -> list[str]:
    """Accuracy, LDL figures, kappas, confusion matrix and per-grade table of a grade comparison."""
    out = [table([
        ["accuracy", _f(g["accuracy"])],
        ["precision (macro, LDL)", _f(g["precision_macro"])],
        ["sensitivity SE (macro)", _f(g["sensitivity_macro"])],
        ["specificity SP (macro)", _f(g["specificity_macro"])],
        ["Youden index YI", _f(g["youden_index"])],
        ["Cohen's kappa (unweighted / linear / quadratic)",
         f"{_f(g['kappa'])} / {_f(g['kappa_linear'])} / {_f(g['kappa_quadratic'])}"]])]
    conf = g["confusion_matrix"]
    out += ["", "Confusion matrix (rows: true grade, columns: predicted)",
            table([[lab] + row for lab, row in zip(g["labels"], conf)], header=["true \\ pred"] + g["labels"])]
    out += ["", table([[p["grade"], p["label"], p["support"], p["predicted"], _f(p["precision"]),
                        _f(p["sensitivity"]), _f(p["specificity"]), _f(p["youden_index"])] for p in g["per_grade"]],
                      header=["grade", label_header, "images", "predicted", "precision", "SE", "SP", "YI"])]
    if g["zero_division"]:
        out.append("counted as 0 (division by zero): " + ", ".join(g["zero_division"]))
    return out


def _images_line(what: str, part: dict) -> list[str]:
    out = []
    if part["left_out"]:
        out.append(f"{what} images left out (no prediction): {part['left_out']} (--all-gt scores them as no lesions)")
    if part["scored_as_no_lesions"]:
        out.append(f"{what} images without a prediction, scored as no lesions (--all-gt): "
                   f"{len(part['scored_as_no_lesions'])}")
    return out


def format_grades(r: dict) -> str:
    """The reference part: grades against reference grades, graded counts against boxes."""
    p = r["predictions"]
    src = ", ".join(f"{v} from {k}" for k, v in p["grade_sources"].items() if v)
    out = [f"predicted grades: {p['images']} images ({src or 'none'})"]
    out += [f"note: {n}" for n in r.get("notes", [])]
    if (g := r["grades"]) is not None:
        out += ["", f"Grades against {g['reference']} ({g['evaluated']} images)"] + _images_line("reference", g)
        out += grade_block(g)
    if (c := r["counts"]) is not None:
        e = c["counting"]
        out += ["", f"Graded count against the boxes in {c['reference']} ({c['evaluated']} images; all boxes "
                    f"count as one class)"] + _images_line("box-reference", c)
        out.append(table([
            ["mean boxes / mean predicted count", f"{_f(c['mean_box_count'], 2)} / {_f(c['mean_pred_count'], 2)}"],
            ["MAE", _f(e["mae"], 2)], ["RMSE", _f(e["rmse"], 2)], ["MSE", _f(e["mse"], 2)],
            ["mean error (bias, predicted - boxes)", _f(e["mean_error"], 2)]]))
        out += ["", "Grades against the Hayashi grade of the box count"] + grade_block(c["grading"])
    if (b := r["box_grade_vs_reference_grade"]) is not None:
        out += ["", f"For scale: the box-count grade against the reference grade on these images: accuracy "
                    f"{_f(b['accuracy'])}, quadratic kappa {_f(b['kappa_quadratic'])}"]
    return "\n".join(out)
