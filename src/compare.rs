//! Change between two visits of one zone, hair by hair, with 95 % intervals.
//!
//! [`compare`] registers each follow-up photo onto its baseline photo
//! ([`register`]), then follows the hairs:
//!
//! 1. **Matching.** A follow-up strand matches a baseline strand when, after the
//!    transform, their centrelines run together (mean distance within
//!    [`CompareParams::match_distance_um`] over at least half of the shorter one)
//!    in the same direction (within [`CompareParams::match_angle_deg`]). With both
//!    photos at hand, each photo must also show the other visit's path: along it,
//!    at least [`CompareParams::lookback_min_ratio`] of the contrast of the strand
//!    found there. Hairs of one opening leave one point in nearly one direction,
//!    so this is what keeps a hair lost at follow-up from matching a sibling
//!    ([`CompareParams::verify_matches_in_photos`]). Without the photos (or that
//!    check), the emergence points (when both are known) must lie
//!    within [`CompareParams::emergence_tolerance_um`] instead. Pairs are taken
//!    greedily, closest first, one to one.
//! 2. **Look-back.** A counted strand left unmatched is either a hair gained or
//!    lost, or a hair the detector missed in the other visit. With both photos
//!    at hand the path of the strand is carried into the other photo and its
//!    cross-section contrast read there: at least
//!    [`CompareParams::lookback_min_ratio`] of its own contrast means the hair is
//!    there (missed by the detector, persisting); less means it is not (gained or
//!    lost). A hair whose path runs out of the other photo within a few pixels
//!    cannot be read there and is taken as persisting. So a change is counted
//!    as hairs gained and lost, not as the difference of two noisy counts.
//! 3. **Figures.** Only hairs emerging in the overlap of both fields count. The
//!    per-visit recall of the detector is estimated from the persisting hairs
//!    (capture–recapture: the share of hairs seen at one visit that the detector
//!    also found at the other), and the counts of hairs gained and lost are
//!    divided by it.
//!
//! # What the intervals cover
//!
//! * **Counts** (`hairs_gained`, `hairs_lost`, `density_change_*`): the gains and
//!   losses are treated as Poisson counts over the overlap (the hair events of
//!   this patch of skin as a sample of the zone's), so the difference has the
//!   Skellam variance `G/r_F² + L/r_B²` (normal approximation, a zero count taken
//!   as one event so that an interval is never empty). This covers the sampling of
//!   the zone and, conservatively, the detector's random misses of hairs gained or
//!   lost (binomial thinning has a smaller variance). It does not cover a
//!   systematic detector bias, e.g. new thin hairs being found less often than
//!   established ones.
//! * **Thickness and class figures** (mean, median, cumulative thickness, vellus
//!   fraction, terminal density): a bootstrap over the hair records of the
//!   overlap (each record a hair followed across both visits, or gained, or lost;
//!   [`CompareParams::bootstrap_replicates`] replicates, seeded, so results are
//!   reproducible), percentile intervals. This covers the sampling of hairs and
//!   the per-hair measurement noise of the width change; a width bias common to
//!   both visits cancels in the paired change and is not covered.
//! * The registration is taken as exact: its error (sub-pixel on photos, see
//!   [`Registration`]) moves a hair across the overlap edge at most.
//!
//! The verdict is *increase* when the whole interval lies above 0, *decrease*
//! when below, *no detectable change* otherwise.

use image::DynamicImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, Polarity, StrandResult};
use crate::classes::ThicknessClass;
use crate::error::{Error, Result};
use crate::filter::Plane;
use crate::preprocess::prepare;
use crate::register::{register, RegisterParams, Registration, Similarity};
use crate::stats::{median, poisson_ci95};

/// Comparison settings. Plain data with defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareParams {
    /// Registration settings.
    pub register: RegisterParams,
    /// Largest mean distance between the centrelines of one hair in both
    /// visits, after registration (µm).
    pub match_distance_um: f64,
    /// Largest angle between the two strands of one hair (degrees).
    pub match_angle_deg: f64,
    /// Largest distance between the two emergence points of one hair, when both
    /// are known (µm), when matching without the photos. Hairs of one opening
    /// emerge within ~100 µm of each other; they are told apart by direction.
    pub emergence_tolerance_um: f64,
    /// A strand missing in the other visit's analysis counts as present there when
    /// the other photo shows at least this share of its own contrast along its path.
    pub lookback_min_ratio: f64,
    /// A followed hair counts as thickened (thinned) when its width grew (fell) by
    /// at least this (µm).
    pub thickened_um: f64,
    /// Bootstrap replicates for the thickness and class intervals.
    pub bootstrap_replicates: usize,
    /// Seed of the bootstrap (results are reproducible).
    pub seed: u64,
    /// With both photos at hand, check each match in the photos themselves (see
    /// the module docs) instead of by the emergence points. Off for a
    /// phototrichogram, where hairs grow between the photos and two paths of one
    /// hair differ in length by design.
    pub verify_matches_in_photos: bool,
    /// Divide the counts of hairs gained and lost by the detector's estimated
    /// recall (see the module docs).
    pub recall_correction: bool,
    /// Between-visit reproducibility of a mean shaft width (µm, one standard
    /// deviation): a change of lighting, exposure and noise moves every width of a
    /// photo a little the same way, which pairing cannot cancel. Added in quadrature
    /// to the bootstrap interval of the width changes. The default is the spread of
    /// the mean paired width change on generated pairs with no true change
    /// (seeds 1–20 of `PairChange::none()`).
    pub width_reproducibility_um: f64,
}

impl Default for CompareParams {
    fn default() -> Self {
        CompareParams {
            register: RegisterParams::default(),
            match_distance_um: 24.0,
            match_angle_deg: 20.0,
            emergence_tolerance_um: 100.0,
            lookback_min_ratio: 0.4,
            thickened_um: 5.0,
            bootstrap_replicates: 2000,
            seed: 0x7E57,
            verify_matches_in_photos: true,
            recall_correction: true,
            width_reproducibility_um: 1.0,
        }
    }
}

