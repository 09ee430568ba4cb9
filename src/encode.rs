//! ONNX sessions for the two CLIP towers → L2-normalised embeddings.
//!
//! Input/output names, element types and whether the batch axis is dynamic are read from the
//! graph, so immich zoo exports (`image`/`text` → `embedding`) and Hugging Face exports
//! (`pixel_values`, `input_ids` + `attention_mask` → `image_embeds`/`text_embeds`) both work, and
//! fixed-batch-1 graphs are fed one picture at a time. Outputs are always re-normalised: some
//! exports return raw projections.

use crate::decode::{self, DecodeError, DecodeOptions};
use crate::device::{self, Device, Selection, SessionError};
use crate::model::ModelFiles;
use crate::preprocess::PreprocessConfig;
use crate::tokenize::{TokenizeError, Tokenizer};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

/// Largest batch sent to a dynamic-batch image graph at once.
pub const DEFAULT_IMAGE_BATCH: usize = 16;
/// Largest batch sent to a dynamic-batch text graph at once.
pub const DEFAULT_TEXT_BATCH: usize = 64;

/// Why an embedding could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The session could not be opened.
    #[error(transparent)]
    Session(#[from] SessionError),
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

fn normalize(mut v: Vec<f32>) -> Result<Vec<f32>, EncodeError> {
    let norm = v
        .iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return Err(EncodeError::Degenerate);
    }
    for x in &mut v {
        *x = (*x as f64 / norm) as f32;
    }
    Ok(v)
}

fn split_rows(data: &[f32], rows: usize, path: &Path) -> Result<Vec<Vec<f32>>, EncodeError> {
    if rows == 0 || data.len() % rows != 0 {
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
    /// Which provider runs it and why.
    pub selection: Selection,
    /// How pictures are prepared for it.
    pub preprocess: PreprocessConfig,
}

impl ImageEncoder {
    /// Opens the image tower of `files` on `device`.
    pub fn open(
        env: &ort::environment::Environment,
        files: &ModelFiles,
        device: Device,
    ) -> Result<Self, EncodeError> {
        let path = files.visual.clone();
        let (session, selection) = device::open_session(env, &path, device)?;
        let inputs: Vec<(String, TensorElementType, Vec<i64>)> = session
            .inputs()
            .iter()
            .filter_map(|i| shape_of(i.dtype()).map(|(t, s)| (i.name().to_owned(), t, s)))
            .collect();
        let (input, ty, shape) = ["image", "pixel_values"]
            .iter()
            .find_map(|p| inputs.iter().find(|(n, _, _)| n == p))
            .or_else(|| inputs.iter().find(|(_, _, s)| s.len() == 4))
            .cloned()
            .ok_or_else(|| graph_err(&path, "no rank-4 image input"))?;
        if ty != TensorElementType::Float32 {
            return Err(graph_err(
                &path,
                format!("image input {input} is {ty:?}, expected float32"),
            ));
        }
        let (c, h, w) = (shape[1], shape[2], shape[3]);
        let (cw, ch) = files.preprocess.crop;
        if c != 3 && c > 0 || (h > 0 && h != ch as i64) || (w > 0 && w != cw as i64) {
            return Err(graph_err(
                &path,
                format!("image input is {shape:?} but the preprocessing config makes 3x{ch}x{cw}"),
            ));
        }
        let (output, dim) = pick_output(&session, &path, &["embedding", "image_embeds"])?;
        Ok(ImageEncoder {
            batch: batch_axis(&shape),
            dynamic_batch: DEFAULT_IMAGE_BATCH,
            session: Mutex::new(session),
            path,
            input,
            output,
            dim,
            selection,
            preprocess: files.preprocess.clone(),
        })
    }

    /// Embedding width (0 if the graph does not declare it).
    pub fn dim(&self) -> usize {
        self.dim
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

    /// Embeds `n` preprocessed pictures laid end to end in `tensors`.
    pub fn encode(&self, tensors: &[f32], n: usize) -> Result<Vec<Vec<f32>>, EncodeError> {
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
            let mut data = chunk.to_vec();
            data.resize(run_rows * per, 0.0);
            let (cw, ch) = self.preprocess.crop;
            let shape = [run_rows as i64, 3, ch as i64, cw as i64];
            let tensor =
                Tensor::from_array((shape, data)).map_err(|e| EncodeError::Run(e.to_string()))?;
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
        let per = self.preprocess.tensor_len();
        let batch = self.max_batch();
        let opts = DecodeOptions::for_model(self.preprocess.resize);
        // Bounded: decoders wait when the encoder is behind, so memory stays flat.
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<f32>, DecodeError>)>(batch * 2);
        std::thread::scope(|scope| {
            for _ in 0..threads.max(1) {
                let tx = tx.clone();
                let next = &next;
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let r =
                        decode::decode_file(path, opts).map(|d| self.preprocess.apply(&d.image));
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            let mut pending: Vec<usize> = Vec::with_capacity(batch);
            let mut data: Vec<f32> = Vec::with_capacity(batch * per);
            let flush =
                |pending: &mut Vec<usize>,
                 data: &mut Vec<f32>,
                 on_result: &mut dyn FnMut(usize, Result<Vec<f32>, EmbedError>)| {
                    if pending.is_empty() {
                        return;
                    }
                    match self.encode(data, pending.len()) {
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
                    data.clear();
                };
            for (i, r) in rx {
                match r {
                    Ok(t) => {
                        pending.push(i);
                        data.extend_from_slice(&t);
                        if pending.len() == batch {
                            flush(&mut pending, &mut data, &mut on_result);
                        }
                    }
                    Err(e) => on_result(i, Err(e.into())),
                }
            }
            flush(&mut pending, &mut data, &mut on_result);
        });
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
    /// Which provider runs it and why.
    pub selection: Selection,
}

impl TextEncoder {
    /// Opens the text tower and tokenizer of `files` on `device`.
    pub fn open(
        env: &ort::environment::Environment,
        files: &ModelFiles,
        device: Device,
    ) -> Result<Self, EncodeError> {
        let path = files.textual.clone();
        let tokenizer = Tokenizer::from_file(
            &files.tokenizer,
            files.context_length,
            files.pad_token.as_deref(),
        )?;
        let (session, selection) = device::open_session(env, &path, device)?;
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

    /// Embeds captions, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncodeError> {
        let tokens = texts
            .iter()
            .map(|t| self.tokenizer.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        let ctx = self.tokenizer.context_length();
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
            let mut ids: Vec<i64> = Vec::with_capacity(rows * ctx);
            let mut mask: Vec<i64> = Vec::with_capacity(rows * ctx);
            for t in chunk {
                ids.extend(t.ids.iter().map(|&i| i as i64));
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

/// Cosine of two L2-normalised vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
