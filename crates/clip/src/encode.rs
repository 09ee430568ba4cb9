//! ONNX sessions for the two CLIP towers → L2-normalised embeddings.
//!
//! Input/output names, element types and whether the batch axis is dynamic are read from the
//! graph, so immich zoo exports (`image`/`text` → `embedding`) and Hugging Face exports
//! (`pixel_values`, `input_ids` + `attention_mask` → `image_embeds`/`text_embeds`) both work.
//! Image graphs exported for one picture run from a checked batched copy
//! ([`glimpse_onnx::batch`]), or one picture at a time when there is none. Outputs are always
//! re-normalised: some exports return raw projections.

use crate::decode::{self, DecodeError, DecodeOptions};
use crate::device::{self, Device, DeviceOptions, OpenError, Provider, Selection};
use crate::model::ModelFiles;
use crate::preprocess::{Pixels, PixelsRef, PreprocessConfig};
use crate::tokenize::{TokenizeError, Tokenizer};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, TensorRef, ValueType};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

/// Largest batch sent to a dynamic-batch image graph at once.
pub const DEFAULT_IMAGE_BATCH: usize = 16;
/// Largest batch sent to a dynamic-batch text graph at once.
pub(crate) const DEFAULT_TEXT_BATCH: usize = 64;
/// Batch for dynamic-batch image graphs on a GPU: ViT-B/32 fp16 reaches ~95% of its peak
/// throughput at 256 on an H200 (27,200 img/s vs 29,100 at 1024) while a batch in flight stays
/// ~150 MB of input.
pub(crate) const GPU_IMAGE_BATCH: usize = 256;
/// Cosine between an fp16 copy's embeddings and the fp32 graph's below which the copy is not
/// used.
pub(crate) const FP16_MIN_COSINE: f32 = 0.999;

/// Why an embedding could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The graph could not be opened on any device.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The graph's inputs or outputs are not what a CLIP tower has.
    #[error("{path}: unexpected graph: {message}")]
    Graph {
        /// The model file.
        path: String,
        /// What does not fit.
        message: String,
    },
    /// ONNX Runtime failed while running the graph.
    #[error("inference failed: {0}")]
    Run(String),
    /// The graph produced an all-zero or non-finite embedding.
    #[error("the model produced an invalid embedding (zero or not finite)")]
    Degenerate,
    /// The tokenizer failed.
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    /// The graph's embedding width is not the one a library recorded for the model.
    #[error(
        "model {model} now gives {now}-wide embeddings but this library holds {recorded}-wide \
         ones for it: the model folder changed; give the new model another folder name"
    )]
    WidthChanged {
        /// The model's name in the library.
        model: String,
        /// What the graph gives.
        now: usize,
        /// What the library holds.
        recorded: usize,
    },
}

/// Why one photo has no embedding: its file, or the model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The file could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The model failed on it.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Whether the graph's batch axis is free or fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchAxis {
    /// Any batch size.
    Dynamic,
    /// Exactly this many rows per run (usually 1).
    Fixed(usize),
}

fn graph_err(path: &Path, message: impl Into<String>) -> EncodeError {
    EncodeError::Graph {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn shape_of(t: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    Some((
        t.tensor_type()?,
        t.tensor_shape()?.iter().copied().collect(),
    ))
}

fn batch_axis(shape: &[i64]) -> BatchAxis {
    match shape.first() {
        Some(&n) if n > 0 => BatchAxis::Fixed(n as usize),
        _ => BatchAxis::Dynamic,
    }
}

/// Picks the embedding output: a preferred name if present, else the only rank-2 output.
fn pick_output(
    session: &Session,
    path: &Path,
    preferred: &[&str],
) -> Result<(String, usize), EncodeError> {
    let outs: Vec<(String, Vec<i64>)> = session
        .outputs()
        .iter()
        .filter_map(|o| shape_of(o.dtype()).map(|(_, s)| (o.name().to_owned(), s)))
        .collect();
    let chosen = preferred
        .iter()
        .find_map(|p| outs.iter().find(|(n, _)| n == p))
        .or_else(|| outs.iter().find(|(_, s)| s.len() == 2))
        .ok_or_else(|| graph_err(path, "no rank-2 embedding output"))?;
    if chosen.1.len() != 2 {
        return Err(graph_err(
            path,
            format!(
                "output {} has shape {:?}; an embedding output is [batch, width]",
                chosen.0, chosen.1
            ),
        ));
    }
    let dim = chosen.1.get(1).copied().unwrap_or(-1);
    Ok((chosen.0.clone(), if dim > 0 { dim as usize } else { 0 }))
}

fn normalize(v: Vec<f32>) -> Result<Vec<f32>, EncodeError> {
    crate::embedding::unit_checked(v).ok_or(EncodeError::Degenerate)
}

fn split_rows(data: &[f32], rows: usize, path: &Path) -> Result<Vec<Vec<f32>>, EncodeError> {
    if rows == 0 || !data.len().is_multiple_of(rows) {
        return Err(graph_err(
            path,
            format!("output of {} values for {rows} rows", data.len()),
        ));
    }
    let dim = data.len() / rows;
    data.chunks(dim).map(|c| normalize(c.to_vec())).collect()
}

/// The image tower, ready to embed pictures.
pub struct ImageEncoder {
    session: Mutex<Session>,
    path: PathBuf,
    input: String,
    output: String,
    batch: BatchAxis,
    dynamic_batch: usize,
    dim: usize,
    gpu_id: i32,
    pixel_input: PixelInput,
    /// Which provider runs it and why.
    pub selection: Selection,
    /// How pictures are prepared for it.
    pub preprocess: PreprocessConfig,
}

/// The form an image graph takes pictures in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelInput {
    /// Normalised floats, NCHW (exported CLIP graphs).
    Floats,
    /// The crop's bytes, NHWC, normalised inside (the GPU copy, see [`glimpse_onnx::bytes`]).
    Bytes,
}

/// A batch being gathered for [`ImageEncoder::encode_pixels`]. On CUDA it lives in page-locked
/// host memory, so the batch reaches the GPU in one DMA instead of a copy into the driver's
/// staging buffer first (a 256-picture batch is 154 MB of floats, 38 MB of bytes); elsewhere it
/// is plain memory.
pub struct Staging {
    // Declared before the allocator that owns its memory, so it is dropped first.
    pinned: Option<PinnedBatch>,
    _allocator: Option<ort::memory::Allocator>,
    host: Pixels,
    per: usize,
    rows: usize,
    capacity: usize,
}

/// A page-locked batch in the encoder's input form.
enum PinnedBatch {
    Floats(Tensor<f32>),
    Bytes(Tensor<u8>),
}

/// Copies `rows` (each `per` long) end to end into `dest` on up to `threads` threads.
fn copy_rows<T: Copy + Send + Sync>(dest: &mut [T], rows: &[&[T]], per: usize, threads: usize) {
    let threads = threads.clamp(1, rows.len().max(1));
    let rows_each = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts = dest.chunks_mut(rows_each * per).zip(rows.chunks(rows_each));
        for (part, src) in parts {
            let mut copy = move || {
                for (to, from) in part.chunks_exact_mut(per).zip(src) {
                    to.copy_from_slice(from);
                }
            };
            if threads == 1 {
                copy();
            } else {
                scope.spawn(copy);
            }
        }
    });
}

