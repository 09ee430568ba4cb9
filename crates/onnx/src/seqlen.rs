//! Text graphs that read only a caption's own tokens. CLIP text towers are exported with a
//! fixed 77-token input, so a three-word query pays for 77 positions: on a CPU the tower is
//! then most of a search's time (a real-size ViT-B/32 text tower: ~50 ms at 77 tokens, ~12 ms
//! at 7, 2 cores). The tower's attention is causal and it pools at the end token, so the
//! positions after the end token never change the embedding; the graph can take the caption's
//! length instead.
//!
//! The rewrite makes the token inputs' length symbolic and makes the tensors that spell out the
//! exported length follow the input: position tables and attention masks (any tensor with an
//! axis of that length) are sliced to it, and shape constants that name it (Reshape and Expand
//! targets, pieces of a Concat) are rebuilt with it. Graphs exported with a symbolic length
//! need none of this. The encoder uses a copy only after it has given the original's
//! embeddings on probe captions (see `encode::TextEncoder` (glimpse-clip)).

use super::onnx::*;
use super::proto::{Message, ProtoError, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

fn unsupported(why: impl Into<String>) -> RewriteError {
    RewriteError::Unsupported(why.into())
}

/// The input's length, as `[1]` (int64), which every rewritten tensor is cut or built with.
const SEQ: &str = "glimpse_seq";

/// How a tensor that names the exported length is made to follow the input.
enum Follow {
    /// Sliced to the input's length on these axes: every use reads the slice.
    Slice(String),
    /// A shape with the length in it, rebuilt: Reshape and Expand targets and Concat pieces
    /// read the rebuilt one.
    Shape(String),
}

/// Plans how the tensor `name` follows the input's length, adding the nodes and initializers
/// that make the follower; `None` when it does not name the length.
fn plan(
    name: &str,
    t: &Message<'_>,
    ctx: u64,
    nodes: &mut Vec<Vec<u8>>,
    inits: &mut Vec<Vec<u8>>,
) -> Result<Option<Follow>, ProtoError> {
    let dims = tensor_dims(t)?;
    let axes: Vec<i64> = (0..dims.len())
        .filter(|&i| dims[i] == ctx)
        .map(|i| i as i64)
        .collect();
    if !axes.is_empty() {
        let (starts, ends, axes_name, out) = (
            format!("{name}.glimpse_starts"),
            format!("{name}.glimpse_ends"),
            format!("{name}.glimpse_axes"),
            format!("{name}.glimpse_seq"),
        );
        inits.push(int64s(&starts, &vec![0; axes.len()]));
        inits.push(int64s(&axes_name, &axes));
        let seqs = vec![SEQ; axes.len()];
        nodes.push(node("Concat", &seqs, &ends, vec![int_attr("axis", 0)]));
        nodes.push(node(
            "Slice",
            &[name, &starts, &ends, &axes_name],
            &out,
            Vec::new(),
        ));
        return Ok(Some(Follow::Slice(out)));
    }
    let Some(vals) = int64_values(t)? else {
        return Ok(None);
    };
    if dims.len() != 1 || vals.len() > 8 || !vals.contains(&(ctx as i64)) {
        return Ok(None);
    }
    let mut pieces = Vec::new();
    for (i, &v) in vals.iter().enumerate() {
        if v == ctx as i64 {
            pieces.push(SEQ.to_string());
        } else {
            let piece = format!("{name}.glimpse_piece{i}");
            inits.push(int64s(&piece, &[v]));
            pieces.push(piece);
        }
    }
    let out = format!("{name}.glimpse_shape");
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    nodes.push(node("Concat", &refs, &out, vec![int_attr("axis", 0)]));
    Ok(Some(Follow::Shape(out)))
}

/// Rewrites a text graph whose token inputs are `[batch, context]` to take any length. `None`:
/// the graph already takes any length; an error says why a graph cannot be rewritten.
pub fn variable_length(model: &[u8], context: usize) -> Result<Option<Vec<u8>>, RewriteError> {
    let ctx = context as u64;
    let mut m = Message::parse(model)?;
    let opset = m
        .all_bytes(MODEL_OPSET)
        .map(Message::parse)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .find(|o| o.bytes(OPSET_DOMAIN).is_none_or(|d| d.is_empty()))
        .and_then(|o| o.varint(OPSET_VERSION));
    if opset.is_none_or(|v| v < 11) {
        return Err(unsupported("opset before 11 (Slice takes no inputs there)"));
    }
    let graph = Message::parse(
        m.bytes(MODEL_GRAPH)
            .ok_or(ProtoError("model has no graph"))?,
    )?;
    let mut initializer_names = HashSet::new();
    for t in graph.all_bytes(GRAPH_INITIALIZER) {
        initializer_names.insert(Message::parse(t)?.string(TENSOR_NAME).unwrap_or_default());
    }
    let (mut fixed, mut variable) = (Vec::new(), false);
    for vi in graph.all_bytes(GRAPH_INPUT) {
        let t = tensor_type(vi)?;
        if initializer_names.contains(&t.name)
            || !matches!(t.elem, Some(INT32 | INT64))
            || t.dims.len() != 2
        {
            continue;
        }
        match Message::parse(&t.dims[1])?.varint(DIM_VALUE) {
            Some(n) if n == ctx => fixed.push(t.name),
            Some(_) => {}
            None => variable = true,
        }
    }
    let Some(source) = fixed.first().cloned() else {
        return match variable {
            true => Ok(None),
            false => Err(unsupported(format!("no [batch, {context}] token input"))),
        };
    };

    // What follows the length, and the nodes that make the followers: those of initializers
    // run first, those of a Constant node right after it.
    let (mut head, mut inits) = (Vec::new(), vec![int64s("glimpse_seq_axis", &[1])]);
    head.push(node("Shape", &[&source], "glimpse_token_shape", Vec::new()));
    head.push(node(
        "Gather",
        &["glimpse_token_shape", "glimpse_seq_axis"],
        SEQ,
        vec![int_attr("axis", 0)],
    ));
    let mut follow: HashMap<String, Follow> = HashMap::new();
    for t in graph.all_bytes(GRAPH_INITIALIZER) {
        let t = Message::parse(t)?;
        let name = t.string(TENSOR_NAME).unwrap_or_default();
        if let Some(f) = plan(&name, &t, ctx, &mut head, &mut inits)? {
            follow.insert(name, f);
        }
    }
    let mut after: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for n in graph.all_bytes(GRAPH_NODE) {
        let n = Message::parse(n)?;
        for a in n.all_bytes(NODE_ATTRIBUTE) {
            let a = Message::parse(a)?;
            if a.has(ATTR_G) || a.has(ATTR_GRAPHS) {
                return Err(unsupported("control flow with subgraphs"));
            }
        }
        if let Some((out, t)) = constant_tensor(&n)? {
            let mut nodes = Vec::new();
            if let Some(f) = plan(&out, &t, ctx, &mut nodes, &mut inits)? {
                follow.insert(out.clone(), f);
                after.insert(out, nodes);
            }
        }
    }
    if follow.is_empty() {
        // Nothing spells out the length: relabelling the inputs is the whole rewrite.
        head.clear();
        inits.clear();
    }

    // Rewire the uses; a shape constant whose every use now reads its rebuilt form goes.
    let mut rewired = Vec::new();
    let mut still_used: HashSet<String> = HashSet::new();
    for n in graph.all_bytes(GRAPH_NODE) {
        let n = Message::parse(n)?;
        let op = n.string(NODE_OP).unwrap_or_default();
        let mut out = Message::default();
        let mut index = 0;
        let mut changed = false;
        for f in n.fields {
            if let (NODE_INPUT, Value::Bytes(b)) = (f.num, &f.value) {
                let input = String::from_utf8_lossy(b).into_owned();
                let to = match follow.get(&input) {
                    Some(Follow::Slice(s)) => Some(s),
                    Some(Follow::Shape(s))
                        if (index == 1 && (op == "Reshape" || op == "Expand"))
                            || op == "Concat" =>
                    {
                        Some(s)
                    }
                    _ => None,
                };
                index += 1;
                if let Some(to) = to {
                    out.push_bytes(NODE_INPUT, to.as_bytes().to_vec());
                    changed = true;
                    continue;
                }
                still_used.insert(input);
            }
            out.fields.push(f);
        }
        rewired.push(changed.then(|| out.encode()));
    }
    for o in graph.all_bytes(GRAPH_OUTPUT) {
        still_used.insert(tensor_type(o)?.name);
    }
    let gone = |name: &str| {
        matches!(follow.get(name), Some(Follow::Shape(_))) && !still_used.contains(name)
    };

    let mut out = Message::default();
    let mut head = Some(head);
    let mut nodes = rewired.into_iter();
    for f in graph.fields {
        match (f.num, &f.value) {
            (GRAPH_NODE, Value::Bytes(b)) => {
                emit_head(&mut out, &mut head);
                let n = Message::parse(b)?;
                let output = n.string(NODE_OUTPUT).unwrap_or_default();
                let is_constant = n.bytes(NODE_OP) == Some(b"Constant".as_slice());
                let replaced = nodes.next().flatten();
                // A rebuilt shape does not read its constant, which goes when nothing else does.
                if !(is_constant && gone(&output)) {
                    match replaced {
                        Some(r) => out.push_bytes(GRAPH_NODE, r),
                        None => out.fields.push(f.clone()),
                    }
                }
                if let Some(extra) = after.remove(&output) {
                    for e in extra {
                        out.push_bytes(GRAPH_NODE, e);
                    }
                }
            }
            (GRAPH_INPUT, Value::Bytes(b)) if fixed.contains(&tensor_type(b)?.name) => {
                out.push_bytes(GRAPH_INPUT, with_symbolic_dim(b, 1, "sequence")?);
            }
            (GRAPH_INITIALIZER, Value::Bytes(b)) => {
                let name = Message::parse(b)?.string(TENSOR_NAME).unwrap_or_default();
                if !gone(&name) {
                    out.fields.push(f);
                }
            }
            // Shapes recorded for the fixed length would contradict the new ones.
            (GRAPH_VALUE_INFO, _) => {}
            _ => out.fields.push(f),
        }
    }
    if head.is_some() {
        return Err(unsupported("the graph has no nodes"));
    }
    for t in inits {
        out.push_bytes(GRAPH_INITIALIZER, t);
    }
    let graph = out.encode();
    replace_graph(&mut m, graph, "glimpse.text_length", "variable");
    Ok(Some(m.encode()))
}

/// Whether the check of `copy` recorded in `marker` is current (written after the copy was).
pub fn is_checked(marker: &Path, copy: &Path) -> bool {
    is_fresh(marker, copy)
}

/// Where the variable-length copy of `graph` lives: beside it, as `<stem>.seq.onnx`.
pub fn copy_path(graph: &Path) -> PathBuf {
    beside(graph, "seq.onnx")
}

/// Returns the variable-length copy of `graph` (see [`copy_path`]), writing it first when it
/// is missing or older than the graph; `None` when the graph takes any length itself.
pub fn ensure_copy(graph: &Path, context: usize) -> Result<Option<PathBuf>, RewriteError> {
    let target = copy_path(graph);
    if is_fresh(&target, graph) {
        return Ok(Some(target));
    }
    let bytes = std::fs::read(graph).map_err(|source| RewriteError::Io {
        path: graph.display().to_string(),
        source,
    })?;
    let Some(copy) = variable_length(&bytes, context)? else {
        return Ok(None);
    };
    drop(bytes);
    write_atomically(&target, &copy)?;
    tracing::info!(graph = %graph.display(), copy = %target.display(), "wrote variable-length text graph");
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_without_a_token_input_is_refused() {
        let mut opset = Message::default();
        opset.set_varint(OPSET_VERSION, 17);
        let mut m = Message::default();
        m.push_bytes(MODEL_OPSET, opset.encode());
        m.push_bytes(MODEL_GRAPH, Message::default().encode());
        let err = variable_length(&m.encode(), 77).unwrap_err().to_string();
        assert!(err.contains("no [batch, 77] token input"), "{err}");
        assert!(variable_length(b"\xff\xff", 77).is_err());
    }
}