impl CompareParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field.
    pub fn validate(&self) -> Result<()> {
        self.register.validate()?;
        let positive = crate::error::require_positive;
        positive("match_distance_um", self.match_distance_um)?;
        positive("match_angle_deg", self.match_angle_deg)?;
        positive("emergence_tolerance_um", self.emergence_tolerance_um)?;
        positive("thickened_um", self.thickened_um)?;
        if !(self.width_reproducibility_um.is_finite() && self.width_reproducibility_um >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "width_reproducibility_um",
                value: self.width_reproducibility_um,
                expected: "a finite width ≥ 0 µm",
            });
        }
        if !(self.lookback_min_ratio.is_finite() && (0.0..=1.0).contains(&self.lookback_min_ratio))
        {
            return Err(Error::InvalidParameter {
                name: "lookback_min_ratio",
                value: self.lookback_min_ratio,
                expected: "a fraction in 0..=1",
            });
        }
        if !(100..=100_000).contains(&self.bootstrap_replicates) {
            return Err(Error::InvalidParameter {
                name: "bootstrap_replicates",
                value: self.bootstrap_replicates as f64,
                expected: "100..=100000",
            });
        }
        Ok(())
    }
}

/// One photo of a visit: its analysis and, when available, the photo itself
/// (needed for the image refinement of the registration and the look-back).
#[derive(Clone, Copy, Debug)]
pub struct Photo<'a> {
    /// The analysis of the photo.
    pub analysis: &'a Analysis,
    /// The decoded photo.
    pub image: Option<&'a DynamicImage>,
}

/// What happened to one hair between the visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HairFate {
    /// Found by the detector in both visits.
    Followed,
    /// Found at baseline only; the follow-up photo shows it (a detector miss).
    PersistsMissedAtFollowup,
    /// Found at follow-up only; the baseline photo shows it (a detector miss).
    PersistsMissedAtBaseline,
    /// At follow-up only, and absent from the baseline photo.
    Gained,
    /// At baseline only, and absent from the follow-up photo.
    Lost,
}

/// One hair emerging in the overlap, across both visits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HairRecord {
    /// Index of the photo pair.
    pub pair: usize,
    /// Strand id in the baseline analysis, when detected there.
    pub baseline_strand: Option<usize>,
    /// Strand id in the follow-up analysis, when detected there.
    pub followup_strand: Option<usize>,
    /// Emergence (or mid-point) in baseline pixels.
    pub anchor_px: [f64; 2],
    /// What happened.
    pub fate: HairFate,
    /// Width at baseline (µm), when measured.
    pub baseline_width_um: Option<f64>,
    /// Width at follow-up (µm), when measured.
    pub followup_width_um: Option<f64>,
    /// Class at baseline, when measured.
    pub baseline_class: Option<ThicknessClass>,
    /// Class at follow-up, when measured.
    pub followup_class: Option<ThicknessClass>,
    /// Visible length at baseline (µm), when detected.
    pub baseline_length_um: Option<f64>,
    /// Visible length at follow-up (µm), when detected.
    pub followup_length_um: Option<f64>,
    /// False when the two widths of a followed hair disagree beyond any plausible
    /// change (see [`flag_width_outliers`]); its widths then stay out of the
    /// thickness figures.
    pub width_consistent: bool,
}

/// Increase, decrease or neither, from a 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval lies above 0.
    Increase,
    /// The interval contains 0.
    NoDetectableChange,
    /// The whole interval lies below 0.
    Decrease,
}

impl Verdict {
    /// The verdict of a 95 % interval of a change.
    pub fn of(ci95: [f64; 2]) -> Verdict {
        if ci95[0] > 0.0 {
            Verdict::Increase
        } else if ci95[1] < 0.0 {
            Verdict::Decrease
        } else {
            Verdict::NoDetectableChange
        }
    }

    /// Plain words.
    pub fn words(&self) -> &'static str {
        match self {
            Verdict::Increase => "increase",
            Verdict::NoDetectableChange => "no detectable change",
            Verdict::Decrease => "decrease",
        }
    }
}

/// A change with its 95 % interval and verdict.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Follow-up minus baseline.
    pub value: f64,
    /// 95 % interval.
    pub ci95: [f64; 2],
    /// Whether the interval excludes 0, and which way.
    pub verdict: Verdict,
}

impl Change {
    fn new(value: f64, ci95: [f64; 2]) -> Self {
        let ci95 = [ci95[0].min(value), ci95[1].max(value)];
        Change {
            value,
            ci95,
            verdict: Verdict::of(ci95),
        }
    }
}

/// A count of hairs with its 95 % interval, also in % of the baseline hairs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HairCount {
    /// Hairs (recall-corrected when [`CompareParams::recall_correction`]).
    pub count: f64,
    /// 95 % interval (exact Poisson on the detected count, then corrected).
    pub ci95: [f64; 2],
    /// In % of the baseline hairs of the overlap.
    pub pct: f64,
    /// 95 % interval of `pct`.
    pub pct_ci95: [f64; 2],
}

/// One visit's figures over the overlap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitFigures {
    /// Estimated hairs emerging in the overlap.
    pub hairs: f64,
    /// Hairs per cm².
    pub density_per_cm2: f64,
    /// Terminal hairs per cm².
    pub terminal_density_per_cm2: f64,
    /// Share of vellus hairs (fraction).
    pub vellus_fraction: f64,
    /// Mean shaft width (µm).
    pub mean_width_um: f64,
    /// Median shaft width (µm).
    pub median_width_um: f64,
    /// Sum of shaft widths per cm² (mm/cm²).
    pub cumulative_thickness_mm_per_cm2: f64,
}