/// The part of a growable host buffer a batch of `len` values uses; grown once, never
/// cleared: every value is overwritten by the copy (zeroing it per batch was a memset of the
/// whole batch on the encoder thread).
fn host_part<T: Copy + Default>(host: &mut Vec<T>, len: usize) -> &mut [T] {
    if host.len() < len {
        host.resize(len, T::default());
    }
    &mut host[..len]
}

impl Staging {
    /// Replaces the batch with `rows`, copied on up to `threads` threads; false (and an empty
    /// batch) if there are more rows than fit, or one has the wrong length or form. The
    /// encoder thread is the one serial stage of indexing: a 256-picture float batch is 154 MB,
    /// ~21 ms to copy on one core of the development VM, beside ~38 ms for an H200 to encode it.
    pub fn fill(&mut self, rows: &[Pixels], threads: usize) -> bool {
        self.clear();
        if rows.len() > self.capacity || rows.iter().any(|r| r.len() != self.per) {
            return false;
        }
        let per = self.per;
        let len = rows.len() * per;
        let floats: Option<Vec<&[f32]>> = rows
            .iter()
            .map(|r| match r {
                Pixels::Floats(v) => Some(v.as_slice()),
                Pixels::Bytes(_) => None,
            })
            .collect();
        let bytes: Option<Vec<&[u8]>> = rows
            .iter()
            .map(|r| match r {
                Pixels::Bytes(v) => Some(v.as_slice()),
                Pixels::Floats(_) => None,
            })
            .collect();
        match (self.pinned.as_mut(), &mut self.host) {
            (Some(PinnedBatch::Floats(t)), _) => match (t.try_extract_tensor_mut(), floats) {
                (Ok((_, data)), Some(src)) => copy_rows(&mut data[..len], &src, per, threads),
                _ => return false,
            },
            (Some(PinnedBatch::Bytes(t)), _) => match (t.try_extract_tensor_mut(), bytes) {
                (Ok((_, data)), Some(src)) => copy_rows(&mut data[..len], &src, per, threads),
                _ => return false,
            },
            (None, Pixels::Floats(host)) => match floats {
                Some(src) => copy_rows(host_part(host, len), &src, per, threads),
                None => return false,
            },
            (None, Pixels::Bytes(host)) => match bytes {
                Some(src) => copy_rows(host_part(host, len), &src, per, threads),
                None => return false,
            },
        }
        self.rows = rows.len();
        true
    }

    /// The pictures gathered so far, end to end.
    pub fn data(&self) -> PixelsRef<'_> {
        let len = self.rows * self.per;
        match (self.pinned.as_ref(), &self.host) {
            (Some(PinnedBatch::Floats(t)), _) => match t.try_extract_tensor() {
                Ok((_, data)) => PixelsRef::Floats(&data[..len]),
                Err(_) => PixelsRef::Floats(&[]),
            },
            (Some(PinnedBatch::Bytes(t)), _) => match t.try_extract_tensor() {
                Ok((_, data)) => PixelsRef::Bytes(&data[..len]),
                Err(_) => PixelsRef::Bytes(&[]),
            },
            (None, Pixels::Floats(v)) => PixelsRef::Floats(&v[..len]),
            (None, Pixels::Bytes(v)) => PixelsRef::Bytes(&v[..len]),
        }
    }

    /// Pictures gathered.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Empties the batch (the memory is kept for the next one).
    pub fn clear(&mut self) {
        self.rows = 0;
    }

    /// Whether the batch is in page-locked memory.
    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }
}

impl ImageEncoder {
    /// A reusable batch buffer sized for this encoder (pinned memory on CUDA when available).
    pub fn staging(&self) -> Staging {
        let per = self.preprocess.tensor_len();
        let capacity = self.max_batch();
        let mut staging = Staging {
            pinned: None,
            _allocator: None,
            host: self.empty_pixels(),
            per,
            rows: 0,
            capacity,
        };
        if self.selection.provider == Provider::Cuda {
            use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
            let pinned = self.session.lock().ok().and_then(|session| {
                let info = MemoryInfo::new(
                    AllocationDevice::CUDA_PINNED,
                    self.gpu_id,
                    AllocatorType::Device,
                    MemoryType::CPUInput,
                )
                .ok()?;
                let allocator = Allocator::new(&session, info).ok()?;
                let batch = match self.pixel_input {
                    PixelInput::Floats => {
                        PinnedBatch::Floats(Tensor::<f32>::new(&allocator, [capacity * per]).ok()?)
                    }
                    PixelInput::Bytes => {
                        PinnedBatch::Bytes(Tensor::<u8>::new(&allocator, [capacity * per]).ok()?)
                    }
                };
                Some((batch, allocator))
            });
            match pinned {
                Some((t, a)) => {
                    tracing::info!("image batches gathered in pinned host memory");
                    staging.pinned = Some(t);
                    staging._allocator = Some(a);
                }
                None => tracing::info!("no pinned host memory; batches use pageable memory"),
            }
        }
        if staging.pinned.is_none() {
            match &mut staging.host {
                Pixels::Floats(v) => v.reserve_exact(capacity * per),
                Pixels::Bytes(v) => v.reserve_exact(capacity * per),
            }
        }
        staging
    }

    /// The form this encoder's graph takes pictures in.
    pub fn pixel_input(&self) -> PixelInput {
        self.pixel_input
    }

    /// An empty picture buffer of this encoder's form, for [`PreprocessConfig::crop_pixels_reusing`].
    pub fn empty_pixels(&self) -> Pixels {
        match self.pixel_input {
            PixelInput::Floats => Pixels::Floats(Vec::new()),
            PixelInput::Bytes => Pixels::Bytes(Vec::new()),
        }
    }

    /// One upright picture resized and cropped into this encoder's form.
    pub fn pixels_of(&self, img: &image::RgbImage) -> Pixels {
        let mut out = self.empty_pixels();
        self.preprocess.crop_pixels_reusing(
            img,
            &mut out,
            &mut crate::preprocess::Scratch::default(),
        );
        out
    }

