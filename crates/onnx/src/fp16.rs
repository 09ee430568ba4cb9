//! Half-precision copies of a model's graphs for GPUs: an fp32 CLIP tower runs ~6x slower than
//! fp16 on tensor cores, and the zoo ships fp32 only. The copy keeps float32 inputs and outputs
//! (a Cast at each end), so the encoders feed and read it exactly like the original.
//!
//! Only graphs made of operators known to accept float16 are converted; anything else is
//! refused with the operator's name and the caller keeps the fp32 graph. Values beyond fp16's
//! range are clamped (attention masks use float32's lowest value, which would become -inf and
//! turn `0 * mask` into NaN).

use super::onnx::*;
use super::proto::{Message, ProtoError, Value};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Operators whose float inputs may all be float16 (ONNX Runtime has fp16 kernels for them on
/// CUDA, and inserts casts for the few it lacks on CPU). CLIP towers from open_clip and
/// transformers use a subset of these.
#[rustfmt::skip]
const FP16_OPS: &[&str] = &[
    "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil",
    "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Einsum", "Equal", "Erf",
    "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "Gelu", "Gemm",
    "GlobalAveragePool", "Greater", "GreaterOrEqual", "Identity", "LayerNormalization",
    "LeakyRelu", "Less", "LessOrEqual", "Log", "MatMul", "Max", "MaxPool", "Min", "Mod", "Mul", "Neg",
    "Not", "Or", "Pow", "Range", "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceSum",
    "Relu", "Reshape", "Shape", "Sigmoid", "Sign", "Slice", "Softmax", "Softplus", "Split", "Sqrt",
    "Squeeze", "Sub", "Tanh", "Tile", "Transpose", "Trilu", "Unsqueeze", "Where",
];

/// The largest serialised ONNX model (protobuf's 2 GB limit); past it weights must stay in
/// external data files, which the copies do not write.
const PROTOBUF_MAX: usize = i32::MAX as usize;

/// What a conversion did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Float tensors (initializers and constants) now stored as fp16.
    pub tensors: usize,
    /// Values outside fp16's range that were clamped to ±65504.
    pub clamped: usize,
    /// Graph inputs and outputs given a Cast to keep them float32.
    pub casts: usize,
}

/// float32 → float16 bits, clamping finite values to fp16's range.
fn to_half(x: f32, clamped: &mut usize) -> u16 {
    const MAX: f32 = 65504.0;
    let x = if x.is_finite() && x.abs() > MAX {
        *clamped += 1;
        MAX.copysign(x)
    } else {
        x
    };
    half::f16::from_f32(x).to_bits()
}

