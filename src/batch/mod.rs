//! Batch scoring: many photos → one row each in `results.jsonl` and `results.csv`.
//!
//! [`discover`] finds photos in files and folders, or [`read_manifest`] reads
//! them with per-photo calibration and session fields from a CSV manifest;
//! [`plan`] sorts them and keeps one [`Shard`]; [`run`] scores the plan into an
//! output folder, in parallel; [`merge`] joins the folders of several shards.
//! `trichometry batch` and `trichometry merge` are thin wrappers over these.
//!
//! # Output folder
//!
//! | file | contents |
//! |---|---|
//! | `results.jsonl` | one [`Row`] per photo, as one JSON object per line: `path`, `status` (`ok`/`error`), `error`, `um_per_px`, `metadata`, `analysis` (the full [`Analysis`]) |
//! | `results.csv` | the same rows as a table ([`RESULT_COLUMNS`], with the metadata columns after `status`) |
//! | `batch.json` | the shard and a digest of the whole input list ([`BatchInfo`]) |
//! | `results.jsonl.part` | rows of a batch that has not finished |
//!
//! # Design
//!
//! * **Order.** Rows are written in the order of the photos' keys (the path as
//!   text, compared byte-wise), whatever the thread count: a batch's files are
//!   byte-identical with 1 or 16 threads, and the rows of shards merge back into
//!   exactly the rows of the unsharded batch.
//! * **Memory.** Photos are analysed in windows of [`PHOTOS_IN_FLIGHT_PER_THREAD`]
//!   × threads: a window is analysed in parallel, its rows are written in order,
//!   then the next window starts. At most one window of decoded photos and
//!   analyses is held, whatever the batch size. (Threads idle at the end of a
//!   window pick up the parallel stages inside `analyze` of the photos still
//!   running.) Decoding is bounded per photo by [`BatchConfig::max_decode_bytes`]
//!   and [`BatchConfig::max_side_px`], through [`load_photo`], which checks the
//!   size a file declares before allocating: a decompression bomb is an error
//!   row, not an out-of-memory kill.
//! * **Crash safety.** Rows are appended to `results.jsonl.part`, whole lines,
//!   flushed and synced after each window. Only when every photo has a row is the
//!   part file merged into `results.csv.tmp` and `results.jsonl.tmp`, which are
//!   synced and renamed to `results.csv` and then `results.jsonl`, and the part
//!   file removed, with a check that as many rows came out as went in. So
//!   `results.jsonl` exists only for a finished batch; a crashed one leaves
//!   `results.jsonl.part`.
//! * **Resume.** With [`BatchConfig::resume`], the rows already in
//!   `results.jsonl.part` (or in a finished `results.jsonl`, which is moved back to
//!   the part file) are read; a cut-off or unreadable *last* line, as a crash
//!   leaves it, is dropped and the file truncated before it; any other bad line
//!   is an error ([`Error::CorruptResults`]). Photos with a row (ok or error) are
//!   skipped, and the others are appended as a new sorted run; rows of photos no
//!   longer among the inputs are kept. Finishing merges
//!   the runs by key, so a resumed batch ends byte-identical to an uninterrupted
//!   one, with each photo exactly once. Resuming a folder with no results starts
//!   afresh, so job scripts can always pass it. With
//!   [`BatchConfig::retry_errors`], the error rows of the plan's photos are first
//!   removed (the part file is rewritten through a temporary file and a rename)
//!   so that those photos are scored again.
//! * **Shards.** [`Shard`] `I/N` keeps the photos at positions `p` of the sorted,
//!   de-duplicated input list with `p mod N = I`. Every shard records the length
//!   and an FNV-1a 64 digest of the whole list in `batch.json`; [`merge`] refuses
//!   shards of different lists, a shard missing or given twice, and a photo in two
//!   folders, and checks that the merged rows are exactly the input list.
//!
//! # Examples
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use trichometry::batch::{self, BatchConfig, Shard};
//!
//! let inputs = batch::discover(&[PathBuf::from("photos/")]);
//! let plan = batch::plan(inputs, Shard::WHOLE);
//! let config = BatchConfig { um_per_px: Some(6.0), ..BatchConfig::default() };
//! let summary = batch::run(&plan, Path::new("results/"), &config, &mut ())?;
//! println!("{} ok, {} failed", summary.ok, summary.failed);
//! # Ok::<(), trichometry::Error>(())
//! ```
//!
//! [`Analysis`]: crate::Analysis

