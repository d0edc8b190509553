//! Integration tests of batch scoring (#5): rows, bad files, order, thread
//! independence, resume, shards and merge, manifests, and the CLI.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use image::{DynamicImage, Rgb, RgbImage};
use trichometry::batch::{self, BatchConfig, Input, Observer, Row, Shard, Status};
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Analysis, Calibration, Error, Params};

const UM_PER_PX: f64 = 6.0;

/// Generated photos: (file name, encoded bytes), rendered once per test binary.
fn good_photos() -> &'static [(&'static str, Vec<u8>)] {
    static PHOTOS: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    PHOTOS.get_or_init(|| {
        let cases = [
            ("a-dark.png", Scenario::ClippedDark, 11),
            ("sub/b-white.png", Scenario::ClippedWhite, 12),
            ("sub/deeper/c-dark.png", Scenario::ClippedDark, 13),
            ("d-jpeg.jpg", Scenario::ClippedJpeg, 14),
            ("e-blond.png", Scenario::ClippedBlond, 15),
        ];
        cases
            .iter()
            .map(|&(name, scenario, seed)| {
                let mut p = scenario.params();
                p.width_px = 240;
                p.height_px = 180;
                p.um_per_px = UM_PER_PX;
                let s = render(&p, seed).unwrap();
                let bytes = match s.jpeg_bytes {
                    Some(jpeg) => jpeg,
                    None => {
                        let mut buf = std::io::Cursor::new(Vec::new());
                        s.image.write_to(&mut buf, image::ImageFormat::Png).unwrap();
                        buf.into_inner()
                    }
                };
                (name, bytes)
            })
            .collect()
    })
}

/// Bad files and the text their error row must contain.
fn bad_files() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let truncated = good_photos()[0].1[..400].to_vec();
    let mut tiny = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([200, 150, 130])))
        .write_to(&mut tiny, image::ImageFormat::Png)
        .unwrap();
    vec![
        ("bad/truncated.png", truncated, "truncated"),
        (
            "bad/text.png",
            b"not a photo at all\n".to_vec(),
            "not an image",
        ),
        ("bad/empty.png", Vec::new(), "empty"),
        ("bad/tiny.png", tiny.into_inner(), "too small"),
        (
            "bad/huge-side.png",
            common::png_claiming(60_000, 60_000),
            "limit",
        ),
        (
            "bad/huge-alloc.png",
            common::png_claiming(16_000, 16_000),
            "limit",
        ),
    ]
}

struct Photos {
    _dir: tempfile::TempDir,
    /// Folder holding the photos (`photos/`).
    root: PathBuf,
    /// Scratch folder for outputs.
    scratch: PathBuf,
}

impl Photos {
    fn new(with_bad: bool) -> Photos {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        let mut files: Vec<(&str, Vec<u8>)> = good_photos().to_vec();
        if with_bad {
            files.extend(bad_files().into_iter().map(|(n, b, _)| (n, b)));
        }
        for (name, bytes) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        // Not a photo by extension: ignored by the folder search.
        std::fs::write(root.join("notes.txt"), "session notes").unwrap();
        let scratch = dir.path().join("out");
        Photos {
            _dir: dir,
            root,
            scratch,
        }
    }

    fn plan(&self, shard: Shard) -> batch::Plan {
        batch::plan(batch::discover(std::slice::from_ref(&self.root)), shard)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }
}

fn config() -> BatchConfig {
    BatchConfig {
        um_per_px: Some(UM_PER_PX),
        ..BatchConfig::default()
    }
}

