//! The photos of a batch: found in files and folders, or listed in a manifest.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::row::RESULT_COLUMNS;
use super::shard::Shard;
use crate::error::{Error, Result};

/// File extensions taken as photos when a folder is searched (compared without case).
/// A file named explicitly is taken whatever its extension.
pub const PHOTO_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// One photo of a batch, with its calibration and session fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// The photo. Relative paths are relative to the working directory; the path,
    /// as text, is the photo's key in the results ([`Input::key`]).
    pub path: PathBuf,
    /// Calibration of this photo (µm/px), when known; otherwise the batch's
    /// default applies.
    pub um_per_px: Option<f64>,
    /// Session fields and any other manifest columns, verbatim.
    pub metadata: BTreeMap<String, String>,
    /// A problem found before the photo was opened (an unreadable folder entry, a
    /// pattern that matched nothing, a manifest cell that is not a number): the
    /// photo gets an error row with this message.
    pub problem: Option<String>,
}

impl Input {
    /// A photo with no calibration or metadata of its own.
    pub fn new(path: impl Into<PathBuf>) -> Input {
        Input {
            path: normalise(&path.into()),
            um_per_px: None,
            metadata: BTreeMap::new(),
            problem: None,
        }
    }

    /// An input that will give an error row with `message`.
    pub fn with_problem(path: impl Into<PathBuf>, message: impl Into<String>) -> Input {
        Input {
            problem: Some(message.into()),
            ..Input::new(path)
        }
    }

    /// The photo's key: its path as text, without `.` components. Results are
    /// written in the order of these keys (byte order of their UTF-8).
    /// A path that is not valid UTF-8 is shown with U+FFFD replacements.
    pub fn key(&self) -> String {
        normalise(&self.path).to_string_lossy().into_owned()
    }
}

/// `path` without `.` components and trailing separators (`./a/./b.png` → `a/b.png`).
/// `..` is kept: resolving it without the file system would be wrong across symlinks.
fn normalise(path: &Path) -> PathBuf {
    let out: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|p| e.eq_ignore_ascii_case(p)))
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry
        .file_name()
        .to_str()
        .is_some_and(|n| n.starts_with('.'))
}

/// The photos at `paths`: each file as given, and each folder searched
/// recursively (following symbolic links) for files with a [`PHOTO_EXTENSIONS`]
/// extension, skipping hidden files and folders (names starting with `.`).
///
/// Nothing here fails: a path that does not exist or a folder entry that cannot be
/// read becomes an input with a [`problem`](Input::problem), so that it gets an
/// error row. The result is not yet sorted; [`plan`] sorts it.
pub fn discover(paths: &[PathBuf]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => inputs.push(Input::with_problem(path, format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => {
                let walk = walkdir::WalkDir::new(path)
                    .follow_links(true)
                    .into_iter()
                    .filter_entry(|e| e.depth() == 0 || !is_hidden(e));
                for entry in walk {
                    match entry {
                        Ok(e) if e.file_type().is_file() && is_photo(e.path()) => {
                            inputs.push(Input::new(e.into_path()));
                        }
                        Ok(_) => {}
                        Err(err) => {
                            let at = err.path().unwrap_or(path).to_path_buf();
                            inputs.push(Input::with_problem(at, format!("cannot read: {err}")));
                        }
                    }
                }
            }
            Ok(_) => inputs.push(Input::new(path)),
        }
    }
    inputs
}

/// Column of a manifest holding the photo's path (required).
pub const PATH_COLUMN: &str = "path";
/// Column of a manifest holding the photo's calibration in µm/px (optional; an
/// empty cell means "use the batch's default").
pub const UM_PER_PX_COLUMN: &str = "um_per_px";

