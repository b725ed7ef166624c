//! terraform-provider-bokbasen as a library: the binary is a thin `main`
//! around [`plugin::serve`].
//!
//! Layers, each knowing only the ones below it:
//! - [`value`]: Terraform's value model and its wire encodings;
//! - [`framework`]: schema, diagnostics, typed resource and data-source traits;
//! - [`plugin`]: go-plugin handshake, mTLS, the tfplugin5 gRPC service;
//! - [`aws`]: AWS SDK configuration shared by every resource;
//! - [`provider`], [`data_sources`], [`resources`]: what bokbasen offers;
//! - [`docs`]: the registry documentation, rendered from the schemas.

pub mod aws;
pub mod data_sources;
pub mod docs;
pub mod framework;
pub mod plugin;
pub mod provider;
pub mod resources;
pub mod value;
