//! Image graphs exported for one picture, made to take a batch. The immich zoo's current
//! exporter writes image towers with a fixed `[1, 3, H, W]` input (its `dynamic_axes` are
//! commented out), and the tracer writes that 1 into the graph: Reshape targets such as
//! `[50, 12, 64]` (sequence, batch × heads, head width) or `[50, 1, 768]`, and the class token
//! expanded to one picture. On a GPU such a graph runs one picture per call, ~100x below what
//! the device does with batches of hundreds; relabelling the input is not enough.
//!
//! The batch is found again by following it through the graph. One run of the original
//! (every tensor's shape and the values of small integer tensors, see [`Facts`]) gives the
//! shapes; starting from the input's first axis, each operator says where the batch goes
//! (a Transpose moves it, a MatMul keeps it on its rows, a Reshape merges it into one axis of
//! its target at a known stride) and what would mix pictures (normalising, contracting or
//! slicing across it), which rules a path out. Where a Reshape target could hold the batch in
//! more than one axis (`[50, 1, 12, 64]` → `[50, 768]`: with the 50 or with the 768?), each is
//! tried and the first that reaches the output without mixing pictures is kept. The copy then
//! builds those targets from the input's batch at run time, and broadcasts the one-picture
//! constants that are joined to per-picture tensors. The encoder uses the copy only after it
//! gave the original's embeddings for a batch of different pictures (see
//! `encode::ImageEncoder` (glimpse-clip)).

use super::onnx::*;
use super::proto::{Message, ProtoError, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn refused(why: impl Into<String>) -> RewriteError {
    RewriteError::Refused(why.into())
}

/// What one run of the original graph showed: each tensor's shape, and the values of its
/// small int64 tensors (shapes and indices computed from constants), by tensor name.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Shapes of the tensors the run produced.
    pub dims: HashMap<String, Vec<u64>>,
    /// Values of small int64 tensors.
    pub ints: HashMap<String, Vec<i64>>,
}

/// Largest int64 tensor whose values [`Facts`] keeps.
pub const FACT_INTS_MAX: usize = 64;

/// Name of the graph input the rewrite works on: the one float rank-4 input whose first
/// dimension is 1. `None` when the graph has no such input (it takes a batch already, or is
/// not an image graph).
pub(crate) fn fixed_batch_input(model: &[u8]) -> Result<Option<String>, RewriteError> {
    let m = Message::parse(model)?;
    let graph = Message::parse(
        m.bytes(MODEL_GRAPH)
            .ok_or(ProtoError("model has no graph"))?,
    )?;
    let mut found = None;
    for vi in graph.all_bytes(GRAPH_INPUT) {
        let t = tensor_type(vi)?;
        if t.elem != Some(FLOAT) || t.dims.len() != 4 {
            continue;
        }
        if Message::parse(&t.dims[0])?.varint(DIM_VALUE) == Some(1) {
            if found.is_some() {
                return Err(refused("more than one image input"));
            }
            found = Some(t.name);
        }
    }
    Ok(found)
}

/// The model with every node output listed as a graph output (by name; ONNX Runtime infers
/// the types), so one run shows every tensor's shape; also the names, in node order.
pub fn with_every_output(model: &[u8]) -> Result<(Vec<u8>, Vec<String>), RewriteError> {
    let mut m = Message::parse(model)?;
    let graph = Message::parse(
        m.bytes(MODEL_GRAPH)
            .ok_or(ProtoError("model has no graph"))?,
    )?;
    let mut listed = std::collections::HashSet::new();
    for o in graph.all_bytes(GRAPH_OUTPUT) {
        listed.insert(tensor_type(o)?.name);
    }
    let mut names = Vec::new();
    for n in graph.all_bytes(GRAPH_NODE) {
        for o in Message::parse(n)?.all_bytes(NODE_OUTPUT) {
            let o = String::from_utf8_lossy(o).into_owned();
            if !o.is_empty() && listed.insert(o.clone()) {
                names.push(o);
            }
        }
    }
    let mut out = graph.clone();
    for name in &names {
        let mut vi = Message::default();
        vi.push_bytes(VALUE_INFO_NAME, name.as_bytes().to_vec());
        out.push_bytes(GRAPH_OUTPUT, vi.encode());
    }
    let out = out.encode();
    m.remove(MODEL_GRAPH);
    m.push_bytes(MODEL_GRAPH, out);
    Ok((m.encode(), names))
}

/// Where a tensor's pictures are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bat {
    /// The same for every picture (weights, constants, shapes that do not name the batch).
    Indep,
    /// Per picture: along `axis`, whose size is the one-picture size times the batch, the
    /// picture index moves in steps of `inner` (an axis of its own: `inner` = its size 1).
    Axis { axis: usize, inner: u64 },
    /// A shape (1-D int64) whose element `index` is a one-picture size times the batch, with
    /// the picture index at stride `inner` in the axis it sizes.
    Elem { index: usize, inner: u64 },
}

/// One edit the copy needs.
#[derive(Clone, Debug)]
enum Change {
    /// Node `node`'s Reshape target becomes `dims` with element `axis` times the batch.
    Target {
        node: usize,
        dims: Vec<u64>,
        axis: usize,
    },
    /// Input `input` of node `node` (one picture's constant) is broadcast to the batch along
    /// its first axis, which has rank `rank`.
    Broadcast {
        node: usize,
        input: usize,
        rank: usize,
    },
}

/// A node, parsed for the walk.
struct Node {
    op: String,
    domain: String,
    inputs: Vec<Option<usize>>,
    outputs: Vec<Option<usize>>,
    attrs: HashMap<String, Vec<i64>>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(|v| v.first().copied())
    }

    fn input(&self, k: usize) -> Option<usize> {
        self.inputs.get(k).copied().flatten()
    }

    fn output(&self) -> Option<usize> {
        self.outputs.first().copied().flatten()
    }
}

/// How many node visits the search may make before it gives up: a ViT-B/32 needs ~2,000.
const BUDGET: usize = 200_000;

/// Why a path through the graph was abandoned.
enum Stop {
    Conflict(String),
    Budget,
}

type Outcome<T> = Result<T, Stop>;

fn conflict<T>(why: impl Into<String>) -> Outcome<T> {
    Err(Stop::Conflict(why.into()))
}

/// What a node does to the batch: the state of its outputs and the edits it needs, or
/// several such choices (an ambiguous Reshape) to try in turn.
enum Step {
    Set(Vec<(usize, Bat)>, Vec<Change>),
    Choose(usize, Vec<(Bat, Change)>),
}

struct Walk<'a> {
    nodes: &'a [Node],
    names: &'a [String],
    dims: Vec<Option<Vec<u64>>>,
    ints: Vec<Option<Vec<i64>>>,
    outputs: Vec<usize>,
    opset: u64,
    visits: usize,
    /// The conflict met furthest into the graph, to say why a graph was refused.
    deepest: (usize, String),
}

fn norm_axis(axis: i64, rank: usize) -> Outcome<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a as usize >= rank.max(1) {
        return conflict(format!("axis {axis} out of range for rank {rank}"));
    }
    Ok(a as usize)
}

