//! A series of sessions of one zone: every figure per visit, change from baseline
//! and from the previous visit, the trend per month, and gaps that break a
//! declared treatment course.
//!
//! The per-visit figures are the pooled figures of each session
//! ([`Session::summary`]). Changes between visits here compare whole fields (the
//! visits of a long series are not always registrable photo to photo), so their
//! intervals are those of two independent samples: Poisson for densities
//! (`n₁/A₁² + n₂/A₂²`), the standard errors of both means plus the between-visit
//! width reproducibility for widths. For a hair-by-hair change between two visits,
//! with much narrower intervals, use [`compare`](crate::compare()).
//!
//! The trend is a weighted least-squares line through the visits (weights: the
//! inverse variances above), in units per month of 30.44 days, with its 95 %
//! interval.

use serde::{Deserialize, Serialize};

use crate::compare::{Change, CompareParams};
use crate::error::{Error, Result};
use crate::session::{Date, Session, SessionSummary, Zone};

/// Days in an average month (365.25 / 12).
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// One phase of a treatment course: `sessions` treatment sessions, each within
/// `max_gap_days` of the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoursePhase {
    /// Treatment sessions in this phase.
    pub sessions: usize,
    /// Largest gap allowed before each of them (days).
    pub max_gap_days: f64,
}

/// A declared treatment course, phase after phase (e.g. a weekly initial series
/// kept under 11 days apart, then sessions every 2–4 weeks). Treatment sessions
/// beyond the last phase (maintenance) have no gap limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Course {
    /// The phases, in order.
    pub phases: Vec<CoursePhase>,
}

impl Course {
    /// Parses `NxD[,NxD…]`: N sessions at most D days apart, e.g. `6x11,4x35`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `course` for a malformed phase.
    pub fn parse(s: &str) -> Result<Course> {
        let bad = || Error::InvalidParameter {
            name: "course",
            value: f64::NAN,
            expected: "phases written NxD (N sessions at most D days apart), e.g. 6x11,4x35",
        };
        let phases = s
            .split(',')
            .map(|p| {
                let (n, d) = p.trim().split_once('x').ok_or_else(bad)?;
                let sessions: usize = n.trim().parse().map_err(|_| bad())?;
                let max_gap_days: f64 = d.trim().parse().map_err(|_| bad())?;
                if sessions == 0 || !(max_gap_days.is_finite() && max_gap_days > 0.0) {
                    return Err(bad());
                }
                Ok(CoursePhase {
                    sessions,
                    max_gap_days,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Course { phases })
    }
}

/// A gap between two treatment sessions longer than its phase allows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapFlag {
    /// Previous treatment session.
    pub from: Date,
    /// The late one.
    pub to: Date,
    /// Days between them.
    pub gap_days: i64,
    /// What the phase allows.
    pub max_gap_days: f64,
    /// Phase (1-based) the late session belongs to.
    pub phase: usize,
    /// Number (1-based) of the late session among the treatment sessions.
    pub treatment_session: usize,
}

/// Change of the main figures between two visits (whole fields).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitChange {
    /// Δ density (hairs/cm²).
    pub density_change_per_cm2: Change,
    /// Δ density (% of the earlier visit).
    pub density_change_pct: Change,
    /// Δ terminal density (hairs/cm²; interval: Poisson on the terminal counts).
    pub terminal_density_change_per_cm2: Change,
    /// Δ vellus fraction (binomial standard errors of both fractions).
    pub vellus_fraction_change: Change,
    /// Δ mean width (µm).
    pub mean_width_change_um: Change,
    /// Δ cumulative thickness (mm/cm²; point value, interval from the density and
    /// width intervals combined).
    pub cumulative_thickness_change_mm_per_cm2: Change,
}

/// One visit of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// Visit date.
    pub date: Date,
    /// Days since the first visit.
    pub days_from_baseline: i64,
    /// Treatment given, if any.
    pub treatment: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Pooled figures.
    pub figures: SessionSummary,
    /// Change from the first visit (`None` for the first).
    pub from_baseline: Option<VisitChange>,
    /// Change from the previous visit (`None` for the first).
    pub from_previous: Option<VisitChange>,
}

/// Everything [`timeline`] reports; the JSON of `trichometry timeline --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Patient.
    pub patient_id: String,
    /// Zone.
    pub zone: Zone,
    /// One row per visit, by date.
    pub rows: Vec<TimelineRow>,
    /// Density trend (hairs/cm² per month), when there are two dates or more.
    pub density_trend_per_cm2_per_month: Option<Change>,
    /// Mean-width trend (µm per month).
    pub mean_width_trend_um_per_month: Option<Change>,
    /// The declared course, if any.
    pub course: Option<Course>,
    /// Gaps that break the course.
    pub gaps: Vec<GapFlag>,
}