    /// Opens the image tower of `files` on `device` with default GPU settings.
    pub fn open(
        env: &ort::environment::Environment,
        files: &ModelFiles,
        device: Device,
    ) -> Result<Self, EncodeError> {
        Self::open_with(env, files, &DeviceOptions::new(device))
    }

    /// Opens the image tower of `files` as `opts` say; on a GPU the fp16 copy (taking the crop's
    /// bytes, see [`glimpse_onnx::bytes`]) is made, checked against fp32 and used when it agrees,
    /// and the batch grows to `GPU_IMAGE_BATCH`.
    pub fn open_with(
        env: &ort::environment::Environment,
        files: &ModelFiles,
        opts: &DeviceOptions,
    ) -> Result<Self, EncodeError> {
        let cfg = &files.preprocess;
        // A graph exported for one picture runs from its checked batched copy.
        let path = batched_copy(env, &files.visual, cfg).unwrap_or_else(|| files.visual.clone());
        let lut = cfg.lut();
        let variant = |graph: &Path| glimpse_onnx::fp16::ensure_image_variant(graph, &lut);
        let (session, selection) = open_checked(env, &path, opts, &variant, &|s: &mut Session| {
            // The same pictures in each graph's own form.
            let (cw, ch) = cfg.crop;
            let bytes = probe_bytes(cfg.tensor_len() * PROBE_ROWS);
            let input = s.inputs().first().ok_or("the graph has no input")?;
            let name = input.name().to_owned();
            let outputs = if input.dtype().tensor_type() == Some(TensorElementType::Uint8) {
                let shape = [PROBE_ROWS as i64, ch as i64, cw as i64, 3];
                let tensor = Tensor::from_array((shape, bytes)).map_err(|e| e.to_string())?;
                s.run(ort::inputs![name.as_str() => tensor])
            } else {
                let mut floats = vec![0f32; bytes.len()];
                for (hwc, chw) in bytes
                    .chunks_exact(cfg.tensor_len())
                    .zip(floats.chunks_exact_mut(cfg.tensor_len()))
                {
                    cfg.normalise_bytes(hwc, chw);
                }
                let shape = [PROBE_ROWS as i64, 3, ch as i64, cw as i64];
                let tensor = Tensor::from_array((shape, floats)).map_err(|e| e.to_string())?;
                s.run(ort::inputs![name.as_str() => tensor])
            }
            .map_err(|e| e.to_string())?;
            let (_, flat) = outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| e.to_string())?;
            Ok(flat.to_vec())
        })?;
        release_freed_memory();
        let inputs: Vec<(String, TensorElementType, Vec<i64>)> = session
            .inputs()
            .iter()
            .filter_map(|i| shape_of(i.dtype()).map(|(t, s)| (i.name().to_owned(), t, s)))
            .collect();
        let (input, ty, shape) = ["image", "pixel_values", glimpse_onnx::bytes::BYTE_INPUT]
            .iter()
            .find_map(|p| inputs.iter().find(|(n, _, _)| n == p))
            .or_else(|| inputs.iter().find(|(_, _, s)| s.len() == 4))
            .cloned()
            .ok_or_else(|| graph_err(&path, "no rank-4 image input"))?;
        if shape.len() != 4 {
            return Err(graph_err(
                &path,
                format!("image input {input} has shape {shape:?}; expected 4 dimensions"),
            ));
        }
        let (pixel_input, c, h, w) = match ty {
            TensorElementType::Float32 => (PixelInput::Floats, shape[1], shape[2], shape[3]),
            TensorElementType::Uint8 => (PixelInput::Bytes, shape[3], shape[1], shape[2]),
            other => {
                return Err(graph_err(
                    &path,
                    format!("image input {input} is {other:?}, expected float32 or uint8"),
                ))
            }
        };
        let (cw, ch) = cfg.crop;
        if c != 3 && c > 0 || (h > 0 && h != ch as i64) || (w > 0 && w != cw as i64) {
            return Err(graph_err(
                &path,
                format!("image input is {shape:?} but the preprocessing config makes 3x{ch}x{cw}"),
            ));
        }
        let (output, dim) = pick_output(&session, &path, &["embedding", "image_embeds"])?;
        let on_gpu = selection.provider != Provider::Cpu;
        if on_gpu && batch_axis(&shape) == BatchAxis::Fixed(1) {
            // Its batched copy could not be made or disagreed (the reason is logged and kept
            // beside the graph as `model.batch.onnx.none`).
            tracing::warn!(
                graph = %path.display(),
                "this image graph takes one picture per run; on a GPU a dynamic-batch export \
                 is many times faster"
            );
        }
        Ok(ImageEncoder {
            batch: batch_axis(&shape),
            dynamic_batch: if on_gpu {
                GPU_IMAGE_BATCH
            } else {
                DEFAULT_IMAGE_BATCH
            },
            session: Mutex::new(session),
            path,
            input,
            output,
            dim,
            gpu_id: opts.gpu_id,
            pixel_input,
            selection,
            preprocess: files.preprocess.clone(),
        })
    }

    /// Embedding width (0 if the graph does not declare it).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Refuses a graph whose width differs from the one a library recorded for `model` (a
    /// model folder replaced in place): its vectors could not join that library's index.
    pub fn check_width(&self, model: &str, recorded: usize) -> Result<(), EncodeError> {
        if self.dim == recorded {
            return Ok(());
        }
        Err(EncodeError::WidthChanged {
            model: model.to_string(),
            now: self.dim,
            recorded,
        })
    }

    /// Whether the graph takes any batch size or a fixed one.
    pub fn batch_axis(&self) -> BatchAxis {
        self.batch
    }

    /// Rows per run: the fixed size, or the chosen batch for dynamic graphs.
    pub fn max_batch(&self) -> usize {
        match self.batch {
            BatchAxis::Fixed(n) => n,
            BatchAxis::Dynamic => self.dynamic_batch,
        }
    }

    /// Sets the batch size used with dynamic-batch graphs (ignored for fixed ones), since the
    /// best size depends on the device.
    pub fn set_batch(&mut self, n: usize) {
        self.dynamic_batch = n.max(1);
    }

    /// Embeds `n` preprocessed pictures laid end to end in `tensors` (normalised floats, for
    /// graphs that take them: see [`pixel_input`](Self::pixel_input)).
    pub fn encode(&self, tensors: &[f32], n: usize) -> Result<Vec<Vec<f32>>, EncodeError> {
        self.encode_pixels(PixelsRef::Floats(tensors), n)
    }

    /// Embeds `n` pictures laid end to end in the graph's own form.
    pub fn encode_pixels(
        &self,
        pixels: PixelsRef<'_>,
        n: usize,
    ) -> Result<Vec<Vec<f32>>, EncodeError> {
        let (cw, ch) = (self.preprocess.crop.0 as i64, self.preprocess.crop.1 as i64);
        match (pixels, self.pixel_input) {
            (PixelsRef::Floats(v), PixelInput::Floats) => {
                self.run_batches(v, n, |rows| [rows, 3, ch, cw])
            }
            (PixelsRef::Bytes(v), PixelInput::Bytes) => {
                self.run_batches(v, n, |rows| [rows, ch, cw, 3])
            }
            (PixelsRef::Floats(_), PixelInput::Bytes) => Err(graph_err(
                &self.path,
                "this graph takes the crop's bytes, not normalised floats",
            )),
            (PixelsRef::Bytes(_), PixelInput::Floats) => Err(graph_err(
                &self.path,
                "this graph takes normalised floats, not bytes",
            )),
        }
    }

    fn run_batches<T>(
        &self,
        tensors: &[T],
        n: usize,
        shape: impl Fn(i64) -> [i64; 4],
    ) -> Result<Vec<Vec<f32>>, EncodeError>
    where
        T: ort::value::PrimitiveTensorElementType + Copy + Default + std::fmt::Debug + 'static,
    {
        let per = self.preprocess.tensor_len();
        if tensors.len() != per * n {
            return Err(graph_err(&self.path, "tensor batch has the wrong length"));
        }
        let mut out = Vec::with_capacity(n);
        for chunk in tensors.chunks(per * self.max_batch()) {
            let rows = chunk.len() / per;
            let run_rows = match self.batch {
                BatchAxis::Fixed(k) => k,
                BatchAxis::Dynamic => rows,
            };
            // The batch is handed to ONNX Runtime in place (one copy fewer per batch); only a
            // short last batch for a fixed-batch graph is padded in a copy.
            let padded: Vec<T>;
            let data: &[T] = if rows == run_rows {
                chunk
            } else {
                let mut v = chunk.to_vec();
                v.resize(run_rows * per, T::default());
                padded = v;
                &padded
            };
            let tensor = TensorRef::from_array_view((shape(run_rows as i64), data))
                .map_err(|e| EncodeError::Run(e.to_string()))?;
            let mut session = self.session.lock().map_err(|_| {
                EncodeError::Run("image session poisoned by an earlier panic".into())
            })?;
            let outputs = session
                .run(ort::inputs![self.input.as_str() => tensor])
                .map_err(|e| EncodeError::Run(e.to_string()))?;
            let value = outputs
                .get(self.output.as_str())
                .ok_or_else(|| graph_err(&self.path, format!("no output {}", self.output)))?;
            let (_, flat) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| EncodeError::Run(e.to_string()))?;
            let mut rows_out = split_rows(flat, run_rows, &self.path)?;
            rows_out.truncate(rows);
            out.extend(rows_out);
        }
        Ok(out)
    }

    /// Decodes, preprocesses and embeds files: decoding runs on `threads` workers while the
    /// encoder consumes full batches; `on_result` gets each file's index and outcome as soon as
    /// it is known (not necessarily in order).
    pub fn embed_files(
        &self,
        paths: &[PathBuf],
        threads: usize,
        mut on_result: impl FnMut(usize, Result<Vec<f32>, EmbedError>),
    ) {
        let next = AtomicUsize::new(0);
        let batch = self.max_batch();
        let opts = DecodeOptions::for_model(self.preprocess.resize);
        // Bounded: decoders wait when the encoder is behind, so memory stays flat.
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<Pixels, DecodeError>)>(batch * 2);
        std::thread::scope(|scope| {
            for _ in 0..threads.max(1) {
                let tx = tx.clone();
                let next = &next;
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let r = decode::decode_file(path, opts).map(|d| self.pixels_of(&d.image));
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            let mut pending: Vec<usize> = Vec::with_capacity(batch);
            let mut held: Vec<Pixels> = Vec::with_capacity(batch);
            let mut staging = self.staging();
            let mut flush =
                |pending: &mut Vec<usize>,
                 held: &mut Vec<Pixels>,
                 on_result: &mut dyn FnMut(usize, Result<Vec<f32>, EmbedError>)| {
                    if pending.is_empty() {
                        return;
                    }
                    let result = if staging.fill(held, 1) {
                        self.encode_pixels(staging.data(), pending.len())
                    } else {
                        Err(EncodeError::Run(
                            "the batch could not be staged for the encoder".into(),
                        ))
                    };
                    match result {
                        Ok(vs) => {
                            for (i, v) in pending.iter().zip(vs) {
                                on_result(*i, Ok(v));
                            }
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            for i in pending.iter() {
                                on_result(*i, Err(EncodeError::Run(msg.clone()).into()));
                            }
                        }
                    }
                    pending.clear();
                    held.clear();
                };
            for (i, r) in rx {
                match r {
                    Ok(t) => {
                        pending.push(i);
                        held.push(t);
                        if pending.len() == batch {
                            flush(&mut pending, &mut held, &mut on_result);
                        }
                    }
                    Err(e) => on_result(i, Err(e.into())),
                }
            }
            flush(&mut pending, &mut held, &mut on_result);
        });
    }
}

