//! Image graphs that take the centre crop's bytes and normalise inside, for GPUs: the decode
//! pool then stops at the crop (no float work per pixel on the CPU), and a batch is a quarter
//! of the memory to fill, stage and send to the device (38 MB instead of 154 MB for 256 CLIP
//! pictures). The normalisation is a lookup in the same per-channel table the CPU path uses
//! (`preprocess::PreprocessConfig::lut` (glimpse-clip)), so the graph sees the same floats bit for bit.
//!
//! The new input is `pixel_bytes`, uint8 `[batch, height, width, 3]`; four nodes in front of
//! the graph turn it into the original float input (`Cast` to int32, `Add` the channel's table
//! offset, `Gather` from the table, `Transpose` to NCHW), so nothing else in the graph changes.

use super::onnx::*;
use super::proto::{Message, ProtoError, Value};

/// Name of the byte input of a rewritten graph.
pub const BYTE_INPUT: &str = "pixel_bytes";

fn unsupported(why: impl Into<String>) -> RewriteError {
    RewriteError::Unsupported(why.into())
}

/// The ValueInfoProto of the byte input: uint8, `[batch, height, width, 3]` with the batch,
/// height and width dimensions of the float input they replace.
fn byte_input_info(batch: &[u8], height: &[u8], width: &[u8]) -> Vec<u8> {
    let mut three = Message::default();
    three.set_varint(DIM_VALUE, 3);
    let mut shape = Message::default();
    for d in [
        batch.to_vec(),
        height.to_vec(),
        width.to_vec(),
        three.encode(),
    ] {
        shape.push_bytes(SHAPE_DIM, d);
    }
    let mut tt = Message::default();
    tt.set_varint(TENSOR_TYPE_ELEM, UINT8);
    tt.push_bytes(TENSOR_TYPE_SHAPE, shape.encode());
    let mut ty = Message::default();
    ty.push_bytes(TYPE_TENSOR, tt.encode());
    let mut vi = Message::default();
    vi.push_bytes(VALUE_INFO_NAME, BYTE_INPUT.as_bytes().to_vec());
    vi.push_bytes(VALUE_INFO_TYPE, ty.encode());
    vi.encode()
}

/// Rewrites an image graph whose one float input is `[batch, 3, height, width]` to take the
/// crop's bytes instead, normalised inside through `lut` (per channel, indexed by byte value).
pub fn take_bytes(model: &[u8], lut: &[[f32; 256]; 3]) -> Result<Vec<u8>, RewriteError> {
    let mut m = Message::parse(model)?;
    let graph_bytes = m
        .bytes(MODEL_GRAPH)
        .ok_or(ProtoError("model has no graph"))?;
    let graph = Message::parse(graph_bytes)?;
    let mut float_input = None;
    for vi in graph.all_bytes(GRAPH_INPUT) {
        let InputType { name, elem, dims } = tensor_type(vi)?;
        if name == BYTE_INPUT {
            return Err(unsupported("the graph already takes bytes"));
        }
        if elem == Some(FLOAT) && dims.len() == 4 {
            if float_input.is_some() {
                return Err(unsupported("more than one image input"));
            }
            float_input = Some((name, dims));
        }
    }
    let Some((input, dims)) = float_input else {
        return Err(unsupported("no float [batch, 3, height, width] input"));
    };
    if let Ok(c) = Message::parse(&dims[1]) {
        if c.varint(DIM_VALUE).is_some_and(|c| c != 3) {
            return Err(unsupported(format!(
                "input {input} does not have 3 channels"
            )));
        }
    }
    let table: Vec<u8> = lut.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    let base: Vec<u8> = [0i32, 256, 512]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let head = [
        node(
            "Cast",
            &[BYTE_INPUT],
            "glimpse_bytes_i32",
            vec![int_attr("to", INT32 as i64)],
        ),
        node(
            "Add",
            &["glimpse_bytes_i32", "glimpse_channel_base"],
            "glimpse_table_index",
            Vec::new(),
        ),
        node(
            "Gather",
            &["glimpse_byte_table", "glimpse_table_index"],
            "glimpse_pixels_hwc",
            vec![int_attr("axis", 0)],
        ),
        node(
            "Transpose",
            &["glimpse_pixels_hwc"],
            &input,
            vec![ints_attr("perm", &[0, 3, 1, 2])],
        ),
    ];
    let mut out = Message::default();
    let mut head = Some(head);
    out.push_bytes(
        GRAPH_INITIALIZER,
        tensor("glimpse_byte_table", FLOAT, &[768], table),
    );
    out.push_bytes(
        GRAPH_INITIALIZER,
        tensor("glimpse_channel_base", INT32, &[3], base),
    );
    for f in graph.fields {
        match (f.num, &f.value) {
            (GRAPH_NODE, Value::Bytes(_)) => {
                emit_head(&mut out, &mut head);
                out.fields.push(f);
            }
            (GRAPH_INPUT, Value::Bytes(b)) if tensor_type(b)?.name == input => {
                out.push_bytes(GRAPH_INPUT, byte_input_info(&dims[0], &dims[2], &dims[3]));
            }
            _ => out.fields.push(f),
        }
    }
    if head.is_some() {
        return Err(unsupported("the graph has no nodes"));
    }
    let graph = out.encode();
    replace_graph(&mut m, graph, "glimpse.input", "bytes");
    Ok(m.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_without_an_image_input_is_refused() {
        let mut m = Message::default();
        m.push_bytes(MODEL_GRAPH, Message::default().encode());
        let err = take_bytes(&m.encode(), &[[0.0; 256]; 3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no float"), "{err}");
        assert!(take_bytes(b"\xff\xff", &[[0.0; 256]; 3]).is_err());
    }
}