/// The detector's bookkeeping behind the counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bookkeeping {
    /// Hairs found in both visits.
    pub followed: usize,
    /// Persisting hairs found at baseline only.
    pub missed_at_followup: usize,
    /// Persisting hairs found at follow-up only.
    pub missed_at_baseline: usize,
    /// Hairs gained, as detected.
    pub gained_detected: usize,
    /// Hairs lost, as detected.
    pub lost_detected: usize,
    /// Estimated share of the baseline's hairs the detector found.
    pub baseline_recall: f64,
    /// Estimated share of the follow-up's hairs the detector found.
    pub followup_recall: f64,
    /// Whether unmatched strands could be checked on the photos (look-back). Without
    /// the photos, every unmatched strand counts as gained or lost and the
    /// intervals widen accordingly.
    pub looked_back: bool,
}

/// How the two visits were put in correspondence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareMode {
    /// Registered, hair by hair over the overlap.
    HairByHair,
}

/// Everything [`compare`] reports. This is the JSON contract of
/// `trichometry compare --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// How the visits were put in correspondence.
    pub mode: CompareMode,
    /// The registration of each photo pair.
    pub registrations: Vec<Registration>,
    /// The transform of the first pair (baseline px → follow-up px).
    pub transform: Similarity,
    /// Area over which the visits are compared (cm², summed over photo pairs).
    pub overlap_area_cm2: f64,
    /// Baseline figures over the overlap.
    pub baseline: VisitFigures,
    /// Follow-up figures over the overlap.
    pub followup: VisitFigures,
    /// Δ density (hairs/cm²).
    pub density_change_per_cm2: Change,
    /// Δ density (% of baseline).
    pub density_change_pct: Change,
    /// Δ terminal density (hairs/cm²).
    pub terminal_density_change_per_cm2: Change,
    /// Δ terminal density (% of baseline).
    pub terminal_density_change_pct: Change,
    /// Δ vellus fraction (fraction, e.g. −0.05 = five points fewer).
    pub vellus_fraction_change: Change,
    /// Δ vellus fraction (% of the baseline fraction).
    pub vellus_fraction_change_pct: Change,
    /// Δ mean shaft width (µm).
    pub mean_width_change_um: Change,
    /// Δ mean shaft width (%).
    pub mean_width_change_pct: Change,
    /// Δ median shaft width (µm).
    pub median_width_change_um: Change,
    /// Δ median shaft width (%).
    pub median_width_change_pct: Change,
    /// Δ cumulative thickness (mm/cm²).
    pub cumulative_thickness_change_mm_per_cm2: Change,
    /// Δ cumulative thickness (%).
    pub cumulative_thickness_change_pct: Change,
    /// Hairs that appeared.
    pub hairs_gained: HairCount,
    /// Hairs that disappeared.
    pub hairs_lost: HairCount,
    /// Followed hairs whose width grew by at least `thickened_um`.
    pub hairs_thickened: HairCount,
    /// Followed hairs whose width fell by at least `thickened_um`.
    pub hairs_thinned: HairCount,
    /// Detector bookkeeping.
    pub bookkeeping: Bookkeeping,
    /// Every hair of the overlap.
    pub hairs: Vec<HairRecord>,
    /// What the intervals cover, in words.
    pub intervals: String,
    /// Anything the reader must know (low registration confidence, few hairs, …).
    pub warnings: Vec<String>,
}

/// The text stored in [`Comparison::intervals`].
pub const INTERVALS_NOTE: &str = "95% intervals. Hair counts and density changes: Skellam \
(Poisson gains and losses over the overlap, recall-corrected), covering the sampling of the \
zone and random detector misses. Thickness and class figures: bootstrap over the hairs of the \
overlap, covering hair sampling and per-hair width noise. Neither covers a systematic detector \
bias; the registration is taken as exact.";