/// Where a [`LazyImageEncoder`] gets its ONNX Runtime environment when it opens.
type EnvSource = Box<
    dyn Fn() -> Result<ort::environment::Environment, crate::runtime::RuntimeError> + Send + Sync,
>;

/// What a [`LazyImageEncoder`] runs once it has opened the encoder (a provider report).
type OnOpen = Box<dyn Fn(&ImageEncoder) + Send + Sync>;

/// Why a [`LazyImageEncoder`] could not give its encoder.
#[derive(Debug, thiserror::Error)]
pub enum LazyEncoderError {
    /// ONNX Runtime could not be found or loaded.
    #[error("ONNX Runtime is not available")]
    Runtime(#[source] crate::runtime::RuntimeError),
    /// The image graph could not be opened, or gives another width than the library holds.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The image graph does not say how wide its embeddings are, so no library can take them.
    #[error("the model's image graph does not declare its embedding width")]
    NoWidth,
}

/// The image tower, opened the first time it is needed: indexing an unchanged library or
/// answering from stored vectors then loads neither the model (hundreds of MB on a CPU) nor,
/// on a GPU, CUDA's start-up and device memory. The CLI's indexing commands and the app's
/// session share it; it checks the opened graph against the embedding width the library
/// recorded. A failed open is retried on the next call.
pub struct LazyImageEncoder {
    env: EnvSource,
    files: ModelFiles,
    device: DeviceOptions,
    /// Pictures per run for dynamic-batch graphs, when not the device's default.
    batch: Option<usize>,
    /// The library's embedding width for this model, which the graph must give.
    width: Option<usize>,
    on_open: Option<OnOpen>,
    slot: Mutex<Option<std::sync::Arc<ImageEncoder>>>,
}

impl LazyImageEncoder {
    /// An encoder of `files` on `device` that will open in `env` (ONNX Runtime already loaded).
    pub fn new(
        env: ort::environment::Environment,
        files: ModelFiles,
        device: DeviceOptions,
    ) -> Self {
        Self::loading_runtime(move || Ok(env.clone()), files, device)
    }

