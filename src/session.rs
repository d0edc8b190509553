//! Sessions: dated photos of one scalp zone of one patient, with their analyses.
//!
//! A [`Session`] is what a clinic records at one visit: patient, zone, date,
//! calibration, the treatment given (if any) and the photo(s) of the zone. Its
//! figures pool its photos (counts and areas add; see [`Session::summary`]).
//!
//! Sessions are plain JSON (`serde`); [`Session::load`] validates what it reads
//! and returns typed errors ([`Error::Io`], [`Error::Json`], [`Error::Session`]),
//! never panics.
//!
//! ```json
//! {
//!   "patient_id": "P-0042",
//!   "zone": "vertex",
//!   "date": "2025-03-14",
//!   "um_per_px": 6.0,
//!   "treatment": "mesotherapy",
//!   "notes": "session 3 of the initial series",
//!   "photos": [{ "path": "vertex-2025-03-14.png" }]
//! }
//! ```
//!
//! A photo's `path` is relative to the session file; a photo may carry its own
//! `um_per_px` and its saved `analysis` (then the photo file itself is only needed
//! for the image refinement of registration and the look-back of
//! [`compare`](crate::compare())).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::calibration::Calibration;
use crate::classes::ThicknessClass;
use crate::error::{Error, Result};
use crate::stats::{median, poisson_ci95};

/// The scalp zone a session photographs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Zone {
    /// Crown.
    Vertex,
    /// Front of the scalp (behind the hairline).
    Frontal,
    /// Temples.
    Temporal,
    /// Back of the head: often the untreated reference.
    Occipital,
    /// Anything else, as written.
    Other(String),
}

impl From<String> for Zone {
    fn from(s: String) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "vertex" => Zone::Vertex,
            "frontal" => Zone::Frontal,
            "temporal" => Zone::Temporal,
            "occipital" => Zone::Occipital,
            _ => Zone::Other(s),
        }
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> Self {
        z.to_string()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Vertex => f.write_str("vertex"),
            Zone::Frontal => f.write_str("frontal"),
            Zone::Temporal => f.write_str("temporal"),
            Zone::Occipital => f.write_str("occipital"),
            Zone::Other(s) => f.write_str(s),
        }
    }
}

/// A calendar date (proleptic Gregorian), written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    /// [`Error::Session`] (with an empty path) naming the text and what was expected.
    pub fn parse(s: &str) -> Result<Date> {
        let bad = || Error::Session {
            path: PathBuf::new(),
            message: format!("date `{s}` is not a calendar date written YYYY-MM-DD"),
        };
        let mut it = s.trim().splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let day: u8 = d.parse().map_err(|_| bad())?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if day == 0 || day > days_in {
            return Err(bad());
        }
        Ok(Date { year, month, day })
    }

    /// Days since 1970-01-01.
    ///
    /// # References
    /// * H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
    ///   `days_from_civil` (2013).
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(&self, later: &Date) -> i64 {
        later.days_since_epoch() - self.days_since_epoch()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl TryFrom<String> for Date {
    type Error = Error;
    fn try_from(s: String) -> Result<Date> {
        Date::parse(&s)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> Self {
        d.to_string()
    }
}

/// One photo of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionPhoto {
    /// The photo file, relative to the session file (or absolute).
    pub path: PathBuf,
    /// This photo's calibration, when it differs from the session's (µm/px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub um_per_px: Option<f64>,
    /// Its analysis, when already made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
}

/// One visit: dated photos of one zone of one patient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Patient identifier (a code, not a name).
    pub patient_id: String,
    /// The zone photographed.
    pub zone: Zone,
    /// Visit date.
    pub date: Date,
    /// Calibration of the session's photos (µm/px).
    pub um_per_px: f64,
    /// Treatment given at this visit (e.g. "mesotherapy", "PRP"); `None`: none given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<String>,
    /// Free notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The photo(s) of the zone.
    pub photos: Vec<SessionPhoto>,
}