/// The bytes a tensor keeps in an external data file (ONNX's `location`, `offset` and `length`
/// entries), read from `dir`, the graph's folder. Locations that leave the folder are refused,
/// as ONNX Runtime refuses them.
fn external_bytes(t: &Message, dir: &Path) -> Result<Vec<u8>, RewriteError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for entry in t.all_bytes(TENSOR_EXTERNAL_DATA) {
        let entry = Message::parse(entry)?;
        let value = entry.string(2).unwrap_or_default();
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| ProtoError("external data offset or length is not a number"))
        };
        match entry.string(1).as_deref() {
            Some("location") => location = Some(value.clone()),
            Some("offset") => offset = number()?,
            Some("length") => length = Some(number()?),
            _ => {}
        }
    }
    let location = location.ok_or(ProtoError("external data without a location"))?;
    let relative = Path::new(&location);
    if relative.as_os_str().is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(RewriteError::Unsupported(format!(
            "external data outside the model's folder ({location})"
        )));
    }
    let path = dir.join(relative);
    let io = |source| RewriteError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let length = length.unwrap_or(size.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(ProtoError("external data runs past the end of its file").into());
    }
    let mut bytes =
        vec![0u8; usize::try_from(length).map_err(|_| ProtoError("external data too large"))?];
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    file.read_exact(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Rewrites one TensorProto to fp16 if it is float32; returns whether it changed. Weights in
/// external data files are read from `weights` (the graph's folder) and kept in the copy
/// itself, which is half their size; without a folder they are refused.
fn convert_tensor(
    bytes: &[u8],
    weights: Option<&Path>,
    report: &mut Report,
) -> Result<Option<Vec<u8>>, RewriteError> {
    let mut t = Message::parse(bytes)?;
    if t.varint(TENSOR_DATA_TYPE) != Some(FLOAT) {
        return Ok(None);
    }
    let external = if t.varint(TENSOR_DATA_LOCATION) == Some(1) || t.has(TENSOR_EXTERNAL_DATA) {
        let dir = weights.ok_or_else(|| {
            RewriteError::Unsupported("weights stored in external data files".into())
        })?;
        Some(external_bytes(&t, dir)?)
    } else {
        None
    };
    let mut floats: Vec<f32> = Vec::new();
    if let Some(raw) = external.as_deref().or_else(|| t.bytes(TENSOR_RAW_DATA)) {
        if raw.len() % 4 != 0 {
            return Err(ProtoError("raw float data not a multiple of 4 bytes").into());
        }
        floats.extend(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    } else {
        for f in &t.fields {
            match (&f.value, f.num) {
                (Value::Bytes(b), TENSOR_FLOAT_DATA) => {
                    if b.len() % 4 != 0 {
                        return Err(ProtoError("packed floats not a multiple of 4 bytes").into());
                    }
                    floats.extend(
                        b.chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    );
                }
                (Value::Fixed32(b), TENSOR_FLOAT_DATA) => floats.push(f32::from_le_bytes(*b)),
                _ => {}
            }
        }
    }
    let mut raw = Vec::with_capacity(floats.len() * 2);
    for x in floats {
        raw.extend_from_slice(&to_half(x, &mut report.clamped).to_le_bytes());
    }
    t.remove(TENSOR_FLOAT_DATA);
    t.remove(TENSOR_RAW_DATA);
    t.remove(TENSOR_EXTERNAL_DATA);
    t.remove(TENSOR_DATA_LOCATION);
    t.set_varint(TENSOR_DATA_TYPE, FLOAT16);
    t.push_bytes(TENSOR_RAW_DATA, raw);
    report.tensors += 1;
    Ok(Some(t.encode()))
}

/// The element type of a ValueInfoProto's tensor type, if it has one.
fn elem_type(value_info: &[u8]) -> Result<(String, Option<u64>), RewriteError> {
    let vi = Message::parse(value_info)?;
    let name = vi.string(VALUE_INFO_NAME).unwrap_or_default();
    let elem = match vi.bytes(VALUE_INFO_TYPE) {
        Some(tp) => match Message::parse(tp)?.bytes(TYPE_TENSOR) {
            Some(tt) => Message::parse(tt)?.varint(TENSOR_TYPE_ELEM),
            None => None,
        },
        None => None,
    };
    Ok((name, elem))
}

fn cast_node(from: &str, to: &str, elem: u64) -> Vec<u8> {
    let mut attr = Message::default();
    attr.push_bytes(ATTR_NAME, b"to".to_vec());
    attr.set_varint(ATTR_I, elem);
    attr.set_varint(ATTR_TYPE, ATTR_TYPE_INT);
    let mut node = Message::default();
    node.push_bytes(NODE_INPUT, from.as_bytes().to_vec());
    node.push_bytes(NODE_OUTPUT, to.as_bytes().to_vec());
    node.push_bytes(NODE_NAME, format!("glimpse_cast_{to}").into_bytes());
    node.push_bytes(NODE_OP, b"Cast".to_vec());
    node.push_bytes(NODE_ATTRIBUTE, attr.encode());
    node.encode()
}

/// Rewrites one NodeProto: its float tensors, `Cast(to=float)`, and renamed graph edges.
fn convert_node(
    bytes: &[u8],
    renamed: &HashMap<String, String>,
    report: &mut Report,
) -> Result<Vec<u8>, RewriteError> {
    let mut node = Message::parse(bytes)?;
    let op = node.string(NODE_OP).unwrap_or_default();
    let domain = node.string(NODE_DOMAIN).unwrap_or_default();
    if !(domain.is_empty() || domain == "ai.onnx") || !FP16_OPS.contains(&op.as_str()) {
        let shown = if domain.is_empty() {
            op
        } else {
            format!("{domain}.{op}")
        };
        return Err(RewriteError::Unsupported(format!(
            "operator {shown} is not known to run in fp16"
        )));
    }
    for f in &mut node.fields {
        match f.num {
            NODE_INPUT | NODE_OUTPUT => {
                if let Value::Bytes(b) = &f.value {
                    let name = String::from_utf8_lossy(b);
                    if let Some(new) = renamed.get(name.as_ref()) {
                        f.value = Value::Bytes(Cow::Owned(new.as_bytes().to_vec()));
                    }
                }
            }
            NODE_ATTRIBUTE => {
                let Value::Bytes(b) = &f.value else { continue };
                let mut attr = Message::parse(b)?;
                if attr.has(ATTR_G) || attr.has(ATTR_GRAPHS) {
                    return Err(RewriteError::Unsupported(format!(
                        "operator {op} has a subgraph"
                    )));
                }
                if attr.has(ATTR_TENSORS) {
                    return Err(RewriteError::Unsupported(format!(
                        "operator {op} has a list of tensors"
                    )));
                }
                let name = attr.string(ATTR_NAME).unwrap_or_default();
                let mut changed = false;
                if op == "Constant" && name != "value" && name.starts_with("value_float") {
                    return Err(RewriteError::Unsupported(
                        "Constant with a value_float(s) attribute".into(),
                    ));
                }
                if let Some(t) = attr.bytes(ATTR_T) {
                    if let Some(new) = convert_tensor(t, None, report)? {
                        attr.remove(ATTR_T);
                        attr.push_bytes(ATTR_T, new);
                        changed = true;
                    }
                }
                if op == "Cast" && name == "to" && attr.varint(ATTR_I) == Some(FLOAT) {
                    attr.set_varint(ATTR_I, FLOAT16);
                    changed = true;
                }
                if changed {
                    f.value = Value::Bytes(Cow::Owned(attr.encode()));
                }
            }
            _ => {}
        }
    }
    Ok(node.encode())
}

/// Converts an ONNX model's bytes to an fp16 graph with float32 inputs and outputs; weights the
/// graph keeps in external data files are read from `weights`, its folder, and stored inline.
pub(crate) fn convert(
    model: &[u8],
    weights: Option<&Path>,
) -> Result<(Vec<u8>, Report), RewriteError> {
    let mut report = Report::default();
    let mut m = Message::parse(model)?;
    if m.has(MODEL_FUNCTIONS) {
        return Err(RewriteError::Unsupported("model-local functions".into()));
    }
    let graph_bytes = m
        .bytes(MODEL_GRAPH)
        .ok_or(ProtoError("model has no graph"))?;
    let graph = Message::parse(graph_bytes)?;
    if graph.has(GRAPH_SPARSE_INITIALIZER) {
        return Err(RewriteError::Unsupported("sparse initializers".into()));
    }
    let initializers: HashSet<String> = graph
        .all_bytes(GRAPH_INITIALIZER)
        .map(|t| Message::parse(t).map(|t| t.string(8).unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    // Float graph inputs get a Cast to fp16 at the start; float outputs are produced in fp16
    // under a new name and cast back at the end.
    let mut renamed: HashMap<String, String> = HashMap::new();
    for vi in graph.all_bytes(GRAPH_INPUT) {
        if initializers.contains(&elem_type(vi)?.0) {
            return Err(RewriteError::Unsupported(
                "initializers listed as graph inputs (ONNX IR < 4)".into(),
            ));
        }
    }
    let mut head: Vec<Vec<u8>> = Vec::new();
    let mut tail: Vec<Vec<u8>> = Vec::new();
    for vi in graph.all_bytes(GRAPH_INPUT) {
        let (name, elem) = elem_type(vi)?;
        if elem == Some(FLOAT) {
            let inner = format!("{name}__glimpse_fp16");
            head.push(cast_node(&name, &inner, FLOAT16));
            renamed.insert(name, inner);
        }
    }
    for vi in graph.all_bytes(GRAPH_OUTPUT) {
        let (name, elem) = elem_type(vi)?;
        if elem == Some(FLOAT) {
            if renamed.contains_key(&name) {
                return Err(RewriteError::Unsupported(format!(
                    "{name} is both a graph input and output"
                )));
            }
            let inner = format!("{name}__glimpse_fp16");
            tail.push(cast_node(&inner, &name, FLOAT));
            renamed.insert(name, inner);
        }
    }
    report.casts = head.len() + tail.len();
    let mut out = Message::default();
    let mut head = Some(head);
    for f in graph.fields {
        match (f.num, &f.value) {
            (GRAPH_NODE, Value::Bytes(b)) => {
                emit_head(&mut out, &mut head);
                out.push_bytes(GRAPH_NODE, convert_node(b, &renamed, &mut report)?);
            }
            (GRAPH_INITIALIZER, Value::Bytes(b)) => {
                match convert_tensor(b, weights, &mut report)? {
                    Some(t) => out.push_bytes(GRAPH_INITIALIZER, t),
                    None => out.fields.push(f),
                }
            }
            // Intermediate type annotations would now be wrong; ONNX Runtime infers them.
            (GRAPH_VALUE_INFO, _) => {}
            _ => out.fields.push(f),
        }
    }
    for n in tail {
        out.push_bytes(GRAPH_NODE, n);
    }
    let graph = out.encode();
    replace_graph(&mut m, graph, "glimpse.precision", "fp16");
    let bytes = m.encode();
    if bytes.len() > PROTOBUF_MAX {
        return Err(RewriteError::Unsupported(format!(
            "the copy would be {} MB, over protobuf's 2 GB",
            bytes.len() >> 20
        )));
    }
    Ok((bytes, report))
}

/// Whether `graph` is an fp16 copy (or a copy made from one), by the names these copies get.
pub fn is_copy(graph: &Path) -> bool {
    graph
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains(".fp16"))
}

/// Where the fp16 copy of `graph` lives: beside it, as `<stem>.fp16.onnx`.
pub fn variant_path(graph: &Path) -> PathBuf {
    super::onnx::beside(graph, "fp16.onnx")
}

/// Returns the fp16 copy of `graph`, writing it first (atomically) when it is missing or older
/// than the graph.
pub fn ensure_variant(graph: &Path) -> Result<PathBuf, RewriteError> {
    ensure(graph, &variant_path(graph), |model| {
        convert(model, graph.parent())
    })
}

/// Where the GPU copy of an image graph lives: fp16 and taking the crop's bytes, normalised
/// inside with `lut` (its digest is in the name, so another preprocessing gets another file).
pub fn image_variant_path(graph: &Path, lut: &[[f32; 256]; 3]) -> PathBuf {
    let bytes: Vec<u8> = lut.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    let digest = blake3::hash(&bytes).to_hex();
    super::onnx::beside(graph, &format!("fp16-bytes-{}.onnx", &digest[..8]))
}

/// Returns the GPU copy of an image graph (see [`image_variant_path`]), writing it first when
/// it is missing or older than the graph; a graph the byte input does not fit gets the plain
/// fp16 copy instead, which takes normalised floats.
pub fn ensure_image_variant(graph: &Path, lut: &[[f32; 256]; 3]) -> Result<PathBuf, RewriteError> {
    let target = image_variant_path(graph, lut);
    match ensure(graph, &target, |model| {
        let with_bytes = super::bytes::take_bytes(model, lut)?;
        convert(&with_bytes, graph.parent())
    }) {
        Err(RewriteError::Unsupported(why)) => {
            tracing::info!(graph = %graph.display(), "no byte input ({why}); fp16 copy takes floats");
            ensure_variant(graph)
        }
        Ok(copy) => {
            remove_replaced_image_copies(graph, &copy);
            Ok(copy)
        }
        other => other,
    }
}

/// Deletes the GPU copies of an image graph that `current` replaces, with their check
/// markers: the float-input fp16 copy that versions before the byte input wrote, and byte
/// copies for another normalisation. Each is as large as half the graph (~170 MB for
/// ViT-B/32) and would otherwise stay beside the model for good. Best effort: a copy that
/// cannot be deleted (in use on Windows, read-only folder) is only logged.
fn remove_replaced_image_copies(graph: &Path, current: &Path) {
    let (Some(dir), Some(stem), Some(keep)) = (
        graph.parent(),
        graph.file_stem().map(|s| s.to_string_lossy().into_owned()),
        current
            .file_name()
            .map(|s| s.to_string_lossy().into_owned()),
    ) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let float_copy = format!("{stem}.fp16.onnx");
    let byte_copy = format!("{stem}.fp16-bytes-");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The copy itself, or a marker of a check passed on it (`<copy>.checked-<provider>`).
        let copy = name
            .split_once(".checked-")
            .map_or(name.as_str(), |(c, _)| c);
        let replaced = copy != keep
            && (copy == float_copy || (copy.starts_with(&byte_copy) && copy.ends_with(".onnx")));
        if !replaced {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(file = %entry.path().display(), "removed a replaced GPU copy"),
            Err(e) => {
                tracing::warn!(file = %entry.path().display(), "cannot remove a replaced GPU copy: {e}")
            }
        }
    }
}

/// Deletes a copy that another has replaced, with the markers of checks passed on it
/// (`<copy>.checked-<provider>`). Best effort: one that cannot be deleted is only logged.
pub fn remove_copy(copy: &Path) {
    let (Some(dir), Some(name)) = (
        copy.parent(),
        copy.file_name().map(|n| n.to_string_lossy().into_owned()),
    ) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let marker = format!("{name}.checked-");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file != name && !file.starts_with(&marker) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(file = %entry.path().display(), "removed a replaced copy"),
            Err(e) => {
                tracing::warn!(file = %entry.path().display(), "cannot remove a replaced copy: {e}")
            }
        }
    }
}