const POINTWISE: &[&str] = &[
    "Abs",
    "Ceil",
    "Cos",
    "Dropout",
    "Elu",
    "Erf",
    "Exp",
    "Floor",
    "Gelu",
    "HardSigmoid",
    "HardSwish",
    "IsInf",
    "IsNaN",
    "LeakyRelu",
    "Log",
    "Neg",
    "Not",
    "QuickGelu",
    "Reciprocal",
    "Relu",
    "Round",
    "Selu",
    "Sigmoid",
    "Sign",
    "Sin",
    "Softplus",
    "Softsign",
    "Sqrt",
    "Tanh",
];
const BROADCAST: &[&str] = &[
    "Add",
    "And",
    "BitShift",
    "Div",
    "Equal",
    "Greater",
    "GreaterOrEqual",
    "Less",
    "LessOrEqual",
    "Max",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Or",
    "Pow",
    "PRelu",
    "Sub",
    "Sum",
    "Where",
    "Xor",
];
const PER_PICTURE: &[&str] = &[
    "AveragePool",
    "BatchNormalization",
    "Conv",
    "ConvTranspose",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "InstanceNormalization",
    "LpNormalization",
    "LRN",
    "MaxPool",
];
const REDUCE: &[&str] = &[
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
];

impl Walk<'_> {
    fn name(&self, id: usize) -> &str {
        &self.names[id]
    }

    fn dims(&self, id: usize) -> Outcome<&[u64]> {
        match &self.dims[id] {
            Some(d) => Ok(d),
            None => conflict(format!("no shape known for {}", self.name(id))),
        }
    }

    fn input_dims(&self, n: &Node, k: usize) -> Outcome<&[u64]> {
        match n.input(k) {
            Some(id) => self.dims(id),
            None => conflict(format!("{} without input {k}", n.op)),
        }
    }

    fn ints(&self, id: usize) -> Outcome<&[i64]> {
        match &self.ints[id] {
            Some(v) => Ok(v),
            None => conflict(format!("no values known for {}", self.name(id))),
        }
    }

    /// The ints of optional input `k`, or of attribute `attr` (older opsets), if either.
    fn ints_in(&self, n: &Node, st: &[Bat], k: usize, attr: &str) -> Outcome<Option<Vec<i64>>> {
        if let Some(id) = n.input(k) {
            if st[id] != Bat::Indep {
                return conflict(format!("{} depends on the batch", self.name(id)));
            }
            return Ok(Some(self.ints(id)?.to_vec()));
        }
        Ok(n.attrs.get(attr).cloned())
    }

    fn walk(&mut self, from: usize, st: &mut Vec<Bat>, changes: &mut Vec<Change>) -> Outcome<()> {
        let mut i = from;
        while i < self.nodes.len() {
            self.visits += 1;
            if self.visits > BUDGET {
                return Err(Stop::Budget);
            }
            let step = match self.step(i, st) {
                Ok(s) => s,
                Err(Stop::Conflict(why)) => {
                    if i >= self.deepest.0 {
                        let n = &self.nodes[i];
                        self.deepest = (i, format!("node {i} ({}): {why}", n.op));
                    }
                    return Err(Stop::Conflict(why));
                }
                Err(e) => return Err(e),
            };
            match step {
                Step::Set(outs, ch) => {
                    for (id, b) in outs {
                        st[id] = b;
                    }
                    changes.extend(ch);
                    i += 1;
                }
                Step::Choose(out, options) => {
                    let mut last = Stop::Conflict("no way to place the batch".into());
                    for (b, ch) in options {
                        let (mut s2, mut c2) = (st.clone(), changes.clone());
                        s2[out] = b;
                        c2.push(ch);
                        match self.walk(i + 1, &mut s2, &mut c2) {
                            Ok(()) => {
                                *st = s2;
                                *changes = c2;
                                return Ok(());
                            }
                            Err(Stop::Budget) => return Err(Stop::Budget),
                            Err(e) => last = e,
                        }
                    }
                    return Err(last);
                }
            }
        }
        for &o in &self.outputs {
            match st[o] {
                Bat::Axis { axis: 0, inner: 1 } => {}
                other => {
                    let why = format!("output {} ends with the batch at {other:?}", self.name(o));
                    if self.nodes.len() >= self.deepest.0 {
                        self.deepest = (self.nodes.len(), why.clone());
                    }
                    return conflict(why);
                }
            }
        }
        Ok(())
    }

    fn step(&self, i: usize, st: &[Bat]) -> Outcome<Step> {
        let n = &self.nodes[i];
        let ins: Vec<Bat> = n
            .inputs
            .iter()
            .map(|x| x.map_or(Bat::Indep, |id| st[id]))
            .collect();
        let outs: Vec<usize> = n.outputs.iter().flatten().copied().collect();
        let all = |b: Bat| Step::Set(outs.iter().map(|&o| (o, b)).collect(), Vec::new());
        if ins.iter().all(|b| *b == Bat::Indep) {
            return Ok(all(Bat::Indep));
        }
        if !n.domain.is_empty() && n.domain != "ai.onnx" {
            return conflict(format!("operator {}.{} is not known here", n.domain, n.op));
        }
        let op = n.op.as_str();
        let out = || -> Outcome<usize> {
            match n.output() {
                Some(o) => Ok(o),
                None => conflict("node without an output"),
            }
        };
        let rank_of = |id: Option<usize>| -> Outcome<usize> {
            match id {
                Some(id) => Ok(self.dims(id)?.len()),
                None => conflict("missing input"),
            }
        };
        let first = ins[0];
        match op {
            "Identity" | "Cast" | "CastLike" => Ok(all(first)),
            _ if POINTWISE.contains(&op) || op == "Clip" => match first {
                Bat::Axis { .. } if ins[1..].iter().all(|b| *b == Bat::Indep) => Ok(all(first)),
                _ => conflict("arithmetic on a shape that holds the batch"),
            },
            _ if BROADCAST.contains(&op) => {
                let o = out()?;
                let r = self.dims(o)?.len();
                let mut placed: Option<(usize, u64)> = None;
                for (k, b) in ins.iter().enumerate() {
                    match *b {
                        Bat::Indep => {}
                        Bat::Elem { .. } => {
                            return conflict("arithmetic on a shape that holds the batch")
                        }
                        Bat::Axis { axis, inner } => {
                            let shift = r - rank_of(n.input(k))?;
                            let at = (axis + shift, inner);
                            if placed.is_some_and(|p| p != at) {
                                return conflict("operands hold the batch in different places");
                            }
                            placed = Some(at);
                        }
                    }
                }
                let Some((axis, inner)) = placed else {
                    return Ok(all(Bat::Indep));
                };
                for (k, b) in ins.iter().enumerate() {
                    if *b != Bat::Indep {
                        continue;
                    }
                    let Some(id) = n.input(k) else { continue };
                    let d = self.dims(id)?;
                    let shift = r - d.len();
                    if axis >= shift && d[axis - shift] != 1 {
                        return conflict(format!(
                            "{} is one picture's size along the batch axis",
                            self.name(id)
                        ));
                    }
                }
                Ok(all(Bat::Axis { axis, inner }))
            }
            _ if PER_PICTURE.contains(&op) => match first {
                Bat::Axis { axis: 0, inner: 1 } if ins[1..].iter().all(|b| *b == Bat::Indep) => {
                    Ok(all(first))
                }
                _ => conflict("the batch is not the first axis"),
            },
            "Softmax" | "LogSoftmax" | "Hardmax" | "LayerNormalization" => {
                let Bat::Axis { axis, .. } = first else {
                    return conflict("a shape that holds the batch");
                };
                let rank = rank_of(n.input(0))?;
                let default = if op == "LayerNormalization" || self.opset >= 13 {
                    -1
                } else {
                    1
                };
                let at = norm_axis(n.attr("axis").unwrap_or(default), rank)?;
                let mixes = match op {
                    "LayerNormalization" => axis >= at,
                    _ if self.opset >= 13 => axis == at,
                    _ => axis >= at,
                };
                if mixes || ins[1..].iter().any(|b| *b != Bat::Indep) {
                    return conflict("normalises across pictures");
                }
                let o = out()?;
                let mut set = vec![(o, first)];
                // Mean and inverse deviation, when asked for, keep the leading axes.
                for &extra in outs.iter().skip(1) {
                    set.push((extra, first));
                }
                Ok(Step::Set(set, Vec::new()))
            }
            _ if REDUCE.contains(&op) || op == "ArgMax" || op == "ArgMin" => {
                let Bat::Axis { axis, inner } = first else {
                    return conflict("a shape that holds the batch");
                };
                let rank = rank_of(n.input(0))?;
                let axes: Vec<usize> = if op.starts_with("Arg") {
                    vec![norm_axis(n.attr("axis").unwrap_or(0), rank)?]
                } else {
                    match self.ints_in(n, st, 1, "axes")? {
                        Some(a) if !a.is_empty() => a
                            .iter()
                            .map(|&x| norm_axis(x, rank))
                            .collect::<Outcome<_>>()?,
                        _ if n.attr("noop_with_empty_axes") == Some(1) => Vec::new(),
                        _ => (0..rank).collect(),
                    }
                };
                if axes.contains(&axis) {
                    return conflict("reduces across pictures");
                }
                let keep = n.attr("keepdims").unwrap_or(1) != 0;
                let axis = if keep {
                    axis
                } else {
                    axis - axes.iter().filter(|&&a| a < axis).count()
                };
                Ok(all(Bat::Axis { axis, inner }))
            }
            "Transpose" => {
                let Bat::Axis { axis, inner } = first else {
                    return conflict("a shape that holds the batch");
                };
                let rank = rank_of(n.input(0))?;
                let perm: Vec<i64> = n
                    .attrs
                    .get("perm")
                    .cloned()
                    .unwrap_or_else(|| (0..rank as i64).rev().collect());
                match perm.iter().position(|&p| p == axis as i64) {
                    Some(at) => Ok(all(Bat::Axis { axis: at, inner })),
                    None => conflict("bad permutation"),
                }
            }
            "MatMul" => self.matmul(n, &ins),
            "Gemm" => {
                let trans_a = n.attr("transA").unwrap_or(0) != 0;
                match (first, &ins[1..]) {
                    (Bat::Axis { axis: 0, inner }, rest)
                        if !trans_a && rest.iter().all(|b| *b == Bat::Indep) =>
                    {
                        Ok(all(Bat::Axis { axis: 0, inner }))
                    }
                    _ => conflict("contracts across pictures"),
                }
            }
            "Reshape" => self.reshape(i, n, &ins),
            "Flatten" => {
                let Bat::Axis { axis, inner } = first else {
                    return conflict("a shape that holds the batch");
                };
                let d = self.input_dims(n, 0)?;
                let at = norm_axis(n.attr("axis").unwrap_or(1), d.len() + 1)?;
                let stride: u64 = inner * d[axis + 1..].iter().product::<u64>();
                let b = if axis < at {
                    let inner2: u64 = stride / d[at..].iter().product::<u64>().max(1);
                    Bat::Axis {
                        axis: 0,
                        inner: inner2,
                    }
                } else {
                    Bat::Axis {
                        axis: 1,
                        inner: stride,
                    }
                };
                Ok(all(b))
            }
            "Squeeze" | "Unsqueeze" => {
                let rank_in = rank_of(n.input(0))?;
                let o = out()?;
                let rank_out = self.dims(o)?.len();
                let axes = self.ints_in(n, st, 1, "axes")?;
                match first {
                    Bat::Elem { inner, .. } if rank_in <= 1 && rank_out <= 1 => {
                        Ok(all(Bat::Elem { index: 0, inner }))
                    }
                    Bat::Axis { axis, inner } => {
                        let at = if op == "Squeeze" {
                            let axes: Vec<usize> = match axes {
                                Some(a) => a
                                    .iter()
                                    .map(|&x| norm_axis(x, rank_in))
                                    .collect::<Outcome<_>>()?,
                                None => {
                                    let d = self.input_dims(n, 0)?;
                                    (0..rank_in).filter(|&k| d[k] == 1).collect()
                                }
                            };
                            if axes.contains(&axis) {
                                return conflict("squeezes the batch axis");
                            }
                            axis - axes.iter().filter(|&&a| a < axis).count()
                        } else {
                            let axes: Vec<usize> = axes
                                .unwrap_or_default()
                                .iter()
                                .map(|&x| norm_axis(x, rank_out))
                                .collect::<Outcome<_>>()?;
                            // The input's axes fill the output's positions not inserted.
                            match (0..rank_out).filter(|k| !axes.contains(k)).nth(axis) {
                                Some(at) => at,
                                None => return conflict("bad unsqueeze axes"),
                            }
                        };
                        Ok(all(Bat::Axis { axis: at, inner }))
                    }
                    _ => conflict("a shape that holds the batch"),
                }
            }
            "Gather" => {
                if ins.get(1).is_some_and(|b| *b != Bat::Indep) {
                    return conflict("indices depend on the picture");
                }
                let rank = rank_of(n.input(0))?;
                let at = norm_axis(n.attr("axis").unwrap_or(0), rank)?;
                let Some(idx_id) = n.input(1) else {
                    return conflict("Gather without indices");
                };
                match first {
                    Bat::Axis { axis, inner } => {
                        if axis == at {
                            return conflict("gathers along the batch axis");
                        }
                        let idx_rank = self.dims(idx_id)?.len();
                        let axis = if axis < at { axis } else { axis - 1 + idx_rank };
                        Ok(all(Bat::Axis { axis, inner }))
                    }
                    Bat::Elem { index, inner } => {
                        let len = self.input_dims(n, 0)?.first().copied();
                        let picks: Vec<i64> = self.ints(idx_id)?.to_vec();
                        let hit = picks.iter().position(|&p| {
                            let p = if p < 0 {
                                p + len.unwrap_or(0) as i64
                            } else {
                                p
                            };
                            p == index as i64
                        });
                        Ok(all(match hit {
                            Some(k) => Bat::Elem { index: k, inner },
                            None => Bat::Indep,
                        }))
                    }
                    Bat::Indep => conflict("unreachable"),
                }
            }
            "Slice" => self.slice(n, st, &ins),
            "Concat" => self.concat(i, n, &ins),
            "Split" => {
                let Bat::Axis { axis, inner } = first else {
                    return conflict("a shape that holds the batch");
                };
                let at = norm_axis(n.attr("axis").unwrap_or(0), rank_of(n.input(0))?)?;
                if at == axis || ins[1..].iter().any(|b| *b != Bat::Indep) {
                    return conflict("splits across pictures");
                }
                Ok(all(Bat::Axis { axis, inner }))
            }
            "Shape" => {
                let Bat::Axis { axis, inner } = first else {
                    return conflict("the shape of a shape");
                };
                let rank = rank_of(n.input(0))? as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let start = clamp(n.attr("start").unwrap_or(0));
                let end = clamp(n.attr("end").unwrap_or(rank));
                Ok(all(if (start..end).contains(&axis) {
                    Bat::Elem {
                        index: axis - start,
                        inner,
                    }
                } else {
                    Bat::Indep
                }))
            }
            "Expand" | "ConstantOfShape" | "Tile" => self.expand(n, &ins),
            _ => conflict(format!("operator {op} is not known here")),
        }
    }

    fn matmul(&self, n: &Node, ins: &[Bat]) -> Outcome<Step> {
        let (Some(a), Some(b), Some(o)) = (n.input(0), n.input(1), n.output()) else {
            return conflict("MatMul without operands");
        };
        let (ra, rb, r) = (
            self.dims(a)?.len(),
            self.dims(b)?.len(),
            self.dims(o)?.len(),
        );
        if ra < 2 || rb < 2 {
            return conflict("MatMul of a vector");
        }
        // Where each operand's batch lands in the output, if it may: A's rows and B's columns
        // stay, the contracted axes mix pictures, leading axes broadcast.
        let place = |which: usize, axis: usize, rank: usize| -> Outcome<usize> {
            match which {
                0 if axis == rank - 1 => conflict("contracts across pictures"),
                0 if axis == rank - 2 => Ok(r - 2),
                1 if axis == rank - 2 => conflict("contracts across pictures"),
                1 if axis == rank - 1 => Ok(r - 1),
                _ => Ok(axis + (r - rank)),
            }
        };
        let mut placed: Option<(usize, u64)> = None;
        for (k, (bat, rank)) in [(ins[0], ra), (ins[1], rb)].into_iter().enumerate() {
            match bat {
                Bat::Indep => {}
                Bat::Elem { .. } => return conflict("a shape that holds the batch"),
                Bat::Axis { axis, inner } => {
                    let at = place(k, axis, rank)?;
                    if placed.is_some() {
                        // Both hold it: only a shared leading (broadcast) axis keeps pictures
                        // apart.
                        if placed != Some((at, inner)) || at >= r - 2 {
                            return conflict("multiplies pictures with each other");
                        }
                    }
                    placed = Some((at, inner));
                }
            }
        }
        let Some((axis, inner)) = placed else {
            return conflict("unreachable");
        };
        // The operand without the batch must not have one picture's size on a leading axis.
        for (k, (bat, id)) in [(ins[0], a), (ins[1], b)].into_iter().enumerate() {
            let d = self.dims(id)?;
            let shift = r - d.len();
            if bat == Bat::Indep && axis < r - 2 && axis >= shift && d[axis - shift] != 1 {
                return conflict(format!(
                    "operand {k} is one picture's size on the batch axis"
                ));
            }
        }
        Ok(Step::Set(vec![(o, Bat::Axis { axis, inner })], Vec::new()))
    }

    fn reshape(&self, i: usize, n: &Node, ins: &[Bat]) -> Outcome<Step> {
        let (Some(x), Some(t), Some(o)) = (n.input(0), n.input(1), n.output()) else {
            return conflict("Reshape without a target");
        };
        let out = self.dims(o)?.to_vec();
        let (axis, inner) = match ins[0] {
            Bat::Axis { axis, inner } => (axis, inner),
            // A shape reshaped to a shape (or a one-element one to a scalar) keeps its order.
            Bat::Elem { index, inner } if out.len() == 1 || (out.is_empty() && index == 0) => {
                return Ok(Step::Set(vec![(o, Bat::Elem { index, inner })], Vec::new()))
            }
            Bat::Elem { .. } => return conflict("reshapes a shape that holds the batch"),
            Bat::Indep => return conflict("a one-picture tensor shaped by the batch"),
        };
        let d = self.dims(x)?;
        // The picture index moves the flat position in steps of `stride`; it lands in an
        // output axis whose trailing size divides that step, and within it at the quotient.
        let stride = inner * d[axis + 1..].iter().product::<u64>();
        let mut options = Vec::new();
        for j in 0..out.len() {
            let after: u64 = out[j + 1..].iter().product();
            if after == 0 || stride % after != 0 {
                continue;
            }
            let q = stride / after;
            if out[j] % q == 0 {
                options.push((j, q));
            }
        }
        match ins[1] {
            Bat::Elem { index, .. } => match options.iter().find(|(j, _)| *j == index) {
                Some(&(j, q)) => Ok(Step::Set(
                    vec![(o, Bat::Axis { axis: j, inner: q })],
                    Vec::new(),
                )),
                None => conflict("the target puts the batch where it cannot be"),
            },
            Bat::Indep => {
                let target = self.ints(t)?;
                if n.attr("allowzero") != Some(1) {
                    // A 0 copies the input's size: one that copies the batch axis is already
                    // batch-sized, so only that placement is right.
                    if let Some(m) = target.iter().position(|&v| v == 0) {
                        if m == axis {
                            options.retain(|&(j, q)| j == m && q == inner);
                        }
                    }
                }
                // An axis of its own first (the 1 the tracer wrote), then the others in order.
                options.sort_by_key(|&(j, q)| (!(out[j] == 1 && q == 1), j));
                let choices: Vec<(Bat, Change)> = options
                    .into_iter()
                    .map(|(j, q)| {
                        (
                            Bat::Axis { axis: j, inner: q },
                            Change::Target {
                                node: i,
                                dims: out.clone(),
                                axis: j,
                            },
                        )
                    })
                    .collect();
                match choices.len() {
                    0 => conflict("no axis of the target can hold the batch"),
                    _ => Ok(Step::Choose(o, choices)),
                }
            }
            Bat::Axis { .. } => conflict("a target that depends on the picture"),
        }
    }

    fn slice(&self, n: &Node, st: &[Bat], ins: &[Bat]) -> Outcome<Step> {
        let (Some(x), Some(o)) = (n.input(0), n.output()) else {
            return conflict("Slice without data");
        };
        let (starts, ends, axes, steps) = if self.opset >= 10 {
            (
                self.ints_in(n, st, 1, "")?,
                self.ints_in(n, st, 2, "")?,
                self.ints_in(n, st, 3, "")?,
                self.ints_in(n, st, 4, "")?,
            )
        } else {
            (
                n.attrs.get("starts").cloned(),
                n.attrs.get("ends").cloned(),
                n.attrs.get("axes").cloned(),
                None,
            )
        };
        let (Some(starts), Some(ends)) = (starts, ends) else {
            return conflict("Slice without bounds");
        };
        let d = self.dims(x)?;
        let axes: Vec<usize> = match axes {
            Some(a) => a
                .iter()
                .map(|&v| norm_axis(v, d.len()))
                .collect::<Outcome<_>>()?,
            None => (0..starts.len()).collect(),
        };
        let steps = steps.unwrap_or_else(|| vec![1; axes.len()]);
        match ins[0] {
            Bat::Axis { axis, inner } => {
                // Only `[:]` keeps every picture: an end written for one picture's size
                // would cut the batch.
                if let Some(k) = axes.iter().position(|&a| a == axis) {
                    let whole = starts[k] <= -(d[axis] as i64) || starts[k] == 0;
                    if !(whole && ends[k] >= i64::from(i32::MAX) && steps.get(k) == Some(&1)) {
                        return conflict("slices along the batch axis");
                    }
                }
                Ok(Step::Set(vec![(o, Bat::Axis { axis, inner })], Vec::new()))
            }
            Bat::Elem { index, inner } => {
                // Which elements of the 1-D shape survive, as Python slicing picks them.
                let len = d.first().copied().unwrap_or(0) as i64;
                let (s, e, step) = (starts[0], ends[0], steps[0]);
                if axes.first() != Some(&0) || step == 0 {
                    return conflict("a slice of a shape not along it");
                }
                let fix =
                    |v: i64, lo: i64, hi: i64| (if v < 0 { v + len } else { v }).clamp(lo, hi);
                let picked: Vec<i64> = if step > 0 {
                    let (s, e) = (fix(s, 0, len), fix(e, 0, len));
                    (s..e).step_by(step as usize).collect()
                } else {
                    let (s, e) = (fix(s, -1, len - 1), fix(e, -1, len - 1));
                    let mut v = Vec::new();
                    let mut k = s;
                    while k > e {
                        v.push(k);
                        k += step;
                    }
                    v
                };
                let b = match picked.iter().position(|&p| p == index as i64) {
                    Some(k) => Bat::Elem { index: k, inner },
                    None => Bat::Indep,
                };
                Ok(Step::Set(vec![(o, b)], Vec::new()))
            }
            Bat::Indep => conflict("bounds that depend on the picture"),
        }
    }

    fn concat(&self, i: usize, n: &Node, ins: &[Bat]) -> Outcome<Step> {
        let Some(o) = n.output() else {
            return conflict("Concat without an output");
        };
        let r = self.dims(o)?.len();
        let at = norm_axis(n.attr("axis").unwrap_or(0), r)?;
        let mut placed: Option<Bat> = None;
        let mut offset = 0usize;
        for (k, b) in ins.iter().enumerate() {
            let len = n
                .input(k)
                .map(|id| self.dims(id).map(|d| d.get(at).copied().unwrap_or(1)))
                .transpose()?
                .unwrap_or(0);
            let here = match *b {
                Bat::Indep => None,
                Bat::Elem { index, inner } => Some(Bat::Elem {
                    index: index + offset,
                    inner,
                }),
                Bat::Axis { axis, .. } if axis == at => {
                    return conflict("joins along the batch axis")
                }
                a @ Bat::Axis { .. } => Some(a),
            };
            offset += len as usize;
            if let Some(h) = here {
                if placed.is_some_and(|p| p != h) {
                    return conflict("joins tensors that hold the batch in different places");
                }
                placed = Some(h);
            }
        }
        let Some(b) = placed else {
            return conflict("unreachable");
        };
        let mut changes = Vec::new();
        if let Bat::Axis { axis, inner } = b {
            for (k, x) in ins.iter().enumerate() {
                let Some(id) = n.input(k) else { continue };
                if *x != Bat::Indep {
                    continue;
                }
                // One picture's constant (the class token) joined to every picture's tokens:
                // broadcast it to the batch first, when the batch is an axis of its own.
                if inner == 1 && self.dims(id)?.get(axis) == Some(&1) && axis == 0 {
                    changes.push(Change::Broadcast {
                        node: i,
                        input: k,
                        rank: self.dims(id)?.len(),
                    });
                } else {
                    return conflict(format!(
                        "joins {} (one picture) with every picture",
                        self.name(id)
                    ));
                }
            }
        }
        Ok(Step::Set(vec![(o, b)], changes))
    }

    fn expand(&self, n: &Node, ins: &[Bat]) -> Outcome<Step> {
        let Some(o) = n.output() else {
            return conflict("no output");
        };
        let r = self.dims(o)?.len();
        let (data, shape) = match n.op.as_str() {
            "ConstantOfShape" => (Bat::Indep, ins[0]),
            _ => (ins[0], ins.get(1).copied().unwrap_or(Bat::Indep)),
        };
        let from_shape = match shape {
            Bat::Indep => None,
            Bat::Elem { index, inner } if n.op != "Tile" => Some((index, inner)),
            _ => return conflict("repeats that depend on the picture"),
        };
        let from_data = match data {
            Bat::Indep => None,
            Bat::Axis { axis, inner } => {
                let rank = n
                    .input(0)
                    .map(|x| self.dims(x))
                    .transpose()?
                    .map_or(0, |d| d.len());
                Some((axis + r - rank, inner))
            }
            Bat::Elem { .. } => return conflict("a shape that holds the batch"),
        };
        if n.op == "Tile" {
            if let (Some((axis, _)), Some(id)) = (from_data, n.input(1)) {
                if self.ints(id)?.get(axis) != Some(&1) {
                    return conflict("tiles along the batch axis");
                }
            }
        } else if let (Some((axis, _)), None, Some(id)) = (from_data, from_shape, n.input(1)) {
            // A fixed target must not name the one-picture size on the batch axis.
            let t = self.ints(id)?;
            let at = axis as i64 - (r as i64 - t.len() as i64);
            if at >= 0 && t.get(at as usize).is_some_and(|&v| v != 1) {
                return conflict("expands to one picture's size on the batch axis");
            }
        }
        match (from_data, from_shape) {
            (Some(a), Some(b)) if a != b => conflict("the target puts the batch elsewhere"),
            (Some((axis, inner)), _) | (None, Some((axis, inner))) => {
                Ok(Step::Set(vec![(o, Bat::Axis { axis, inner })], Vec::new()))
            }
            (None, None) => Ok(Step::Set(vec![(o, Bat::Indep)], Vec::new())),
        }
    }
}