/// Reads a manifest: a CSV file with a header row, one photo per row.
///
/// * `path` (required): the photo; a relative path is relative to the manifest's
///   folder.
/// * `um_per_px` (optional): the photo's calibration. An empty cell leaves the
///   photo to the batch's default; a cell that is not a number gives the photo an
///   error row.
/// * every other column (conventionally `patient`, `zone`, `date`) is kept
///   verbatim as metadata, in both results files.
///
/// Cells are trimmed; a UTF-8 byte-order mark (as spreadsheet programs write) is
/// ignored.
///
/// # Errors
/// [`Error::Csv`] for a file that cannot be read or parsed (rows of unequal
/// length); [`Error::Manifest`] for no `path` column, a repeated or empty column
/// name, a column named like a result column (`status`, `hair_count`, …), an
/// empty path, or a photo listed twice.
pub fn read_manifest(manifest: &Path) -> Result<Vec<Input>> {
    let csv_err = |source| Error::Csv {
        path: manifest.to_path_buf(),
        source,
    };
    let manifest_err = |line: u64, message: String| Error::Manifest {
        path: manifest.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(manifest)
        .map_err(csv_err)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut path_col = None;
    let mut um_col = None;
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(manifest_err(1, format!("column {} has no name", i + 1)));
        }
        if header[..i].contains(name) {
            return Err(manifest_err(1, format!("column `{name}` appears twice")));
        }
        match name.as_str() {
            PATH_COLUMN => path_col = Some(i),
            UM_PER_PX_COLUMN => um_col = Some(i),
            other if RESULT_COLUMNS.contains(&other) => {
                return Err(manifest_err(
                    1,
                    format!(
                        "column `{other}` has the name of a result column; rename it \
                         (result columns: {})",
                        RESULT_COLUMNS.join(", ")
                    ),
                ))
            }
            _ => {}
        }
    }
    let Some(path_col) = path_col else {
        return Err(manifest_err(
            1,
            format!("no `{PATH_COLUMN}` column (columns: {})", header.join(", ")),
        ));
    };
    let base = manifest.parent().unwrap_or(Path::new(""));
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut inputs = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let raw = record.get(path_col).unwrap_or("");
        if raw.is_empty() {
            return Err(manifest_err(line, format!("empty `{PATH_COLUMN}`")));
        }
        let mut input = Input::new(base.join(raw));
        if let Some(&first) = first_line.get(&input.key()) {
            return Err(manifest_err(
                line,
                format!("photo `{raw}` is listed twice (first on line {first})"),
            ));
        }
        first_line.insert(input.key(), line);
        if let Some(cell) = um_col.and_then(|c| record.get(c)) {
            if !cell.is_empty() {
                match cell.parse::<f64>() {
                    Ok(v) => input.um_per_px = Some(v),
                    Err(_) => {
                        input.problem = Some(format!(
                            "manifest line {line}: `{UM_PER_PX_COLUMN}` = `{cell}` is not a number"
                        ))
                    }
                }
            }
        }
        for (i, name) in header.iter().enumerate() {
            if i != path_col && Some(i) != um_col {
                let value = record.get(i).unwrap_or("").to_string();
                input.metadata.insert(name.clone(), value);
            }
        }
        inputs.push(input);
    }
    Ok(inputs)
}

/// The inputs one worker scores: its shard of the sorted input list, and what it
/// needs to check that all shards saw the same list.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// This shard's inputs, sorted by [`Input::key`].
    pub inputs: Vec<Input>,
    /// The shard.
    pub shard: Shard,
    /// Number of inputs of the whole batch (all shards).
    pub inputs_total: u64,
    /// FNV-1a 64 digest of the whole batch's sorted keys, each followed by `\n`.
    pub inputs_digest: u64,
}

/// Sorts `inputs` by key, drops repeated keys (a photo found twice, e.g. in a
/// folder and by name), and keeps `shard`'s part.
pub fn plan(inputs: Vec<Input>, shard: Shard) -> Plan {
    let mut keyed: Vec<(String, Input)> = inputs
        .into_iter()
        .map(|mut i| {
            i.path = normalise(&i.path);
            (i.key(), i)
        })
        .collect();
    // Stable: of two inputs with one key, the first given is kept.
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|later, earlier| later.0 == earlier.0);
    let mut digest = KeyDigest::default();
    for (key, _) in &keyed {
        digest.add(key);
    }
    let inputs_total = keyed.len() as u64;
    let inputs = keyed
        .into_iter()
        .enumerate()
        .filter(|(position, _)| shard.contains(*position))
        .map(|(_, (_, input))| input)
        .collect();
    Plan {
        inputs,
        shard,
        inputs_total,
        inputs_digest: digest.finish(),
    }
}

/// FNV-1a 64 over a sequence of keys, each followed by `\n`.
#[derive(Default)]
pub(crate) struct KeyDigest(fnv::FnvHasher);

