//! One result row per photo: the `results.jsonl` object and its `results.csv` projection.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::input::Input;
use crate::analysis::Analysis;

/// Whether a photo was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured: the row holds an [`Analysis`].
    Ok,
    /// Not measured: the row holds an error message.
    Error,
}

/// The result of one photo: one line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The photo's key ([`Input::key`]).
    pub path: String,
    /// Measured or not.
    pub status: Status,
    /// Why the photo was not measured (the whole error chain), for `Error` rows.
    pub error: Option<String>,
    /// The calibration used (µm/px), or the one that was rejected; `None` when the
    /// photo had none.
    pub um_per_px: Option<f64>,
    /// The manifest's metadata of this photo.
    pub metadata: BTreeMap<String, String>,
    /// The full result, for `Ok` rows.
    pub analysis: Option<Analysis>,
}

impl Row {
    /// The row of a measured photo.
    pub fn ok(input: &Input, analysis: Analysis) -> Row {
        Row {
            path: input.key(),
            status: Status::Ok,
            error: None,
            um_per_px: Some(analysis.um_per_px),
            metadata: input.metadata.clone(),
            analysis: Some(analysis),
        }
    }

    /// The row of a photo that could not be measured.
    pub fn error(input: &Input, um_per_px: Option<f64>, message: String) -> Row {
        Row {
            path: input.key(),
            status: Status::Error,
            error: Some(message),
            um_per_px: um_per_px.or(input.um_per_px),
            metadata: input.metadata.clone(),
            analysis: None,
        }
    }
}

/// `err` and its whole `source()` chain, joined by `: `.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        // Some errors (image's) repeat their source in their own message.
        let text = s.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

/// The message of an error row: `err`'s chain, without the photo's path in front
/// (the row already names it).
pub(crate) fn photo_error(err: &dyn std::error::Error, photo: &std::path::Path) -> String {
    let message = error_chain(err);
    let prefix = format!("{}: ", photo.display());
    match message.strip_prefix(&prefix) {
        Some(rest) => rest.to_string(),
        None => message,
    }
}

/// Columns of `results.csv`, in order. The manifest's metadata columns (sorted by
/// name) come between `status` and `um_per_px`. Figures are those of
/// [`Analysis`]; `strands` is the number of strands traced (counted or not);
/// a cell is empty where the figure does not exist (error rows, no blur estimate).
/// `reliable`, `edge_blur_sigma_um` and `quality_issues` (the issue kinds, joined
/// by `;`) are the photo's [`Quality`](crate::quality::Quality) verdict.
/// `field_x_px` … `field_height_px` are the rectangle analysed
/// ([`Analysis::field`](crate::Analysis::field)): the whole photo unless bars
/// burned in along its edges were left out.
pub const RESULT_COLUMNS: &[&str] = &[
    "path",
    "status",
    "um_per_px",
    "width_px",
    "height_px",
    "field_area_cm2",
    "field_x_px",
    "field_y_px",
    "field_width_px",
    "field_height_px",
    "hair_count",
    "density_per_cm2",
    "density_ci95_low_per_cm2",
    "density_ci95_high_per_cm2",
    "vellus_density_per_cm2",
    "intermediate_density_per_cm2",
    "terminal_density_per_cm2",
    "mean_width_um",
    "median_width_um",
    "width_cv",
    "vellus_fraction",
    "intermediate_fraction",
    "terminal_fraction",
    "cumulative_thickness_mm_per_cm2",
    "follicular_units",
    "follicular_unit_density_per_cm2",
    "hairs_per_follicular_unit",
    "blur_sigma_um",
    "reliable",
    "edge_blur_sigma_um",
    "quality_issues",
    "strands",
    "error",
];

