//! Small, dependency-free edits of ONNX graphs, so the CLIP engine can run one model file
//! faster without a Python toolchain on the user's machine. Nothing here knows about Glimpse:
//! it reads and writes `.onnx` files.
//!
//! Entry points, one module per rewrite (each writes its copy beside the graph and tells
//! whether an earlier copy is still fresh):
//! - [`fp16`]: half-precision copies for GPUs ([`fp16::ensure_variant`],
//!   [`fp16::ensure_image_variant`]);
//! - [`bytes`]: image graphs that take the crop's bytes and normalise on the device
//!   ([`bytes::take_bytes`]);
//! - [`seqlen`]: text graphs that take captions of any length ([`seqlen::ensure_copy`]);
//! - [`batch`]: batch-capable copies of image graphs exported for one picture
//!   ([`batch::prepare`] → [`batch::BatchCopy`]);
//! - [`proto`]: the protobuf reader/writer they share ([`proto::Message`]), for callers that
//!   inspect a graph themselves.
//!
//! Errors: every rewrite reports an [`RewriteError`] (despite its name, the one error of all
//! rewrites: an unparsable file, an unsupported graph, a refusal saying why, an I/O failure, or
//! the caller's own probe failing in [`batch::prepare`]). [`proto::ProtoError`] is what a
//! malformed protobuf gives [`proto::Message::parse`].

pub mod batch;
pub mod bytes;
pub mod fp16;
mod onnx;
pub mod proto;
pub mod seqlen;

pub use onnx::RewriteError;
