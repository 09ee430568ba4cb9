//! The decode → encode → commit pipeline on real files, without storage: every file gets
//! exactly one outcome, identical bytes are reused instead of re-encoded, broken files fail
//! with a reason, and cancel/pause behave.

use crate::common;

use glimpse_clip::device::Device;
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::model::ModelFiles;
use glimpse_library::catalog::Source;
use glimpse_library::pipeline::{self, Control, Outcome, WorkItem};
use std::collections::HashMap;
use std::convert::Infallible;

fn encoder() -> ImageEncoder {
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    ImageEncoder::open(&common::runtime().env, &files, Device::Cpu).unwrap()
}

fn work() -> Vec<WorkItem> {
    let mut paths: Vec<_> = std::fs::read_dir(common::fixture("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.extend(
        [
            "broken/truncated.jpg",
            "broken/zero_bytes.png",
            "broken/text_named.png",
        ]
        .iter()
        .map(|r| common::fixture(r)),
    );
    paths.push(common::fixture("images/does-not-exist.jpg"));
    paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| WorkItem {
            photo_id: i as i64 + 1,
            path,
            may_go_offline: false,
        })
        .collect()
}

#[test]
fn every_file_gets_one_outcome_and_known_content_is_reused() {
    let enc = encoder();
    let work = work();
    let mut outcomes = Vec::new();
    let mut batches = 0;
    let (progress, timing) = pipeline::run(
        &work,
        &enc,
        &HashMap::new(),
        None,
        2,
        &Control::default(),
        &mut |b: Vec<Outcome>| -> Result<(), Infallible> {
            batches += 1;
            outcomes.extend(b);
            Ok(())
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(outcomes.len(), work.len());
    assert_eq!(progress.done, work.len());
    assert_eq!(progress.failed, 4);
    assert!(batches >= 2, "batches {batches}");
    assert!(timing.encode > 0.0 && timing.decode_cpu > 0.0);
    // One thread cannot use more CPU time than the wall time it ran for.
    if cfg!(unix) {
        let cpu = timing.encode_thread_cpu.expect("thread CPU time on unix");
        assert!(
            cpu >= 0.0 && cpu <= timing.encode + 0.01,
            "{cpu} CPU-s in {} s",
            timing.encode
        );
    }
    let mut ids: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Encoded { photo_id, .. }
            | Outcome::Reused { photo_id, .. }
            | Outcome::Failed { photo_id, .. } => *photo_id,
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), work.len(), "each file exactly once");
    let vanished = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { vanished: true, .. }))
        .count();
    assert_eq!(vanished, 1);

    // Second pass with every hash known: nothing is encoded, everything is reused.
    let known: HashMap<_, _> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Encoded { photo_id, hash, .. } => Some((*hash, Source::Photo(*photo_id))),
            _ => None,
        })
        .collect();
    let mut second = Vec::new();
    let (p2, _) = pipeline::run(
        &work,
        &enc,
        &known,
        None,
        2,
        &Control::default(),
        &mut |b: Vec<Outcome>| -> Result<(), Infallible> {
            second.extend(b);
            Ok(())
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(p2.encoded, 0);
    assert_eq!(
        second
            .iter()
            .filter(|o| matches!(o, Outcome::Reused { .. }))
            .count(),
        known.len()
    );
}

#[test]
fn cancel_stops_the_job_and_a_commit_error_is_returned() {
    let enc = encoder();
    let work = work();
    let control = Control::default();
    control.cancel();
    let mut n = 0;
    let (p, _) = pipeline::run(
        &work,
        &enc,
        &HashMap::new(),
        None,
        2,
        &control,
        &mut |b: Vec<Outcome>| -> Result<(), Infallible> {
            n += b.len();
            Ok(())
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(n, p.done);
    assert!(p.done < work.len(), "cancelled job finished everything");

    let r = pipeline::run(
        &work,
        &enc,
        &HashMap::new(),
        None,
        2,
        &Control::default(),
        &mut |_b: Vec<Outcome>| -> Result<(), String> { Err("disk full".into()) },
        &mut |_| {},
    );
    assert_eq!(r.unwrap_err(), "disk full");
}

#[test]
fn pause_holds_the_job_and_resume_finishes_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let enc = encoder();
    let work = work();
    let control = Control::default();
    control.pause();
    let committed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let job = s.spawn(|| {
            pipeline::run(
                &work,
                &enc,
                &HashMap::new(),
                None,
                2,
                &control,
                &mut |b: Vec<Outcome>| -> Result<(), Infallible> {
                    committed.fetch_add(b.len(), Ordering::SeqCst);
                    Ok(())
                },
                &mut |_| {},
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(
            committed.load(Ordering::SeqCst),
            0,
            "work done while paused"
        );
        assert!(!job.is_finished());
        control.resume();
        let (p, _) = job.join().unwrap().unwrap();
        assert_eq!(p.done, work.len());
    });
    assert_eq!(committed.load(Ordering::SeqCst), work.len());
}

/// Vectors by photo from one pipeline run.
fn vectors(enc: &ImageEncoder, work: &[WorkItem]) -> HashMap<i64, Vec<f32>> {
    let mut out = HashMap::new();
    pipeline::run(
        work,
        enc,
        &HashMap::new(),
        None,
        2,
        &Control::default(),
        &mut |b: Vec<Outcome>| -> Result<(), Infallible> {
            for o in b {
                if let Outcome::Encoded {
                    photo_id, vector, ..
                } = o
                {
                    out.insert(photo_id, vector);
                }
            }
            Ok(())
        },
        &mut |_| {},
    )
    .unwrap();
    out
}

#[test]
fn an_encoder_taking_bytes_indexes_the_same_vectors() {
    // The GPU's graph form (the crop's bytes, normalised inside) through the whole pipeline on
    // the CPU: decoders hand over bytes, batches are staged as bytes, and every photo gets the
    // vector the float pipeline gives it.
    let files = ModelFiles::open(&common::immich_model()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrapped = glimpse_onnx::bytes::take_bytes(
        &std::fs::read(&files.visual).unwrap(),
        &files.preprocess.lut(),
    )
    .unwrap();
    let mut with_bytes = files.clone();
    with_bytes.visual = dir.path().join("visual_bytes.onnx");
    std::fs::write(&with_bytes.visual, wrapped).unwrap();
    let bytes_enc = ImageEncoder::open(&common::runtime().env, &with_bytes, Device::Cpu).unwrap();
    assert_eq!(
        bytes_enc.pixel_input(),
        glimpse_clip::encode::PixelInput::Bytes
    );

    let work = work();
    let want = vectors(&encoder(), &work);
    let got = vectors(&bytes_enc, &work);
    assert!(want.len() >= 20, "{} photos encoded", want.len());
    assert_eq!(
        got.keys().collect::<std::collections::BTreeSet<_>>(),
        want.keys().collect()
    );
    for (id, v) in &want {
        let worst = v
            .iter()
            .zip(&got[id])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "photo {id}: max difference {worst}");
    }
}