/// Compares a follow-up visit with its baseline, photo pair by photo pair,
/// pooling the overlaps (counts and areas add).
///
/// `pairs[i]` holds the baseline and follow-up photo of the same spot.
///
/// # Units
/// Densities in hairs/cm², widths in µm, cumulative thickness in mm/cm²,
/// fractions in 0..=1, percentages in %.
///
/// # Errors
/// [`Error::InvalidParameter`] for bad `params` or no pairs;
/// [`Error::Registration`] when a pair cannot be registered (see [`register`]).
pub fn compare(pairs: &[(Photo<'_>, Photo<'_>)], params: &CompareParams) -> Result<Comparison> {
    params.validate()?;
    if pairs.is_empty() {
        return Err(Error::InvalidParameter {
            name: "pairs",
            value: 0.0,
            expected: "at least one baseline / follow-up photo pair",
        });
    }
    let mut registrations = Vec::new();
    let mut records: Vec<HairRecord> = Vec::new();
    let mut area = 0.0;
    let mut looked_back = true;
    let mut warnings = Vec::new();
    for (k, (b, f)) in pairs.iter().enumerate() {
        let reg = register(b.analysis, b.image, f.analysis, f.image, &params.register)?;
        if reg.confidence < 0.5 {
            warnings.push(format!(
                "pair {}: registration confidence {:.2} is low; check the overlap",
                k + 1,
                reg.confidence
            ));
        }
        let planes = match (b.image, f.image) {
            (Some(bi), Some(fi)) => Some((
                prepare(bi, true).absorbance(),
                prepare(fi, true).absorbance(),
            )),
            _ => {
                looked_back = false;
                None
            }
        };
        records.extend(hair_records(
            k,
            b.analysis,
            f.analysis,
            &reg.transform,
            planes.as_ref(),
            params,
        ));
        area += reg.overlap_area_cm2;
        registrations.push(reg);
    }
    if !looked_back {
        warnings.push(
            "photos not given: strands the detector missed in one visit count as gained or lost; \
             intervals are wide"
                .into(),
        );
    }
    if area <= 0.0 {
        return Err(Error::Registration {
            message: "the registered fields do not overlap".into(),
        });
    }
    let inconsistent = flag_width_outliers(&mut records);
    if inconsistent > 0 {
        warnings.push(format!(
            "{inconsistent} followed hairs measure widths that disagree by more than \
             {WIDTH_OUTLIER_MIN_UM} µm between the visits (touching shafts measured as one?); \
             left out of the thickness figures"
        ));
    }
    let figures = Figures::of(&records, area, params);
    if figures.n_b < 30.0 {
        warnings.push(format!(
            "only {:.0} baseline hairs in the overlap: changes under ~{:.0}% cannot be seen",
            figures.n_b,
            200.0 / figures.n_b.max(1.0).sqrt()
        ));
    }
    let boot = bootstrap(&records, area, params);
    let pct = |num: f64, den: f64| if den > 0.0 { 100.0 * num / den } else { 0.0 };
    let ci_of = |sel: &dyn Fn(&Figures) -> f64| -> [f64; 2] { percentile_ci(&boot, sel) };
    let change = |sel: &dyn Fn(&Figures) -> f64| Change::new(sel(&figures), ci_of(sel));

    // Counts: Skellam.
    let (g, l) = (figures.gained, figures.lost);
    let (rb, rf) = (figures.recall_b, figures.recall_f);
    let var = g.max(1.0) / (rf * rf) + l.max(1.0) / (rb * rb);
    let dn = figures.n_f - figures.n_b;
    let half = 1.96 * var.sqrt();
    let dci = [dn - half, dn + half];
    let density_change_per_cm2 = Change::new(dn / area, [dci[0] / area, dci[1] / area]);
    let density_change_pct = Change::new(
        pct(dn, figures.n_b),
        [pct(dci[0], figures.n_b), pct(dci[1], figures.n_b)],
    );
    let count = |detected: f64, recall: f64| {
        let ci = poisson_ci95(detected);
        let c = detected / recall;
        let ci = [ci[0] / recall, ci[1] / recall];
        HairCount {
            count: c,
            ci95: ci,
            pct: pct(c, figures.n_b),
            pct_ci95: [pct(ci[0], figures.n_b), pct(ci[1], figures.n_b)],
        }
    };
    let rel = |sel: &dyn Fn(&Figures) -> f64, base: &dyn Fn(&Figures) -> f64| {
        let f = |x: &Figures| pct(sel(x), base(x));
        change(&f)
    };
    // Width changes: bootstrap half-widths and the reproducibility term in quadrature.
    let widen = |c: Change, sd: f64| {
        let lo = ((c.value - c.ci95[0]).powi(2) + (1.96 * sd).powi(2)).sqrt();
        let hi = ((c.ci95[1] - c.value).powi(2) + (1.96 * sd).powi(2)).sqrt();
        Change::new(c.value, [c.value - lo, c.value + hi])
    };
    let rep = params.width_reproducibility_um;
    let rep_pct = pct(rep, figures.mean_b);
    let rep_cumul = figures.n_b * rep / 1000.0 / area;
    let rep_cumul_pct = pct(figures.n_b * rep / 1000.0, figures.cumul_b);
    let comparison = Comparison {
        mode: CompareMode::HairByHair,
        transform: registrations[0].transform,
        registrations,
        overlap_area_cm2: area,
        baseline: figures.visit(true, area),
        followup: figures.visit(false, area),
        density_change_per_cm2,
        density_change_pct,
        terminal_density_change_per_cm2: change(&|x| (x.terminal_f - x.terminal_b) / area),
        terminal_density_change_pct: rel(&|x| x.terminal_f - x.terminal_b, &|x| x.terminal_b),
        vellus_fraction_change: change(&|x| x.vellus_f - x.vellus_b),
        vellus_fraction_change_pct: rel(&|x| x.vellus_f - x.vellus_b, &|x| x.vellus_b),
        mean_width_change_um: widen(change(&|x| x.mean_f - x.mean_b), rep),
        mean_width_change_pct: widen(rel(&|x| x.mean_f - x.mean_b, &|x| x.mean_b), rep_pct),
        median_width_change_um: widen(change(&|x| x.median_f - x.median_b), rep),
        median_width_change_pct: widen(rel(&|x| x.median_f - x.median_b, &|x| x.median_b), rep_pct),
        cumulative_thickness_change_mm_per_cm2: widen(
            change(&|x| (x.cumul_f - x.cumul_b) / area),
            rep_cumul,
        ),
        cumulative_thickness_change_pct: widen(
            rel(&|x| x.cumul_f - x.cumul_b, &|x| x.cumul_b),
            rep_cumul_pct,
        ),
        hairs_gained: count(figures.gained, rf),
        hairs_lost: count(figures.lost, rb),
        hairs_thickened: count(figures.thickened, 1.0),
        hairs_thinned: count(figures.thinned, 1.0),
        bookkeeping: Bookkeeping {
            followed: figures.m as usize,
            missed_at_followup: figures.pb as usize,
            missed_at_baseline: figures.pf as usize,
            gained_detected: figures.gained as usize,
            lost_detected: figures.lost as usize,
            baseline_recall: rb,
            followup_recall: rf,
            looked_back,
        },
        hairs: records,
        intervals: INTERVALS_NOTE.to_string(),
        warnings,
    };
    Ok(comparison)
}

/// A followed hair's width change counts as a measurement failure (touching shafts
/// measured as one in one visit) when it departs from the median change of all
/// followed hairs by more than this (µm) and by more than 4 robust standard
/// deviations. Real change is slower: a vellus hair turning terminal gains
/// ~10–20 µm over months.
pub const WIDTH_OUTLIER_MIN_UM: f64 = 15.0;

