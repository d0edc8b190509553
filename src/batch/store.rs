//! The files of a batch folder: the rows being written, resuming them, finishing
//! them into `results.jsonl` + `results.csv`, and merging folders.
//!
//! A rows file is read as a sequence of *runs*: maximal stretches of lines whose
//! keys strictly increase. A fresh batch writes one run; each resume appends one
//! more (the photos it fills in, in order). Finishing and merging are the same
//! k-way merge of runs by key, streaming line by line: memory holds one line per
//! run, never the file.

use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Take, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::input::KeyDigest;
use super::row::{LineHead, Status};
use super::shard::Shard;
use super::Summary;
use crate::error::{Error, Result};

/// The finished rows, one JSON object per line, sorted by path.
pub const RESULTS_JSONL: &str = "results.jsonl";
/// The finished rows as a table, in the same order.
pub const RESULTS_CSV: &str = "results.csv";
/// Rows of a batch that has not finished (appended as photos are done).
pub const RESULTS_PART: &str = "results.jsonl.part";
/// What the batch was: its shard and a digest of its whole input list.
pub const BATCH_JSON: &str = "batch.json";
const JSONL_TMP: &str = "results.jsonl.tmp";
const CSV_TMP: &str = "results.csv.tmp";
const BATCH_TMP: &str = "batch.json.tmp";

/// The contents of `batch.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// Crate version that wrote the folder.
    pub version: String,
    /// The shard this folder holds (`0/1` for a whole batch or a merge).
    pub shard: Shard,
    /// Number of inputs of the whole batch (all shards).
    pub inputs_total: u64,
    /// FNV-1a 64 of the whole batch's sorted keys (hex): equal for all shards of
    /// one split.
    pub inputs_digest: String,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn digest_hex(d: u64) -> String {
    format!("{d:016x}")
}

pub(crate) fn read_info(dir: &Path) -> Result<Option<BatchInfo>> {
    let path = dir.join(BATCH_JSON);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// Writes `batch.json` through a temporary file and a rename.
pub(crate) fn write_info(dir: &Path, info: &BatchInfo) -> Result<()> {
    let tmp = dir.join(BATCH_TMP);
    let mut text = serde_json::to_vec_pretty(info).map_err(|source| Error::Json {
        path: tmp.clone(),
        source,
    })?;
    text.push(b'\n');
    write_synced(&tmp, &text)?;
    let path = dir.join(BATCH_JSON);
    std::fs::rename(&tmp, &path).map_err(io_err(&path))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Fails with [`Error::ResultsExist`] if `dir` holds any batch file.
pub(crate) fn ensure_empty(dir: &Path) -> Result<()> {
    for name in [RESULTS_JSONL, RESULTS_CSV, RESULTS_PART, BATCH_JSON] {
        let path = dir.join(name);
        if path.exists() {
            return Err(Error::ResultsExist { path });
        }
    }
    Ok(())
}

/// A stretch of lines with strictly increasing keys.
#[derive(Clone, Debug)]
struct Run {
    /// Byte range in the file.
    start: u64,
    end: u64,
    /// 1-based line number of its first line.
    first_line: u64,
}

/// What reading a rows file found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    runs: Vec<Run>,
    /// Number of complete, valid rows.
    pub(crate) rows: u64,
    /// Byte length of those rows.
    pub(crate) valid_len: u64,
    /// Union of the rows' metadata names.
    pub(crate) metadata: BTreeSet<String>,
    /// The rows' keys, when asked for.
    pub(crate) keys: HashSet<String>,
    /// The keys of error rows, when keys are asked for.
    pub(crate) error_keys: HashSet<String>,
    /// A last line that was cut off or unreadable, and dropped (its line number).
    pub(crate) dropped_line: Option<u64>,
}

/// Reads every row of `path`, checking that each line is a row and no key
/// repeats within a run. With `tolerate_tail`, a last line that is cut off (no
/// final newline) or unreadable, as a crash leaves it, is reported in
/// `dropped_line` instead of failing. With `collect_keys`, keys are kept and a key
/// repeated anywhere in the file is an error.
pub(crate) fn scan(path: &Path, tolerate_tail: bool, collect_keys: bool) -> Result<Scan> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut scan = Scan::default();
    let mut buf = Vec::new();
    let mut offset = 0u64;
    let mut line_no = 0u64;
    let mut previous: Option<String> = None;
    let corrupt = |line: u64, message: String| Error::CorruptResults {
        path: path.to_path_buf(),
        line,
        message,
    };
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err(path))? as u64;
        if n == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let is_last = !complete || reader.fill_buf().map_err(io_err(path))?.is_empty();
        let parsed = if complete {
            serde_json::from_slice::<LineHead>(&buf).map_err(|e| e.to_string())
        } else {
            Err("the line is cut off (no final newline)".to_string())
        };
        let head = match parsed {
            Ok(head) => head,
            Err(_) if is_last && tolerate_tail => {
                scan.dropped_line = Some(line_no);
                break;
            }
            Err(message) => return Err(corrupt(line_no, format!("not a result row: {message}"))),
        };
        match &previous {
            Some(p) if *p == head.path => {
                return Err(corrupt(
                    line_no,
                    format!("photo `{}` has two rows", head.path),
                ))
            }
            Some(p) if *p < head.path => {
                if let Some(run) = scan.runs.last_mut() {
                    run.end = offset + n;
                }
            }
            _ => scan.runs.push(Run {
                start: offset,
                end: offset + n,
                first_line: line_no,
            }),
        }
        if collect_keys {
            if !scan.keys.insert(head.path.clone()) {
                return Err(corrupt(
                    line_no,
                    format!("photo `{}` has two rows", head.path),
                ));
            }
            if head.status == Status::Error {
                scan.error_keys.insert(head.path.clone());
            }
        }
        scan.metadata.extend(head.metadata.into_keys());
        previous = Some(head.path);
        offset += n;
        scan.rows += 1;
        scan.valid_len = offset;
    }
    Ok(scan)
}