fn rows(dir: &Path) -> Vec<Row> {
    batch::read_rows(&dir.join(batch::RESULTS_JSONL))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn bytes(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

fn direct(path: &Path) -> Analysis {
    let image = image::open(path).unwrap();
    analyze(
        &image,
        &Calibration::new(UM_PER_PX).unwrap(),
        &Params::default(),
    )
    .unwrap()
}

/// Records which photos a run analysed and wrote.
#[derive(Default)]
struct Recorder {
    analysed: Mutex<Vec<String>>,
    written: Vec<String>,
}

impl Observer for Recorder {
    fn analysed(&self, input: &Input, _: &DynamicImage, _: &Analysis) -> Result<(), String> {
        self.analysed.lock().unwrap().push(input.key());
        Ok(())
    }
    fn written(&mut self, row: &Row) {
        self.written.push(row.path.clone());
    }
}

fn run_with_threads(plan: &batch::Plan, out: &Path, threads: usize) -> batch::Summary {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| batch::run(plan, out, &config(), &mut ()))
        .unwrap()
}

#[test]
fn good_photos_match_analyze_and_each_bad_file_has_one_error_row() {
    let photos = Photos::new(true);
    let out = photos.out("all");
    let summary = batch::run(&photos.plan(Shard::WHOLE), &out, &config(), &mut ()).unwrap();
    let good = good_photos();
    let bad = bad_files();
    assert_eq!(summary.rows, (good.len() + bad.len()) as u64);
    assert_eq!(summary.ok, good.len() as u64);
    assert_eq!(summary.failed, bad.len() as u64);
    assert_eq!(summary.scored, summary.rows);

    let rows = rows(&out);
    assert_eq!(rows.len() as u64, summary.rows);
    let by_path: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.path.as_str(), r)).collect();
    assert_eq!(by_path.len(), rows.len(), "a photo has two rows");
    let mut counted = 0.0;
    for (name, _) in good {
        let path = photos.root.join(name);
        let row = by_path[path.to_str().unwrap()];
        assert_eq!(row.status, Status::Ok, "{name}: {:?}", row.error);
        assert_eq!(row.um_per_px, Some(UM_PER_PX));
        let analysis = row.analysis.as_ref().unwrap();
        let expected = direct(&path);
        assert_eq!(analysis.hair_count, expected.hair_count, "{name}");
        assert_eq!(analysis.strands.len(), expected.strands.len(), "{name}");
        assert_eq!(analysis.image, expected.image, "{name}");
        // Hairs counted where they emerged (the small photos' counting frames
        // may hold none).
        counted += analysis.strands.iter().map(|s| s.count_weight).sum::<f64>();
    }
    assert!(counted > 0.0, "the generated photos should hold some hair");
    for (name, _, needle) in bad {
        let path = photos.root.join(name);
        let row = by_path[path.to_str().unwrap()];
        assert_eq!(row.status, Status::Error, "{name}");
        assert!(row.analysis.is_none());
        let message = row.error.as_deref().unwrap();
        assert!(message.contains(needle), "{name}: {message}");
        assert!(
            !message.starts_with(&row.path),
            "{name}: path repeated: {message}"
        );
    }

    // The table has the same rows in the same order, with its header.
    let mut csv = csv::Reader::from_path(out.join(batch::RESULTS_CSV)).unwrap();
    let header = csv.headers().unwrap().clone();
    assert_eq!(header.iter().collect::<Vec<_>>(), batch::RESULT_COLUMNS);
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    let hair = header.iter().position(|h| h == "hair_count").unwrap();
    for (record, row) in records.iter().zip(&rows) {
        assert_eq!(&record[0], row.path);
        let expected = row
            .analysis
            .as_ref()
            .map_or_else(String::new, |a| a.hair_count.to_string());
        assert_eq!(record[hair], expected);
    }
    assert!(!out.join(batch::RESULTS_PART).exists());
}

#[test]
fn rows_are_sorted_and_byte_identical_with_1_and_3_threads() {
    let photos = Photos::new(true);
    let plan = photos.plan(Shard::WHOLE);
    let one = photos.out("one");
    let three = photos.out("three");
    let s1 = run_with_threads(&plan, &one, 1);
    let s3 = run_with_threads(&plan, &three, 3);
    assert_eq!(s1, s3);
    for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV, batch::BATCH_JSON] {
        assert!(bytes(&one, name) == bytes(&three, name), "{name} differs");
    }
    let keys: Vec<String> = rows(&one).into_iter().map(|r| r.path).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let planned: Vec<String> = plan.inputs.iter().map(Input::key).collect();
    assert_eq!(keys, planned);
}

