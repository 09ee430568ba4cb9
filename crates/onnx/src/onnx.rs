//! The parts of the ONNX schema (onnx.proto) that Glimpse edits, and what every graph rewrite
//! shares: field numbers of the messages the rewrites touch, element types, builders for the
//! nodes, attributes and tensors they add, the error they report, and the last steps (replacing
//! the graph, writing the copy atomically, telling whether a copy is still fresh).
//!
//! The rewrites (`bytes`, `fp16`, `seqlen`, `batch`) build on this module and on `proto` only;
//! `fp16` also wraps `bytes` for the GPU image copy. Nothing here reaches up into them.

use super::proto::{Field, Message, ProtoError, Value};
use std::path::Path;

// Field numbers: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto,
// TypeProto.
pub(super) const MODEL_GRAPH: u32 = 7;
pub(super) const MODEL_OPSET: u32 = 8;
// OperatorSetIdProto.
pub(super) const OPSET_DOMAIN: u32 = 1;
pub(super) const OPSET_VERSION: u32 = 2;
pub(super) const MODEL_METADATA: u32 = 14;
pub(super) const MODEL_FUNCTIONS: u32 = 25;
pub(super) const GRAPH_NODE: u32 = 1;
pub(super) const GRAPH_INITIALIZER: u32 = 5;
pub(super) const GRAPH_INPUT: u32 = 11;
pub(super) const GRAPH_OUTPUT: u32 = 12;
pub(super) const GRAPH_VALUE_INFO: u32 = 13;
pub(super) const GRAPH_SPARSE_INITIALIZER: u32 = 15;
pub(super) const NODE_INPUT: u32 = 1;
pub(super) const NODE_OUTPUT: u32 = 2;
pub(super) const NODE_NAME: u32 = 3;
pub(super) const NODE_OP: u32 = 4;
pub(super) const NODE_ATTRIBUTE: u32 = 5;
pub(super) const NODE_DOMAIN: u32 = 7;
pub(super) const ATTR_NAME: u32 = 1;
pub(super) const ATTR_I: u32 = 3;
pub(super) const ATTR_T: u32 = 5;
pub(super) const ATTR_G: u32 = 6;
pub(super) const ATTR_TENSORS: u32 = 10;
pub(super) const ATTR_GRAPHS: u32 = 11;
pub(super) const ATTR_TYPE: u32 = 20;
pub(super) const ATTR_TYPE_INT: u64 = 2;
pub(super) const ATTR_INTS: u32 = 8;
pub(super) const ATTR_TYPE_INTS: u64 = 7;
pub(super) const TENSOR_DATA_TYPE: u32 = 2;
pub(super) const TENSOR_INT64_DATA: u32 = 7;
pub(super) const TENSOR_FLOAT_DATA: u32 = 4;
pub(super) const TENSOR_RAW_DATA: u32 = 9;
pub(super) const TENSOR_EXTERNAL_DATA: u32 = 13;
pub(super) const TENSOR_DATA_LOCATION: u32 = 14;
pub(super) const TENSOR_DIMS: u32 = 1;
pub(super) const TENSOR_NAME: u32 = 8;
pub(super) const VALUE_INFO_NAME: u32 = 1;
pub(super) const VALUE_INFO_TYPE: u32 = 2;
pub(super) const TYPE_TENSOR: u32 = 1;
// TypeProto.Tensor.
pub(super) const TENSOR_TYPE_ELEM: u32 = 1;
pub(super) const TENSOR_TYPE_SHAPE: u32 = 2;
// TensorShapeProto and its Dimension.
pub(super) const SHAPE_DIM: u32 = 1;
pub(super) const DIM_VALUE: u32 = 1;
pub(super) const DIM_PARAM: u32 = 2;
// StringStringEntryProto (metadata_props).
pub(super) const ENTRY_KEY: u32 = 1;
pub(super) const ENTRY_VALUE: u32 = 2;