/// Cuts `path` to its first `len` bytes (a dropped last line).
pub(crate) fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    f.set_len(len).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Rewrites the rows file `path` without the rows of `keys`, through a temporary
/// file renamed over it.
pub(crate) fn remove_rows(path: &Path, keys: &HashSet<String>) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut writer = BufWriter::new(File::create(&tmp).map_err(io_err(&tmp))?);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_err(path))? == 0 {
            break;
        }
        line_no += 1;
        let head: LineHead = serde_json::from_slice(&line).map_err(|e| Error::CorruptResults {
            path: path.to_path_buf(),
            line: line_no,
            message: format!("not a result row (did the file change?): {e}"),
        })?;
        if !keys.contains(&head.path) {
            writer.write_all(&line).map_err(io_err(&tmp))?;
        }
    }
    let file = writer
        .into_inner()
        .map_err(|e| io_err(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// A run being read during a merge.
struct Cursor {
    /// Which of the merged files this run is in.
    source: usize,
    /// The file, for messages.
    file: PathBuf,
    reader: BufReader<Take<File>>,
    line_no: u64,
    head: Option<(LineHead, Vec<u8>)>,
}

impl Cursor {
    fn open(source: usize, file: &Path, run: &Run) -> Result<Cursor> {
        let mut f = File::open(file).map_err(io_err(file))?;
        f.seek(SeekFrom::Start(run.start)).map_err(io_err(file))?;
        let mut cursor = Cursor {
            source,
            file: file.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, f.take(run.end - run.start)),
            line_no: run.first_line - 1,
            head: None,
        };
        cursor.advance()?;
        Ok(cursor)
    }

    fn advance(&mut self) -> Result<()> {
        let mut line = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut line)
            .map_err(io_err(&self.file))?;
        if n == 0 {
            self.head = None;
            return Ok(());
        }
        self.line_no += 1;
        let head =
            serde_json::from_slice::<LineHead>(&line).map_err(|e| Error::CorruptResults {
                path: self.file.clone(),
                line: self.line_no,
                message: format!("not a result row (did the file change?): {e}"),
            })?;
        self.head = Some((head, line));
        Ok(())
    }

    fn key(&self) -> Option<&str> {
        self.head.as_ref().map(|(h, _)| h.path.as_str())
    }
}