/// Cuts `file` after `keep` complete lines, plus `partial` bytes of the next one.
fn cut(file: &Path, keep: usize, partial: usize) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut kept: String = lines[..keep].concat();
    kept.push_str(&lines[keep][..partial]);
    std::fs::write(file, kept).unwrap();
    lines[keep..]
        .iter()
        .map(|l| serde_json::from_str::<Row>(l).unwrap().path)
        .collect()
}

#[test]
fn resume_redoes_only_the_missing_photos_and_never_duplicates() {
    let photos = Photos::new(true);
    let plan = photos.plan(Shard::WHOLE);
    let reference = photos.out("reference");
    batch::run(&plan, &reference, &config(), &mut ()).unwrap();
    let n = plan.inputs.len();
    let resumed = BatchConfig {
        resume: true,
        ..config()
    };

    // A finished batch whose last two rows were deleted and whose new last line
    // is cut in the middle (as a crash leaves it).
    let out = photos.out("finished");
    batch::run(&plan, &out, &config(), &mut ()).unwrap();
    let lost = cut(&out.join(batch::RESULTS_JSONL), n - 3, 25);
    assert_eq!(lost.len(), 3);
    let mut rec = Recorder::default();
    let summary = batch::run(&plan, &out, &resumed, &mut rec).unwrap();
    assert_eq!((summary.skipped, summary.scored), ((n - 3) as u64, 3));
    assert_eq!(rec.written, lost);
    let mut analysed = rec.analysed.into_inner().unwrap();
    analysed.sort();
    let lost_ok: Vec<String> = rows(&reference)
        .into_iter()
        .filter(|r| lost.contains(&r.path) && r.status == Status::Ok)
        .map(|r| r.path)
        .collect();
    assert_eq!(analysed, lost_ok);
    for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV] {
        assert!(
            bytes(&out, name) == bytes(&reference, name),
            "{name} differs"
        );
    }

    // An interrupted batch: rows in the part file, rows lost from the middle of
    // the order too, and a cut-off last line.
    let out = photos.out("interrupted");
    batch::run(&plan, &out, &config(), &mut ()).unwrap();
    std::fs::rename(
        out.join(batch::RESULTS_JSONL),
        out.join(batch::RESULTS_PART),
    )
    .unwrap();
    std::fs::remove_file(out.join(batch::RESULTS_CSV)).unwrap();
    let part = out.join(batch::RESULTS_PART);
    let text = std::fs::read_to_string(&part).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let from_middle = serde_json::from_str::<Row>(lines.remove(2)).unwrap().path;
    std::fs::write(&part, lines.concat()).unwrap();
    let mut lost = cut(&part, n - 3, 1);
    lost.insert(0, from_middle);
    let mut rec = Recorder::default();
    let summary = batch::run(&plan, &out, &resumed, &mut rec).unwrap();
    assert_eq!(summary.scored, 3);
    assert_eq!(rec.written, lost);
    for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV] {
        assert!(
            bytes(&out, name) == bytes(&reference, name),
            "{name} differs"
        );
    }

    // Resuming a finished batch does nothing.
    let mut rec = Recorder::default();
    let summary = batch::run(&plan, &out, &resumed, &mut rec).unwrap();
    assert_eq!((summary.skipped, summary.scored), (n as u64, 0));
    assert!(rec.written.is_empty());
    assert!(bytes(&out, batch::RESULTS_JSONL) == bytes(&reference, batch::RESULTS_JSONL));
}