// TensorProto element types.
pub(super) const FLOAT: u64 = 1;
pub(super) const FLOAT16: u64 = 10;
pub(super) const UINT8: u64 = 2;
pub(super) const INT32: u64 = 6;
pub(super) const INT64: u64 = 7;

/// Why a graph has no rewritten copy (fp16, byte input, variable length or batch).
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The file is not an ONNX model we can parse.
    #[error("{0}")]
    Proto(#[from] ProtoError),
    /// The graph uses something the conversion does not handle.
    #[error("cannot convert to fp16: {0}")]
    Unsupported(String),
    /// A rewrite other than fp16 does not fit the graph; the text says where and why.
    #[error("{0}")]
    Refused(String),
    /// Running the original graph once to learn its shapes failed (the caller's error).
    #[error(transparent)]
    Probe(Box<dyn std::error::Error + Send + Sync>),
    /// Reading the source or writing the copy failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// A NodeProto named after its output.
pub(super) fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<Vec<u8>>) -> Vec<u8> {
    let mut n = Message::default();
    for i in inputs {
        n.push_bytes(NODE_INPUT, i.as_bytes().to_vec());
    }
    n.push_bytes(NODE_OUTPUT, output.as_bytes().to_vec());
    n.push_bytes(NODE_NAME, format!("glimpse_{output}").into_bytes());
    n.push_bytes(NODE_OP, op.as_bytes().to_vec());
    for a in attrs {
        n.push_bytes(NODE_ATTRIBUTE, a);
    }
    n.encode()
}

/// An integer AttributeProto.
pub(super) fn int_attr(name: &str, v: i64) -> Vec<u8> {
    let mut a = Message::default();
    a.push_bytes(ATTR_NAME, name.as_bytes().to_vec());
    a.set_varint(ATTR_I, v as u64);
    a.set_varint(ATTR_TYPE, ATTR_TYPE_INT);
    a.encode()
}

/// A list-of-integers AttributeProto.
pub(super) fn ints_attr(name: &str, vs: &[i64]) -> Vec<u8> {
    let mut a = Message::default();
    a.push_bytes(ATTR_NAME, name.as_bytes().to_vec());
    for &v in vs {
        a.fields.push(Field {
            num: ATTR_INTS,
            value: Value::Varint(v as u64),
        });
    }
    a.set_varint(ATTR_TYPE, ATTR_TYPE_INTS);
    a.encode()
}

/// A TensorProto with its values as raw little-endian bytes.
pub(super) fn tensor(name: &str, elem: u64, dims: &[u64], raw: Vec<u8>) -> Vec<u8> {
    let mut t = Message::default();
    for &d in dims {
        t.fields.push(Field {
            num: TENSOR_DIMS,
            value: Value::Varint(d),
        });
    }
    t.set_varint(TENSOR_DATA_TYPE, elem);
    t.push_bytes(TENSOR_NAME, name.as_bytes().to_vec());
    t.push_bytes(TENSOR_RAW_DATA, raw);
    t.encode()
}

/// A graph input's name, element type and the raw dimension messages of its shape.
pub(super) struct InputType {
    pub(super) name: String,
    pub(super) elem: Option<u64>,
    pub(super) dims: Vec<Vec<u8>>,
}

/// Reads a ValueInfoProto's tensor type.
pub(super) fn tensor_type(value_info: &[u8]) -> Result<InputType, RewriteError> {
    let vi = Message::parse(value_info)?;
    let name = vi.string(VALUE_INFO_NAME).unwrap_or_default();
    let Some(tt) = vi
        .bytes(VALUE_INFO_TYPE)
        .map(Message::parse)
        .transpose()?
        .and_then(|t| t.bytes(TYPE_TENSOR).map(|b| b.to_vec()))
    else {
        return Ok(InputType {
            name,
            elem: None,
            dims: Vec::new(),
        });
    };
    let tt = Message::parse(&tt)?;
    let dims = match tt.bytes(TENSOR_TYPE_SHAPE) {
        Some(shape) => Message::parse(shape)?
            .all_bytes(SHAPE_DIM)
            .map(|d| d.to_vec())
            .collect(),
        None => Vec::new(),
    };
    Ok(InputType {
        name,
        elem: tt.varint(TENSOR_TYPE_ELEM),
        dims,
    })
}