/// Writes `make(graph)` to `target` (atomically) unless it exists and is newer than `graph`.
fn ensure(
    graph: &Path,
    target: &Path,
    make: impl FnOnce(&[u8]) -> Result<(Vec<u8>, Report), RewriteError>,
) -> Result<PathBuf, RewriteError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| RewriteError::Io { path, source }
    };
    std::fs::metadata(graph).map_err(io(graph))?;
    if is_fresh(target, graph) {
        return Ok(target.to_path_buf());
    }
    let bytes = std::fs::read(graph).map_err(io(graph))?;
    let (converted, report) = make(&bytes)?;
    drop(bytes);
    write_atomically(target, &converted)?;
    tracing::info!(
        graph = %graph.display(),
        copy = %target.display(),
        tensors = report.tensors,
        clamped = report.clamped,
        "wrote fp16 copy"
    );
    Ok(target.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENSOR_DIMS: u32 = 1;

    fn tensor(name: &str, dims: &[u64], data: &[f32]) -> Vec<u8> {
        let mut t = Message::default();
        for d in dims {
            t.fields.push(super::super::proto::Field {
                num: TENSOR_DIMS,
                value: Value::Varint(*d),
            });
        }
        t.set_varint(TENSOR_DATA_TYPE, FLOAT);
        t.push_bytes(8, name.as_bytes().to_vec());
        t.push_bytes(
            TENSOR_RAW_DATA,
            data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        );
        t.encode()
    }

    #[test]
    fn float_tensors_become_half_with_clamping() {
        let mut r = Report::default();
        let t = tensor("w", &[3], &[1.5, -3.4e38, 70000.0]);
        let out = convert_tensor(&t, None, &mut r).unwrap().unwrap();
        let m = Message::parse(&out).unwrap();
        assert_eq!(m.varint(TENSOR_DATA_TYPE), Some(FLOAT16));
        let raw = m.bytes(TENSOR_RAW_DATA).unwrap();
        let halves: Vec<f32> = raw
            .chunks_exact(2)
            .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect();
        assert_eq!(halves, vec![1.5, -65504.0, 65504.0]);
        assert_eq!((r.tensors, r.clamped), (1, 2));
        assert_eq!(m.string(8).as_deref(), Some("w"));
    }

    /// `tensor` with its data moved to `file` at `offset` (other bytes around it).
    fn external(name: &str, data: &[f32], location: &str, dir: &Path, offset: usize) -> Vec<u8> {
        let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let mut file = vec![0xAB; offset];
        file.extend_from_slice(&raw);
        file.extend_from_slice(&[0xCD; 7]);
        std::fs::write(dir.join("weights.bin"), file).unwrap();
        let mut t = Message::parse(&tensor(name, &[data.len() as u64], data))
            .unwrap()
            .into_owned();
        t.remove(TENSOR_RAW_DATA);
        for (k, v) in [
            ("location", location.to_string()),
            ("offset", offset.to_string()),
            ("length", raw.len().to_string()),
        ] {
            let mut e = Message::default();
            e.push_bytes(1, k.as_bytes().to_vec());
            e.push_bytes(2, v.into_bytes());
            t.push_bytes(TENSOR_EXTERNAL_DATA, e.encode());
        }
        t.set_varint(TENSOR_DATA_LOCATION, 1);
        t.encode()
    }

    #[test]
    fn external_weights_are_read_from_the_graphs_folder_and_kept_inline() {
        let dir = tempfile::tempdir().unwrap();
        let data = [0.25f32, -1.5, 3.0, 1e-3];
        let inline = convert_tensor(&tensor("w", &[4], &data), None, &mut Report::default())
            .unwrap()
            .unwrap();
        let outside = external("w", &data, "weights.bin", dir.path(), 12);
        let mut r = Report::default();
        let out = convert_tensor(&outside, Some(dir.path()), &mut r)
            .unwrap()
            .unwrap();
        let out = Message::parse(&out).unwrap();
        assert_eq!(
            out.bytes(TENSOR_RAW_DATA),
            Message::parse(&inline).unwrap().bytes(TENSOR_RAW_DATA)
        );
        assert!(!out.has(TENSOR_EXTERNAL_DATA));
        assert_eq!(out.varint(TENSOR_DATA_LOCATION), None);
        assert_eq!(r.tensors, 1);

        // Without the folder, outside it, or past the file's end: refused, never guessed.
        let err = |t: &[u8], dir: Option<&Path>| {
            convert_tensor(t, dir, &mut Report::default())
                .unwrap_err()
                .to_string()
        };
        assert!(err(&outside, None).contains("external data files"));
        for location in ["../weights.bin", "/etc/passwd", ""] {
            let t = external("w", &data, location, dir.path(), 0);
            let e = err(&t, Some(dir.path()));
            assert!(e.contains("outside the model's folder"), "{location}: {e}");
        }
        let mut t = Message::parse(&outside).unwrap().into_owned();
        t.fields.retain(|f| f.num != TENSOR_EXTERNAL_DATA);
        let mut e = Message::default();
        e.push_bytes(1, b"location".to_vec());
        e.push_bytes(2, b"weights.bin".to_vec());
        t.push_bytes(TENSOR_EXTERNAL_DATA, e.encode());
        let mut e = Message::default();
        e.push_bytes(1, b"offset".to_vec());
        e.push_bytes(2, b"30".to_vec());
        t.push_bytes(TENSOR_EXTERNAL_DATA, e.encode());
        let mut e = Message::default();
        e.push_bytes(1, b"length".to_vec());
        e.push_bytes(2, b"16".to_vec());
        t.push_bytes(TENSOR_EXTERNAL_DATA, e.encode());
        assert!(err(&t.encode(), Some(dir.path())).contains("past the end"));
    }

    #[test]
    fn unknown_operators_are_refused_by_name() {
        let mut node = Message::default();
        node.push_bytes(NODE_OP, b"NonMaxSuppression".to_vec());
        let err = convert_node(&node.encode(), &HashMap::new(), &mut Report::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("NonMaxSuppression"), "{err}");
    }

    #[test]
    fn a_new_image_copy_removes_the_ones_it_replaces_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let graph = dir.path().join("model.onnx");
        let current = dir.path().join("model.fp16-bytes-0000aaaa.onnx");
        let kept = [
            "model.onnx",
            "model.fp16-bytes-0000aaaa.onnx",
            "model.fp16-bytes-0000aaaa.onnx.checked-CUDA",
            "preprocess_cfg.json",
            // Another graph's copies, and names that only look similar.
            "other.fp16.onnx",
            "model.fp16.onnx.bak",
            "model.fp16-bytes-notes.txt",
        ];
        let removed = [
            "model.fp16.onnx",
            "model.fp16.onnx.checked-CUDA",
            "model.fp16-bytes-1111bbbb.onnx",
            "model.fp16-bytes-1111bbbb.onnx.checked-CoreML",
        ];
        for name in kept.iter().chain(&removed) {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_replaced_image_copies(&graph, &current);
        for name in kept {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
        for name in removed {
            assert!(!dir.path().join(name).exists(), "{name} was left");
        }
    }

    #[test]
    fn a_replaced_copy_goes_with_its_markers_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let gone = ["model.fp16.onnx", "model.fp16.onnx.checked-CUDA"];
        let kept = [
            "model.onnx",
            "model.seq.onnx",
            "model.seq.fp16.onnx",
            "model.seq.fp16.onnx.checked-CUDA",
            "model.fp16.onnx.bak",
        ];
        for name in gone.iter().chain(&kept) {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_copy(&variant_path(&dir.path().join("model.onnx")));
        for name in kept {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
        for name in gone {
            assert!(!dir.path().join(name).exists(), "{name} was left");
        }
    }

    #[test]
    fn variant_sits_beside_the_graph() {
        assert_eq!(
            variant_path(Path::new("/m/visual/model.onnx")),
            PathBuf::from("/m/visual/model.fp16.onnx")
        );
    }
}