fn parse_node(n: &Message<'_>, id: &mut impl FnMut(&str) -> usize) -> Result<Node, RewriteError> {
    let mut attrs = HashMap::new();
    for a in n.all_bytes(NODE_ATTRIBUTE) {
        let a = Message::parse(a)?;
        if a.has(ATTR_G) || a.has(ATTR_GRAPHS) {
            return Err(refused("control flow with subgraphs"));
        }
        let name = a.string(ATTR_NAME).unwrap_or_default();
        let mut vals = Vec::new();
        if let Some(v) = a.varint(ATTR_I) {
            vals.push(v as i64);
        }
        for f in &a.fields {
            match (&f.value, f.num) {
                (Value::Varint(v), ATTR_INTS) => vals.push(*v as i64),
                (Value::Bytes(b), ATTR_INTS) => {
                    vals.extend(packed_varints(b)?.into_iter().map(|v| v as i64))
                }
                _ => {}
            }
        }
        attrs.insert(name, vals);
    }
    let mut list = |num: u32| -> Vec<Option<usize>> {
        n.all_bytes(num)
            .map(|b| {
                let s = String::from_utf8_lossy(b);
                (!s.is_empty()).then(|| id(&s))
            })
            .collect()
    };
    let inputs = list(NODE_INPUT);
    let outputs = list(NODE_OUTPUT);
    Ok(Node {
        op: n.string(NODE_OP).unwrap_or_default(),
        domain: n.string(NODE_DOMAIN).unwrap_or_default(),
        inputs,
        outputs,
        attrs,
    })
}