fn z_change(value: f64, var: f64) -> Change {
    let h = 1.96 * var.max(0.0).sqrt();
    Change {
        value,
        ci95: [value - h, value + h],
        verdict: crate::compare::Verdict::of([value - h, value + h]),
    }
}

fn se_mean(s: &SessionSummary) -> f64 {
    (s.mean_width_ci95_um[1] - s.mean_width_um) / 1.96
}

fn visit_change(a: &SessionSummary, b: &SessionSummary, rep_um: f64) -> VisitChange {
    let dd = b.density_per_cm2 - a.density_per_cm2;
    let vd = b.hair_count / b.area_cm2.powi(2) + a.hair_count / a.area_cm2.powi(2);
    let pct = |x: f64| {
        if a.density_per_cm2 > 0.0 {
            100.0 * x / a.density_per_cm2
        } else {
            0.0
        }
    };
    let d = z_change(dd, vd);
    let tb = b.terminal_density_per_cm2;
    let ta = a.terminal_density_per_cm2;
    let vt = tb / b.area_cm2 + ta / a.area_cm2;
    let var_frac = |s: &SessionSummary| {
        if s.hair_count > 0.0 {
            s.vellus_fraction * (1.0 - s.vellus_fraction) / s.hair_count
        } else {
            0.0
        }
    };
    let dw = b.mean_width_um - a.mean_width_um;
    let vw = se_mean(a).powi(2) + se_mean(b).powi(2) + rep_um * rep_um;
    // Cumulative thickness = density × mean width: relative variances add.
    let cum = |s: &SessionSummary| s.cumulative_thickness_mm_per_cm2;
    let rel_var = |s: &SessionSummary| {
        let rd = if s.hair_count > 0.0 {
            1.0 / s.hair_count
        } else {
            0.0
        };
        let rw = if s.mean_width_um > 0.0 {
            (se_mean(s).powi(2) + rep_um * rep_um) / s.mean_width_um.powi(2)
        } else {
            0.0
        };
        cum(s).powi(2) * (rd + rw)
    };
    VisitChange {
        density_change_per_cm2: d,
        density_change_pct: Change {
            value: pct(d.value),
            ci95: [pct(d.ci95[0]), pct(d.ci95[1])],
            verdict: d.verdict,
        },
        terminal_density_change_per_cm2: z_change(tb - ta, vt),
        vellus_fraction_change: z_change(
            b.vellus_fraction - a.vellus_fraction,
            var_frac(a) + var_frac(b),
        ),
        mean_width_change_um: z_change(dw, vw),
        cumulative_thickness_change_mm_per_cm2: z_change(cum(b) - cum(a), rel_var(a) + rel_var(b)),
    }
}

/// Weighted least-squares slope of `(t, y, var)` points, with its 95 % interval.
fn trend(points: &[(f64, f64, f64)]) -> Option<Change> {
    let w: Vec<f64> = points.iter().map(|p| 1.0 / p.2.max(1e-9)).collect();
    let sw: f64 = w.iter().sum();
    let tm = points.iter().zip(&w).map(|(p, w)| w * p.0).sum::<f64>() / sw;
    let ym = points.iter().zip(&w).map(|(p, w)| w * p.1).sum::<f64>() / sw;
    let sxx: f64 = points
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.0 - tm).powi(2))
        .sum();
    if points.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.0 - tm) * (p.1 - ym))
        .sum();
    Some(z_change(sxy / sxx, 1.0 / sxx))
}