/// Flags followed hairs whose width change is an outlier (see
/// [`WIDTH_OUTLIER_MIN_UM`]); returns how many.
fn flag_width_outliers(records: &mut [HairRecord]) -> usize {
    let mut d: Vec<f64> = records
        .iter()
        .filter_map(|r| Some(r.followup_width_um? - r.baseline_width_um?))
        .collect();
    let Some(med) = median(&mut d) else { return 0 };
    let mut dev: Vec<f64> = d.iter().map(|x| (x - med).abs()).collect();
    let mad = median(&mut dev).unwrap_or(0.0);
    let limit = WIDTH_OUTLIER_MIN_UM.max(4.0 * 1.4826 * mad);
    let mut n = 0;
    for r in records.iter_mut() {
        if let (Some(a), Some(b)) = (r.baseline_width_um, r.followup_width_um) {
            if (b - a - med).abs() > limit {
                r.width_consistent = false;
                n += 1;
            }
        }
    }
    n
}

/// Point figures of a set of records (one bootstrap replicate or the data).
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    m: f64,
    pb: f64,
    pf: f64,
    gained: f64,
    lost: f64,
    thickened: f64,
    thinned: f64,
    recall_b: f64,
    recall_f: f64,
    n_b: f64,
    n_f: f64,
    mean_b: f64,
    mean_f: f64,
    median_b: f64,
    median_f: f64,
    vellus_b: f64,
    vellus_f: f64,
    terminal_b: f64,
    terminal_f: f64,
    /// Σ widths (µm) scaled to the estimated hairs.
    cumul_b: f64,
    cumul_f: f64,
}

impl Figures {
    fn of_iter<'a>(
        records: impl Iterator<Item = &'a HairRecord> + Clone,
        _area: f64,
        params: &CompareParams,
    ) -> Figures {
        let mut x = Figures::default();
        let mut wb: Vec<f64> = Vec::new();
        let mut wf: Vec<f64> = Vec::new();
        let (mut vb, mut vf, mut tb, mut tf) = (0.0, 0.0, 0.0, 0.0);
        for r in records {
            match r.fate {
                HairFate::Followed => x.m += 1.0,
                HairFate::PersistsMissedAtFollowup => x.pb += 1.0,
                HairFate::PersistsMissedAtBaseline => x.pf += 1.0,
                HairFate::Gained => x.gained += 1.0,
                HairFate::Lost => x.lost += 1.0,
            }
            // Widths: hairs measured in both visits, and the hairs gained or lost,
            // so that the change is paired wherever it can be.
            if !r.width_consistent {
                continue;
            }
            let paired = r.fate == HairFate::Followed;
            if paired || r.fate == HairFate::Lost {
                if let Some(w) = r.baseline_width_um {
                    wb.push(w);
                    vb += f64::from(u8::from(r.baseline_class == Some(ThicknessClass::Vellus)));
                    tb += f64::from(u8::from(r.baseline_class == Some(ThicknessClass::Terminal)));
                }
            }
            if paired || r.fate == HairFate::Gained {
                if let Some(w) = r.followup_width_um {
                    wf.push(w);
                    vf += f64::from(u8::from(r.followup_class == Some(ThicknessClass::Vellus)));
                    tf += f64::from(u8::from(r.followup_class == Some(ThicknessClass::Terminal)));
                }
            }
            if paired {
                if let (Some(a), Some(b)) = (r.baseline_width_um, r.followup_width_um) {
                    if b - a >= params.thickened_um {
                        x.thickened += 1.0;
                    } else if a - b >= params.thickened_um {
                        x.thinned += 1.0;
                    }
                }
            }
        }
        // Recall: share of the persisting hairs seen at one visit that the detector
        // also found at the other (Lincoln–Petersen).
        let (rb, rf, n_persist) = if params.recall_correction && x.m > 0.0 {
            let rb = x.m / (x.m + x.pf);
            let rf = x.m / (x.m + x.pb);
            // Chapman's bias-corrected estimate of the persisting hairs.
            let n = (x.m + x.pb + 1.0) * (x.m + x.pf + 1.0) / (x.m + 1.0) - 1.0;
            (rb, rf, n)
        } else {
            (1.0, 1.0, x.m + x.pb + x.pf)
        };
        x.recall_b = rb;
        x.recall_f = rf;
        x.n_b = n_persist + x.lost / rb;
        x.n_f = n_persist + x.gained / rf;
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        x.mean_b = mean(&wb);
        x.mean_f = mean(&wf);
        let frac = |k: f64, v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                k / v.len() as f64
            }
        };
        x.vellus_b = frac(vb, &wb);
        x.vellus_f = frac(vf, &wf);
        x.terminal_b = x.n_b * frac(tb, &wb);
        x.terminal_f = x.n_f * frac(tf, &wf);
        x.cumul_b = x.n_b * x.mean_b / 1000.0;
        x.cumul_f = x.n_f * x.mean_f / 1000.0;
        x.median_b = median(&mut wb).unwrap_or(0.0);
        x.median_f = median(&mut wf).unwrap_or(0.0);
        x
    }

    fn of(records: &[HairRecord], area: f64, params: &CompareParams) -> Figures {
        Figures::of_iter(records.iter(), area, params)
    }

    fn visit(&self, baseline: bool, area: f64) -> VisitFigures {
        let (n, t, v, m, md, c) = if baseline {
            (
                self.n_b,
                self.terminal_b,
                self.vellus_b,
                self.mean_b,
                self.median_b,
                self.cumul_b,
            )
        } else {
            (
                self.n_f,
                self.terminal_f,
                self.vellus_f,
                self.mean_f,
                self.median_f,
                self.cumul_f,
            )
        };
        VisitFigures {
            hairs: n,
            density_per_cm2: n / area,
            terminal_density_per_cm2: t / area,
            vellus_fraction: v,
            mean_width_um: m,
            median_width_um: md,
            cumulative_thickness_mm_per_cm2: c / area,
        }
    }
}

