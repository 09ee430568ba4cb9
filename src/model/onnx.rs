//! The parts of the ONNX schema (onnx.proto) that Glimpse edits: field numbers of the messages
//! its graph rewrites touch, element types, and the last step every rewrite shares.

use super::proto::Message;

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