#[test]
fn corrupt_rows_before_the_last_line_stop_a_resume() {
    let photos = Photos::new(false);
    let plan = photos.plan(Shard::WHOLE);
    let out = photos.out("corrupt");
    batch::run(&plan, &out, &config(), &mut ()).unwrap();
    let file = out.join(batch::RESULTS_JSONL);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    lines[1] = "{\"path\": oops}\n".to_string();
    std::fs::write(&file, lines.concat()).unwrap();
    let resumed = BatchConfig {
        resume: true,
        ..config()
    };
    let err = batch::run(&plan, &out, &resumed, &mut ()).unwrap_err();
    assert!(
        matches!(err, Error::CorruptResults { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn existing_results_are_kept_unless_resuming() {
    let photos = Photos::new(false);
    let plan = photos.plan(Shard::WHOLE);
    let out = photos.out("once");
    batch::run(&plan, &out, &config(), &mut ()).unwrap();
    let before = bytes(&out, batch::RESULTS_JSONL);
    let err = batch::run(&plan, &out, &config(), &mut ()).unwrap_err();
    assert!(matches!(err, Error::ResultsExist { .. }), "{err:?}");
    assert!(bytes(&out, batch::RESULTS_JSONL) == before);
    // Another shard cannot resume this folder.
    let shard = photos.plan(Shard::new(1, 2).unwrap());
    let resumed = BatchConfig {
        resume: true,
        ..config()
    };
    let err = batch::run(&shard, &out, &resumed, &mut ()).unwrap_err();
    assert!(matches!(err, Error::ResumeMismatch { .. }), "{err:?}");
}

#[test]
fn shards_merge_into_the_unsharded_results() {
    let photos = Photos::new(true);
    let whole = photos.out("whole");
    batch::run(&photos.plan(Shard::WHOLE), &whole, &config(), &mut ()).unwrap();
    let mut shard_dirs = Vec::new();
    let mut shard_rows = 0;
    for i in 0..2 {
        let dir = photos.out(&format!("shard-{i}"));
        let s = batch::run(
            &photos.plan(Shard::new(i, 2).unwrap()),
            &dir,
            &config(),
            &mut (),
        )
        .unwrap();
        assert!(s.rows > 0);
        shard_rows += s.rows;
        shard_dirs.push(dir);
    }
    let merged = photos.out("merged");
    let summary = batch::merge(&shard_dirs, &merged).unwrap();
    assert_eq!(summary.rows, shard_rows);
    for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV, batch::BATCH_JSON] {
        assert!(
            bytes(&merged, name) == bytes(&whole, name),
            "{name} differs"
        );
    }
    // The order of the folders does not matter.
    let reversed = photos.out("merged-reversed");
    shard_dirs.reverse();
    batch::merge(&shard_dirs, &reversed).unwrap();
    assert!(bytes(&reversed, batch::RESULTS_JSONL) == bytes(&whole, batch::RESULTS_JSONL));
}

fn merge_error(dirs: &[PathBuf], out: &Path) -> String {
    match batch::merge(dirs, out) {
        Err(Error::Merge { message }) => {
            assert!(!out.join(batch::RESULTS_JSONL).exists());
            assert!(!out.join(batch::RESULTS_CSV).exists());
            message
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn merge_refuses_overlaps_missing_shards_and_unfinished_folders() {
    let photos = Photos::new(false);
    let run = |name: &str, shard: Shard| {
        let dir = photos.out(name);
        batch::run(&photos.plan(shard), &dir, &config(), &mut ()).unwrap();
        dir
    };
    let s0 = run("s0", Shard::new(0, 3).unwrap());
    let s1 = run("s1", Shard::new(1, 3).unwrap());
    let s2 = run("s2", Shard::new(2, 3).unwrap());
    let whole = run("whole", Shard::WHOLE);

    let m = merge_error(&[s0.clone(), s1.clone()], &photos.out("m1"));
    assert!(m.contains("missing: 2/3"), "{m}");
    let m = merge_error(
        &[s0.clone(), s1.clone(), s2.clone(), s1.clone()],
        &photos.out("m2"),
    );
    assert!(m.contains("both shard 1/3"), "{m}");
    let m = merge_error(&[s0.clone(), whole.clone()], &photos.out("m3"));
    assert!(m.contains("whole batch"), "{m}");
    let m = merge_error(&[whole.clone(), whole.clone()], &photos.out("m4"));
    assert!(m.contains("is in both"), "{m}");

    // A shard given other inputs than the rest of its split.
    let other = photos.out("other");
    let mut fewer = batch::discover(std::slice::from_ref(&photos.root));
    fewer.pop();
    batch::run(
        &batch::plan(fewer, Shard::new(2, 3).unwrap()),
        &other,
        &config(),
        &mut (),
    )
    .unwrap();
    let m = merge_error(&[s0.clone(), s1.clone(), other], &photos.out("m5"));
    assert!(m.contains("different input lists"), "{m}");

    // A shard that lost rows (scored only part of its photos).
    let text = std::fs::read_to_string(s0.join(batch::RESULTS_JSONL)).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert!(lines.len() >= 2);
    std::fs::write(s0.join(batch::RESULTS_JSONL), lines[0]).unwrap();
    let m = merge_error(&[s0.clone(), s1.clone(), s2.clone()], &photos.out("m6"));
    assert!(m.contains("did not score all"), "{m}");

    // An unfinished folder.
    std::fs::rename(s0.join(batch::RESULTS_JSONL), s0.join(batch::RESULTS_PART)).unwrap();
    let m = merge_error(&[s0, s1, s2], &photos.out("m7"));
    assert!(m.contains("did not finish"), "{m}");

    // Merging into a folder with results is refused.
    let err = batch::merge(std::slice::from_ref(&whole), &whole).unwrap_err();
    assert!(matches!(err, Error::ResultsExist { .. }), "{err:?}");
}

#[test]
fn manifest_gives_calibration_metadata_and_relative_paths() {
    let photos = Photos::new(false);
    // The manifest sits in photos/, next to the photos it names.
    let manifest = photos.root.join("manifest.csv");
    std::fs::write(
        &manifest,
        "path,um_per_px,patient,zone,date,device\n\
         a-dark.png,6,P1,vertex,2024-05-01,\"dino, 200x\"\n\
         sub/b-white.png,,P1,occiput,2024-05-01,dino\n\
         d-jpeg.jpg,100,P2,vertex,2024-05-02,dino\n",
    )
    .unwrap();
    let plan = batch::plan(batch::read_manifest(&manifest).unwrap(), Shard::WHOLE);

    // No default calibration: the uncalibrated photo is an error row, not a crash.
    let out = photos.out("manifest");
    let no_default = BatchConfig::default();
    let s = batch::run(&plan, &out, &no_default, &mut ()).unwrap();
    assert_eq!((s.ok, s.failed), (1, 2));
    let rows = rows(&out);
    let key = |name: &str| photos.root.join(name).to_string_lossy().into_owned();
    assert_eq!(rows[0].path, key("a-dark.png"));
    assert_eq!(rows[0].status, Status::Ok);
    assert_eq!(rows[0].metadata["device"], "dino, 200x");
    assert_eq!(
        rows[0].analysis.as_ref().unwrap().hair_count,
        direct(&photos.root.join("a-dark.png")).hair_count
    );
    assert_eq!(rows[1].path, key("d-jpeg.jpg"));
    let message = rows[1].error.as_deref().unwrap();
    assert!(message.contains("100"), "{message}");
    assert_eq!(rows[1].um_per_px, Some(100.0));
    assert_eq!(rows[2].path, key("sub/b-white.png"));
    assert!(rows[2].error.as_deref().unwrap().contains("no calibration"));

    // A default calibrates the photo the manifest leaves blank, and only it.
    let out = photos.out("manifest-default");
    let s = batch::run(&plan, &out, &config(), &mut ()).unwrap();
    assert_eq!((s.ok, s.failed), (2, 1));
    let rows = self::rows(&out);
    assert_eq!(rows[2].status, Status::Ok);
    assert_eq!(rows[1].um_per_px, Some(100.0));

    // The metadata columns sit after `status`, sorted by name.
    let mut csv = csv::Reader::from_path(out.join(batch::RESULTS_CSV)).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..6],
        ["path", "status", "date", "device", "patient", "zone"]
    );
    let first = csv.records().next().unwrap().unwrap();
    assert_eq!(&first[3], "dino, 200x");
    assert_eq!(&first[5], "vertex");
}

#[test]
fn retry_errors_scores_failed_photos_again() {
    let photos = Photos::new(false);
    let plan = photos.plan(Shard::WHOLE);
    let out = photos.out("retry");
    let s = batch::run(&plan, &out, &BatchConfig::default(), &mut ()).unwrap();
    assert_eq!(s.failed, plan.inputs.len() as u64);
    // Without retry_errors the error rows stay.
    let resumed = BatchConfig {
        resume: true,
        ..config()
    };
    let s = batch::run(&plan, &out, &resumed, &mut ()).unwrap();
    assert_eq!((s.scored, s.failed), (0, plan.inputs.len() as u64));
    let retry = BatchConfig {
        retry_errors: true,
        ..resumed
    };
    let s = batch::run(&plan, &out, &retry, &mut ()).unwrap();
    assert_eq!((s.scored, s.ok, s.failed), (s.rows, s.rows, 0));
    let reference = photos.out("reference");
    batch::run(&plan, &reference, &config(), &mut ()).unwrap();
    assert!(bytes(&out, batch::RESULTS_JSONL) == bytes(&reference, batch::RESULTS_JSONL));
}

#[test]
fn an_empty_batch_writes_empty_results() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let plan = batch::plan(batch::discover(&[dir.path().join("empty")]), Shard::WHOLE);
    let out = dir.path().join("out");
    let s = batch::run(&plan, &out, &config(), &mut ()).unwrap();
    assert_eq!(s, batch::Summary::default());
    assert!(bytes(&out, batch::RESULTS_JSONL).is_empty());
    let csv = String::from_utf8(bytes(&out, batch::RESULTS_CSV)).unwrap();
    assert_eq!(csv.lines().count(), 1);
}

#[test]
fn absurd_calibrations_in_a_manifest_are_error_rows() {
    let photos = Photos::new(false);
    let manifest = photos.root.join("manifest.csv");
    std::fs::write(
        &manifest,
        "path,um_per_px\n\
         a-dark.png,0\n\
         d-jpeg.jpg,-6\n\
         e-blond.png,NaN\n\
         sub/b-white.png,inf\n\
         sub/deeper/c-dark.png,0.49\n",
    )
    .unwrap();
    let plan = batch::plan(batch::read_manifest(&manifest).unwrap(), Shard::WHOLE);
    let out = photos.out("absurd");
    let s = batch::run(&plan, &out, &config(), &mut ()).unwrap();
    assert_eq!((s.ok, s.failed), (0, 5));
    for row in rows(&out) {
        let message = row.error.as_deref().unwrap();
        assert!(
            message.contains("supported range 0.5–50"),
            "{}: {message}",
            row.path
        );
    }
    // The table is written, with one row per photo.
    let table = std::fs::read_to_string(out.join(batch::RESULTS_CSV)).unwrap();
    assert_eq!(table.lines().count(), 6);
}

/// Checks, after every row written, that no finished-looking file exists yet.
struct NothingFinishedYet {
    out: PathBuf,
    rows: usize,
}

impl Observer for NothingFinishedYet {
    fn written(&mut self, _: &Row) {
        self.rows += 1;
        for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV] {
            assert!(
                !self.out.join(name).exists(),
                "{name} exists after {} rows",
                self.rows
            );
        }
    }
}

#[test]
fn finished_files_appear_whole_at_the_end_and_no_temporary_file_is_left() {
    let photos = Photos::new(true);
    let plan = photos.plan(Shard::WHOLE);
    let out = photos.out("atomic");
    let mut watch = NothingFinishedYet {
        out: out.clone(),
        rows: 0,
    };
    batch::run(&plan, &out, &config(), &mut watch).unwrap();
    assert_eq!(watch.rows, plan.inputs.len());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [batch::BATCH_JSON, batch::RESULTS_CSV, batch::RESULTS_JSONL]
    );
    assert_eq!(rows(&out).len(), plan.inputs.len());
}

#[test]
fn a_row_cut_at_every_byte_resumes_to_the_same_results() {
    // A crash can stop the part file at any byte of its last row.
    let photos = Photos::new(false);
    let plan = photos.plan(Shard::WHOLE);
    let reference = photos.out("reference");
    batch::run(&plan, &reference, &config(), &mut ()).unwrap();
    let text = std::fs::read_to_string(reference.join(batch::RESULTS_JSONL)).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let (kept, last) = (lines[..2].concat(), lines[2]);
    let resumed = BatchConfig {
        resume: true,
        ..config()
    };
    // Cuts spread over the row (a row with strands runs to kilobytes), its
    // first byte and its last (all but the newline).
    let step = (last.len() / 6).max(1);
    let mut cuts: Vec<usize> = (0..last.len())
        .step_by(step)
        .chain([last.len() - 1])
        .collect();
    // The last byte may be a step's cut too: each cut once.
    cuts.dedup();
    for cut in cuts {
        let out = photos.out(&format!("cut-{cut}"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(
            reference.join(batch::BATCH_JSON),
            out.join(batch::BATCH_JSON),
        )
        .unwrap();
        std::fs::write(
            out.join(batch::RESULTS_PART),
            format!("{kept}{}", &last[..cut]),
        )
        .unwrap();
        let s = batch::run(&plan, &out, &resumed, &mut ()).unwrap();
        assert_eq!(s.skipped, 2, "cut {cut}");
        assert_eq!(s.rows, plan.inputs.len() as u64, "cut {cut}");
        for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV] {
            assert!(
                bytes(&out, name) == bytes(&reference, name),
                "cut {cut}: {name}"
            );
        }
    }
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::Command;

    fn trichometry(args: &[&std::ffi::OsStr]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_trichometry"))
            .args(args)
            .env_remove("RAYON_NUM_THREADS")
            .output()
            .unwrap()
    }

    #[test]
    fn batch_exit_status_overlays_and_merge() {
        let photos = Photos::new(true);
        let out = photos.out("cli");
        let o = trichometry(&[
            "batch".as_ref(),
            photos.root.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--um-per-px".as_ref(),
            "6".as_ref(),
            "--overlay".as_ref(),
            "--threads".as_ref(),
            "2".as_ref(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        // One error line per bad file, naming it; no progress bar when piped.
        for (name, _, _) in bad_files() {
            let path = photos.root.join(name);
            let needle = format!("error: {}: ", path.display());
            assert_eq!(stderr.matches(&needle).count(), 1, "{name}: {stderr}");
        }
        assert!(!stderr.contains("ETA"), "{stderr}");

        // The binary writes what the library writes.
        let lib = photos.out("lib");
        batch::run(&photos.plan(Shard::WHOLE), &lib, &config(), &mut ()).unwrap();
        assert!(bytes(&out, batch::RESULTS_JSONL) == bytes(&lib, batch::RESULTS_JSONL));
        for (name, _) in good_photos() {
            let mut overlay = out
                .join("overlays")
                .join(batch::mirrored(&photos.root.join(name)))
                .into_os_string();
            overlay.push(".overlay.png");
            let image = image::open(PathBuf::from(&overlay)).unwrap();
            assert_eq!((image.width(), image.height()), (240, 180));
        }

        // Only good photos, as shards with a glob pattern: success, and the merge
        // equals the library's run over the same photos.
        let pattern = photos.root.join("**").join("*-dark.png");
        let mut shards = Vec::new();
        for i in 0..2 {
            let dir = photos.out(&format!("cli-shard-{i}"));
            let o = trichometry(&[
                "batch".as_ref(),
                pattern.as_os_str(),
                "--out".as_ref(),
                dir.as_os_str(),
                "--um-per-px".as_ref(),
                "6".as_ref(),
                "--shard".as_ref(),
                format!("{i}/2").as_ref(),
                "--resume".as_ref(),
                "--quiet".as_ref(),
            ]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(o.stderr.is_empty());
            shards.push(dir);
        }
        let merged = photos.out("cli-merged");
        let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
        args.extend(shards.iter().map(|d| d.as_os_str()));
        args.extend(["--out".as_ref(), merged.as_os_str()]);
        let o = trichometry(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let darks: Vec<PathBuf> = ["a-dark.png", "sub/deeper/c-dark.png"]
            .iter()
            .map(|n| photos.root.join(n))
            .collect();
        let direct_dir = photos.out("cli-direct");
        batch::run(
            &batch::plan(batch::discover(&darks), Shard::WHOLE),
            &direct_dir,
            &config(),
            &mut (),
        )
        .unwrap();
        assert!(bytes(&merged, batch::RESULTS_CSV) == bytes(&direct_dir, batch::RESULTS_CSV));

        // Merging again into the same folder is refused: exit 1, files kept.
        let o = trichometry(&args);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("already holds batch results"));

        // Usage errors exit 1 (2 is reserved for failed photos).
        let o = trichometry(&["batch".as_ref(), "--shard".as_ref(), "2/2".as_ref()]);
        assert_eq!(o.status.code(), Some(1));
        let o = trichometry(&[
            "batch".as_ref(),
            photos.root.as_os_str(),
            "--out".as_ref(),
            photos.out("x").as_os_str(),
            "--um-per-px".as_ref(),
            "0".as_ref(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("calibration"));
    }

    #[test]
    fn a_killed_batch_resumes_to_the_uninterrupted_results() {
        // Enough photos that one thread is still busy when the kill comes.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        std::fs::create_dir_all(&root).unwrap();
        for i in 0..24 {
            let (_, bytes) = &good_photos()[i % 3];
            std::fs::write(root.join(format!("p{i:02}.png")), bytes).unwrap();
        }
        let args = |out: &Path, resume: bool| {
            let mut a: Vec<std::ffi::OsString> = vec![
                "batch".into(),
                root.clone().into(),
                "--out".into(),
                out.into(),
                "--um-per-px".into(),
                "6".into(),
                "--threads".into(),
                "1".into(),
                "--quiet".into(),
            ];
            if resume {
                a.push("--resume".into());
            }
            a
        };
        let reference = dir.path().join("reference");
        let o = Command::new(env!("CARGO_BIN_EXE_trichometry"))
            .args(args(&reference, false))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

        let out = dir.path().join("killed");
        let mut child = Command::new(env!("CARGO_BIN_EXE_trichometry"))
            .args(args(&out, false))
            .spawn()
            .unwrap();
        let part = out.join(batch::RESULTS_PART);
        let started = std::time::Instant::now();
        loop {
            let rows = std::fs::read_to_string(&part)
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if rows >= 3 {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "no rows written"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the batch finished before it could be killed"
        );
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        assert!(!out.join(batch::RESULTS_JSONL).exists());
        assert!(!out.join(batch::RESULTS_CSV).exists());

        let o = Command::new(env!("CARGO_BIN_EXE_trichometry"))
            .args(args(&out, true))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for name in [batch::RESULTS_JSONL, batch::RESULTS_CSV] {
            assert!(
                bytes(&out, name) == bytes(&reference, name),
                "{name} differs"
            );
        }
    }
}