/// Rewrites a graph whose image input is fixed at one picture (see [`fixed_batch_input`]) to
/// take any number, from what one run of it showed (`facts`); an error says where the batch
/// could not be followed.
pub(crate) fn batched(model: &[u8], facts: &Facts) -> Result<Vec<u8>, RewriteError> {
    let Some(input) = fixed_batch_input(model)? else {
        return Err(refused("no image input fixed at one picture"));
    };
    let mut m = Message::parse(model)?;
    let opset = m
        .all_bytes(MODEL_OPSET)
        .map(Message::parse)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .find(|o| o.bytes(OPSET_DOMAIN).is_none_or(|d| d.is_empty()))
        .and_then(|o| o.varint(OPSET_VERSION))
        .unwrap_or(0);
    if opset < 11 {
        return Err(refused("opset before 11"));
    }
    let graph = Message::parse(
        m.bytes(MODEL_GRAPH)
            .ok_or(ProtoError("model has no graph"))?,
    )?;

    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut id = |s: &str| -> usize {
        if let Some(&k) = ids.get(s) {
            return k;
        }
        names.push(s.to_owned());
        ids.insert(s.to_owned(), names.len() - 1);
        names.len() - 1
    };
    let mut nodes = Vec::new();
    for n in graph.all_bytes(GRAPH_NODE) {
        nodes.push(parse_node(&Message::parse(n)?, &mut id)?);
    }
    let input_id = id(&input);
    let mut outputs = Vec::new();
    for o in graph.all_bytes(GRAPH_OUTPUT) {
        outputs.push(id(&tensor_type(o)?.name));
    }
    let mut known_dims = facts.dims.clone();
    let mut known_ints = facts.ints.clone();
    for t in graph.all_bytes(GRAPH_INITIALIZER) {
        let t = Message::parse(t)?;
        let name = t.string(TENSOR_NAME).unwrap_or_default();
        let dims = tensor_dims(&t)?;
        if dims.iter().product::<u64>() <= FACT_INTS_MAX as u64 {
            if let Some(v) = int64_values(&t)? {
                known_ints.entry(name.clone()).or_insert(v);
            }
        }
        known_dims.entry(name).or_insert(dims);
    }
    for n in graph.all_bytes(GRAPH_NODE) {
        let n = Message::parse(n)?;
        if let Some((out, t)) = constant_tensor(&n)? {
            let dims = tensor_dims(&t)?;
            if let Some(v) = int64_values(&t)? {
                known_ints.entry(out.clone()).or_insert(v);
            }
            known_dims.entry(out).or_insert(dims);
        }
    }
    let count = names.len();
    let mut walk = Walk {
        nodes: &nodes,
        dims: (0..count)
            .map(|k| known_dims.get(&names[k]).cloned())
            .collect(),
        ints: (0..count)
            .map(|k| known_ints.get(&names[k]).cloned())
            .collect(),
        names: &names,
        outputs: outputs.clone(),
        opset,
        visits: 0,
        deepest: (0, String::new()),
    };
    let mut st = vec![Bat::Indep; count];
    st[input_id] = Bat::Axis { axis: 0, inner: 1 };
    let mut changes = Vec::new();
    match walk.walk(0, &mut st, &mut changes) {
        Ok(()) => {}
        Err(Stop::Budget) => {
            return Err(refused(format!(
                "no batch placement found within {BUDGET} steps (furthest: {})",
                walk.deepest.1
            )))
        }
        Err(Stop::Conflict(why)) => {
            let at = if walk.deepest.1.is_empty() {
                why
            } else {
                walk.deepest.1.clone()
            };
            return Err(refused(format!("the batch cannot be followed: {at}")));
        }
    }
    tracing::debug!(
        visits = walk.visits,
        changes = changes.len(),
        "batch placement found"
    );
    let graph = emit(graph, &input, &names, &nodes, &outputs, changes)?;
    replace_graph(&mut m, graph, "glimpse.batch", "dynamic");
    Ok(m.encode())
}