/// Pooled figures of a session (all its analysed photos together).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Photos pooled.
    pub photos: usize,
    /// Total field area (cm²).
    pub area_cm2: f64,
    /// Hairs emerging in the pooled fields, estimated from their counting
    /// frames (see [`Analysis::hair_count`]).
    pub hair_count: f64,
    /// Hairs per cm².
    pub density_per_cm2: f64,
    /// Exact Poisson 95 % interval of the density (hairs/cm²).
    pub density_ci95_per_cm2: [f64; 2],
    /// Terminal hairs per cm².
    pub terminal_density_per_cm2: f64,
    /// Share of vellus hairs.
    pub vellus_fraction: f64,
    /// Mean shaft width (µm).
    pub mean_width_um: f64,
    /// 95 % interval of the mean width (µm; normal, from the spread of widths).
    pub mean_width_ci95_um: [f64; 2],
    /// Median shaft width (µm).
    pub median_width_um: f64,
    /// Sum of shaft widths per cm² (mm/cm²).
    pub cumulative_thickness_mm_per_cm2: f64,
}

impl Session {
    /// Reads and validates a session file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::Json`] when it is not a
    /// session (missing field, wrong type, bad date), [`Error::Session`] when its
    /// contents are unusable (see [`Session::validate`]).
    pub fn load(path: &Path) -> Result<Session> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut s: Session = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        s.validate().map_err(|e| match e {
            Error::Session { message, .. } => Error::Session {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        // Photo paths are relative to the session file.
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        for p in &mut s.photos {
            if p.path.is_relative() {
                p.path = dir.join(&p.path);
            }
        }
        Ok(s)
    }

    /// Writes the session as pretty JSON.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Json`] with the path.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Checks the contents: a patient id, at least one photo, valid calibrations,
    /// analyses made at the calibration they claim.
    ///
    /// # Errors
    /// [`Error::Session`] (empty path) saying what is wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Session {
                path: PathBuf::new(),
                message,
            })
        };
        if self.patient_id.trim().is_empty() {
            return bad("`patient_id` is empty".into());
        }
        if self.photos.is_empty() {
            return bad("`photos` is empty: a session holds at least one photo".into());
        }
        if Calibration::new(self.um_per_px).is_err() {
            return bad(format!(
                "`um_per_px` = {} is outside the supported range",
                self.um_per_px
            ));
        }
        for (i, p) in self.photos.iter().enumerate() {
            let um = p.um_per_px.unwrap_or(self.um_per_px);
            if Calibration::new(um).is_err() {
                return bad(format!(
                    "photo {}: `um_per_px` = {um} is outside the supported range",
                    i + 1
                ));
            }
            if let Some(a) = &p.analysis {
                if (a.um_per_px - um).abs() > 1e-9 * um {
                    return bad(format!(
                        "photo {}: its analysis was made at {} µm/px, the photo is \
                         calibrated at {um} µm/px",
                        i + 1,
                        a.um_per_px
                    ));
                }
            }
        }
        Ok(())
    }

    /// The calibration of photo `i`.
    ///
    /// # Errors
    /// [`Error::InvalidCalibration`] when it is out of range;
    /// [`Error::Session`] when there is no photo `i`.
    pub fn calibration(&self, i: usize) -> Result<Calibration> {
        let p = self.photos.get(i).ok_or_else(|| Error::Session {
            path: PathBuf::new(),
            message: format!("no photo {} (the session has {})", i + 1, self.photos.len()),
        })?;
        Calibration::new(p.um_per_px.unwrap_or(self.um_per_px))
    }

    /// Pooled figures of the analysed photos: counts, widths and areas add.
    /// `None` when no photo has an analysis.
    ///
    /// # Units
    /// Areas in cm², densities in hairs/cm², widths in µm, cumulative thickness
    /// in mm/cm².
    pub fn summary(&self) -> Option<SessionSummary> {
        let analyses: Vec<&Analysis> = self
            .photos
            .iter()
            .filter_map(|p| p.analysis.as_ref())
            .collect();
        pooled_summary(&analyses)
    }
}