/// Rows written by [`merge_into`], with their counts and digest.
struct Merged {
    summary: Summary,
    digest: u64,
}

/// Merges the runs of `sources` (files with their scans) by key into
/// `dir/results.jsonl` and `dir/results.csv`, through temporary files renamed at
/// the end, after `verify` accepted what was merged. A key found in two runs is
/// an error, and nothing is renamed.
fn merge_into(
    dir: &Path,
    sources: &[(PathBuf, Scan)],
    verify: impl FnOnce(&Merged) -> Result<()>,
) -> Result<Merged> {
    let metadata: BTreeSet<String> = sources
        .iter()
        .flat_map(|(_, s)| s.metadata.iter().cloned())
        .collect();
    let expected_rows: u64 = sources.iter().map(|(_, s)| s.rows).sum();
    let mut cursors = Vec::new();
    for (source, (file, scan)) in sources.iter().enumerate() {
        for run in &scan.runs {
            cursors.push(Cursor::open(source, file, run)?);
        }
    }
    let jsonl_tmp = dir.join(JSONL_TMP);
    let csv_tmp = dir.join(CSV_TMP);
    let mut jsonl = BufWriter::new(File::create(&jsonl_tmp).map_err(io_err(&jsonl_tmp))?);
    let csv_err = |source| Error::Csv {
        path: csv_tmp.clone(),
        source,
    };
    let mut csv = csv::Writer::from_writer(File::create(&csv_tmp).map_err(io_err(&csv_tmp))?);
    csv.write_record(LineHead::csv_header(&metadata))
        .map_err(csv_err)?;
    let mut summary = Summary::default();
    let mut digest = KeyDigest::default();
    loop {
        // k is small (one run per resume, one per shard): a linear scan for the
        // smallest key beats a heap's bookkeeping.
        let mut best: Option<usize> = None;
        for (i, c) in cursors.iter().enumerate() {
            let Some(key) = c.key() else { continue };
            match best.and_then(|b| cursors[b].key()) {
                Some(b) if key > b => {}
                Some(b) if key == b => {
                    let first = &cursors[best.unwrap_or(i)];
                    let message = if first.source == c.source {
                        format!(
                            "photo `{key}` has two rows in {} (lines {} and {})",
                            c.file.display(),
                            first.line_no,
                            c.line_no
                        )
                    } else {
                        format!(
                            "photo `{key}` is in both {} and {}; shards must not overlap",
                            first.file.display(),
                            c.file.display()
                        )
                    };
                    return Err(Error::Merge { message });
                }
                _ => best = Some(i),
            }
        }
        let Some(b) = best else { break };
        let cursor = &mut cursors[b];
        if let Some((head, line)) = &cursor.head {
            jsonl.write_all(line).map_err(io_err(&jsonl_tmp))?;
            csv.write_record(head.csv_record(&metadata))
                .map_err(csv_err)?;
            digest.add(&head.path);
            summary.rows += 1;
            match head.status {
                Status::Ok => summary.ok += 1,
                Status::Error => summary.failed += 1,
            }
        }
        cursor.advance()?;
    }
    if summary.rows != expected_rows {
        return Err(Error::CorruptResults {
            path: sources
                .first()
                .map_or_else(|| dir.to_path_buf(), |(p, _)| p.clone()),
            line: 0,
            message: format!(
                "{} rows were read but {expected_rows} were found before: the file changed meanwhile",
                summary.rows
            ),
        });
    }
    let jsonl = jsonl
        .into_inner()
        .map_err(|e| io_err(&jsonl_tmp)(e.into_error()))?;
    jsonl.sync_all().map_err(io_err(&jsonl_tmp))?;
    let csv = csv
        .into_inner()
        .map_err(|e| io_err(&csv_tmp)(e.into_error()))?;
    csv.sync_all().map_err(io_err(&csv_tmp))?;
    let merged = Merged {
        summary,
        digest: digest.finish(),
    };
    verify(&merged)?;
    // results.jsonl appears last: its presence means the batch is complete.
    let csv_path = dir.join(RESULTS_CSV);
    std::fs::rename(&csv_tmp, &csv_path).map_err(io_err(&csv_path))?;
    let jsonl_path = dir.join(RESULTS_JSONL);
    std::fs::rename(&jsonl_tmp, &jsonl_path).map_err(io_err(&jsonl_path))?;
    sync_dir(dir);
    Ok(merged)
}

