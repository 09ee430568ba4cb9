//! The indexing pipeline between the scan and the catalog: a decode pool on all cores feeds a
//! bounded queue, the encoder takes full batches from it while decoding goes on, and every batch
//! is handed to a commit callback (one catalog transaction per batch). Pause, resume and cancel
//! act between files; progress is reported as it happens.

pub use crate::catalog::Outcome;
use crate::catalog::{CatalogError, Source};
use crate::prepare::{self, ContentHash, PrepareError, Prepared};
use crate::thumbs::{Previews, Thumbs};
use glimpse_clip::encode::ImageEncoder;
use glimpse_clip::metadata::Metadata;
use glimpse_clip::preprocess::Pixels;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Shared switches for a running job, so a UI or a signal handler can steer it.
#[derive(Debug, Default)]
pub struct Control {
    paused: AtomicBool,
    /// Shared with the scan, which stops walking a large folder when it is set.
    cancelled: Arc<AtomicBool>,
}

impl Control {
    /// Stops taking new files until `resume`.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }
    /// Continues after `pause`.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
    /// Ends the job after the batch in flight is committed.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }
    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
    /// The flag `cancel` sets, for a [`crate::scan::ScanOptions::cancel`].
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }
    /// Whether the job is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }
    /// Blocks while paused; returns false if cancelled.
    pub(crate) fn wait_if_paused(&self) -> bool {
        while self.is_paused() && !self.is_cancelled() {
            std::thread::sleep(Duration::from_millis(50));
        }
        !self.is_cancelled()
    }
}

/// One file to (re)index.
#[derive(Debug, Clone)]
pub struct WorkItem {
    /// Its catalog row.
    pub photo_id: i64,
    /// Where it is.
    pub path: PathBuf,
    /// Its folder is on another drive than the library ([`crate::thumbs::on_another_drive`]):
    /// it gets a preview even when the app could show the file itself.
    pub may_go_offline: bool,
}

/// Where a job stands, for progress bars and the app.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Files finished (encoded, reused or failed).
    pub done: usize,
    /// Files in this job.
    pub total: usize,
    /// Files that failed so far.
    pub failed: usize,
    /// Files encoded (not reused) so far.
    pub encoded: usize,
    /// Files finished per second since the start.
    pub rate: f64,
    /// Estimated seconds left.
    pub eta_secs: Option<f64>,
    /// The file most recently finished.
    pub current: Option<PathBuf>,
}

/// Time split of a finished job, for the benchmark and the summary line.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Wall seconds of the whole job.
    pub wall: f64,
    /// Seconds the encoder spent running batches.
    pub encode: f64,
    /// CPU seconds the encoder thread itself used while running them, where the platform
    /// reports it: near `encode` when a GPU runtime busy-waits for the device, near zero when
    /// it sleeps (on a CPU the work runs on the runtime's own threads as well).
    pub encode_thread_cpu: Option<f64>,
    /// Seconds the encoder thread spent copying gathered pictures into the batch.
    pub stage: f64,
    /// Seconds spent in the commit callback.
    pub commit: f64,
    /// Summed seconds of decode-pool work (all threads).
    pub decode_cpu: f64,
}

/// What the encoder keeps of one gathered picture besides its pixels: its index in the work,
/// hash, upright size, format, metadata and note.
type Gathered = (
    usize,
    ContentHash,
    u32,
    u32,
    String,
    Metadata,
    Option<String>,
);

/// Picture buffers the encoder hands back for the decoders to refill, so a job allocates a few
/// hundred of them (600 kB of floats or 150 kB of bytes each) rather than one per photo.
struct Pool {
    free: std::sync::Mutex<Vec<Pixels>>,
    max: usize,
    /// An empty buffer of the encoder's form, for when none is free.
    empty: Pixels,
}

impl Pool {
    fn take(&self) -> Pixels {
        self.free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_else(|| self.empty.clone())
    }

    fn give(&self, v: Pixels) {
        if let Ok(mut f) = self.free.lock() {
            if f.len() < self.max {
                f.push(v);
            }
        }
    }
}

/// Outcomes of one encoder batch (plus the copies, reuses and failures met meanwhile), in the
/// order they must be committed.
struct Finished {
    outcomes: Vec<Outcome>,
    current: Option<PathBuf>,
}

