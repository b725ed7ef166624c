//! terraform-provider-bokbasen as a library: the binary is a thin `main`
//! around [`plugin::serve`].
//!
//! Layers, each knowing only the ones below it:
//! - [`value`]: Terraform's value model and its wire encodings;
//! - [`framework`]: schema, diagnostics, typed resource and data-source traits;
//! - [`plugin`]: go-plugin handshake, mTLS, the tfplugin5 gRPC service;
//! - [`aws`]: AWS SDK configuration shared by every resource;
//! - [`types`]: what bokbasen offers, one module per Terraform type with its
//!   resource and data source, sharing rules only through [`types::shared`];
//! - [`provider`]: the provider block, which registers the types;
//! - [`docs`]: the registry documentation, rendered from the schemas.
//!
//! ARCHITECTURE.md states which module may import which; `tests/layers.rs`
//! in the workspace keeps that true.

pub mod aws;
pub mod docs;
pub mod framework;
pub mod plugin;
pub mod provider;
pub mod types;
pub mod value;