/// What `results.csv` and the row bookkeeping need from a `results.jsonl` line.
///
/// Deliberately lenient (every figure optional, unknown fields ignored, strands
/// only counted) so that rows stay readable if the [`Analysis`] contract grows,
/// and cheap to parse when resuming or merging large files.
#[derive(Debug, Deserialize)]
pub(crate) struct LineHead {
    pub(crate) path: String,
    pub(crate) status: Status,
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) um_per_px: Option<f64>,
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) analysis: Option<AnalysisHead>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnalysisHead {
    image: Option<Dims>,
    field_area_cm2: Option<f64>,
    field_px: Option<Field>,
    hair_count: Option<f64>,
    density_per_cm2: Option<f64>,
    density_ci95_per_cm2: Option<[Option<f64>; 2]>,
    class_density_per_cm2: Option<Classes>,
    mean_width_um: Option<f64>,
    median_width_um: Option<f64>,
    width_cv: Option<f64>,
    vellus_fraction: Option<f64>,
    intermediate_fraction: Option<f64>,
    terminal_fraction: Option<f64>,
    cumulative_thickness_mm_per_cm2: Option<f64>,
    follicular_units: Option<u64>,
    follicular_unit_density_per_cm2: Option<f64>,
    hairs_per_follicular_unit: Option<f64>,
    blur_sigma_um: Option<f64>,
    quality: Option<QualityHead>,
    #[serde(deserialize_with = "count_elements")]
    strands: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QualityHead {
    reliable: Option<bool>,
    edge_blur_sigma_um: Option<f64>,
    issues: Option<Vec<IssueHead>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IssueHead {
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Dims {
    width: Option<u32>,
    height: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Field {
    x: Option<u32>,
    y: Option<u32>,
    width: Option<u32>,
    height: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Classes {
    vellus: Option<f64>,
    intermediate: Option<f64>,
    terminal: Option<f64>,
}

/// Counts the elements of a sequence without building them.
fn count_elements<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(Some(n))
        }
        fn visit_unit<E>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Count)
}

fn cell<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

impl LineHead {
    /// The CSV header: fixed columns with `metadata` inserted after `status`.
    pub(crate) fn csv_header(metadata: &BTreeSet<String>) -> Vec<String> {
        let mut header: Vec<String> = RESULT_COLUMNS[..2].iter().map(|s| s.to_string()).collect();
        header.extend(metadata.iter().cloned());
        header.extend(RESULT_COLUMNS[2..].iter().map(|s| s.to_string()));
        header
    }

    /// This row's CSV record, matching [`LineHead::csv_header`] of `metadata`.
    pub(crate) fn csv_record(&self, metadata: &BTreeSet<String>) -> Vec<String> {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Error => "error",
        };
        let mut r = vec![self.path.clone(), status.to_string()];
        r.extend(
            metadata
                .iter()
                .map(|k| self.metadata.get(k).cloned().unwrap_or_default()),
        );
        let empty = AnalysisHead::default();
        let a = self.analysis.as_ref().unwrap_or(&empty);
        let dims = a.image.as_ref();
        let ci = a.density_ci95_per_cm2.unwrap_or([None, None]);
        let classes = a.class_density_per_cm2.as_ref();
        let quality = a.quality.as_ref();
        // No `field_px` (older results, or none left out): the whole photo.
        let field = match (&a.field_px, dims) {
            (Some(f), _) => [f.x, f.y, f.width, f.height],
            (None, Some(d)) => [Some(0), Some(0), d.width, d.height],
            (None, None) => [None; 4],
        };
        r.extend([
            cell(self.um_per_px),
            cell(dims.and_then(|d| d.width)),
            cell(dims.and_then(|d| d.height)),
            cell(a.field_area_cm2),
            cell(field[0]),
            cell(field[1]),
            cell(field[2]),
            cell(field[3]),
            cell(a.hair_count),
            cell(a.density_per_cm2),
            cell(ci[0]),
            cell(ci[1]),
            cell(classes.and_then(|c| c.vellus)),
            cell(classes.and_then(|c| c.intermediate)),
            cell(classes.and_then(|c| c.terminal)),
            cell(a.mean_width_um),
            cell(a.median_width_um),
            cell(a.width_cv),
            cell(a.vellus_fraction),
            cell(a.intermediate_fraction),
            cell(a.terminal_fraction),
            cell(a.cumulative_thickness_mm_per_cm2),
            cell(a.follicular_units),
            cell(a.follicular_unit_density_per_cm2),
            cell(a.hairs_per_follicular_unit),
            cell(a.blur_sigma_um),
            cell(quality.and_then(|q| q.reliable)),
            cell(quality.and_then(|q| q.edge_blur_sigma_um)),
            quality
                .and_then(|q| q.issues.as_ref())
                .map(|issues| {
                    issues
                        .iter()
                        .filter_map(|i| i.kind.as_deref())
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default(),
            cell(a.strands),
            self.error.clone().unwrap_or_default(),
        ]);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_line_up() {
        let line = r#"{"path":"a.png","status":"ok","error":null,"um_per_px":6.0,
            "metadata":{"zone":"vertex","patient":"P1"},
            "analysis":{"image":{"width":200,"height":160},"hair_count":2.5,
            "density_ci95_per_cm2":[1.0,null],"blur_sigma_um":null,"follicular_units":2,
            "quality":{"reliable":false,"edge_blur_sigma_um":12.5,"issues":[{"kind":"blurred","blur_sigma_um":12.5,"max_um":10.0},{"kind":"low_contrast"}]},
            "strands":[{"id":0},{"id":1},{"id":2}],"future_field":[1,2]}}"#;
        let head: LineHead = serde_json::from_str(line).unwrap();
        let meta: BTreeSet<String> = ["patient", "zone", "date"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let header = LineHead::csv_header(&meta);
        let record = head.csv_record(&meta);
        assert_eq!(header.len(), record.len());
        let get = |name: &str| {
            let i = header.iter().position(|h| h == name).unwrap();
            record[i].as_str()
        };
        assert_eq!(&header[..5], ["path", "status", "date", "patient", "zone"]);
        assert_eq!(get("patient"), "P1");
        assert_eq!(get("date"), "");
        assert_eq!(get("um_per_px"), "6");
        assert_eq!(get("width_px"), "200");
        // No field given: the whole photo.
        assert_eq!(get("field_x_px"), "0");
        assert_eq!(get("field_height_px"), "160");
        assert_eq!(get("hair_count"), "2.5");
        assert_eq!(get("density_ci95_low_per_cm2"), "1");
        assert_eq!(get("density_ci95_high_per_cm2"), "");
        assert_eq!(get("blur_sigma_um"), "");
        assert_eq!(get("reliable"), "false");
        assert_eq!(get("edge_blur_sigma_um"), "12.5");
        assert_eq!(get("quality_issues"), "blurred;low_contrast");
        assert_eq!(get("strands"), "3");
        assert_eq!(get("error"), "");
    }

    #[test]
    fn a_field_left_by_burned_in_bars_has_its_columns() {
        let line = r#"{"path":"c.png","status":"ok","error":null,"um_per_px":3.0,"metadata":{},
            "analysis":{"image":{"width":1280,"height":1024},
            "field_px":{"x":0,"y":56,"width":1280,"height":968},"strands":[]}}"#;
        let head: LineHead = serde_json::from_str(line).unwrap();
        let header = LineHead::csv_header(&BTreeSet::new());
        let record = head.csv_record(&BTreeSet::new());
        let get = |name: &str| {
            let i = header.iter().position(|h| h == name).unwrap();
            record[i].as_str()
        };
        let field = [
            "field_x_px",
            "field_y_px",
            "field_width_px",
            "field_height_px",
        ]
        .map(get);
        assert_eq!(field, ["0", "56", "1280", "968"]);
        assert_eq!(get("height_px"), "1024");
    }

    #[test]
    fn error_rows_have_empty_figures() {
        let line = r#"{"path":"b.png","status":"error","error":"broken","um_per_px":null,"metadata":{},"analysis":null}"#;
        let head: LineHead = serde_json::from_str(line).unwrap();
        let record = head.csv_record(&BTreeSet::new());
        assert_eq!(record.len(), RESULT_COLUMNS.len());
        assert_eq!(record[1], "error");
        assert!(record[2..record.len() - 1].iter().all(String::is_empty));
        assert_eq!(record[record.len() - 1], "broken");
    }
}