/// CPU time the calling thread has used, where the platform reports it.
pub fn thread_cpu_secs() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime only writes the timespec it is given, which is valid here.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What the encoder thread spent: wall seconds encoding and staging, and its own CPU seconds
/// while encoding.
type EncodeTimes = (f64, f64, Option<f64>);

/// The encoder thread: gathers decoded pictures into full batches, encodes them and hands each
/// batch's outcomes to the committing thread.
fn encode_stage(
    work: &[WorkItem],
    encoder: &ImageEncoder,
    rx: mpsc::Receiver<(usize, Result<Prepared, PrepareError>)>,
    done: mpsc::SyncSender<Finished>,
    control: &Control,
    pool: &Pool,
) -> EncodeTimes {
    let batch = encoder.max_batch();
    let mut encode_secs = 0.0;
    let mut stage_secs = 0.0;
    let mut encode_cpu = thread_cpu_secs().map(|_| 0.0);
    let mut pending: Vec<Outcome> = Vec::new();
    let mut tensors = encoder.staging();
    // The batch being gathered: each picture's tensor, and its (work index, hash, width,
    // height, format, metadata). Tensors are copied into `tensors` all at once when the batch
    // is sent, on several threads: this thread is the pipeline's one serial stage.
    let mut held: Vec<Pixels> = Vec::with_capacity(batch);
    let mut meta: Vec<Gathered> = Vec::with_capacity(batch);
    let per = encoder.preprocess.tensor_len();
    let copy_threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get() / 4)
        .clamp(1, 8);
    let mut current: Option<PathBuf> = None;
    let mut seen: HashMap<ContentHash, i64> = HashMap::new();
    // Sends what is gathered; false once the committing side has gone (error or done).
    let mut flush = |pending: &mut Vec<Outcome>,
                     tensors: &mut glimpse_clip::encode::Staging,
                     held: &mut Vec<Pixels>,
                     meta: &mut Vec<Gathered>,
                     current: &Option<PathBuf>|
     -> bool {
        let mut fresh = Vec::with_capacity(meta.len() + pending.len());
        if !meta.is_empty() {
            let t = Instant::now();
            let staged = tensors.fill(held, copy_threads);
            stage_secs += t.elapsed().as_secs_f64();
            for t in held.drain(..) {
                pool.give(t);
            }
            let t = Instant::now();
            let cpu = thread_cpu_secs();
            let result = if staged {
                encoder.encode_pixels(tensors.data(), meta.len())
            } else {
                Err(glimpse_clip::encode::EncodeError::Run(
                    "the batch could not be staged for the encoder".into(),
                ))
            };
            encode_secs += t.elapsed().as_secs_f64();
            if let (Some(sum), Some(before), Some(after)) =
                (&mut encode_cpu, cpu, thread_cpu_secs())
            {
                *sum += after - before;
            }
            // Encoded outcomes go first: a copy waiting in `pending` may reuse one of these
            // vectors within the same transaction.
            match result {
                Ok(vectors) => {
                    for ((i, hash, width, height, format, metadata, note), vector) in
                        meta.drain(..).zip(vectors)
                    {
                        fresh.push(Outcome::Encoded {
                            photo_id: work[i].photo_id,
                            hash,
                            vector,
                            width,
                            height,
                            format,
                            metadata,
                            note,
                        });
                    }
                }
                Err(e) => {
                    for (i, ..) in meta.drain(..) {
                        fresh.push(Outcome::Failed {
                            photo_id: work[i].photo_id,
                            reason: format!("encoder failed: {e}"),
                            vanished: false,
                        });
                    }
                }
            }
            tensors.clear();
        }
        fresh.append(pending);
        if fresh.is_empty() {
            return true;
        }
        done.send(Finished {
            outcomes: fresh,
            current: current.clone(),
        })
        .is_ok()
    };
    // When decoding is the slower side (a GPU), waiting for a full batch only delays the
    // pictures already decoded: a part batch is sent as soon as the queue runs dry.
    let eager = (batch / 8).max(1);
    loop {
        let (i, r) = match rx.try_recv() {
            Ok(m) => m,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {
                if meta.len() >= eager
                    && !flush(&mut pending, &mut tensors, &mut held, &mut meta, &current)
                {
                    return (encode_secs, stage_secs, encode_cpu);
                }
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            }
        };
        if control.is_cancelled() {
            break;
        }
        current = Some(work[i].path.clone());
        match r {
            Ok(Prepared::Tensor { hash, tensor, .. }) if seen.contains_key(&hash) => {
                // A copy of a file met earlier in this job: encode the content once.
                pool.give(tensor);
                pending.push(Outcome::Reused {
                    photo_id: work[i].photo_id,
                    hash,
                    same_as: Source::Photo(seen[&hash]),
                })
            }
            Ok(Prepared::Tensor {
                hash,
                tensor,
                width,
                height,
                format,
                metadata,
                note,
            }) => {
                seen.insert(hash, work[i].photo_id);
                if tensor.len() == per {
                    held.push(tensor);
                    meta.push((i, hash, width, height, format, metadata, note));
                } else {
                    pending.push(Outcome::Failed {
                        photo_id: work[i].photo_id,
                        reason: "preprocessed tensor has the wrong size for the model".into(),
                        vanished: false,
                    });
                    pool.give(tensor);
                }
            }
            Ok(Prepared::Known { hash, same_as }) => pending.push(Outcome::Reused {
                photo_id: work[i].photo_id,
                hash,
                same_as,
            }),
            Err(e) => pending.push(Outcome::Failed {
                photo_id: work[i].photo_id,
                vanished: matches!(e, PrepareError::Vanished),
                reason: e.to_string(),
            }),
        }
        if (meta.len() >= batch || pending.len() >= 4 * batch)
            && !flush(&mut pending, &mut tensors, &mut held, &mut meta, &current)
        {
            return (encode_secs, stage_secs, encode_cpu);
        }
    }
    drop(rx);
    if control.is_cancelled() {
        // Commit what was already encoded; drop the decoded-but-unencoded rest.
        meta.clear();
        held.clear();
    }
    flush(&mut pending, &mut tensors, &mut held, &mut meta, &current);
    (encode_secs, stage_secs, encode_cpu)
}