fn bootstrap(records: &[HairRecord], area: f64, params: &CompareParams) -> Vec<Figures> {
    if records.is_empty() {
        return vec![Figures::default()];
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let n = records.len();
    let mut pick: Vec<usize> = vec![0; n];
    (0..params.bootstrap_replicates)
        .map(|_| {
            for p in pick.iter_mut() {
                *p = rng.random_range(0..n);
            }
            Figures::of_iter(pick.iter().map(|&i| &records[i]), area, params)
        })
        .collect()
}

fn percentile_ci(boot: &[Figures], sel: &dyn Fn(&Figures) -> f64) -> [f64; 2] {
    let mut v: Vec<f64> = boot.iter().map(sel).filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return [0.0, 0.0];
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    [at(0.025), at(0.975)]
}

/// A strand reduced to what matching needs, in its own photo's pixels.
struct Strand<'a> {
    s: &'a StrandResult,
    /// Centreline every ~2 px.
    pts: Vec<[f64; 2]>,
    lo: [f64; 2],
    hi: [f64; 2],
    dir: f64,
}

fn strand(s: &StrandResult, map: impl Fn([f64; 2]) -> [f64; 2]) -> Option<Strand<'_>> {
    let n = s.centerline.len();
    if n < 2 {
        return None;
    }
    let pts: Vec<[f64; 2]> = s
        .centerline
        .iter()
        .step_by(2)
        .chain(std::iter::once(&s.centerline[n - 1]))
        .map(|p| map(*p))
        .collect();
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in &pts {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let (a, b) = (pts[0], pts[pts.len() - 1]);
    Some(Strand {
        s,
        pts,
        lo,
        hi,
        dir: (b[1] - a[1]).atan2(b[0] - a[0]),
    })
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Mean distance of the points of `short` that project onto `long`, and the share
/// of `short`'s points that do so within `tol`.
fn polyline_fit(short: &[[f64; 2]], long: &[[f64; 2]], tol: f64) -> (f64, f64) {
    let mut sum = 0.0;
    let mut n = 0usize;
    for &p in short {
        let mut best = f64::INFINITY;
        for w in long.windows(2) {
            let d = [w[1][0] - w[0][0], w[1][1] - w[0][1]];
            let l2 = d[0] * d[0] + d[1] * d[1];
            let t = if l2 > 0.0 {
                (((p[0] - w[0][0]) * d[0] + (p[1] - w[0][1]) * d[1]) / l2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            best = best.min(dist(p, [w[0][0] + t * d[0], w[0][1] + t * d[1]]));
        }
        if best <= tol {
            sum += best;
            n += 1;
        }
    }
    if n == 0 {
        (f64::INFINITY, 0.0)
    } else {
        (sum / n as f64, n as f64 / short.len().max(1) as f64)
    }
}

fn line_angle(a: f64, b: f64) -> f64 {
    let t = std::f64::consts::TAU;
    let mut d = (a - b).rem_euclid(t);
    if d > std::f64::consts::PI {
        d = t - d;
    }
    d.min(std::f64::consts::PI - d)
}

/// Matches the strands of one photo pair and sorts every hair of the overlap into
/// a [`HairRecord`].
pub(crate) fn hair_records(
    pair: usize,
    base: &Analysis,
    follow: &Analysis,
    t: &Similarity,
    planes: Option<&(Plane, Plane)>,
    params: &CompareParams,
) -> Vec<HairRecord> {
    let um_f = follow.um_per_px;
    // Baseline strands in follow-up pixels; follow-up strands as they are.
    let sb: Vec<Option<Strand>> = base
        .strands
        .iter()
        .map(|s| strand(s, |p| t.apply(p)))
        .collect();
    let sf: Vec<Option<Strand>> = follow.strands.iter().map(|s| strand(s, |p| p)).collect();
    let tol = params.match_distance_um / um_f;
    let e_tol = params.emergence_tolerance_um / um_f;
    let max_angle = params.match_angle_deg.to_radians();
    let verify = planes.filter(|_| params.verify_matches_in_photos);
    let mut cands: Vec<(f64, usize, usize)> = Vec::new();
    for (i, b) in sb.iter().enumerate() {
        let Some(b) = b else { continue };
        for (j, f) in sf.iter().enumerate() {
            let Some(f) = f else { continue };
            if b.lo[0] > f.hi[0] + tol
                || f.lo[0] > b.hi[0] + tol
                || b.lo[1] > f.hi[1] + tol
                || f.lo[1] > b.hi[1] + tol
            {
                continue;
            }
            if line_angle(b.dir, f.dir) > max_angle {
                continue;
            }
            // Without the photos, the emergence points are what tells the hairs of
            // one opening apart. With them, the photo check below does, and the
            // emergence end the tracer inferred (the less stable end of a shaft
            // broken at a crossing) must not keep one hair from matching itself.
            if verify.is_none() {
                if let (Some(eb), Some(ef)) = (b.s.emergence, f.s.emergence) {
                    if dist(t.apply(eb), ef) > e_tol {
                        continue;
                    }
                }
            }
            let (short, long) = if b.pts.len() <= f.pts.len() {
                (&b.pts, &f.pts)
            } else {
                (&f.pts, &b.pts)
            };
            let (mean, share) = polyline_fit(short, long, tol);
            if share >= 0.5 && mean <= tol {
                cands.push((mean + (1.0 - share) * tol, i, j));
            }
        }
    }
    cands.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut match_b: Vec<Option<usize>> = vec![None; base.strands.len()];
    let mut match_f: Vec<Option<usize>> = vec![None; follow.strands.len()];
    for (_, i, j) in cands {
        if match_b[i].is_some() || match_f[j].is_some() {
            continue;
        }
        if let Some((pb, pf)) = verify {
            if !same_hair_in_both_photos(
                (pb, &base.strands[i], base.um_per_px),
                (pf, &follow.strands[j], um_f),
                t,
                params.lookback_min_ratio,
            ) {
                continue;
            }
        }
        match_b[i] = Some(j);
        match_f[j] = Some(i);
    }

    let (field_b, field_f) = (base.field(), follow.field());
    let in_overlap = |a: [f64; 2]| field_b.contains(a, 0.0) && field_f.contains(t.apply(a), 0.0);
    let mid = |s: &StrandResult| s.centerline[s.centerline.len() / 2];
    let mut out = Vec::new();
    let record = |b: Option<&StrandResult>, f: Option<&StrandResult>, fate: HairFate| {
        let anchor = b
            .and_then(|s| s.emergence)
            .or_else(|| f.and_then(|s| s.emergence).map(|e| t.invert(e)))
            .or_else(|| b.map(mid))
            .or_else(|| f.map(|s| t.invert(mid(s))))
            .unwrap_or([f64::NAN; 2]);
        HairRecord {
            pair,
            baseline_strand: b.map(|s| s.id),
            followup_strand: f.map(|s| s.id),
            anchor_px: anchor,
            fate,
            baseline_width_um: b.map(|s| s.width_um),
            followup_width_um: f.map(|s| s.width_um),
            baseline_class: b.map(|s| s.class),
            followup_class: f.map(|s| s.class),
            baseline_length_um: b.map(|s| s.length_um),
            followup_length_um: f.map(|s| s.length_um),
            width_consistent: true,
        }
    };
    for (i, s) in base.strands.iter().enumerate() {
        match match_b[i] {
            Some(j) => {
                let fs = &follow.strands[j];
                if s.count_weight > 0.0 || fs.count_weight > 0.0 {
                    out.push(record(Some(s), Some(fs), HairFate::Followed));
                }
            }
            None if s.count_weight > 0.0 => {
                let present = planes.map(|(pb, pf)| {
                    let own = path_contrast(pb, &s.centerline, s, base.um_per_px, 1.0);
                    let path = path_inside(pf, s, um_f, s.centerline.iter().map(|p| t.apply(*p)));
                    let other = path_contrast(pf, &path, s, um_f, 2.5);
                    path.len() < MIN_LOOKBACK_POINTS
                        || (own > 0.0 && other >= params.lookback_min_ratio * own)
                });
                let fate = if present == Some(true) {
                    HairFate::PersistsMissedAtFollowup
                } else {
                    HairFate::Lost
                };
                out.push(record(Some(s), None, fate));
            }
            None => {}
        }
    }
    for (j, s) in follow.strands.iter().enumerate() {
        if match_f[j].is_some() || s.count_weight <= 0.0 {
            continue;
        }
        let present = planes.map(|(pb, pf)| {
            let own = path_contrast(pf, &s.centerline, s, um_f, 1.0);
            let path = path_inside(
                pb,
                s,
                base.um_per_px,
                s.centerline.iter().map(|p| t.invert(*p)),
            );
            let other = path_contrast(pb, &path, s, base.um_per_px, 2.5);
            path.len() < MIN_LOOKBACK_POINTS
                || (own > 0.0 && other >= params.lookback_min_ratio * own)
        });
        let fate = if present == Some(true) {
            HairFate::PersistsMissedAtBaseline
        } else {
            HairFate::Gained
        };
        out.push(record(None, Some(s), fate));
    }
    merge_fragments(&mut out, base, follow);
    out.retain(|r| r.anchor_px[0].is_finite() && in_overlap(r.anchor_px));
    out
}

/// Fewest centreline points (about one per pixel) of a path inside the other
/// photo for the look-back to decide. A hair whose emergence lies in the overlap
/// but whose shaft runs out of the other photo within a few pixels cannot be
/// read there; it is taken as persisting (missed), the common case, rather than
/// as a change the photo cannot show.
const MIN_LOOKBACK_POINTS: usize = 10;

/// The points of a path (already in the photo's pixels) that lie inside the photo
/// with room for the cross-section of `s` read there: outside, the photo says
/// nothing, and a path read past its edge would find no hair where one may be.
fn path_inside(
    plane: &Plane,
    s: &StrandResult,
    um: f64,
    path: impl Iterator<Item = [f64; 2]>,
) -> Vec<[f64; 2]> {
    let m = 0.5 * s.width_um / um + 6.0;
    let (w, h) = (plane.width as f64, plane.height as f64);
    path.filter(|p| p[0] >= m && p[1] >= m && p[0] <= w - m && p[1] <= h - m)
        .collect()
}

/// Whether two matched strands trace one hair, read in the photos themselves: in
/// each photo, the other visit's path (carried over by the transform) shows at
/// least `min_ratio` of the contrast along the strand found there. Hairs of one
/// opening leave from one point in nearly one direction, so a hair lost at
/// follow-up can match a sibling by its geometry alone; its own path is then empty
/// skin at follow-up. Comparing with the contrast of the same photo, not with the
/// other visit's, keeps a hair that thinned or thickened matched.
fn same_hair_in_both_photos(
    (pb, sb, um_b): (&Plane, &StrandResult, f64),
    (pf, sf, um_f): (&Plane, &StrandResult, f64),
    t: &Similarity,
    min_ratio: f64,
) -> bool {
    let path_b_in_f = path_inside(pf, sf, um_f, sb.centerline.iter().map(|p| t.apply(*p)));
    let path_f_in_b = path_inside(pb, sb, um_b, sf.centerline.iter().map(|p| t.invert(*p)));
    let shows = |plane: &Plane, own: &StrandResult, um: f64, other_path: &[[f64; 2]]| {
        if other_path.len() < MIN_LOOKBACK_POINTS {
            return true;
        }
        let there = path_contrast(plane, &own.centerline, own, um, 1.0);
        // Measured with the found strand's width and polarity: that is the hair
        // the other path should show if it is the same one.
        let along = path_contrast(plane, other_path, own, um, 2.5);
        there <= 0.0 || along >= min_ratio * there
    };
    shows(pf, sf, um_f, &path_b_in_f) && shows(pb, sb, um_b, &path_f_in_b)
}

/// Largest gap between two fragments of one hair, end to end (µm). The tracer
/// breaks a shaft where another crosses it or its contrast dips; a break spans
/// about a shaft width, rarely more than a few.
const FRAGMENT_GAP_UM: f64 = 150.0;

/// Joins gained (lost) records whose strands are fragments of one shaft: nearly
/// collinear, the shorter lying on the line of the longer (within half a width
/// plus 4 px), their ends within [`FRAGMENT_GAP_UM`]. The longer strand stays.
/// Persisting hairs need no such care: their fragments cancel between the visits.
fn merge_fragments(records: &mut Vec<HairRecord>, base: &Analysis, follow: &Analysis) {
    let strand_of = |r: &HairRecord| -> Option<(&StrandResult, f64)> {
        match r.fate {
            HairFate::Gained => r
                .followup_strand
                .and_then(|i| follow.strands.get(i))
                .map(|s| (s, follow.um_per_px)),
            HairFate::Lost => r
                .baseline_strand
                .and_then(|i| base.strands.get(i))
                .map(|s| (s, base.um_per_px)),
            _ => None,
        }
    };
    let mut drop = vec![false; records.len()];
    for i in 0..records.len() {
        for j in 0..records.len() {
            if i == j || drop[i] || drop[j] || records[i].fate != records[j].fate {
                continue;
            }
            let (Some((a, um)), Some((b, _))) = (strand_of(&records[i]), strand_of(&records[j]))
            else {
                continue;
            };
            // `a` the longer: `b` is dropped when it is a fragment of `a`'s shaft.
            if b.length_um > a.length_um || a.centerline.len() < 2 || b.centerline.len() < 2 {
                continue;
            }
            let (a0, a1) = (a.centerline[0], a.centerline[a.centerline.len() - 1]);
            let (b0, b1) = (b.centerline[0], b.centerline[b.centerline.len() - 1]);
            let da = (a1[1] - a0[1]).atan2(a1[0] - a0[0]);
            let db = (b1[1] - b0[1]).atan2(b1[0] - b0[0]);
            if line_angle(da, db) > 20f64.to_radians() {
                continue;
            }
            let la = dist(a0, a1).max(1e-9);
            let perp = |p: [f64; 2]| {
                ((a1[0] - a0[0]) * (p[1] - a0[1]) - (a1[1] - a0[1]) * (p[0] - a0[0])).abs() / la
            };
            let lateral = 0.5 * a.width_um.max(b.width_um) / um + 4.0;
            let gap = [a0, a1]
                .iter()
                .flat_map(|p| [dist(*p, b0), dist(*p, b1)])
                .fold(f64::INFINITY, f64::min);
            if perp(b0) <= lateral && perp(b1) <= lateral && gap * um <= FRAGMENT_GAP_UM {
                drop[j] = true;
            }
        }
    }
    let mut k = 0;
    records.retain(|_| {
        k += 1;
        !drop[k - 1]
    });
}

/// Contrast of a shaft along `path` (px of `plane`) in absorbance units: the
/// median over the path (its end fifths left out) of centre minus flanks, at the
/// best lateral offset within ±`search_px`; positive when a shaft of `s`'s
/// polarity lies there.
fn path_contrast(plane: &Plane, path: &[[f64; 2]], s: &StrandResult, um: f64, search: f64) -> f64 {
    let n = path.len();
    if n < 5 {
        return 0.0;
    }
    let sign = match s.polarity {
        Polarity::Dark => 1.0,
        Polarity::Light => -1.0,
    };
    let half = 0.5 * s.width_um / um;
    let flank = half + 3.0;
    let (i0, i1) = (n / 5, n - n / 5);
    let k = 2.min(n / 4).max(1);
    let mut best = f64::NEG_INFINITY;
    let steps = (search / 0.5).round() as i64;
    let mut vals: Vec<f64> = Vec::with_capacity(i1 - i0);
    for o in -steps..=steps {
        let off = o as f64 * 0.5;
        vals.clear();
        for i in i0..i1 {
            let a = path[i.saturating_sub(k)];
            let b = path[(i + k).min(n - 1)];
            let d = [b[0] - a[0], b[1] - a[1]];
            let l = d[0].hypot(d[1]);
            if l <= 0.0 {
                continue;
            }
            let nn = [-d[1] / l, d[0] / l];
            let p = [path[i][0] + off * nn[0], path[i][1] + off * nn[1]];
            let at = |u: f64| f64::from(plane.sample(p[0] + u * nn[0], p[1] + u * nn[1]));
            let c = at(0.0);
            let fl = 0.5 * (at(flank) + at(-flank));
            vals.push(sign * (c - fl));
        }
        if let Some(m) = median(&mut vals) {
            best = best.max(m);
        }
    }
    if best.is_finite() {
        best
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_the_interval() {
        assert_eq!(Verdict::of([0.1, 2.0]), Verdict::Increase);
        assert_eq!(Verdict::of([-2.0, -0.1]), Verdict::Decrease);
        assert_eq!(Verdict::of([-1.0, 1.0]), Verdict::NoDetectableChange);
    }

    #[test]
    fn polyline_fit_of_parallel_lines() {
        let a: Vec<[f64; 2]> = (0..20).map(|i| [f64::from(i), 0.0]).collect();
        let b: Vec<[f64; 2]> = (0..20).map(|i| [f64::from(i), 1.0]).collect();
        let (m, share) = polyline_fit(&a, &b, 2.0);
        assert!((m - 1.0).abs() < 1e-9 && (share - 1.0).abs() < 1e-9);
        let (_, share) = polyline_fit(&a, &b, 0.5);
        assert_eq!(share, 0.0);
    }

    #[test]
    fn params_validate() {
        CompareParams::default().validate().unwrap();
        let p = CompareParams {
            lookback_min_ratio: 2.0,
            ..CompareParams::default()
        };
        assert!(matches!(
            p.validate(),
            Err(Error::InvalidParameter {
                name: "lookback_min_ratio",
                ..
            })
        ));
    }
}
