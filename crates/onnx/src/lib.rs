//! Small, dependency-free edits of ONNX graphs, so the CLIP engine can run one model file
//! faster without a Python toolchain on the user's machine: a protobuf reader/writer (`proto`),
//! graph helpers (`onnx`), fp16 copies checked against fp32 (`fp16`), byte-input image graphs
//! that normalise on the device (`bytes`), variable-length text graphs (`seqlen`) and
//! batch-capable copies of graphs exported for one picture (`batch`).
//!
//! Nothing here knows about Glimpse: it reads and writes `.onnx` files.

pub mod batch;
pub mod bytes;
pub mod fp16;
pub mod onnx;
pub mod proto;
pub mod seqlen;