/// What the decoders tell about the files they read, so that a file that kills the process
/// (an abort in a codec, the OOM killer) is known on the next start: the library's indexing
/// job records it ([`crate::Library::index`]).
pub trait Reading: Sync {
    /// Records durably that these files are about to be read, before any of them is.
    fn claim(&self, items: &[WorkItem]) -> Result<(), CatalogError>;
    /// Just before one file is read and decoded.
    fn start(&self, _item: &WorkItem) {}
    /// Just after it was (whatever came of it).
    fn done(&self, _item: &WorkItem) {}
}

/// The part of the work claimed so far: decoders claim the next chunk together, so a job
/// writes one small transaction per chunk, not per file, and a crash leaves at most a chunk
/// and what is queued behind the encoder under suspicion.
struct Claims<'a> {
    reading: &'a dyn Reading,
    upto: std::sync::Mutex<usize>,
    chunk: usize,
}

impl Claims<'_> {
    /// Makes sure item `i` of `work` is claimed before it is read.
    fn cover(&self, i: usize, work: &[WorkItem]) {
        let mut upto = match self.upto.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        while *upto <= i {
            let end = (*upto + self.chunk).min(work.len());
            if let Err(e) = self.reading.claim(&work[*upto..end]) {
                // Only the protection against a second crash on the same file is lost.
                tracing::warn!("could not record the files being read: {e}");
            }
            *upto = end;
        }
    }
}

/// Runs `work` through decode → encode → `commit`, returning the final progress and timing.
/// `commit` receives outcomes in batches; an error from it stops the job and is returned.
#[allow(clippy::too_many_arguments)]
pub fn run<E>(
    work: &[WorkItem],
    encoder: &ImageEncoder,
    known: &HashMap<ContentHash, Source>,
    thumbs: Option<&Thumbs>,
    threads: usize,
    control: &Control,
    commit: &mut dyn FnMut(Vec<Outcome>) -> Result<(), E>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Progress, Timing), E> {
    run_claiming(
        work, encoder, known, thumbs, threads, control, None, commit, progress,
    )
}