    /// An encoder that also loads ONNX Runtime only when it opens, through `env`.
    pub fn loading_runtime(
        env: impl Fn() -> Result<ort::environment::Environment, crate::runtime::RuntimeError>
            + Send
            + Sync
            + 'static,
        files: ModelFiles,
        device: DeviceOptions,
    ) -> Self {
        LazyImageEncoder {
            env: Box::new(env),
            files,
            device,
            batch: None,
            width: None,
            on_open: None,
            slot: Mutex::new(None),
        }
    }

    /// Sets the batch for dynamic-batch graphs (see [`ImageEncoder::set_batch`]); `None` keeps
    /// the device's default.
    pub fn with_batch(mut self, batch: Option<usize>) -> Self {
        self.batch = batch;
        self
    }

    /// Runs `f` on the encoder each time it opens, before its width is checked (to report
    /// where it runs).
    pub fn on_open(mut self, f: impl Fn(&ImageEncoder) + Send + Sync + 'static) -> Self {
        self.on_open = Some(Box::new(f));
        self
    }

    /// The embedding width the library recorded for this model: an encoder opened later must
    /// give it.
    pub fn expect_width(&mut self, width: usize) {
        self.width = Some(width);
    }

    /// The width an opened encoder must give, once known.
    pub fn expected_width(&self) -> Option<usize> {
        self.width
    }

    /// The model this encoder runs.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// The encoder, opened now if need be.
    pub fn get(&self) -> Result<std::sync::Arc<ImageEncoder>, LazyEncoderError> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let env = (self.env)().map_err(LazyEncoderError::Runtime)?;
        let mut enc = ImageEncoder::open_with(&env, &self.files, &self.device)?;
        if let Some(b) = self.batch {
            enc.set_batch(b);
        }
        if let Some(f) = &self.on_open {
            f(&enc);
        }
        if enc.dim() == 0 {
            return Err(LazyEncoderError::NoWidth);
        }
        if let Some(want) = self.width {
            enc.check_width(&self.files.name, want)?;
        }
        let enc = std::sync::Arc::new(enc);
        *slot = Some(enc.clone());
        Ok(enc)
    }
}

/// The text tower with its tokenizer, ready to embed captions.
pub struct TextEncoder {
    session: Mutex<Session>,
    path: PathBuf,
    tokenizer: Tokenizer,
    ids_input: String,
    ids_type: TensorElementType,
    mask_input: Option<(String, TensorElementType)>,
    output: String,
    batch: BatchAxis,
    dim: usize,
    /// The graph takes any number of tokens: captions are fed up to their end token only.
    variable_length: bool,
    /// Which provider runs it and why.
    pub selection: Selection,
}

impl TextEncoder {
    /// Opens the text tower and tokenizer of `files` on `device` with default GPU settings.
    pub fn open(
        env: &ort::environment::Environment,
        files: &ModelFiles,
        device: Device,
    ) -> Result<Self, EncodeError> {
        Self::open_with(env, files, &DeviceOptions::new(device))
    }

    /// Opens the text tower as `opts` say (fp16 copy on GPUs when it agrees with fp32).
    pub fn open_with(
        env: &ort::environment::Environment,
        files: &ModelFiles,
        opts: &DeviceOptions,
    ) -> Result<Self, EncodeError> {
        let path = files.textual.clone();
        let tokenizer = Tokenizer::from_file(
            &files.tokenizer,
            files.context_length,
            files.pad_token.as_deref(),
        )?;
        let probe: Vec<(Vec<i64>, usize)> = PROBE_CAPTIONS
            .iter()
            .map(|c| {
                tokenizer
                    .encode(c)
                    .map(|t| (t.ids.iter().map(|&i| i as i64).collect(), t.len))
            })
            .collect::<Result<_, _>>()?;
        let ctx = files.context_length;
        // A copy of a fixed-length graph that reads only the caption's tokens, once it has
        // given the original's embeddings; else the graph as shipped.
        let path = variable_length_copy(env, &path, ctx, &probe).unwrap_or(path);
        let variant = |graph: &Path| glimpse_onnx::fp16::ensure_variant(graph);
        let (session, selection) = open_checked(env, &path, opts, &variant, &|s: &mut Session| {
            run_tokens(s, &probe, |_| ctx)
        })?;
        release_freed_memory();
        let inputs: Vec<(String, TensorElementType, Vec<i64>)> = session
            .inputs()
            .iter()
            .filter_map(|i| shape_of(i.dtype()).map(|(t, s)| (i.name().to_owned(), t, s)))
            .collect();
        let (ids_input, ids_type, shape) = ["text", "input_ids"]
            .iter()
            .find_map(|p| inputs.iter().find(|(n, _, _)| n == p))
            .or_else(|| inputs.iter().find(|(n, _, _)| n != "attention_mask"))
            .cloned()
            .ok_or_else(|| graph_err(&path, "no token id input"))?;
        if !matches!(
            ids_type,
            TensorElementType::Int32 | TensorElementType::Int64
        ) {
            return Err(graph_err(
                &path,
                format!("token input {ids_input} is {ids_type:?}, expected int32 or int64"),
            ));
        }
        if let Some(&len) = shape.get(1) {
            if len > 0 && len as usize != files.context_length {
                return Err(graph_err(
                    &path,
                    format!(
                        "token input has length {len}, config says {}",
                        files.context_length
                    ),
                ));
            }
        }
        let mask_input = inputs
            .iter()
            .find(|(n, _, _)| n == "attention_mask")
            .map(|(n, t, _)| (n.clone(), *t));
        let (output, dim) = pick_output(&session, &path, &["embedding", "text_embeds"])?;
        Ok(TextEncoder {
            variable_length: shape.get(1).is_some_and(|&len| len <= 0),
            batch: batch_axis(&shape),
            session: Mutex::new(session),
            path,
            tokenizer,
            ids_input,
            ids_type,
            mask_input,
            output,
            dim,
            selection,
        })
    }

    /// Embedding width (0 if the graph does not declare it).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The tokenizer, for callers that want the ids.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Whether captions are fed up to their end token (a graph that takes any length, or its
    /// checked copy) rather than padded to the model's whole context.
    pub fn reads_caption_length(&self) -> bool {
        self.variable_length
    }