mod input;
mod row;
mod shard;
mod store;

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use image::DynamicImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::{analyze, Analysis, Params, MIN_SIDE_PX};
use crate::calibration::Calibration;
use crate::error::{Error, Result};
use crate::photo::{load_photo, PhotoLimits};

pub use input::{
    discover, plan, read_manifest, Input, Plan, PATH_COLUMN, PHOTO_EXTENSIONS, UM_PER_PX_COLUMN,
};
pub use row::{Row, Status, RESULT_COLUMNS};
pub use shard::Shard;
pub use store::{merge, BatchInfo, BATCH_JSON, RESULTS_CSV, RESULTS_JSONL, RESULTS_PART};

use store::{digest_hex, io_err};

/// Photos analysed at once per rayon thread. Two keeps every thread busy while
/// the slowest photo of a window finishes, without holding more than two decoded
/// photos and analyses per thread. Not yet tuned on a many-core machine; on the
/// 2-core development machine, 8 photos of 320×240 px take 1.9 s as a batch with
/// one thread against 2.1 s as eight `trichometry analyze` runs: the windows,
/// row writing and final merge cost no measurable time next to the analysis.
pub const PHOTOS_IN_FLIGHT_PER_THREAD: usize = 2;

pub use crate::photo::{DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_SIDE_PX};

/// Settings of a batch. Plain data with defaults; checked by
/// [`BatchConfig::validate`] (which [`run`] calls).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchConfig {
    /// Calibration (µm/px) of every photo that has none of its own.
    pub um_per_px: Option<f64>,
    /// Analysis settings.
    pub params: Params,
    /// Continue the results in the output folder instead of refusing to touch them.
    pub resume: bool,
    /// When resuming, score again the photos of the plan whose rows are errors
    /// (their old rows are removed first).
    pub retry_errors: bool,
    /// Largest decoded size of a photo, and largest allocation its decoder may
    /// make (bytes); see [`PhotoLimits`].
    pub max_decode_bytes: u64,
    /// Largest width or height of a photo (px), checked before decoding pixels.
    pub max_side_px: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            um_per_px: None,
            params: Params::default(),
            resume: false,
            retry_errors: false,
            max_decode_bytes: DEFAULT_MAX_DECODE_BYTES,
            max_side_px: DEFAULT_MAX_SIDE_PX,
        }
    }
}