/// [`run`] that tells `reading` which files the decoders are about to read, a chunk at a
/// time, and when each one is read.
#[allow(clippy::too_many_arguments)]
pub fn run_claiming<E>(
    work: &[WorkItem],
    encoder: &ImageEncoder,
    known: &HashMap<ContentHash, Source>,
    thumbs: Option<&Thumbs>,
    threads: usize,
    control: &Control,
    reading: Option<&dyn Reading>,
    commit: &mut dyn FnMut(Vec<Outcome>) -> Result<(), E>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Progress, Timing), E> {
    let start = Instant::now();
    let cfg = &encoder.preprocess;
    let batch = encoder.max_batch();
    let next = AtomicUsize::new(0);
    let decode_nanos = AtomicUsize::new(0);
    let mut state = Progress {
        total: work.len(),
        ..Progress::default()
    };
    let mut timing = Timing::default();
    type Msg = (usize, Result<Prepared, PrepareError>);
    let (tx, rx) = mpsc::sync_channel::<Msg>(batch * 2);
    // Encoded batches wait here for the catalog: the encoder runs the next batch while this
    // thread commits the last one (on a GPU, commit time would otherwise idle the device).
    let (done_tx, done_rx) = mpsc::sync_channel::<Finished>(2);
    // Enough buffers for everything that can be in flight: the queue, the batch being
    // gathered, one per decoder.
    let pool = Pool {
        free: std::sync::Mutex::new(Vec::new()),
        max: batch * 3 + threads.max(1) + 1,
        empty: encoder.empty_pixels(),
    };
    let pool = &pool;
    let claims = reading.map(|reading| Claims {
        reading,
        upto: std::sync::Mutex::new(0),
        chunk: (2 * batch).clamp(16, 256),
    });
    let claims = claims.as_ref();
    let result = std::thread::scope(|scope| -> Result<(), E> {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let (next, decode_nanos) = (&next, &decode_nanos);
            scope.spawn(move || {
                let mut scratch = prepare::Scratch::default();
                loop {
                    if !control.wait_if_paused() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = work.get(i) else { break };
                    if let Some(c) = claims {
                        c.cover(i, work);
                        c.reading.start(item);
                    }
                    let t = Instant::now();
                    let previews = thumbs.map(|cache| Previews {
                        cache,
                        even_small: item.may_go_offline,
                    });
                    let r = prepare::prepare_into(
                        &item.path,
                        cfg,
                        known,
                        previews,
                        pool.take(),
                        &mut scratch,
                    );
                    if let Some(c) = claims {
                        c.reading.done(item);
                    }
                    decode_nanos.fetch_add(t.elapsed().as_nanos() as usize, Ordering::Relaxed);
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let encoder_thread =
            scope.spawn(move || encode_stage(work, encoder, rx, done_tx, control, pool));
        // Owned here so that leaving this closure (done or a commit error) drops the receiver
        // and unblocks the encoder, which in turn unblocks the decoders, before the scope joins.
        let done_rx = done_rx;
        for finished in done_rx.iter() {
            let n = finished.outcomes.len();
            for o in &finished.outcomes {
                match o {
                    Outcome::Encoded { .. } => state.encoded += 1,
                    Outcome::Failed { .. } => state.failed += 1,
                    Outcome::Reused { .. } => {}
                }
            }
            let t = Instant::now();
            commit(finished.outcomes)?;
            timing.commit += t.elapsed().as_secs_f64();
            state.done += n;
            state.current = finished.current;
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            state.rate = state.done as f64 / secs;
            state.eta_secs = (state.rate > 0.0)
                .then(|| (state.total - state.done.min(state.total)) as f64 / state.rate);
            progress(&state);
        }
        // A panic in the encoder is a bug: surface it rather than end the job quietly early.
        (timing.encode, timing.stage, timing.encode_thread_cpu) = match encoder_thread.join() {
            Ok(secs) => secs,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok(())
    });
    timing.wall = start.elapsed().as_secs_f64();
    timing.decode_cpu = decode_nanos.load(Ordering::Relaxed) as f64 / 1e9;
    result.map(|()| (state, timing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn thread_cpu_time_counts_work_and_not_sleep() {
        let cpu = || thread_cpu_secs().expect("unix reports thread CPU time");
        let before = cpu();
        std::thread::sleep(Duration::from_millis(100));
        let slept = cpu() - before;
        assert!(slept < 0.03, "{slept} CPU-s asleep");
        // Busy work shows up as CPU time, however long other processes keep this thread off
        // the cores (a wall-clock window would measure the machine's load instead).
        let before = cpu();
        let start = Instant::now();
        let mut x = 0u64;
        while cpu() - before < 0.05 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "20 s of busy work and {} CPU-s counted",
                cpu() - before
            );
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }
}