    /// Embeds captions, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncodeError> {
        let tokens = texts
            .iter()
            .map(|t| self.tokenizer.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        let context = self.tokenizer.context_length();
        let max = match self.batch {
            BatchAxis::Fixed(k) => k,
            BatchAxis::Dynamic => DEFAULT_TEXT_BATCH,
        };
        let mut out = Vec::with_capacity(texts.len());
        for chunk in tokens.chunks(max.max(1)) {
            let rows = match self.batch {
                BatchAxis::Fixed(k) => k,
                BatchAxis::Dynamic => chunk.len(),
            };
            // Positions after the end token change nothing (causal attention, pooled at the
            // end token), so a graph that takes any length reads up to the longest caption's.
            let ctx = match self.variable_length {
                true => chunk
                    .iter()
                    .map(|t| t.len)
                    .max()
                    .unwrap_or(1)
                    .clamp(1, context),
                false => context,
            };
            let mut ids: Vec<i64> = Vec::with_capacity(rows * ctx);
            let mut mask: Vec<i64> = Vec::with_capacity(rows * ctx);
            for t in chunk {
                ids.extend(t.ids[..ctx].iter().map(|&i| i as i64));
                mask.extend((0..ctx).map(|j| i64::from(j < t.len)));
            }
            ids.resize(rows * ctx, 0);
            mask.resize(rows * ctx, 0);
            let shape = [rows as i64, ctx as i64];
            let run = |e: ort::Error| EncodeError::Run(e.to_string());
            let mut session = self.session.lock().map_err(|_| {
                EncodeError::Run("text session poisoned by an earlier panic".into())
            })?;
            let mut inputs: Vec<(
                std::borrow::Cow<'_, str>,
                ort::session::SessionInputValue<'_>,
            )> = Vec::new();
            let ids_value: ort::session::SessionInputValue<'_> = match self.ids_type {
                TensorElementType::Int32 => {
                    let v: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
                    Tensor::from_array((shape, v)).map_err(run)?.into()
                }
                _ => Tensor::from_array((shape, ids)).map_err(run)?.into(),
            };
            inputs.push((self.ids_input.as_str().into(), ids_value));
            if let Some((m, mask_type)) = &self.mask_input {
                let mask_value: ort::session::SessionInputValue<'_> = match mask_type {
                    TensorElementType::Int32 => {
                        let v: Vec<i32> = mask.iter().map(|&i| i as i32).collect();
                        Tensor::from_array((shape, v)).map_err(run)?.into()
                    }
                    _ => Tensor::from_array((shape, mask)).map_err(run)?.into(),
                };
                inputs.push((m.as_str().into(), mask_value));
            }
            let outputs = session.run(inputs).map_err(run)?;
            let value = outputs
                .get(self.output.as_str())
                .ok_or_else(|| graph_err(&self.path, format!("no output {}", self.output)))?;
            let (_, flat) = value.try_extract_tensor::<f32>().map_err(run)?;
            let mut rows_out = split_rows(flat, rows, &self.path)?;
            rows_out.truncate(chunk.len());
            out.extend(rows_out);
        }
        Ok(out)
    }
}

/// Rows in the fp16-versus-fp32 check.
const PROBE_ROWS: usize = 4;
/// Captions for the text tower's fp16 check.
const PROBE_CAPTIONS: [&str; 4] = [
    "a dog asleep on a red sofa",
    "snowy mountains at sunrise",
    "two children playing football on a beach",
    "a plate of pasta with tomato sauce",
];

/// Deterministic picture-like crops (bytes, HWC) for the fp16 check: smooth gradients plus a
/// little noise, as photos have; float graphs get them normalised like any photo.
fn probe_bytes(n: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let (x, y, c) = ((i / 3) % 224, (i / 3 / 224) % 224, i % 3);
            let smooth = ((x as f32 / 37.0 + c as f32).sin() + (y as f32 / 53.0).cos()) * 0.25;
            ((0.5 + smooth + 0.2 * noise).clamp(0.0, 1.0) * 255.0).round() as u8
        })
        .collect()
}

type Probe<'a> = dyn Fn(&mut Session) -> Result<Vec<f32>, String> + 'a;

/// Runs a text graph on `rows` (token ids and real length), one caption per run so fixed-batch
/// graphs take them too, each fed `width(len)` tokens (padding with 0, the mask marking the
/// real ones); returns the outputs' rows in order.
fn run_tokens(
    s: &mut Session,
    rows: &[(Vec<i64>, usize)],
    width: impl Fn(usize) -> usize,
) -> Result<Vec<f32>, String> {
    let inputs: Vec<(String, bool)> = s
        .inputs()
        .iter()
        .map(|i| {
            let int32 = i.dtype().tensor_type() == Some(TensorElementType::Int32);
            (i.name().to_owned(), int32)
        })
        .collect();
    let mut out = Vec::new();
    for (ids, len) in rows {
        let w = width(*len);
        let shape = [1i64, w as i64];
        let mut feeds: Vec<(String, ort::session::SessionInputValue<'_>)> = Vec::new();
        for (name, int32) in &inputs {
            let vals: Vec<i64> = (0..w)
                .map(|j| match name == "attention_mask" {
                    true => i64::from(j < *len),
                    false => ids.get(j).copied().unwrap_or(0),
                })
                .collect();
            let value: ort::session::SessionInputValue<'_> = if *int32 {
                let v: Vec<i32> = vals.iter().map(|&x| x as i32).collect();
                Tensor::from_array((shape, v))
                    .map_err(|e| e.to_string())?
                    .into()
            } else {
                Tensor::from_array((shape, vals))
                    .map_err(|e| e.to_string())?
                    .into()
            };
            feeds.push((name.clone(), value));
        }
        let outputs = s.run(feeds).map_err(|e| e.to_string())?;
        let (_, flat) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(flat);
    }
    Ok(out)
}

/// Lowest cosine, on every probe caption, between a variable-length copy's embedding (the
/// caption's own tokens) and the original graph's (padded to the context) for the copy to be
/// used: the same arithmetic on fewer positions, measured ~1e-7 apart.
pub(crate) const VARIABLE_LENGTH_MIN_COSINE: f32 = 0.99999;