/// Makes renames in `dir` durable where the platform allows it (best effort:
/// some platforms and file systems cannot open or sync a folder).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Turns `dir/results.jsonl.part` into the final `results.jsonl` and
/// `results.csv`, and removes it.
pub(crate) fn finish(dir: &Path) -> Result<Summary> {
    let part = dir.join(RESULTS_PART);
    let scan = scan(&part, false, false)?;
    let merged = merge_into(dir, &[(part.clone(), scan)], |_| Ok(()))?;
    std::fs::remove_file(&part).map_err(io_err(&part))?;
    sync_dir(dir);
    Ok(merged.summary)
}

/// Merges finished batch folders `dirs` into `out_dir`: one `results.jsonl` and
/// `results.csv` in key order, as if one batch had scored every photo.
///
/// # Errors
/// [`Error::ResultsExist`] when `out_dir` already holds results;
/// [`Error::Merge`] when a folder is not a finished batch, when shards of a split
/// are missing, repeated or from different input lists, when shards are mixed
/// with other batches, or when a photo is in two folders;
/// [`Error::CorruptResults`], [`Error::Io`], [`Error::Json`], [`Error::Csv`] for
/// unreadable files. On error no result file is left in `out_dir`.
pub fn merge(dirs: &[PathBuf], out_dir: &Path) -> Result<Summary> {
    let mut infos = Vec::new();
    for dir in dirs {
        if !dir.join(RESULTS_JSONL).is_file() {
            let message = if dir.join(RESULTS_PART).exists() {
                format!(
                    "{} did not finish ({RESULTS_PART} present): resume it first",
                    dir.display()
                )
            } else {
                format!("{} holds no {RESULTS_JSONL}", dir.display())
            };
            return Err(Error::Merge { message });
        }
        let info = read_info(dir)?.ok_or_else(|| Error::Merge {
            message: format!(
                "{} has no {BATCH_JSON}: not a trichometry batch folder",
                dir.display()
            ),
        })?;
        infos.push(info);
    }
    let split = check_split(dirs, &infos)?;

    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    ensure_empty(out_dir)?;
    let mut sources = Vec::new();
    for dir in dirs {
        let path = dir.join(RESULTS_JSONL);
        let scan = scan(&path, false, false)?;
        sources.push((path, scan));
    }
    let verify = |merged: &Merged| match &split {
        Some(info)
            if digest_hex(merged.digest) != info.inputs_digest
                || merged.summary.rows != info.inputs_total =>
        {
            Err(Error::Merge {
                message: format!(
                    "the shards hold {} rows, but the batch they were split from has {} \
                     inputs (or other ones): some shard did not score all of its photos",
                    merged.summary.rows, info.inputs_total
                ),
            })
        }
        _ => Ok(()),
    };
    let merged = match merge_into(out_dir, &sources, verify) {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(out_dir.join(JSONL_TMP));
            let _ = std::fs::remove_file(out_dir.join(CSV_TMP));
            return Err(e);
        }
    };
    write_info(
        out_dir,
        &BatchInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            shard: Shard::WHOLE,
            inputs_total: merged.summary.rows,
            inputs_digest: digest_hex(merged.digest),
        },
    )?;
    Ok(merged.summary)
}

