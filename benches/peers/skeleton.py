"""Skeleton post-processing shared by both peer pipelines (numpy only).

Given a one-pixel skeleton and a per-pixel width map, this prunes short spurs,
splits the skeleton into branches at junctions and counts hairs. The connected
component labeller is passed in, so the OpenCV pipeline labels with OpenCV and
the scikit-image pipeline with scipy.ndimage.

Spurs: a branch from an endpoint to a junction shorter than the shaft width
there (at least 24 µm) is removed (the forks that thinning leaves at blunt shaft
ends and follicle openings). Strands: the skeleton cut at its junctions, pieces
at least the minimum hair length (120 µm) long, width = median over the piece.

Counting rule (the same for both peers): after spur pruning and dropping
skeleton components shorter than the minimum hair length, every skeleton
endpoint more than BORDER_PX from the image edge is half a hair, i.e.
hairs = interior endpoints / 2. A clipped hair lying free has two ends (1 hair);
two crossing hairs form an X with four ends (2 hairs); a hair cut by the image
border keeps one interior end (0.5 hair, the chance that its emergence point is
the inside end); a hair spanning the whole field has none (0). Touching hairs
that merge into one thick shaft, and hairs of one follicular unit sharing an
emergence point, are under-counted by this rule.
"""

import numpy as np

BORDER_PX = 2


def _crossings(mask):
    """Crossing number: 0->1 transitions around the 8-neighbourhood, for every
    pixel. 1 at an endpoint, 2 along a line (also on the two-pixel staircases
    that Zhang-Suen thinning leaves), 3 or more at a junction."""
    m = np.pad(mask.astype(np.uint8), 1)
    h, w = mask.shape
    ring = [(0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]
    cn = np.zeros((h, w), np.uint8)
    for (ay, ax), (by, bx) in zip(ring, ring[1:] + ring[:1]):
        cn += (m[ay:ay + h, ax:ax + w] == 0) & (m[by:by + h, bx:bx + w] == 1)
    return cn


def _ends_and_junctions(skel):
    cn = _crossings(skel) * skel
    return cn == 1, cn >= 3


def _dilate3(mask):
    """3x3 dilation."""
    m = np.pad(mask, 1)
    h, w = mask.shape
    out = np.zeros((h, w), bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out |= m[dy:dy + h, dx:dx + w]
    return out


def _max3(a):
    """3x3 maximum filter."""
    m = np.pad(a, 1)
    h, w = a.shape
    out = np.zeros_like(a)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            np.maximum(out, m[dy:dy + h, dx:dx + w], out=out)
    return out


def _drop_short_components(skel, min_px, label):
    n, lab = label(skel)
    if n == 0:
        return skel
    size = np.bincount(lab.ravel(), minlength=n + 1)
    keep = size >= min_px
    keep[0] = False
    return keep[lab]


def prune(skel, width_px, min_spur_px, label, passes=3):
    """Removes branches that run from an endpoint to a junction in fewer pixels
    than the shaft width at that junction (at least min_spur_px): the forks that
    thinning leaves at blunt shaft ends and follicle openings."""
    skel = skel.copy()
    for _ in range(passes):
        ends, junc = _ends_and_junctions(skel)
        if not junc.any():
            break
        n, lab = label(skel & ~junc)
        if n == 0:
            break
        size = np.bincount(lab.ravel(), minlength=n + 1)
        has_end = np.bincount(lab.ravel(), weights=ends.ravel(), minlength=n + 1) > 0
        near = _dilate3(junc)
        touches = np.bincount(lab.ravel(), weights=near.ravel(), minlength=n + 1) > 0
        # the widest shaft at a junction next to each branch
        jw = np.zeros(n + 1)
        idx = np.flatnonzero(near.ravel() & (lab.ravel() > 0))
        np.maximum.at(jw, lab.ravel()[idx], _max3(np.where(junc, width_px, 0)).ravel()[idx])
        spur = has_end & touches & (size < np.maximum(jw, min_spur_px))
        spur[0] = False
        if not spur.any():
            break
        skel &= ~spur[lab]
    return skel


def analyse_skeleton(skel, width_px, um_per_px, label, min_length_um=120.0,
                     min_spur_um=24.0):
    """Returns the hair count, the component count and the strands (branches
    between junctions at least min_length_um long, each with its pixel-centre
    points in (x, y) and its median width in µm) of a skeleton.

    `label(mask) -> (n, labels)` labels 8-connected components 1..n."""
    h, w = skel.shape
    min_px = max(2, int(round(min_length_um / um_per_px)))
    skel = _drop_short_components(skel.astype(bool), min_px, label)
    skel = prune(skel, width_px, max(2.0, min_spur_um / um_per_px), label)
    skel = _drop_short_components(skel, min_px, label)

    ends, junc = _ends_and_junctions(skel)
    ys, xs = np.nonzero(ends)
    interior = ((xs >= BORDER_PX) & (xs < w - BORDER_PX)
                & (ys >= BORDER_PX) & (ys < h - BORDER_PX))
    hair_count = int(interior.sum()) / 2.0
    components, _ = label(skel)

    n, lab = label(skel & ~_dilate3(junc))
    strands = []
    if n:
        flat = lab.ravel()
        order = np.argsort(flat, kind="stable")
        bounds = np.searchsorted(flat[order], np.arange(1, n + 2))
        wflat = width_px.ravel()
        for i in range(n):
            idx = order[bounds[i]:bounds[i + 1]]
            if idx.size < min_px:
                continue
            yy, xx = np.divmod(idx, w)
            strands.append({
                "centerline": np.stack([xx + 0.5, yy + 0.5], axis=1).tolist(),
                "width_um": float(np.median(wflat[idx]) * um_per_px),
            })
    widths = [s["width_um"] for s in strands]
    return {
        "hair_count": hair_count,
        "components": int(components),
        "median_width_um": float(np.median(widths)) if widths else 0.0,
        "strands": strands,
    }