/// Writes `bytes` to `target` through a temporary file beside it, so a crash never leaves a
/// half-written graph under the name the encoders open.
pub(super) fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), RewriteError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| RewriteError::Io { path, source }
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io(target))?;
    tmp.as_file().sync_all().map_err(io(target))?;
    tmp.persist(target).map_err(|e| RewriteError::Io {
        path: target.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}

/// Whether `copy` exists, is not empty and is at least as new as `graph` (else it is made
/// again: the graph was replaced since).
pub(super) fn is_fresh(copy: &Path, graph: &Path) -> bool {
    match (std::fs::metadata(copy), std::fs::metadata(graph)) {
        (Ok(c), Ok(g)) => c.len() > 0 && c.modified().ok() >= g.modified().ok(),
        _ => false,
    }
}

/// Puts `graph` in place of `model`'s graph and records `key = value` in its metadata, so a
/// rewritten file says what was done to it.
pub(super) fn replace_graph(model: &mut Message<'_>, graph: Vec<u8>, key: &str, value: &str) {
    model.remove(MODEL_GRAPH);
    model.push_bytes(MODEL_GRAPH, graph);
    let mut entry = Message::default();
    entry.push_bytes(ENTRY_KEY, key.as_bytes().to_vec());
    entry.push_bytes(ENTRY_VALUE, value.as_bytes().to_vec());
    model.push_bytes(MODEL_METADATA, entry.encode());
}

/// Puts the nodes a rewrite adds in front of a graph into `out` when the rewrite reaches the
/// graph's first node (once), so they run before the graph's own.
pub(super) fn emit_head<T: Into<Vec<u8>>>(
    out: &mut Message<'_>,
    head: &mut Option<impl IntoIterator<Item = T>>,
) {
    for n in head.take().into_iter().flatten() {
        out.push_bytes(GRAPH_NODE, n.into());
    }
}

/// The dimensions of a TensorProto (repeated int64, packed or not).
pub(super) fn tensor_dims(t: &Message<'_>) -> Result<Vec<u64>, ProtoError> {
    let mut dims = Vec::new();
    for f in &t.fields {
        match (&f.value, f.num) {
            (Value::Varint(v), TENSOR_DIMS) => dims.push(*v),
            (Value::Bytes(b), TENSOR_DIMS) => dims.extend(packed_varints(b)?),
            _ => {}
        }
    }
    Ok(dims)
}

pub(super) fn packed_varints(mut b: &[u8]) -> Result<Vec<u64>, ProtoError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let (&byte, rest) = b.split_first().ok_or(ProtoError("truncated varint"))?;
            b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(ProtoError("varint too long"));
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// The values of a small int64 TensorProto (raw or int64_data), or `None` for other types.
pub(super) fn int64_values(t: &Message<'_>) -> Result<Option<Vec<i64>>, ProtoError> {
    if t.varint(TENSOR_DATA_TYPE) != Some(INT64) {
        return Ok(None);
    }
    if let Some(raw) = t.bytes(TENSOR_RAW_DATA) {
        if raw.len() % 8 != 0 {
            return Err(ProtoError("raw int64 data not a multiple of 8 bytes"));
        }
        return Ok(Some(
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ));
    }
    let mut vals = Vec::new();
    for f in &t.fields {
        match (&f.value, f.num) {
            (Value::Varint(v), TENSOR_INT64_DATA) => vals.push(*v as i64),
            (Value::Bytes(b), TENSOR_INT64_DATA) => {
                vals.extend(packed_varints(b)?.into_iter().map(|v| v as i64))
            }
            _ => {}
        }
    }
    Ok(Some(vals))
}

pub(super) fn int64s(name: &str, vals: &[i64]) -> Vec<u8> {
    let raw = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, INT64, &[vals.len() as u64], raw)
}