/// When `infos` are shards of one split, checks that they are all there, once,
/// from the same input list, and returns the split's info. Whole batches (`0/1`)
/// may be merged freely; mixing them with shards is refused.
fn check_split(dirs: &[PathBuf], infos: &[BatchInfo]) -> Result<Option<BatchInfo>> {
    let sharded: Vec<usize> = (0..infos.len())
        .filter(|&i| infos[i].shard.count() > 1)
        .collect();
    let Some(&first) = sharded.first() else {
        return Ok(None);
    };
    if sharded.len() != infos.len() {
        let whole = (0..infos.len())
            .find(|i| !sharded.contains(i))
            .map_or_else(String::new, |i| dirs[i].display().to_string());
        return Err(Error::Merge {
            message: format!(
                "{whole} is a whole batch but {} is shard {}: merge the shards of a \
                 split on their own first",
                dirs[first].display(),
                infos[first].shard
            ),
        });
    }
    let reference = &infos[first];
    let count = reference.shard.count();
    let mut holder: Vec<Option<usize>> = vec![None; count as usize];
    for &i in &sharded {
        let info = &infos[i];
        if info.shard.count() != count || info.inputs_digest != reference.inputs_digest {
            return Err(Error::Merge {
                message: format!(
                    "{} (shard {}, {} inputs) and {} (shard {}, {} inputs) were split \
                     from different input lists: every shard must be given the same inputs",
                    dirs[first].display(),
                    reference.shard,
                    reference.inputs_total,
                    dirs[i].display(),
                    info.shard,
                    info.inputs_total
                ),
            });
        }
        let slot = &mut holder[info.shard.index() as usize];
        if let Some(j) = *slot {
            return Err(Error::Merge {
                message: format!(
                    "{} and {} are both shard {}",
                    dirs[j].display(),
                    dirs[i].display(),
                    info.shard
                ),
            });
        }
        *slot = Some(i);
    }
    let missing: Vec<String> = holder
        .iter()
        .enumerate()
        .filter(|(_, h)| h.is_none())
        .map(|(k, _)| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Merge {
            message: format!("shards missing: {}", missing.join(", ")),
        });
    }
    Ok(Some(reference.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str) -> String {
        format!(
            "{{\"path\":\"{path}\",\"status\":\"error\",\"error\":\"x\",\"um_per_px\":null,\"metadata\":{{}},\"analysis\":null}}\n"
        )
    }

    #[test]
    fn scan_finds_runs_and_drops_a_cut_off_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_PART);
        let mut text = [line("a"), line("c"), line("e"), line("b"), line("d")].concat();
        let full = text.len() as u64;
        text.push_str("{\"path\":\"f\",\"sta");
        std::fs::write(&path, &text).unwrap();
        assert!(matches!(
            scan(&path, false, false),
            Err(Error::CorruptResults { line: 6, .. })
        ));
        let s = scan(&path, true, true).unwrap();
        assert_eq!(s.rows, 5);
        assert_eq!(s.valid_len, full);
        assert_eq!(s.dropped_line, Some(6));
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.runs[1].first_line, 4);
        truncate(&path, s.valid_len).unwrap();
        let merged = merge_into(dir.path(), &[(path.clone(), s)], |_| Ok(())).unwrap();
        assert_eq!(merged.summary.rows, 5);
        let out = std::fs::read_to_string(dir.path().join(RESULTS_JSONL)).unwrap();
        assert_eq!(
            out,
            [line("a"), line("b"), line("c"), line("d"), line("e")].concat()
        );
    }

    #[test]
    fn a_bad_line_before_the_end_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_PART);
        std::fs::write(&path, [line("a"), "garbage\n".into(), line("c")].concat()).unwrap();
        assert!(matches!(
            scan(&path, true, true),
            Err(Error::CorruptResults { line: 2, .. })
        ));
        std::fs::write(&path, [line("a"), line("c"), line("a")].concat()).unwrap();
        assert!(matches!(
            scan(&path, true, true),
            Err(Error::CorruptResults { line: 3, .. })
        ));
        std::fs::write(&path, [line("a"), line("a")].concat()).unwrap();
        assert!(matches!(
            scan(&path, true, false),
            Err(Error::CorruptResults { line: 2, .. })
        ));
    }

    #[test]
    fn an_empty_file_scans_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_PART);
        std::fs::write(&path, "").unwrap();
        let s = scan(&path, false, true).unwrap();
        assert_eq!((s.rows, s.runs.len(), s.dropped_line), (0, 0, None));
        let merged = merge_into(dir.path(), &[(path, s)], |_| Ok(())).unwrap();
        assert_eq!(merged.summary.rows, 0);
        let csv = std::fs::read_to_string(dir.path().join(RESULTS_CSV)).unwrap();
        assert!(csv.starts_with("path,status,um_per_px,"));
        assert_eq!(csv.lines().count(), 1);
    }
}