/// The checked variable-length copy of a fixed-length text graph ([`glimpse_onnx::seqlen`]),
/// made and checked against the original on the CPU the first time; `None` keeps the graph
/// as shipped (it already takes any length, cannot be rewritten, or its copy disagreed).
fn variable_length_copy(
    env: &ort::environment::Environment,
    graph: &Path,
    context: usize,
    probe: &[(Vec<i64>, usize)],
) -> Option<PathBuf> {
    let copy = match glimpse_onnx::seqlen::ensure_copy(graph, context) {
        Ok(Some(copy)) => copy,
        Ok(None) => return None,
        Err(e) => {
            tracing::info!(graph = %graph.display(), "text graph keeps its fixed length: {e}");
            return None;
        }
    };
    let marker = copy.with_extension("onnx.checked");
    if glimpse_onnx::seqlen::is_checked(&marker, &copy) {
        // GPUs now run the copy's fp16 form; the original's, from before, is never read again.
        glimpse_onnx::fp16::remove_copy(&glimpse_onnx::fp16::variant_path(graph));
        return Some(copy);
    }
    let cpu = DeviceOptions {
        fp16: false,
        ..DeviceOptions::new(Device::Cpu)
    };
    // The probe captions are short: one as long as most of the context checks the far end.
    let mut rows = probe.to_vec();
    if let Some((ids, len)) = probe.first().filter(|(_, len)| *len >= 3) {
        let body = ids[1..len - 1].iter().copied().cycle();
        let mut long = vec![ids[0]];
        long.extend(body.take(context.saturating_sub(2).min(60)));
        long.push(ids[len - 1]);
        rows.push((long.clone(), long.len()));
    }
    let verdict = (|| -> Result<f32, String> {
        let (mut original, _) =
            device::open_session_with(env, graph, None, &cpu).map_err(|e| e.to_string())?;
        let (mut short, _) =
            device::open_session_with(env, &copy, None, &cpu).map_err(|e| e.to_string())?;
        let a = run_tokens(&mut original, &rows, |_| context)?;
        let b = run_tokens(&mut short, &rows, |len| len.clamp(1, context))?;
        Ok(crate::embedding::min_row_cosine(&a, &b, rows.len()))
    })();
    match verdict {
        Ok(c) if c >= VARIABLE_LENGTH_MIN_COSINE => {
            tracing::info!(graph = %graph.display(), cosine = c, "variable-length text graph agrees");
            if let Err(e) = std::fs::write(&marker, format!("{c}\n")) {
                tracing::warn!("cannot record the variable-length check: {e}");
            }
            Some(copy)
        }
        Ok(c) => {
            tracing::warn!(
                graph = %graph.display(),
                "variable-length copy differs (cosine {c:.6}); captions stay padded"
            );
            None
        }
        Err(e) => {
            tracing::warn!(graph = %graph.display(), "variable-length check failed: {e}");
            None
        }
    }
}

/// Lowest cosine, on every picture of a batch, between a batched copy's embedding and the
/// original graph's (one picture per run) for the copy to be used: the same arithmetic in
/// another order, measured ~1e-7 apart.
pub(crate) const BATCH_MIN_COSINE: f32 = 0.99999;

/// Pictures in the batch a batched copy is checked with: an odd number, so no two halves of
/// a wrongly split batch line up.
const BATCH_PROBE_ROWS: usize = 3;

/// Distinct probe crops (bytes, HWC): the fp16 probe's picture, inverted and with its
/// channels rotated in turn, so pictures that a wrong batch mixed would not come out alike.
fn batch_probe_bytes(len: usize, rows: usize) -> Vec<u8> {
    let base = probe_bytes(len);
    let mut out = Vec::with_capacity(len * rows);
    for r in 0..rows {
        out.extend(base.chunks_exact(3).flat_map(|px| {
            let rot = [px[r % 3], px[(r + 1) % 3], px[(r + 2) % 3]];
            rot.map(|v| if r % 2 == 1 { 255 - v } else { v })
        }));
    }
    out
}

/// Runs an image graph that takes floats on `rows` probe pictures, `per_run` at a time.
fn run_pictures(
    s: &mut Session,
    input: &str,
    cfg: &PreprocessConfig,
    rows: usize,
    per_run: usize,
) -> Result<Vec<f32>, String> {
    let (cw, ch) = cfg.crop;
    let len = cfg.tensor_len();
    let bytes = batch_probe_bytes(len, rows);
    let mut floats = vec![0f32; bytes.len()];
    for (hwc, chw) in bytes.chunks_exact(len).zip(floats.chunks_exact_mut(len)) {
        cfg.normalise_bytes(hwc, chw);
    }
    let mut out = Vec::new();
    for chunk in floats.chunks(len * per_run.max(1)) {
        let shape = [(chunk.len() / len) as i64, 3, ch as i64, cw as i64];
        let tensor = Tensor::from_array((shape, chunk.to_vec())).map_err(|e| e.to_string())?;
        let outputs = s
            .run(ort::inputs![input => tensor])
            .map_err(|e| e.to_string())?;
        let (_, flat) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(flat);
    }
    Ok(out)
}

/// ONNX Runtime's session setting for where a graph read from memory finds its external data.
const EXTERNAL_DATA_FOLDER: &str = "session.model_external_initializers_file_folder_path";

/// One CPU run of an image graph with every tensor listed as an output (see
/// [`glimpse_onnx::batch::with_every_output`]): the shapes and small integer values the
/// batch rewrite follows.
fn graph_facts(
    env: &ort::environment::Environment,
    graph: &Path,
    probe: &[u8],
    input: &str,
    cfg: &PreprocessConfig,
) -> Result<glimpse_onnx::batch::Facts, ort::Error> {
    // Read from memory: writing the probe out would put a second copy of the weights (350 MB
    // for a ViT-B/32) on disk for a moment, left behind for good if the process dies then.
    // Weights kept in external data files are looked up beside the graph (a folder whose name
    // is not UTF-8 cannot be named to ONNX Runtime: such a graph keeps one picture per run).
    let mut builder = Session::builder(env)?.with_intra_op_spinning(false)?;
    let dir = graph
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Some(dir) = dir.to_str() {
        builder = builder.with_config_entry(EXTERNAL_DATA_FOLDER, dir)?;
    }
    let mut s = builder.commit_from_memory(probe)?;
    let (cw, ch) = cfg.crop;
    let len = cfg.tensor_len();
    let mut floats = vec![0f32; len];
    cfg.normalise_bytes(&probe_bytes(len), &mut floats);
    let tensor = Tensor::from_array(([1i64, 3, ch as i64, cw as i64], floats))?;
    let outputs = s.run(ort::inputs![input => tensor])?;
    let mut facts = glimpse_onnx::batch::Facts::default();
    for (name, value) in &outputs {
        let Some((ty, shape)) = shape_of(value.dtype()) else {
            continue;
        };
        let dims: Vec<u64> = shape.iter().map(|&d| d.max(0) as u64).collect();
        let count: u64 = dims.iter().product();
        if ty == TensorElementType::Int64 && count <= glimpse_onnx::batch::FACT_INTS_MAX as u64 {
            if let Ok((_, v)) = value.try_extract_tensor::<i64>() {
                facts.ints.insert(name.to_owned(), v.to_vec());
            }
        }
        facts.dims.insert(name.to_owned(), dims);
    }
    Ok(facts)
}

