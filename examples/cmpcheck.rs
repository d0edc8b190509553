//! Compare on generated pairs against the truth:
//! `cargo run --release --example cmpcheck -- [none|default] SEED...`
mod common;
use trichometry::compare::{compare, CompareParams, Photo};
use trichometry::synth::{render_pair, PairChange, Scenario};
use trichometry::{analyze, Calibration, Params};

/// The truth hair whose centreline passes closest to `p`, and that distance (px).
fn near(tr: &trichometry::synth::Truth, p: [f64; 2]) -> (f64, usize) {
    let mut best = (f64::INFINITY, 0usize);
    for hh in &tr.hairs {
        for q in &hh.centerline_px {
            let d = (q[0] - p[0]).hypot(q[1] - p[1]);
            if d < best.0 {
                best = (d, hh.id);
            }
        }
    }
    best
}

/// The middle point of a strand's centreline (px).
fn mid(s: &trichometry::analysis::StrandResult) -> [f64; 2] {
    s.centerline[s.centerline.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let change = if kind == "none" {
        PairChange::none()
    } else {
        PairChange::default()
    };
    let seeds: Vec<u64> = args.filter_map(|s| s.parse().ok()).collect();
    let mut cov = [0usize; 3];
    let mut n = 0;
    for seed in seeds {
        let mut sp = Scenario::Pair.params();
        common::camera_from_env(&mut sp)?;
        let pair = render_pair(&sp, &change, seed)?;
        let bi = image::DynamicImage::ImageRgb8(pair.baseline.image.clone());
        let fi = image::DynamicImage::ImageRgb8(pair.followup.image.clone());
        let ba = analyze(
            &bi,
            &Calibration::new(pair.truth.baseline.um_per_px)?,
            &Params::default(),
        )?;
        let fa = analyze(
            &fi,
            &Calibration::new(pair.truth.followup.um_per_px)?,
            &Params::default(),
        )?;
        let c = match compare(
            &[(
                Photo {
                    analysis: &ba,
                    image: Some(&bi),
                },
                Photo {
                    analysis: &fa,
                    image: Some(&fi),
                },
            )],
            &CompareParams::default(),
        ) {
            Ok(c) => c,
            Err(e) => {
                println!("seed {seed}: {e}");
                continue;
            }
        };
        let t = &pair.truth;
        // truth in overlap: vellus fraction
        let (w, h) = (t.baseline.image.width, t.baseline.image.height);
        let inr = |q: [f64; 2]| q[0] >= 0.0 && q[1] >= 0.0 && q[0] < w as f64 && q[1] < h as f64;
        let bh: Vec<_> = t
            .baseline
            .hairs
            .iter()
            .filter(|x| x.emergence_in_field && inr(t.transform.apply(x.emergence_px, w, h)))
            .collect();
        let fh: Vec<_> = t
            .followup
            .hairs
            .iter()
            .filter(|x| x.emergence_in_field && inr(t.transform.invert(x.emergence_px, w, h)))
            .collect();
        let vf = |v: &[&trichometry::synth::truth::TruthHair]| {
            v.iter().filter(|x| x.width_um < 30.0).count() as f64 / v.len().max(1) as f64
        };
        let dv = vf(&fh) - vf(&bh);
        let nb = bh.len();
        let gained = fh
            .iter()
            .filter(|x| t.new_followup_ids.contains(&x.id))
            .count();
        let lost = bh
            .iter()
            .filter(|x| t.lost_baseline_ids.contains(&x.id))
            .count();
        let d = &c.density_change_pct;
        let mw = &c.mean_width_change_um;
        let v = &c.vellus_fraction_change;
        let inside = |x: f64, ci: [f64; 2]| ci[0] <= x && x <= ci[1];
        n += 1;
        cov[0] += inside(t.density_change_pct, d.ci95) as usize;
        cov[1] += inside(t.mean_width_change_um, mw.ci95) as usize;
        cov[2] += inside(dv, v.ci95) as usize;
        let bk = &c.bookkeeping;
        if std::env::var("DW").is_ok() {
            let mut d: Vec<f64> = c
                .hairs
                .iter()
                .filter_map(|r| Some(r.followup_width_um? - r.baseline_width_um?))
                .collect();
            d.sort_by(f64::total_cmp);
            println!(
                "   dw: {:?}",
                d.iter().map(|x| x.round()).collect::<Vec<_>>()
            );
        }
        if std::env::var("DEBUG").is_ok() {
            use trichometry::compare::HairFate;
            for r in &c.hairs {
                if matches!(r.fate, HairFate::Gained | HairFate::Lost)
                    || std::env::var("ALL").is_ok()
                {
                    let (tr, s) = if let Some(i) = r.baseline_strand {
                        (&t.baseline, &ba.strands[i])
                    } else {
                        (&t.followup, &fa.strands[r.followup_strand.unwrap()])
                    };
                    let mid = s.centerline[s.centerline.len() / 2];
                    let (d, id) = near(tr, mid);
                    let status = if r.baseline_strand.is_some() {
                        if t.lost_baseline_ids.contains(&id) {
                            "truly lost"
                        } else {
                            "persists"
                        }
                    } else if t.new_followup_ids.contains(&id) {
                        "truly new"
                    } else {
                        "persists"
                    };
                    let other = match (r.baseline_strand, r.followup_strand) {
                        (Some(_), Some(j)) => {
                            let fs = &fa.strands[j];
                            let (d2, id2) =
                                near(&t.followup, fs.centerline[fs.centerline.len() / 2]);
                            format!(" || matched followup strand w {:.0} -> followup truth {id2} (d {d2:.1}) = baseline id {:?}", fs.width_um, t.followup_to_baseline.get(id2))
                        }
                        _ => String::new(),
                    };
                    println!("{other}");
                    println!("   {:?} strand w {:.0} len {:.0} at {:?} anchor {:?} emerg {:?} cw {} -> truth hair {id} (d {d:.1}) w {:.0} {status} truth emergence {:?} in field {}", r.fate, s.width_um, s.length_um, mid, r.anchor_px, s.emergence, s.count_weight, tr.hairs[id].width_um, tr.hairs[id].emergence_px, tr.hairs[id].emergence_in_field);
                }
            }
        }
        let mut ev = String::new();
        if std::env::var("EV").is_ok() {
            use trichometry::compare::HairFate;
            let (mut tl, mut fl, mut tg, mut fg) = (0, 0, 0, 0);
            let mut gained_ids = Vec::new();
            for r in &c.hairs {
                match r.fate {
                    HairFate::Lost => {
                        let id = near(&t.baseline, mid(&ba.strands[r.baseline_strand.unwrap()])).1;
                        if t.lost_baseline_ids.contains(&id) {
                            tl += 1
                        } else {
                            fl += 1
                        }
                    }
                    HairFate::Gained => {
                        let id = near(&t.followup, mid(&fa.strands[r.followup_strand.unwrap()])).1;
                        if t.new_followup_ids.contains(&id) {
                            tg += 1;
                            gained_ids.push(id)
                        } else {
                            fg += 1
                        }
                    }
                    _ => {}
                }
            }
            let mut cls = [[0usize; 2]; 2];
            for x in fh.iter().filter(|x| t.new_followup_ids.contains(&x.id)) {
                let v = usize::from(x.width_um < 30.0);
                cls[v][usize::from(gained_ids.contains(&x.id))] += 1;
            }
            ev = format!(" || G {gained}: tg {tg} fg {fg} | L {lost}: tl {tl} fl {fl} | new vellus found {}/{} other {}/{}", cls[1][1], cls[1][0]+cls[1][1], cls[0][1], cls[0][0]+cls[0][1]);
        }
        if std::env::var("MISS").is_ok() {
            use trichometry::compare::HairFate;
            let bid: Vec<usize> = ba
                .strands
                .iter()
                .map(|s| near(&t.baseline, mid(s)).1)
                .collect();
            let fid: Vec<Option<usize>> = fa
                .strands
                .iter()
                .map(|s| t.followup_to_baseline[near(&t.followup, mid(s)).1])
                .collect();
            let desc =
                |s: &trichometry::analysis::StrandResult| {
                    let c = &s.centerline;
                    let (a, b) = (c[0], c[c.len() - 1]);
                    format!(
                    "#{} w {:.0} len {:.0} from ({:.0},{:.0}) to ({:.0},{:.0}) emerg {:?} cw {}",
                    s.id, s.width_um, s.length_um, a[0], a[1], b[0], b[1],
                    s.emergence.map(|e| [e[0].round(), e[1].round()]), s.count_weight
                )
                };
            // The strands of one photo that lie on truth hair `k`, each with the
            // fate compare gave it (`strand_of` reads a record's strand there).
            let on_truth = |strands: &[trichometry::analysis::StrandResult],
                            ids: &dyn Fn(usize) -> bool,
                            strand_of: &dyn Fn(
                &trichometry::compare::HairRecord,
            ) -> Option<usize>| {
                (0..strands.len())
                    .filter(|&j| ids(j))
                    .map(|j| {
                        let fate = c
                            .hairs
                            .iter()
                            .find(|q| strand_of(q) == Some(j))
                            .map(|q| format!("{:?}", q.fate));
                        format!("{} [{fate:?}]", desc(&strands[j]))
                    })
                    .collect::<Vec<String>>()
            };
            for r in &c.hairs {
                match r.fate {
                    HairFate::PersistsMissedAtFollowup => {
                        let Some(i) = r.baseline_strand else { continue };
                        let k = bid[i];
                        let others =
                            on_truth(&fa.strands, &|j| fid[j] == Some(k), &|q| q.followup_strand);
                        println!(
                            "  PMF base {} truth {k}: followup {others:?}",
                            desc(&ba.strands[i])
                        );
                    }
                    HairFate::PersistsMissedAtBaseline => {
                        let Some(j) = r.followup_strand else { continue };
                        let Some(k) = fid[j] else {
                            println!("  PMB follow {} truth NEW", desc(&fa.strands[j]));
                            continue;
                        };
                        let others =
                            on_truth(&ba.strands, &|i| bid[i] == k, &|q| q.baseline_strand);
                        println!(
                            "  PMB follow {} truth {k}: baseline {others:?}",
                            desc(&fa.strands[j])
                        );
                    }
                    _ => {}
                }
            }
        }
        println!(
            "seed {seed}: nb {nb} G {gained} L {lost} | Δ% est {:+.1} [{:+.1},{:+.1}] true {:+.1} err {:+.1} {} | Δw est {:+.2} [{:+.2},{:+.2}] true {:+.2} err {:+.2} | Δv est {:+.3} true {:+.3} | m {} pb {} pf {} g {} l {} rb {:.2} rf {:.2} nB {:.0}{ev}",
            d.value, d.ci95[0], d.ci95[1], t.density_change_pct, d.value - t.density_change_pct, d.verdict.words(),
            mw.value, mw.ci95[0], mw.ci95[1], t.mean_width_change_um, mw.value - t.mean_width_change_um,
            v.value, dv, bk.followed, bk.missed_at_followup, bk.missed_at_baseline, bk.gained_detected, bk.lost_detected, bk.baseline_recall, bk.followup_recall, c.baseline.hairs
        );
    }
    println!(
        "coverage density {}/{n}, width {}/{n}, vellus {}/{n}",
        cov[0], cov[1], cov[2]
    );
    Ok(())
}