impl BatchConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidCalibration`] for a default calibration out of range;
    /// [`Error::InvalidParameter`] for bad `params`, a zero `max_decode_bytes`, or
    /// a `max_side_px` under [`MIN_SIDE_PX`].
    pub fn validate(&self) -> Result<()> {
        if let Some(um) = self.um_per_px {
            Calibration::new(um)?;
        }
        self.params.validate()?;
        if self.max_decode_bytes == 0 {
            return Err(Error::InvalidParameter {
                name: "max_decode_bytes",
                value: 0.0,
                expected: "at least 1",
            });
        }
        if self.max_side_px < MIN_SIDE_PX {
            return Err(Error::InvalidParameter {
                name: "max_side_px",
                value: f64::from(self.max_side_px),
                expected: "at least MIN_SIDE_PX (16)",
            });
        }
        Ok(())
    }

    /// The decoding limits of this configuration.
    pub fn limits(&self) -> PhotoLimits {
        PhotoLimits {
            max_decode_bytes: self.max_decode_bytes,
            max_side_px: self.max_side_px,
        }
    }
}

/// Counts of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Rows in the results.
    pub rows: u64,
    /// Rows of measured photos.
    pub ok: u64,
    /// Error rows.
    pub failed: u64,
    /// Photos skipped because a resumed run had already scored them.
    pub skipped: u64,
    /// Photos scored by this run.
    pub scored: u64,
}

/// What [`run`] is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// Photos of the plan.
    pub total: u64,
    /// Of these, already scored by an earlier run.
    pub skipped: u64,
    /// The line dropped from the earlier run's rows, when its last line was cut
    /// off by a crash.
    pub dropped_line: Option<u64>,
}

/// Hooks into [`run`], for progress displays and extra per-photo outputs.
/// `()` is the observer that does nothing.
pub trait Observer: Sync {
    /// Called once, before any photo is scored.
    fn started(&mut self, _start: &Start) {}

    /// Called from a worker thread after `input` was analysed, with its decoded
    /// photo (e.g. to draw an overlay). An `Err` message turns the photo's row
    /// into an error row.
    ///
    /// # Errors
    /// Whatever the observer could not do, as a message.
    fn analysed(
        &self,
        _input: &Input,
        _image: &DynamicImage,
        _analysis: &Analysis,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Called after each row is written, in row order.
    fn written(&mut self, _row: &Row) {}
}

impl Observer for () {}

/// Scores `plan` into `out_dir` (created if missing); see the [module
/// docs](self) for the files, order, memory bound and crash safety.
///
/// Every photo gets a row: a photo that cannot be read, decoded or analysed, or
/// has no calibration (neither its own nor `config.um_per_px`), gets an error
/// row and the batch goes on.
///
/// # Errors
/// Only what stops the whole batch: [`BatchConfig::validate`]'s errors;
/// [`Error::ResultsExist`] when `out_dir` holds results and `config.resume` is
/// off; [`Error::ResumeMismatch`] when resuming a folder of another shard, or a
/// shard whose input list changed; [`Error::CorruptResults`] for
/// earlier rows that cannot be trusted; [`Error::Io`] / [`Error::Json`] /
/// [`Error::Csv`] when the output files cannot be written.
pub fn run<O: Observer>(
    plan: &Plan,
    out_dir: &Path,
    config: &BatchConfig,
    observer: &mut O,
) -> Result<Summary> {
    config.validate()?;
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let info = BatchInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        shard: plan.shard,
        inputs_total: plan.inputs_total,
        inputs_digest: digest_hex(plan.inputs_digest),
    };
    let part = out_dir.join(RESULTS_PART);
    let (done, dropped_line) = if config.resume {
        prepare_resume(out_dir, &info, config.retry_errors.then_some(plan))?
    } else {
        store::ensure_empty(out_dir)?;
        (HashSet::new(), None)
    };
    store::write_info(out_dir, &info)?;

    let todo: Vec<&Input> = plan
        .inputs
        .iter()
        .filter(|i| !done.contains(&i.key()))
        .collect();
    let skipped = (plan.inputs.len() - todo.len()) as u64;
    observer.started(&Start {
        total: plan.inputs.len() as u64,
        skipped,
        dropped_line,
    });

    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&part)
        .map_err(io_err(&part))?;
    let mut writer = BufWriter::with_capacity(1 << 16, file);
    let window = PHOTOS_IN_FLIGHT_PER_THREAD * rayon::current_num_threads().max(1);
    let mut scored = 0u64;
    for chunk in todo.chunks(window) {
        let shared: &O = observer;
        let rows: Vec<Row> = chunk
            .par_iter()
            .map(|input| score(input, config, shared))
            .collect();
        for row in &rows {
            let mut line = serde_json::to_vec(row).map_err(|source| Error::Json {
                path: part.clone(),
                source,
            })?;
            line.push(b'\n');
            writer.write_all(&line).map_err(io_err(&part))?;
            observer.written(row);
            scored += 1;
        }
        writer.flush().map_err(io_err(&part))?;
        writer.get_ref().sync_data().map_err(io_err(&part))?;
    }
    drop(writer);
    let mut summary = store::finish(out_dir)?;
    summary.skipped = skipped;
    summary.scored = scored;
    Ok(summary)
}

/// Gets `out_dir` ready to continue: returns the keys already scored and the
/// line dropped from a crashed run. With `retry` (the plan), the error rows of
/// the plan's photos are removed first.
fn prepare_resume(
    out_dir: &Path,
    info: &BatchInfo,
    retry: Option<&Plan>,
) -> Result<(HashSet<String>, Option<u64>)> {
    let part = out_dir.join(RESULTS_PART);
    let finished = out_dir.join(RESULTS_JSONL);
    if let Some(old) = store::read_info(out_dir)? {
        if old.shard != info.shard {
            return Err(Error::ResumeMismatch {
                path: out_dir.join(BATCH_JSON),
                message: format!(
                    "the folder holds shard {}, not shard {}",
                    old.shard, info.shard
                ),
            });
        }
        if info.shard.count() > 1 && old.inputs_digest != info.inputs_digest {
            return Err(Error::ResumeMismatch {
                path: out_dir.join(BATCH_JSON),
                message: format!(
                    "the input list changed since this shard started ({} inputs then, {} now): \
                     the shards of a split must all be given the same inputs",
                    old.inputs_total, info.inputs_total
                ),
            });
        }
    }
    match (part.exists(), finished.exists()) {
        (true, true) => {
            return Err(Error::CorruptResults {
                path: part,
                line: 0,
                message: format!(
                    "both {RESULTS_PART} and {RESULTS_JSONL} exist: remove the one not wanted"
                ),
            })
        }
        (false, true) => std::fs::rename(&finished, &part).map_err(io_err(&part))?,
        (false, false) => return Ok((HashSet::new(), None)),
        (true, false) => {}
    }
    // The table is regenerated at the end; an old one must not look current.
    let csv = out_dir.join(RESULTS_CSV);
    if csv.exists() {
        std::fs::remove_file(&csv).map_err(io_err(&csv))?;
    }
    let mut scan = store::scan(&part, true, true)?;
    if scan.dropped_line.is_some() {
        store::truncate(&part, scan.valid_len)?;
    }
    if let Some(plan) = retry {
        let redo: HashSet<String> = plan
            .inputs
            .iter()
            .map(Input::key)
            .filter(|k| scan.error_keys.contains(k))
            .collect();
        if !redo.is_empty() {
            store::remove_rows(&part, &redo)?;
            scan.keys.retain(|k| !redo.contains(k));
        }
    }
    Ok((scan.keys, scan.dropped_line))
}

/// Scores one input into its row.
fn score<O: Observer>(input: &Input, config: &BatchConfig, observer: &O) -> Row {
    if let Some(problem) = &input.problem {
        return Row::error(input, None, problem.clone());
    }
    let Some(um) = input.um_per_px.or(config.um_per_px) else {
        let e = Error::MissingCalibration {
            path: input.path.clone(),
        };
        return Row::error(
            input,
            None,
            format!(
                "{} (a `{UM_PER_PX_COLUMN}` in the manifest, or the batch's default, \
                 --um-per-px)",
                row::photo_error(&e, &input.path)
            ),
        );
    };
    let failed = |e: &Error| Row::error(input, Some(um), row::photo_error(e, &input.path));
    let calibration = match Calibration::new(um) {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    let image = match load_photo(&input.path, config.limits()) {
        Ok(i) => i,
        Err(e) => return failed(&e),
    };
    let analysis = match analyze(&image, &calibration, &config.params) {
        Ok(a) => a,
        Err(e) => return failed(&e),
    };
    if let Err(message) = observer.analysed(input, &image, &analysis) {
        return Row::error(input, Some(um), message);
    }
    Row::ok(input, analysis)
}

/// Reads the rows of a `results.jsonl`, one at a time.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened; each item is
/// [`Error::CorruptResults`] for a line that is not a row, or [`Error::Io`].
pub fn read_rows(path: &Path) -> Result<impl Iterator<Item = Result<Row>>> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let path = path.to_path_buf();
    Ok(BufReader::new(file)
        .lines()
        .enumerate()
        .map(move |(i, line)| {
            let line = line.map_err(io_err(&path))?;
            serde_json::from_str(&line).map_err(|e| Error::CorruptResults {
                path: path.clone(),
                line: i as u64 + 1,
                message: format!("not a result row: {e}"),
            })
        }))
}

/// A relative path that mirrors `photo` under an output folder, for per-photo
/// outputs such as overlays: `photos/a/1.png` → `photos/a/1.png`, with root and
/// drive prefixes dropped (`/data/1.png` → `data/1.png`) and `..` written `__`,
/// so that the result never leaves the folder it is joined to.
pub fn mirrored(photo: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in photo.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => out.push("__"),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Input>();
        assert_send_sync::<Plan>();
        assert_send_sync::<Shard>();
        assert_send_sync::<Row>();
        assert_send_sync::<BatchConfig>();
        assert_send_sync::<BatchInfo>();
        assert_send_sync::<Summary>();
    }

    #[test]
    fn config_validation_rejects_each_bad_field() {
        assert!(BatchConfig::default().validate().is_ok());
        let bad = [
            BatchConfig {
                um_per_px: Some(0.0),
                ..BatchConfig::default()
            },
            BatchConfig {
                max_decode_bytes: 0,
                ..BatchConfig::default()
            },
            BatchConfig {
                max_side_px: 15,
                ..BatchConfig::default()
            },
            BatchConfig {
                params: Params {
                    snr_high: -1.0,
                    ..Params::default()
                },
                ..BatchConfig::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }

    #[test]
    fn mirrored_paths_stay_inside() {
        assert_eq!(mirrored(Path::new("a/b.png")), PathBuf::from("a/b.png"));
        assert_eq!(
            mirrored(Path::new("/data/b.png")),
            PathBuf::from("data/b.png")
        );
        assert_eq!(
            mirrored(Path::new("../x/./b.png")),
            PathBuf::from("__/x/b.png")
        );
    }
}
