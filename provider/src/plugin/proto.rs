//! Code generated from `proto/` at build time (see `build.rs`).

#[allow(clippy::all, missing_docs)]
pub mod tfplugin5 {
    tonic::include_proto!("tfplugin5");
}

/// go-plugin's own services (package `plugin`).
#[allow(clippy::all, missing_docs)]
pub mod go_plugin {
    tonic::include_proto!("plugin");
}
