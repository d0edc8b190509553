"""A careful scikit-image pipeline for trichoscopy photos (peer of trichometry).

1. grey = skimage.color.rgb2gray;
2. multi-scale ridge filter: skimage.filters.sato(black_ridges=True) with 6 scales
   geometrically spaced from sigma = w/2 for the narrowest to the widest shaft of
   8-130 µm (sigma = w/2 is where the scale-normalised second derivative of a bar of
   width w peaks), floored at 1 px;
3. hysteresis threshold: high = Otsu of the ridge response, low = high / 2; and
   a ridge pixel must be dark: background - grey >= half the Otsu threshold of
   (background - grey), background = grey closing with a square wider than the
   widest shaft (the large-scale ridge filter otherwise bridges skin between
   neighbouring shafts);
4. remove objects smaller than a 120 µm x 8 µm shaft, skeletonize (Zhang);
5. widths: the shaft is the full width at half maximum of its darkness
   (background - grey): a pixel is shaft when its darkness is at least half the
   darkness at its nearest skeleton pixel (and it lies within half the widest
   shaft of it); width
   at a skeleton pixel = 2 * d - 1 px, d = the largest distance_transform_edt of
   the shaft within 2 px (the ridge skeleton can run off the shaft's centre; the
   distance to the centre of the first background pixel is half a pixel more than
   the half width);
6. skeleton post-processing and the counting rule: skeleton.py (interior
   endpoints / 2).
"""

import numpy as np
from scipy import ndimage as ndi
from skimage import color, filters, morphology

from skeleton import analyse_skeleton

MIN_WIDTH_UM = 8.0
MAX_WIDTH_UM = 130.0
MIN_LENGTH_UM = 120.0

_EIGHT = np.ones((3, 3), bool)


def _label(mask):
    lab, n = ndi.label(mask, structure=_EIGHT)
    return n, lab


def analyse(rgb, um_per_px):
    grey = color.rgb2gray(rgb).astype(np.float32)
    wmin, wmax = MIN_WIDTH_UM / um_per_px, MAX_WIDTH_UM / um_per_px
    sigmas = np.geomspace(max(1.0, wmin / 2), wmax / 2, 6)
    ridge = filters.sato(grey, sigmas=sigmas, black_ridges=True)
    high = filters.threshold_otsu(ridge)
    mask = filters.apply_hysteresis_threshold(ridge, high / 2, high)
    side = int(np.ceil(wmax)) + 5
    background = ndi.grey_closing(grey, size=(side, side))
    dark = background - grey
    mask &= dark >= 0.5 * filters.threshold_otsu(dark)
    min_area = int(MIN_LENGTH_UM / um_per_px * max(1.0, wmin))
    mask = morphology.remove_small_objects(mask, max_size=min_area, connectivity=2)
    skel = morphology.skeletonize(mask)

    dist_to_skel, (iy, ix) = ndi.distance_transform_edt(~skel, return_indices=True)
    depth = ndi.maximum_filter(np.where(skel, dark, 0), size=3)
    shaft = (dark >= 0.5 * depth[iy, ix]) & (dist_to_skel <= wmax / 2 + 2) & (depth[iy, ix] > 0)
    # the skeleton of the ridge mask can run off the shaft's centre: take the
    # largest distance within 2 px of each skeleton pixel
    edt = ndi.maximum_filter(ndi.distance_transform_edt(shaft), size=5)
    width_px = np.maximum(2.0 * edt - 1.0, 1.0)
    return analyse_skeleton(skel, width_px, um_per_px, _label, MIN_LENGTH_UM)
