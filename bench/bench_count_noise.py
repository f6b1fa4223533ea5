"""How much the detector's count moves under changes that should not matter, on the
full-resolution photos at the face working scale (skin-mask counts, operating threshold):
- the JPEG round trip's 8x8 block grid shifted by 0, 2, 4, 6 working pixels (same scale);
- the working scale times 0.98 ... 1.02, with and without the round trip.
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_count_noise.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fullres"


def main() -> int:
    if not DATA.is_dir():
        print(f"skip: {DATA} absent")
        return 0
    from acnekit.detector.infer import Detector, jpeg_round_trip
    from acnekit.face.pipeline import analyse_face
    from acnekit.face.working import face_working_scale
    from acnekit.imageio import read_image, resize_rgb

    det = Detector.load(graded=None)
    quality = int(det.card["working_jpeg_quality"])
    for path in sorted(DATA.glob("*.jpg")):
        rgb = read_image(path)
        h, w = rgb.shape[:2]
        fa = analyse_face(rgb)
        if not fa.found:
            print(f"{path.name}: no face")
            continue
        s, _ = face_working_scale(fa.face.size_px(), w, h, det.working_scale)

        def count(work: np.ndarray) -> int:
            c = det.predict_working(np.ascontiguousarray(work))
            c = c[c.score >= det.score_threshold].scaled(w / work.shape[1], h / work.shape[0])
            return int(fa.lesion_flags(c.xy)[0].sum())

        base = resize_rgb(rgb, round(w * s), round(h * s))
        shifts = []
        for k in (0, 2, 4, 6):
            shifts.append(count(jpeg_round_trip(base, quality, (k, k))))
        scales = []
        for f in (0.98, 0.99, 1.0, 1.01, 1.02):
            work = resize_rgb(rgb, round(w * s * f), round(h * s * f))
            scales.append(f"{count(jpeg_round_trip(work, quality))}/{count(work)}")
        print(f"{path.name}: JPEG grid shifted 0/2/4/6 px: {shifts}; scale x0.98/0.99/1/1.01/1.02 "
              f"(with round trip/without): {' '.join(scales)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