const BATCH: &str = "glimpse_batch";

/// Writes the copy: the batch read from the input's shape, the edited targets and
/// broadcasts before the nodes that use them, the input and outputs relabelled.
fn emit(
    graph: Message<'_>,
    input: &str,
    names: &[String],
    nodes: &[Node],
    outputs: &[usize],
    changes: Vec<Change>,
) -> Result<Vec<u8>, RewriteError> {
    let mut inits = vec![int64s("glimpse_batch_index", &[0])];
    let mut head = vec![
        node("Shape", &[input], "glimpse_input_shape", Vec::new()),
        node(
            "Gather",
            &["glimpse_input_shape", "glimpse_batch_index"],
            BATCH,
            vec![int_attr("axis", 0)],
        ),
    ];
    let mut before: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
    let mut rewire: HashMap<(usize, usize), String> = HashMap::new();
    let mut ranks = std::collections::BTreeSet::new();
    for c in changes {
        match c {
            Change::Target {
                node: i,
                dims,
                axis,
            } => {
                let p = format!("glimpse_target{i}");
                let mut pieces = Vec::new();
                if axis > 0 {
                    let v: Vec<i64> = dims[..axis].iter().map(|&d| d as i64).collect();
                    inits.push(int64s(&format!("{p}_before"), &v));
                    pieces.push(format!("{p}_before"));
                }
                inits.push(int64s(&format!("{p}_size"), &[dims[axis] as i64]));
                let nodes = before.entry(i).or_default();
                nodes.push(node(
                    "Mul",
                    &[BATCH, &format!("{p}_size")],
                    &format!("{p}_batched"),
                    Vec::new(),
                ));
                pieces.push(format!("{p}_batched"));
                if axis + 1 < dims.len() {
                    let v: Vec<i64> = dims[axis + 1..].iter().map(|&d| d as i64).collect();
                    inits.push(int64s(&format!("{p}_after"), &v));
                    pieces.push(format!("{p}_after"));
                }
                let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
                nodes.push(node("Concat", &refs, &p, vec![int_attr("axis", 0)]));
                rewire.insert((i, 1), p);
            }
            Change::Broadcast {
                node: i,
                input: k,
                rank,
            } => {
                ranks.insert(rank);
                let Some(src) = nodes[i].input(k) else {
                    continue;
                };
                let out = format!("{}.glimpse_batch{i}", names[src]);
                before.entry(i).or_default().push(node(
                    "Expand",
                    &[&names[src], &format!("glimpse_batch_shape{rank}")],
                    &out,
                    Vec::new(),
                ));
                rewire.insert((i, k), out);
            }
        }
    }
    for r in ranks {
        inits.push(int64s(
            &format!("glimpse_ones{r}"),
            &vec![1; r.saturating_sub(1)],
        ));
        head.push(node(
            "Concat",
            &[BATCH, &format!("glimpse_ones{r}")],
            &format!("glimpse_batch_shape{r}"),
            vec![int_attr("axis", 0)],
        ));
    }

    // A shape constant every use of which now reads its rebuilt form goes.
    let mut used = vec![false; names.len()];
    for (i, n) in nodes.iter().enumerate() {
        for (k, x) in n.inputs.iter().enumerate() {
            if let (Some(x), false) = (x, rewire.contains_key(&(i, k))) {
                used[*x] = true;
            }
        }
    }
    for &o in outputs {
        used[o] = true;
    }
    // (A broadcast source is still read, by its Expand.)
    let gone: std::collections::HashSet<&str> = rewire
        .keys()
        .filter(|&&(i, k)| k == 1 && nodes[i].op == "Reshape")
        .filter_map(|&(i, k)| nodes[i].input(k))
        .filter(|&x| !used[x])
        .map(|x| names[x].as_str())
        .collect();

    let mut out = Message::default();
    let mut head = Some(head);
    let mut index = 0usize;
    for f in graph.fields {
        match (f.num, &f.value) {
            (GRAPH_NODE, Value::Bytes(b)) => {
                emit_head(&mut out, &mut head);
                if let Some(extra) = before.remove(&index) {
                    for e in extra {
                        out.push_bytes(GRAPH_NODE, e);
                    }
                }
                let orphan = nodes[index].op == "Constant"
                    && nodes[index]
                        .outputs
                        .iter()
                        .all(|o| o.is_some_and(|o| gone.contains(names[o].as_str())));
                if orphan {
                    index += 1;
                    continue;
                }
                if rewire.keys().any(|(n, _)| *n == index) {
                    let n = Message::parse(b)?;
                    let mut edited = Message::default();
                    let mut k = 0;
                    for nf in n.fields {
                        if nf.num == NODE_INPUT {
                            if let Some(to) = rewire.get(&(index, k)) {
                                edited.push_bytes(NODE_INPUT, to.as_bytes().to_vec());
                                k += 1;
                                continue;
                            }
                            k += 1;
                        }
                        edited.fields.push(nf);
                    }
                    out.push_bytes(GRAPH_NODE, edited.encode());
                } else {
                    out.fields.push(f);
                }
                index += 1;
            }
            (GRAPH_INPUT, Value::Bytes(b)) if tensor_type(b)?.name == input => {
                out.push_bytes(GRAPH_INPUT, with_symbolic_dim(b, 0, "batch")?);
            }
            (GRAPH_OUTPUT, Value::Bytes(b)) => {
                out.push_bytes(GRAPH_OUTPUT, with_symbolic_dim(b, 0, "batch")?);
            }
            (GRAPH_INITIALIZER, Value::Bytes(b))
                if gone.contains(
                    Message::parse(b)?
                        .string(TENSOR_NAME)
                        .unwrap_or_default()
                        .as_str(),
                ) => {}
            // Shapes recorded for one picture would contradict the batch.
            (GRAPH_VALUE_INFO, _) => {}
            _ => out.fields.push(f),
        }
    }
    if head.is_some() {
        return Err(refused("the graph has no nodes"));
    }
    for t in inits {
        out.push_bytes(GRAPH_INITIALIZER, t);
    }
    Ok(out.encode())
}

