//! The plugin layer: everything between Terraform's process and the
//! framework. go-plugin's handshake and AutoMTLS, the tfplugin5 gRPC service,
//! go-plugin's controller, and logs in the format Terraform reads.
//!
//! Nothing here knows about AWS or any resource; it serves whatever
//! [`Provider`](crate::framework::Provider) it is given.

mod grpc;
pub mod handshake;
pub mod log;
pub mod proto;
mod serve;
pub mod tls;

pub use serve::{run, serve};
