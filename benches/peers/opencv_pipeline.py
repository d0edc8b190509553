"""An OpenCV pipeline for trichoscopy photos (peer of trichometry).

1. grey = cv2.cvtColor(RGB2GRAY);
2. black-hat (closing - grey) with an elliptical kernel wider than the widest shaft
   (130 µm), which keeps the dark structures narrower than the kernel;
3. Otsu threshold of the black-hat, opening with a 3x3 ellipse, connected
   components smaller than a 120 µm x 8 µm shaft removed;
4. thinning: cv2.ximgproc.thinning (Zhang-Suen; opencv-contrib);
5. widths: 2 * cv2.distanceTransform(mask, DIST_L2, 5) - 1 px at the skeleton;
6. skeleton post-processing and the counting rule: skeleton.py (interior
   endpoints / 2), labelling with cv2.connectedComponents.
"""

import cv2
import numpy as np

from skeleton import analyse_skeleton

MIN_WIDTH_UM = 8.0
MAX_WIDTH_UM = 130.0
MIN_LENGTH_UM = 120.0


def _label(mask):
    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return n - 1, lab


def analyse(rgb, um_per_px):
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    wmin, wmax = MIN_WIDTH_UM / um_per_px, MAX_WIDTH_UM / um_per_px
    k = int(np.ceil(wmax)) + 5
    k += 1 - k % 2
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    blackhat = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = int(MIN_LENGTH_UM / um_per_px * max(1.0, wmin))
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    mask = np.where(keep[lab], 255, 0).astype(np.uint8)
    skel = cv2.ximgproc.thinning(mask, thinningType=cv2.ximgproc.THINNING_ZHANGSUEN) > 0
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    width_px = np.maximum(2.0 * dist - 1.0, 1.0)
    return analyse_skeleton(skel, width_px, um_per_px, _label, MIN_LENGTH_UM)
