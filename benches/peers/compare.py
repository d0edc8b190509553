"""Peer comparison: trichometry, a scikit-image pipeline and an OpenCV pipeline
on the same generated photos, single-threaded, timed and scored in one run.

Usage: python compare.py --bin TRICHOMETRY --photos DIR [--out results.md] [--command CMD]

DIR holds generated photos NAME.png with their truth NAME.json
(`trichometry synth`). Every tool is scored against the truth the same way as
trichometry's own accuracy tests (src/eval.rs, ported below).
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import glob
import json
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

import cv2
import numpy as np
from skimage import io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opencv_pipeline  # noqa: E402
import skimage_pipeline  # noqa: E402

cv2.setNumThreads(1)

MIN_LENGTH_UM = 120.0  # trichometry's Params::default().min_length_um
MIN_COVERAGE = 0.7  # src/eval.rs


# --- scoring: a port of src/eval.rs ------------------------------------------

def _dist_to_polyline(points, line):
    """Distance of each point (P x 2) to a polyline (S x 2)."""
    a, b = line[:-1], line[1:]
    ab = b - a
    len2 = (ab ** 2).sum(1)
    ap = points[:, None, :] - a[None, :, :]
    t = np.where(len2 > 0, (ap * ab[None]).sum(2) / np.where(len2 > 0, len2, 1), 0).clip(0, 1)
    q = a[None] + t[..., None] * ab[None]
    return np.sqrt(((points[:, None, :] - q) ** 2).sum(2)).min(1)


def score(strands, hair_count, truth):
    um = truth["um_per_px"]
    w, h = truth["image"]["width"], truth["image"]["height"]
    visible = []
    for hair in truth["hairs"]:
        c = np.asarray(hair["centerline_px"], float).reshape(-1, 2)
        c = c[(c[:, 0] >= 0) & (c[:, 1] >= 0) & (c[:, 0] < w) & (c[:, 1] < h)]
        visible.append(c)
    best_for_hair = [None] * len(visible)  # (coverage, width)
    matched = 0
    for s in strands:
        pts = np.asarray(s["centerline"], float).reshape(-1, 2)
        if len(pts) == 0:
            continue
        best = None
        for i, line in enumerate(visible):
            if len(line) < 2:
                continue
            tol = max(truth["hairs"][i]["width_um"] / um, 3.0)
            lo, hi = line.min(0) - tol, line.max(0) + tol
            inbox = pts[((pts >= lo) & (pts <= hi)).all(1)]
            if len(inbox) < MIN_COVERAGE * len(pts):
                continue
            near = int((_dist_to_polyline(inbox, line) <= tol).sum())
            coverage = near / len(pts)
            if coverage >= MIN_COVERAGE and (best is None or coverage > best[1]):
                best = (i, coverage)
        if best is not None:
            matched += 1
            i, c = best
            if best_for_hair[i] is None or c > best_for_hair[i][0]:
                best_for_hair[i] = (c, s["width_um"])
    detectable = [i for i, hair in enumerate(truth["hairs"])
                  if hair["visible_length_um"] >= MIN_LENGTH_UM]
    pairs = [(truth["hairs"][i]["width_um"], best_for_hair[i][1])
             for i in detectable if best_for_hair[i] is not None]
    true_count = truth["summary"]["hair_count"]
    return {
        "true_count": true_count,
        "count_error_pct": 100.0 * (hair_count - true_count) / true_count if true_count else 100.0 * hair_count,
        "recall": len(pairs) / len(detectable) if detectable else 1.0,
        "precision": matched / len(strands) if strands else 1.0,
        "width_abs_errors_um": [abs(m - t) for t, m in pairs],
    }


# --- the three analysers -----------------------------------------------------

def run_trichometry(binary, photo, um_per_px):
    """Times the whole CLI process: start, PNG decode, analysis, JSON out."""
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    t0 = time.perf_counter()
    out = subprocess.run([binary, "analyze", photo, "--um-per-px", repr(um_per_px), "--json", "-"],
                         env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    a = json.loads(out.stdout)
    return dt, {"hair_count": a["hair_count"], "median_width_um": a["median_width_um"],
                "strands": [{"centerline": s["centerline"], "width_um": s["width_um"]}
                            for s in a["strands"]]}


def run_peer(module, rgb, um_per_px):
    """Times the analysis only (the photo is decoded before)."""
    t0 = time.perf_counter()
    r = module.analyse(rgb, um_per_px)
    return time.perf_counter() - t0, r


TOOLS = ["trichometry", "scikit-image pipeline", "OpenCV pipeline"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--photos", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.md"))
    ap.add_argument("--command", default="bash benches/peers/run.sh")
    args = ap.parse_args()

    photos = sorted(glob.glob(os.path.join(args.photos, "*.png")))
    if not photos:
        sys.exit(f"no photos in {args.photos}")

    def analyse_all(photo, truth):
        um = truth["um_per_px"]
        rgb = np.ascontiguousarray(io.imread(photo)[..., :3])
        return {
            TOOLS[0]: run_trichometry(args.bin, photo, um),
            TOOLS[1]: run_peer(skimage_pipeline, rgb, um),
            TOOLS[2]: run_peer(opencv_pipeline, rgb, um),
        }

    # Warm-up (not timed): page cache, lazy imports, first-call set-ups.
    analyse_all(photos[0], json.load(open(photos[0][:-4] + ".json")))

    rows = {t: [] for t in TOOLS}
    for photo in photos:
        truth = json.load(open(photo[:-4] + ".json"))
        for tool, (dt, r) in analyse_all(photo, truth).items():
            s = score(r["strands"], r["hair_count"], truth)
            rows[tool].append({
                "photo": os.path.basename(photo), "time_s": dt, "hair_count": r["hair_count"],
                "median_width_um": r["median_width_um"],
                "true_median_width_um": truth["summary"]["median_width_um"], **s})
            print(f"{os.path.basename(photo)} {tool}: {dt:.2f} s, {r['hair_count']:g} hairs "
                  f"(truth {s['true_count']}), median width {r['median_width_um']:.1f} µm "
                  f"(truth {truth['summary']['median_width_um']:.1f})", file=sys.stderr)

    ref = statistics.mean(r["time_s"] for r in rows[TOOLS[0]])
    med = statistics.median
    table = [
        "| tool | photos | time per photo (s) | time ÷ trichometry's | median \\|count error\\| | "
        "median width − true median width | median \\|width error\\| per matched hair | recall | precision |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for tool in TOOLS:
        rs = rows[tool]
        t = statistics.mean(r["time_s"] for r in rs)
        errs = [e for r in rs for e in r["width_abs_errors_um"]]
        table.append(
            f"| {tool} | {len(rs)} | {t:.2f} | {t / ref:.2f}× | "
            f"{med(abs(r['count_error_pct']) for r in rs):.1f} % | "
            f"{med(r['median_width_um'] - r['true_median_width_um'] for r in rs):+.1f} µm | "
            f"{med(errs) if errs else float('nan'):.1f} µm | "
            f"{med(r['recall'] for r in rs):.2f} | {med(r['precision'] for r in rs):.2f} |")
    detail = ["| photo | tool | time (s) | hairs | true hairs | count error | median width (µm) | "
              "true median width (µm) | recall | precision |", "|---|---|---|---|---|---|---|---|---|---|"]
    for i in range(len(photos)):
        for tool in TOOLS:
            r = rows[tool][i]
            detail.append(
                f"| {r['photo']} | {tool} | {r['time_s']:.2f} | {r['hair_count']:g} | {r['true_count']} | "
                f"{r['count_error_pct']:+.1f} % | {r['median_width_um']:.1f} | {r['true_median_width_um']:.1f} | "
                f"{r['recall']:.2f} | {r['precision']:.2f} |")

    def ver(p):
        try:
            return metadata.version(p)
        except metadata.PackageNotFoundError:
            return "?"

    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    here = os.path.dirname(os.path.abspath(__file__))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=here).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "../../src", "../../Cargo.toml",
                            "../../Cargo.lock"], capture_output=True, text=True, cwd=here).stdout.strip()
    if dirty:
        commit += " with uncommitted changes to its sources"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    md = "\n".join([
        "# Peer comparison",
        "",
        f"Generated by `{args.command}` (trichometry built at commit {commit}): {len(photos)} generated photos "
        f"({', '.join(os.path.basename(p) for p in photos)}), each analysed by the three tools in turn, "
        "one thread each, after one untimed warm-up round.",
        "",
        *table,
        "",
        "- **time**: trichometry's is the whole `trichometry analyze PHOTO --json -` process "
        "(start, PNG decode, analysis, JSON output); the peers' is the analysis only (Python "
        "start, imports and PNG decode excluded). `time ÷ trichometry's` is the mean time per "
        "photo over trichometry's: how many times slower than trichometry.",
        "- **count error**: (hairs − true hairs) / true hairs, true hairs = the generator's "
        "count (hairs whose emergence point is in the field).",
        "- **width**: each tool's median shaft width over its hairs (trichometry) or strands "
        "(peers) minus the true median width of the counted hairs, median over the photos; and the "
        "median |measured − true| width over the true hairs matched by a strand (a strand matches "
        "the true hair that ≥ 70 % of its centreline points lie on, within the larger of 3 px and "
        "the true width, as in `src/eval.rs`; recall and precision are from the same matching, "
        f"over true hairs at least {MIN_LENGTH_UM:g} µm long and over strands).",
        "- **pipelines**: scikit-image, `skimage_pipeline.py`: grey, Sato ridge filter at 6 scales "
        "for 8–130 µm shafts, hysteresis threshold (Otsu, Otsu/2) gated by darkness, small objects "
        "removed, skeletonize, widths = full width at half darkness by distance transform. OpenCV, "
        "`opencv_pipeline.py`: grey, black-hat, Otsu, opening, small components removed, "
        "`cv2.ximgproc.thinning` (Zhang-Suen, opencv-contrib), widths by `cv2.distanceTransform`. "
        "Both then share `skeleton.py` (numpy): spur pruning, strands = skeleton pieces between "
        "junctions, and the **counting rule hairs = skeleton endpoints away from the image border / 2** "
        "(a free hair has 2 ends, a crossing of 2 hairs 4, a hair cut by the border 1: half a hair). "
        "trichometry counts each traced strand by its emergence point (README, Conventions). The "
        "peers' settings were chosen on seeds 1–3, not on these photos.",
        f"- Machine: {cpu}, {os.cpu_count()} CPUs, shared with other jobs; the figures are ratios "
        "within one run, not absolute speeds.",
        f"- Versions: {rustc}; Python {platform.python_version()}, numpy {ver('numpy')}, "
        f"scikit-image {ver('scikit-image')}, scipy {ver('scipy')}, "
        f"opencv-contrib-python-headless {ver('opencv-contrib-python-headless')}.",
        "",
        "Per photo:",
        "",
        *detail,
        "",
    ])
    with open(args.out, "w") as f:
        f.write(md)
    print("\n".join(table))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
