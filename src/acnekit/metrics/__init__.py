"""Evaluation metrics: circle matching, detection AP, counting and grading figures, and grades /
graded counts against reference grades and boxes."""

from acnekit.metrics.counting import count_errors
from acnekit.metrics.detection import average_precision, best_f1, prf_at, size_errors
from acnekit.metrics.evaluate import evaluate
from acnekit.metrics.grade_eval import evaluate_grades
from acnekit.metrics.grading import cohen_kappa, confusion_matrix, grade_agreement, grading_metrics
from acnekit.metrics.matching import COCO_IOU_THRESHOLDS, Matches, match_image, match_sets

__all__ = [
    "COCO_IOU_THRESHOLDS", "Matches", "average_precision", "best_f1", "cohen_kappa", "confusion_matrix",
    "count_errors", "evaluate", "evaluate_grades", "grade_agreement", "grading_metrics", "match_image",
    "match_sets", "prf_at", "size_errors",
]