/// Pooled figures of several analyses of one zone (counts and areas add).
/// `None` when `analyses` is empty or their area is zero.
///
/// # Units
/// As [`SessionSummary`].
pub fn pooled_summary(analyses: &[&Analysis]) -> Option<SessionSummary> {
    let area: f64 = analyses.iter().map(|a| a.field_area_cm2).sum();
    // The hairs of the counting frames (each field less its guard band), and
    // the frames' area: densities are theirs.
    let frame_area: f64 = analyses.iter().map(|a| a.count_frame_area_cm2()).sum();
    if analyses.is_empty() || area <= 0.0 || frame_area <= 0.0 {
        return None;
    }
    let mut n = 0.0;
    let mut terminal = 0.0;
    let mut vellus = 0.0;
    let mut widths: Vec<(f64, f64)> = Vec::new();
    for a in analyses {
        for s in a.strands.iter() {
            let k = s.hairs_in_frame();
            if k <= 0.0 {
                continue;
            }
            n += k;
            match s.class {
                ThicknessClass::Terminal => terminal += k,
                ThicknessClass::Vellus => vellus += k,
                ThicknessClass::Intermediate => {}
            }
            widths.push((s.width_um, k));
        }
    }
    let ci = poisson_ci95(n);
    let (mean, sd) = if n > 0.0 {
        let m = widths.iter().map(|(w, k)| w * k).sum::<f64>() / n;
        let v = widths.iter().map(|(w, k)| k * (w - m).powi(2)).sum::<f64>() / n.max(1.0);
        (m, v.sqrt())
    } else {
        (0.0, 0.0)
    };
    let half = if n > 1.0 { 1.96 * sd / n.sqrt() } else { 0.0 };
    let mut ws: Vec<f64> = widths.iter().map(|(w, _)| *w).collect();
    Some(SessionSummary {
        photos: analyses.len(),
        area_cm2: area,
        hair_count: n * area / frame_area,
        density_per_cm2: n / frame_area,
        density_ci95_per_cm2: [ci[0] / frame_area, ci[1] / frame_area],
        terminal_density_per_cm2: terminal / frame_area,
        vellus_fraction: if n > 0.0 { vellus / n } else { 0.0 },
        mean_width_um: mean,
        mean_width_ci95_um: [mean - half, mean + half],
        median_width_um: median(&mut ws).unwrap_or(0.0),
        cumulative_thickness_mm_per_cm2: widths.iter().map(|(w, k)| w * k).sum::<f64>()
            / 1000.0
            / frame_area,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_validate_and_count_days() {
        let a = Date::parse("2024-02-28").unwrap();
        let b = Date::parse("2024-03-01").unwrap();
        assert_eq!(a.days_until(&b), 2); // 2024 is a leap year
        assert_eq!(Date::parse("1970-01-01").unwrap().days_since_epoch(), 0);
        assert_eq!(
            Date::parse("2000-03-01").unwrap().days_since_epoch(),
            11_017
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "",
            "2024-04-31",
        ] {
            assert!(
                matches!(Date::parse(bad), Err(Error::Session { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn zones_round_trip() {
        for (s, z) in [
            ("vertex", Zone::Vertex),
            ("Frontal", Zone::Frontal),
            ("left parietal", Zone::Other("left parietal".into())),
        ] {
            assert_eq!(Zone::from(s.to_string()), z);
        }
        let j = serde_json::to_string(&Zone::Occipital).unwrap();
        assert_eq!(j, "\"occipital\"");
    }

    #[test]
    fn session_json_errors_are_typed() {
        let ok = r#"{"patient_id":"P1","zone":"vertex","date":"2025-01-02","um_per_px":6,
                     "photos":[{"path":"a.png"}]}"#;
        let s: Session = serde_json::from_str(ok).unwrap();
        s.validate().unwrap();
        assert_eq!(s.date.to_string(), "2025-01-02");
        let bad_date = ok.replace("2025-01-02", "2025-02-30");
        assert!(serde_json::from_str::<Session>(&bad_date).is_err());
        let no_photo = ok.replace(r#"[{"path":"a.png"}]"#, "[]");
        let s: Session = serde_json::from_str(&no_photo).unwrap();
        assert!(matches!(s.validate(), Err(Error::Session { .. })));
        let bad_cal = ok.replace("\"um_per_px\":6", "\"um_per_px\":0");
        let s: Session = serde_json::from_str(&bad_cal).unwrap();
        assert!(matches!(s.validate(), Err(Error::Session { .. })));
    }
}