/// Where the batched copy of `graph` lives: beside it, as `<stem>.batch.onnx`.
pub fn copy_path(graph: &Path) -> PathBuf {
    beside(graph, "batch.onnx")
}

/// What [`prepare`] found for an image graph: which graph to run, and whether its batched
/// copy still needs checking against the original.
#[derive(Debug)]
pub enum BatchCopy {
    /// The graph takes a batch already, or has no copy (the reason is kept beside it, so the
    /// next start does not try again).
    Original,
    /// A batched copy, written now or earlier, still to be checked against the original.
    Unchecked(PathBuf),
    /// A batched copy that passed its check (see [`check_path`]).
    Checked(PathBuf),
}

/// Where a passed check of the copy is recorded.
pub fn check_path(copy: &Path) -> PathBuf {
    copy.with_extension("onnx.checked")
}

/// Where the reason a graph has no batched copy is recorded.
pub(crate) fn none_path(graph: &Path) -> PathBuf {
    copy_path(graph).with_extension("onnx.none")
}

/// Records why `graph` has no batched copy (best effort: a read-only folder asks again).
pub fn record_none(graph: &Path, why: &str) {
    if let Err(e) = std::fs::write(none_path(graph), format!("{why}\n")) {
        tracing::debug!(graph = %graph.display(), "cannot record that there is no batched copy: {e}");
    }
}