impl KeyDigest {
    pub(crate) fn add(&mut self, key: &str) {
        self.0.write(key.as_bytes());
        self.0.write(b"\n");
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_drop_dot_components() {
        assert_eq!(Input::new("./a/./b.png").key(), "a/b.png");
        assert_eq!(Input::new("a/../b.png").key(), "a/../b.png");
        assert_eq!(Input::new("dir/").key(), "dir");
        assert_eq!(Input::new("./").key(), ".");
    }

    #[test]
    fn digest_is_fnv1a64() {
        // Published FNV-1a 64 test vector: "a" → af63dc4c8601ec8c.
        let mut h = fnv::FnvHasher::default();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut d = KeyDigest::default();
        d.add("a");
        let mut h = fnv::FnvHasher::default();
        h.write(b"a\n");
        assert_eq!(d.finish(), h.finish());
    }

    #[test]
    fn plan_sorts_dedups_and_shards() {
        let inputs = vec![
            Input::new("c.png"),
            Input::new("a.png"),
            Input::with_problem("./b.png", "first"),
            Input::new("b.png"),
            Input::new("d.png"),
        ];
        let whole = plan(inputs.clone(), Shard::WHOLE);
        let keys: Vec<String> = whole.inputs.iter().map(Input::key).collect();
        assert_eq!(keys, ["a.png", "b.png", "c.png", "d.png"]);
        assert_eq!(whole.inputs[1].problem.as_deref(), Some("first"));
        assert_eq!(whole.inputs_total, 4);
        let s0 = plan(inputs.clone(), Shard::new(0, 2).unwrap());
        let s1 = plan(inputs, Shard::new(1, 2).unwrap());
        let k0: Vec<String> = s0.inputs.iter().map(Input::key).collect();
        let k1: Vec<String> = s1.inputs.iter().map(Input::key).collect();
        assert_eq!(k0, ["a.png", "c.png"]);
        assert_eq!(k1, ["b.png", "d.png"]);
        assert_eq!(s0.inputs_digest, whole.inputs_digest);
        assert_eq!(s1.inputs_total, 4);
    }

    #[test]
    fn an_empty_batch_is_a_normal_plan() {
        let p = plan(Vec::new(), Shard::new(1, 3).unwrap());
        assert!(p.inputs.is_empty());
        assert_eq!(p.inputs_total, 0);
    }

    fn manifest(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sessions");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("manifest.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn manifest_rows_become_inputs() {
        let (_dir, path) = manifest(
            "\u{feff}path, um_per_px ,patient,zone,date,device\n\
             img/a.png,6,P1,vertex,2024-01-02,dino\n\
             /abs/b.png,,P2,occiput,2024-01-03,\n\
             c.png,six,P3,,,\n",
        );
        let inputs = read_manifest(&path).unwrap();
        assert_eq!(inputs.len(), 3);
        let base = path.parent().unwrap();
        assert_eq!(inputs[0].path, base.join("img/a.png"));
        assert_eq!(inputs[0].um_per_px, Some(6.0));
        assert_eq!(inputs[0].metadata["patient"], "P1");
        assert_eq!(inputs[0].metadata["device"], "dino");
        assert_eq!(inputs[0].metadata.len(), 4);
        assert_eq!(inputs[1].path, PathBuf::from("/abs/b.png"));
        assert_eq!(inputs[1].um_per_px, None);
        assert_eq!(inputs[1].metadata["device"], "");
        assert!(inputs[1].problem.is_none());
        let problem = inputs[2].problem.as_deref().unwrap();
        assert!(
            problem.contains("line 4") && problem.contains("six"),
            "{problem}"
        );
    }

    #[test]
    fn manifest_errors_name_the_line() {
        let cases = [
            ("file,um_per_px\na.png,6\n", 1, "no `path` column"),
            ("path,hair_count\na.png,3\n", 1, "result column"),
            ("path,zone,zone\na.png,1,2\n", 1, "twice"),
            ("path,\na.png,1\n", 1, "no name"),
            ("path,zone\na.png,x\n,y\n", 3, "empty `path`"),
            (
                "path\na.png\nb.png\n./a.png\n",
                4,
                "listed twice (first on line 2)",
            ),
        ];
        for (text, line, needle) in cases {
            let (_dir, path) = manifest(text);
            match read_manifest(&path) {
                Err(Error::Manifest {
                    line: l, message, ..
                }) => {
                    assert_eq!(l, line, "{text:?}: {message}");
                    assert!(message.contains(needle), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let (_dir, path) = manifest("path,zone\na.png,1\nb.png\n");
        assert!(matches!(read_manifest(&path), Err(Error::Csv { .. })));
        let missing = Path::new("/nonexistent/manifest.csv");
        assert!(matches!(read_manifest(missing), Err(Error::Csv { .. })));
    }

    #[test]
    fn discovery_searches_folders_and_keeps_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in [
            "a/1.png",
            "a/b/2.JPG",
            "a/notes.txt",
            "a/.3.png",
            ".hidden/4.png",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        std::fs::write(root.join("named.txt"), b"x").unwrap();
        let found = discover(&[
            root.join("a"),
            root.join("named.txt"),
            root.join("missing.png"),
        ]);
        let p = plan(found, Shard::WHOLE);
        let names: Vec<String> = p
            .inputs
            .iter()
            .map(|i| {
                i.path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a/1.png", "a/b/2.JPG", "missing.png", "named.txt"]);
        assert!(p.inputs[2]
            .problem
            .as_deref()
            .is_some_and(|m| m.contains("cannot read")));
        assert!(p.inputs[0].problem.is_none());
    }
}