/// Builds the timeline of `sessions` (any order; sorted by date).
///
/// # Units
/// Densities in hairs/cm², widths in µm, trends per month of
/// [`DAYS_PER_MONTH`] days.
///
/// # Errors
/// [`Error::Session`] when `sessions` is empty, mixes patients or zones, or a
/// session has no analysed photo.
pub fn timeline(sessions: &[Session], course: Option<&Course>) -> Result<Timeline> {
    let bad = |message: String| Error::Session {
        path: std::path::PathBuf::new(),
        message,
    };
    let first = sessions
        .first()
        .ok_or_else(|| bad("a timeline needs at least one session".into()))?;
    let mut order: Vec<&Session> = sessions.iter().collect();
    order.sort_by_key(|s| s.date);
    for s in &order {
        if s.patient_id != first.patient_id || s.zone != first.zone {
            return Err(bad(format!(
                "session of {} mixes patient `{}` / zone `{}` with `{}` / `{}`",
                s.date, s.patient_id, s.zone, first.patient_id, first.zone
            )));
        }
    }
    let rep = CompareParams::default().width_reproducibility_um;
    let mut rows: Vec<TimelineRow> = Vec::with_capacity(order.len());
    let base_date = order[0].date;
    for s in &order {
        let figures = s
            .summary()
            .ok_or_else(|| bad(format!("session of {} has no analysed photo", s.date)))?;
        let (from_baseline, from_previous) = match (rows.first(), rows.last()) {
            (Some(b), Some(p)) => (
                Some(visit_change(&b.figures, &figures, rep)),
                Some(visit_change(&p.figures, &figures, rep)),
            ),
            _ => (None, None),
        };
        rows.push(TimelineRow {
            date: s.date,
            days_from_baseline: base_date.days_until(&s.date),
            treatment: s.treatment.clone(),
            notes: s.notes.clone(),
            figures,
            from_baseline,
            from_previous,
        });
    }
    let months = |r: &TimelineRow| r.days_from_baseline as f64 / DAYS_PER_MONTH;
    let dens: Vec<(f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            let f = &r.figures;
            (
                months(r),
                f.density_per_cm2,
                f.hair_count.max(1.0) / f.area_cm2.powi(2),
            )
        })
        .collect();
    let width: Vec<(f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            let f = &r.figures;
            (months(r), f.mean_width_um, se_mean(f).powi(2) + rep * rep)
        })
        .collect();
    let gaps = course.map(|c| course_gaps(&order, c)).unwrap_or_default();
    Ok(Timeline {
        patient_id: first.patient_id.clone(),
        zone: first.zone.clone(),
        density_trend_per_cm2_per_month: trend(&dens),
        mean_width_trend_um_per_month: trend(&width),
        rows,
        course: course.cloned(),
        gaps,
    })
}

/// Gaps between consecutive treatment sessions (those with a `treatment`) longer
/// than the phase of the later one allows.
fn course_gaps(order: &[&Session], course: &Course) -> Vec<GapFlag> {
    let treated: Vec<Date> = order
        .iter()
        .filter(|s| s.treatment.is_some())
        .map(|s| s.date)
        .collect();
    let mut flags = Vec::new();
    for k in 1..treated.len() {
        // Session k (0-based) falls in the phase whose cumulative count covers it.
        let mut upto = 0;
        let mut phase = None;
        for (i, p) in course.phases.iter().enumerate() {
            upto += p.sessions;
            if k < upto {
                phase = Some((i, p));
                break;
            }
        }
        let Some((i, p)) = phase else { break };
        let gap = treated[k - 1].days_until(&treated[k]);
        if gap as f64 > p.max_gap_days {
            flags.push(GapFlag {
                from: treated[k - 1],
                to: treated[k],
                gap_days: gap,
                max_gap_days: p.max_gap_days,
                phase: i + 1,
                treatment_session: k + 1,
            });
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Session, SessionPhoto};

    fn session(date: &str, treated: bool) -> Session {
        Session {
            patient_id: "P".into(),
            zone: Zone::Vertex,
            date: Date::parse(date).unwrap(),
            um_per_px: 6.0,
            treatment: treated.then(|| "mesotherapy".into()),
            notes: None,
            photos: vec![SessionPhoto {
                path: "x.png".into(),
                um_per_px: None,
                analysis: None,
            }],
        }
    }

    #[test]
    fn course_parses_and_rejects() {
        let c = Course::parse("6x11, 4x35").unwrap();
        assert_eq!(c.phases.len(), 2);
        assert_eq!(c.phases[1].sessions, 4);
        for bad in ["", "6", "0x11", "6x-1", "ax3"] {
            assert!(Course::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn gaps_over_the_phase_limit_are_flagged() {
        // Weekly series with one 14-day gap before the 4th session, then a
        // 30-day gap into phase 2 (allowed: 35).
        let dates = [
            ("2025-01-01", true),
            ("2025-01-08", true),
            ("2025-01-10", false),
            ("2025-01-15", true),
            ("2025-01-29", true),
            ("2025-02-28", true),
        ];
        let s: Vec<Session> = dates.iter().map(|(d, t)| session(d, *t)).collect();
        let order: Vec<&Session> = s.iter().collect();
        let flags = course_gaps(&order, &Course::parse("4x11,2x35").unwrap());
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].gap_days, 14);
        assert_eq!(flags[0].treatment_session, 4);
        assert_eq!(flags[0].phase, 1);
    }

    #[test]
    fn trend_of_a_straight_line() {
        let pts: Vec<(f64, f64, f64)> = (0..5)
            .map(|i| (f64::from(i), 100.0 + 3.0 * f64::from(i), 4.0))
            .collect();
        let t = trend(&pts).unwrap();
        assert!((t.value - 3.0).abs() < 1e-9);
        // var = 1 / Σ w (t - t̄)² = 4 / 10.
        assert!((t.ci95[1] - t.value - 1.96 * 0.4f64.sqrt()).abs() < 1e-9);
    }
}