/// Finds or makes the batched copy of an image graph. `facts` runs the graph (given with
/// every tensor listed as an output, see [`with_every_output`]) once and reports what it saw;
/// it is called only when a copy has to be made, and its error comes back as
/// [`RewriteError::Probe`].
pub fn prepare<E>(
    graph: &Path,
    input_facts: impl FnOnce(&[u8], &str) -> Result<Facts, E>,
) -> Result<BatchCopy, RewriteError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let copy = copy_path(graph);
    if is_fresh(&copy, graph) {
        return Ok(match is_fresh(&check_path(&copy), &copy) {
            true => BatchCopy::Checked(copy),
            false => BatchCopy::Unchecked(copy),
        });
    }
    if is_fresh(&none_path(graph), graph) {
        return Ok(BatchCopy::Original);
    }
    let io = |source| RewriteError::Io {
        path: graph.display().to_string(),
        source,
    };
    // A folder that cannot hold the copy would cost this work at every start.
    let dir = graph.parent().unwrap_or(Path::new("."));
    if let Err(e) = tempfile::NamedTempFile::new_in(dir) {
        tracing::info!(dir = %dir.display(), "no batched copy of the image graph: the folder is not writable ({e})");
        return Ok(BatchCopy::Original);
    }
    let bytes = std::fs::read(graph).map_err(io)?;
    let Some(input) = fixed_batch_input(&bytes)? else {
        record_none(graph, "the graph takes a batch");
        return Ok(BatchCopy::Original);
    };
    // One copy of the graph in memory at a time besides the runtime's (a ViT-B/32 is 350 MB):
    // the listing copy, then the file again for the rewrite.
    let probe = with_every_output(&bytes);
    drop(bytes);
    let made = probe
        .and_then(|(probe, _)| {
            input_facts(&probe, &input).map_err(|e| RewriteError::Probe(Box::new(e)))
        })
        .and_then(|facts| {
            let bytes = std::fs::read(graph).map_err(io)?;
            batched(&bytes, &facts)
        });
    match made {
        Ok(copy_bytes) => {
            write_atomically(&copy, &copy_bytes)?;
            tracing::info!(graph = %graph.display(), copy = %copy.display(), "wrote batched image graph");
            Ok(BatchCopy::Unchecked(copy))
        }
        Err(e) => {
            // What the graph is, not a passing failure to read or write, is kept.
            if !matches!(e, RewriteError::Io { .. }) {
                record_none(graph, &e.to_string());
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A float ValueInfoProto; a negative dimension is symbolic.
    fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
        let mut shape = Message::default();
        for &d in dims {
            let mut dim = Message::default();
            match d {
                d if d < 0 => dim.push_bytes(DIM_PARAM, b"n".to_vec()),
                d => dim.set_varint(DIM_VALUE, d as u64),
            }
            shape.push_bytes(SHAPE_DIM, dim.encode());
        }
        let mut tt = Message::default();
        tt.set_varint(TENSOR_TYPE_ELEM, FLOAT);
        tt.push_bytes(TENSOR_TYPE_SHAPE, shape.encode());
        let mut ty = Message::default();
        ty.push_bytes(TYPE_TENSOR, tt.encode());
        let mut vi = Message::default();
        vi.push_bytes(VALUE_INFO_NAME, name.as_bytes().to_vec());
        vi.push_bytes(VALUE_INFO_TYPE, ty.encode());
        vi.encode()
    }

    fn floats(name: &str, dims: &[u64]) -> Vec<u8> {
        let n: u64 = dims.iter().product();
        let raw = (0..n)
            .flat_map(|i| (i as f32 * 0.1).to_le_bytes())
            .collect();
        tensor(name, FLOAT, dims, raw)
    }

    fn perm(p: &[i64]) -> Vec<u8> {
        let mut a = Message::default();
        a.push_bytes(ATTR_NAME, b"perm".to_vec());
        for &v in p {
            a.fields.push(super::super::proto::Field {
                num: ATTR_INTS,
                value: Value::Varint(v as u64),
            });
        }
        a.set_varint(ATTR_TYPE, ATTR_TYPE_INTS);
        a.encode()
    }

    /// A model of `nodes` from input `x` to output `y`, with its facts: `shapes` gives every
    /// tensor's one-picture shape.
    fn model(
        x: &[i64],
        y: &[i64],
        nodes: Vec<Vec<u8>>,
        inits: Vec<Vec<u8>>,
        shapes: &[(&str, &[u64])],
    ) -> (Vec<u8>, Facts) {
        let mut g = Message::default();
        for n in nodes {
            g.push_bytes(GRAPH_NODE, n);
        }
        for t in inits {
            g.push_bytes(GRAPH_INITIALIZER, t);
        }
        g.push_bytes(GRAPH_INPUT, value_info("x", x));
        g.push_bytes(GRAPH_OUTPUT, value_info("y", y));
        let mut opset = Message::default();
        opset.set_varint(OPSET_VERSION, 17);
        let mut m = Message::default();
        m.push_bytes(MODEL_OPSET, opset.encode());
        m.push_bytes(MODEL_GRAPH, g.encode());
        let mut facts = Facts::default();
        for (name, dims) in shapes {
            facts.dims.insert(name.to_string(), dims.to_vec());
        }
        (m.encode(), facts)
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    /// Fails unless every node of `model` reads only inputs, initializers and outputs of
    /// nodes before it.
    fn assert_well_formed(model: &[u8]) {
        let m = Message::parse(model).unwrap();
        let g = Message::parse(m.bytes(MODEL_GRAPH).unwrap()).unwrap();
        let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
        for vi in g.all_bytes(GRAPH_INPUT) {
            known.insert(tensor_type(vi).unwrap().name);
        }
        for t in g.all_bytes(GRAPH_INITIALIZER) {
            known.insert(Message::parse(t).unwrap().string(TENSOR_NAME).unwrap());
        }
        for n in g.all_bytes(GRAPH_NODE) {
            let n = Message::parse(n).unwrap();
            for i in n.all_bytes(NODE_INPUT) {
                let i = String::from_utf8_lossy(i).into_owned();
                assert!(
                    i.is_empty() || known.contains(&i),
                    "{i} is read before it exists"
                );
            }
            for o in n.all_bytes(NODE_OUTPUT) {
                known.insert(String::from_utf8_lossy(o).into_owned());
            }
        }
    }

    fn constant(name: &str, t: Vec<u8>) -> Vec<u8> {
        let mut a = Message::default();
        a.push_bytes(ATTR_NAME, b"value".to_vec());
        a.push_bytes(ATTR_T, t);
        a.set_varint(ATTR_TYPE, 4);
        node("Constant", &[], name, vec![a.encode()])
    }

    /// The class token, one picture's constant, joined to every picture's tokens: broadcast
    /// to the batch by an Expand that reads it, so the Constant that makes it stays.
    #[test]
    fn a_constant_joined_to_every_picture_is_broadcast_and_kept() {
        let s = &[
            ("x", &[1u64, 2, 4, 1][..]),
            ("tokens", &[1, 2, 4]),
            ("cls", &[1, 1, 4]),
            ("all", &[1, 3, 4]),
            ("y", &[1, 4]),
        ];
        let nodes = vec![
            node("Reshape", &["x", "target"], "tokens", vec![]),
            constant("cls", floats("cls", &[1, 1, 4])),
            node(
                "Concat",
                &["cls", "tokens"],
                "all",
                vec![int_attr("axis", 1)],
            ),
            node(
                "ReduceMean",
                &["all", "axes"],
                "y",
                vec![int_attr("keepdims", 0)],
            ),
        ];
        let inits = vec![int64s("target", &[1, 2, 4]), int64s("axes", &[1])];
        let (m, facts) = model(&[1, 2, 4, 1], &[1, 4], nodes, inits, s);
        let out = batched(&m, &facts).unwrap();
        assert_well_formed(&out);
        assert!(
            contains(&out, "cls.glimpse_batch2"),
            "the class token is broadcast"
        );
    }

    #[test]
    fn only_an_input_fixed_at_one_picture_is_rewritten() {
        let (m, facts) = model(
            &[-1, 4],
            &[-1, 4],
            vec![node("Relu", &["x"], "y", vec![])],
            vec![],
            &[],
        );
        assert_eq!(fixed_batch_input(&m).unwrap(), None);
        let err = batched(&m, &facts).unwrap_err().to_string();
        assert!(err.contains("no image input fixed at one picture"), "{err}");
        let (listed, names) = with_every_output(&m).unwrap();
        assert!(names.is_empty(), "y is an output already: {names:?}");
        assert_eq!(listed.len(), m.len());
    }

    /// Attention as nn.MultiheadAttention traces it for one picture: `[tokens, batch, width]`
    /// viewed as `[tokens, batch x heads, head width]`. The batch could go with the tokens or
    /// with the heads; only the heads keep pictures apart in the attention product, and the
    /// walk has to find that out (it tries the tokens first).
    #[test]
    fn an_ambiguous_target_is_settled_by_what_follows_it() {
        let s = &[
            ("x", &[1u64, 2, 4, 1][..]),
            ("i", &[1, 2, 4]),
            ("t", &[2, 1, 4]),
            ("q", &[2, 2, 2]),
            ("h", &[2, 2, 2]),
            ("k", &[2, 2, 2]),
            ("a", &[2, 2, 2]),
            ("p", &[2, 2, 2]),
            ("o", &[2, 2, 2]),
            ("u", &[2, 2, 2]),
            ("v", &[2, 1, 4]),
            ("w", &[1, 2, 4]),
            ("y", &[1, 4]),
        ];
        let nodes = vec![
            node("Reshape", &["x", "tokens"], "i", vec![]),
            node("Transpose", &["i"], "t", vec![perm(&[1, 0, 2])]),
            node("Reshape", &["t", "heads"], "q", vec![]),
            node("Transpose", &["q"], "h", vec![perm(&[1, 0, 2])]),
            node("Transpose", &["h"], "k", vec![perm(&[0, 2, 1])]),
            node("MatMul", &["h", "k"], "a", vec![]),
            node("Softmax", &["a"], "p", vec![int_attr("axis", -1)]),
            node("MatMul", &["p", "h"], "o", vec![]),
            node("Transpose", &["o"], "u", vec![perm(&[1, 0, 2])]),
            node("Reshape", &["u", "back"], "v", vec![]),
            node("Transpose", &["v"], "w", vec![perm(&[1, 0, 2])]),
            node(
                "ReduceMean",
                &["w", "axes"],
                "y",
                vec![int_attr("keepdims", 0)],
            ),
        ];
        let inits = vec![
            int64s("tokens", &[1, 2, 4]),
            int64s("heads", &[2, 2, 2]),
            int64s("back", &[2, 1, 4]),
            int64s("axes", &[1]),
        ];
        let (m, facts) = model(&[1, 2, 4, 1], &[1, 4], nodes, inits, s);
        let out = batched(&m, &facts).unwrap();
        assert_well_formed(&out);
        // Node 2's target keeps the tokens before the batch ([2, 2 x batch, 2]); node 9's
        // puts it in the axis of its own the tracer wrote ([2, batch, 4]).
        assert!(contains(&out, "glimpse_target2_before"));
        assert!(contains(&out, "glimpse_target9_before"));
        assert_eq!(
            fixed_batch_input(&out).unwrap(),
            None,
            "the input takes a batch"
        );
    }

    #[test]
    fn a_graph_that_mixes_pictures_is_refused_with_where() {
        // The flattened picture reshaped to [3, 4] rows: three rows per picture, so the output
        // has the pictures interleaved with the rows and no per-picture first axis.
        let s = &[("x", &[1u64, 3, 2, 2][..]), ("r", &[3, 4]), ("y", &[3, 4])];
        let nodes = vec![
            node("Reshape", &["x", "rows"], "r", vec![]),
            node("MatMul", &["r", "weights"], "y", vec![]),
        ];
        let inits = vec![int64s("rows", &[3, 4]), floats("weights", &[4, 4])];
        let (m, facts) = model(&[1, 3, 2, 2], &[3, 4], nodes, inits, s);
        let err = batched(&m, &facts).unwrap_err().to_string();
        assert!(err.contains("output y ends with the batch"), "{err}");

        // Normalising over the batch axis mixes pictures.
        let s = &[("x", &[1u64, 4, 1, 1][..]), ("y", &[1, 4, 1, 1])];
        let nodes = vec![node("Softmax", &["x"], "y", vec![int_attr("axis", 0)])];
        let (m, facts) = model(&[1, 4, 1, 1], &[1, 4, 1, 1], nodes, vec![], s);
        let err = batched(&m, &facts).unwrap_err().to_string();
        assert!(
            err.contains("node 0 (Softmax): normalises across pictures"),
            "{err}"
        );
    }
}