/// The tensor of a Constant node, with its output name.
pub(super) fn constant_tensor<'a>(
    n: &'a Message<'a>,
) -> Result<Option<(String, Message<'a>)>, ProtoError> {
    if n.bytes(NODE_OP) != Some(b"Constant".as_slice()) {
        return Ok(None);
    }
    let Some(out) = n.string(NODE_OUTPUT) else {
        return Ok(None);
    };
    for a in n.all_bytes(NODE_ATTRIBUTE) {
        let a = Message::parse(a)?;
        if a.bytes(ATTR_NAME) == Some(b"value".as_slice()) {
            if let Some(t) = a.bytes(ATTR_T) {
                return Ok(Some((out, Message::parse(t)?.into_owned())));
            }
        }
    }
    Ok(None)
}

/// A rewrite of one sub-message's bytes.
pub(super) type Edit<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, ProtoError> + 'a;

/// `bytes` with the sub-message reached through the field numbers of `path` replaced by
/// `edit`'s result.
pub(super) fn edit_nested(
    bytes: &[u8],
    path: &[u32],
    edit: &Edit<'_>,
) -> Result<Vec<u8>, ProtoError> {
    let Some((&num, rest)) = path.split_first() else {
        return edit(bytes);
    };
    let mut m = Message::parse(bytes)?;
    let inner = m.bytes(num).ok_or(ProtoError("a value without a shape"))?;
    let new = edit_nested(inner, rest, edit)?;
    m.remove(num);
    m.push_bytes(num, new);
    Ok(m.encode())
}

/// A ValueInfoProto with dimension `axis` made the symbol `name`; unchanged when it records
/// no shape.
pub(super) fn with_symbolic_dim(
    value_info: &[u8],
    axis: usize,
    name: &str,
) -> Result<Vec<u8>, ProtoError> {
    let has_shape = Message::parse(value_info)?
        .bytes(VALUE_INFO_TYPE)
        .map(Message::parse)
        .transpose()?
        .and_then(|t| t.bytes(TYPE_TENSOR).map(<[u8]>::to_vec))
        .map(|tt| Message::parse(&tt).map(|m| m.has(TENSOR_TYPE_SHAPE)))
        .transpose()?
        .unwrap_or(false);
    if !has_shape {
        return Ok(value_info.to_vec());
    }
    let path = [VALUE_INFO_TYPE, TYPE_TENSOR, TENSOR_TYPE_SHAPE];
    edit_nested(value_info, &path, &|shape| {
        let shape = Message::parse(shape)?;
        let mut out = Message::default();
        let mut dims = 0;
        for f in shape.fields {
            let hit = f.num == SHAPE_DIM && dims == axis;
            dims += usize::from(f.num == SHAPE_DIM);
            if hit {
                let mut dim = Message::default();
                dim.push_bytes(DIM_PARAM, name.as_bytes().to_vec());
                out.push_bytes(SHAPE_DIM, dim.encode());
            } else {
                out.fields.push(f);
            }
        }
        Ok(out.encode())
    })
}

/// `<stem>.<suffix>` beside `graph`: where the rewrites keep their copies of it.
pub(super) fn beside(graph: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let stem = graph
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    graph.with_file_name(format!("{stem}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_plain_dims_read_alike() {
        let mut t = Message::default();
        t.set_varint(TENSOR_DIMS, 77);
        assert_eq!(tensor_dims(&t).unwrap(), [77]);
        let mut p = Message::default();
        p.push_bytes(TENSOR_DIMS, vec![77, 0x80, 0x04]);
        assert_eq!(tensor_dims(&p).unwrap(), [77, 512]);
        assert!(packed_varints(&[0x80]).is_err());
    }
}