/// The checked batched copy of an image graph exported for one picture
/// ([`glimpse_onnx::batch`]), made and checked against the original on the CPU the first
/// time; `None` keeps the graph as shipped (it takes a batch already, cannot be rewritten, or
/// its copy disagreed: the reason is logged and kept beside it).
fn batched_copy(
    env: &ort::environment::Environment,
    graph: &Path,
    cfg: &PreprocessConfig,
) -> Option<PathBuf> {
    use glimpse_onnx::batch::{self, BatchCopy};
    let facts = |probe: &[u8], input: &str| {
        let facts = graph_facts(env, graph, probe, input, cfg);
        release_freed_memory();
        facts
    };
    let copy = match batch::prepare(graph, facts) {
        Ok(BatchCopy::Original) => return None,
        Ok(BatchCopy::Checked(copy)) => return Some(copy),
        Ok(BatchCopy::Unchecked(copy)) => copy,
        Err(e) => {
            tracing::info!(graph = %graph.display(), "image graph keeps one picture per run: {e}");
            return None;
        }
    };
    let cpu = DeviceOptions {
        fp16: false,
        ..DeviceOptions::new(Device::Cpu)
    };
    // One graph open at a time: a ViT-B/32 is 350 MB.
    let run = |graph: &Path, per_run: usize| -> Result<Vec<f32>, String> {
        let (mut s, _) =
            device::open_session_with(env, graph, None, &cpu).map_err(|e| e.to_string())?;
        let input = s.inputs().first().map(|i| i.name().to_owned());
        let input = input.ok_or("a graph without an input")?;
        let out = run_pictures(&mut s, &input, cfg, BATCH_PROBE_ROWS, per_run);
        drop(s);
        release_freed_memory();
        out
    };
    let verdict = (|| -> Result<f32, String> {
        let a = run(graph, 1)?;
        let b = run(&copy, BATCH_PROBE_ROWS)?;
        Ok(crate::embedding::min_row_cosine(&a, &b, BATCH_PROBE_ROWS))
    })();
    release_freed_memory();
    let why = match verdict {
        Ok(c) if c >= BATCH_MIN_COSINE => {
            tracing::info!(graph = %graph.display(), cosine = c, "batched image graph agrees");
            if let Err(e) = std::fs::write(batch::check_path(&copy), format!("{c}\n")) {
                tracing::warn!("cannot record the batch check: {e}");
            }
            // GPUs now run the copy's fp16 form; the original's, from before, is never read.
            let fp16 = glimpse_onnx::fp16::image_variant_path(graph, &cfg.lut());
            glimpse_onnx::fp16::remove_copy(&fp16);
            glimpse_onnx::fp16::remove_copy(&glimpse_onnx::fp16::variant_path(graph));
            return Some(copy);
        }
        Ok(c) => format!("its batched copy differs (cosine {c:.6})"),
        Err(e) => format!("its batched copy could not be checked: {e}"),
    };
    tracing::warn!(graph = %graph.display(), "image graph keeps one picture per run: {why}");
    batch::record_none(graph, &why);
    glimpse_onnx::fp16::remove_copy(&copy);
    None
}

/// Makes (or finds) a graph's fp16 copy.
type Variant<'a> = dyn Fn(&Path) -> Result<PathBuf, glimpse_onnx::RewriteError> + 'a;

/// Opens `path` per `opts`; when that lands on the fp16 copy, runs `probe` through both graphs
/// and keeps fp16 only if every row agrees to [`FP16_MIN_COSINE`]. A passed check is recorded
/// beside the copy (`.checked`), so it runs once per model and provider.
fn open_checked(
    env: &ort::environment::Environment,
    path: &Path,
    opts: &DeviceOptions,
    variant: &Variant<'_>,
    probe: &Probe<'_>,
) -> Result<(Session, Selection), EncodeError> {
    let wants_half = opts.fp16
        && opts.device != Device::Cpu
        && device::available_providers()
            .iter()
            .any(|p| *p != Provider::Cpu);
    let mut note = None;
    let half = if wants_half {
        match variant(path) {
            Ok(h) => Some(h),
            Err(e) => {
                note = Some(format!("no fp16 copy of {}: {e}", path.display()));
                None
            }
        }
    } else {
        None
    };
    let (session, mut selection) = device::open_session_with(env, path, half.as_deref(), opts)?;
    if let (true, Some(h)) = (selection.fp16, half.as_deref()) {
        let marker = h.with_extension(format!("onnx.checked-{}", selection.provider));
        let checked = match (std::fs::metadata(&marker), std::fs::metadata(h)) {
            (Ok(m), Ok(v)) => m.modified().ok() >= v.modified().ok(),
            _ => false,
        };
        if !checked {
            let mut session = session;
            let fp32_opts = DeviceOptions {
                fp16: false,
                ..opts.clone()
            };
            let verdict = (|| -> Result<f32, String> {
                let (mut full, _) = device::open_session_with(env, path, None, &fp32_opts)
                    .map_err(|e| e.to_string())?;
                let a = probe(&mut session)?;
                let b = probe(&mut full)?;
                Ok(crate::embedding::min_row_cosine(&a, &b, PROBE_ROWS))
            })();
            match verdict {
                Ok(c) if c >= FP16_MIN_COSINE => {
                    tracing::info!(graph = %path.display(), cosine = c, "fp16 copy agrees with fp32");
                    if let Err(e) = std::fs::write(&marker, format!("{c}\n")) {
                        tracing::warn!("cannot record the fp16 check: {e}");
                    }
                    return Ok((session, selection));
                }
                other => {
                    let why = match other {
                        Ok(c) => format!(
                            "fp16 copy differs from fp32 (cosine {c:.5} < {FP16_MIN_COSINE})"
                        ),
                        Err(e) => format!("fp16 check failed: {e}"),
                    };
                    drop(session);
                    let (s, mut sel) = device::open_session_with(env, path, None, &fp32_opts)?;
                    sel.fallback = Some(match sel.fallback {
                        Some(f) => format!("{why}; {f}"),
                        None => format!("{why}; using fp32"),
                    });
                    tracing::warn!("{}", sel.fallback.as_deref().unwrap_or_default());
                    return Ok((s, sel));
                }
            }
        }
        return Ok((session, selection));
    }
    if let Some(n) = note {
        tracing::warn!("{n}");
        selection.fallback = Some(match selection.fallback {
            Some(f) => format!("{n}; {f}"),
            None => n,
        });
    }
    Ok((session, selection))
}

/// Hands back to the OS what opening a session freed: graph optimisation and the fp16 check
/// copy weights, and glibc keeps those pages in the opening thread's arena (measured with a
/// ViT-B/32 image tower opened lazily by the app: 820 MB resident after, 645 MB with this).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it takes the allocator's
    // own locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
