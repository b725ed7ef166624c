//! Process start to shutdown: handshake, listener, TLS accept loop, gRPC.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use super::grpc::{Controller, ProviderService};
use super::handshake::{handshake_line, Handshake};
use super::proto::go_plugin::grpc_controller_server::GrpcControllerServer;
use super::proto::tfplugin5::provider_server::ProviderServer;
use super::tls::server_tls;
use crate::framework::{Provider, Server};

/// Terraform allows large states; tonic's 4 MiB default is too small.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// The binary's `main`: checks it was started by Terraform, then serves
/// until Terraform shuts it down.
pub fn run<P: Provider>(provider: P) -> ExitCode {
    let handshake = match Handshake::from_env(|key| std::env::var(key).ok()) {
        Ok(handshake) => handshake,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    super::log::init();
    // One thread: the provider waits on Terraform and AWS, and its own work
    // per call is small, so threads would only add wake-ups between them,
    // memory per thread, and CPU (measured by `cargo xtask bench refresh`).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(provider, handshake)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("provider failed: {err}");
            eprintln!("terraform-provider-bokbasen: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Serves `provider` over mTLS on loopback, printing the handshake line once
/// listening, until go-plugin's `Shutdown` arrives.
pub async fn serve<P: Provider>(provider: P, handshake: Handshake) -> Result<(), Box<dyn std::error::Error>> {
    let tls = server_tls(&handshake.client_cert_pem)?;
    let listener = handshake.bind()?;
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;

    // Terraform handles Ctrl-C itself and calls Stop; the provider must not die.
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            tracing::debug!("ignoring SIGINT; Terraform will call Stop");
        }
    });

    tokio::spawn(stop_when_orphaned());

    let (connections, incoming) = mpsc::channel(16);
    tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls.config), connections));

    let shutdown = Arc::new(Notify::new());
    let server = Arc::new(Server::new(provider));
    let provider_service = ProviderServer::new(ProviderService::new(server))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let controller = GrpcControllerServer::new(Controller { shutdown: shutdown.clone() });

    let line = handshake_line(addr, &tls.certificate);
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    tracing::debug!(%addr, "serving plugin protocol 5");

    tonic::transport::Server::builder()
        .add_service(provider_service)
        .add_service(controller)
        .serve_with_incoming_shutdown(ReceiverStream::new(incoming), async move { shutdown.notified().await })
        .await?;
    tracing::debug!("shut down");
    Ok(())
}

/// Exits once the process that started the provider is gone. A Terraform
/// killed outright (SIGKILL, OOM) cannot call Shutdown; a provider that
/// carried on would change AWS with nobody left to record it in state. The
/// orphan is re-parented, which is how it notices.
#[cfg(unix)]
async fn stop_when_orphaned() {
    let parent = std::os::unix::process::parent_id();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != parent {
            tracing::warn!("Terraform (process {parent}) is gone; stopping");
            std::process::exit(1);
        }
    }
}

#[cfg(not(unix))]
async fn stop_when_orphaned() {}

type Connection = Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>, std::io::Error>;

/// Accepts connections and completes each TLS handshake in its own task, so
/// one slow or hostile client cannot hold up the others. Clients without
/// Terraform's certificate fail the handshake and never reach gRPC.
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, connections: mpsc::Sender<Connection>) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                continue;
            }
        };
        // Without TCP_NODELAY every small gRPC frame waits for Nagle (~40 ms).
        if let Err(err) = socket.set_nodelay(true) {
            tracing::warn!("could not set TCP_NODELAY: {err}");
        }
        let acceptor = acceptor.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            match acceptor.accept(socket).await {
                Ok(stream) => {
                    let _ = connections.send(Ok(stream)).await;
                }
                Err(err) => tracing::warn!(%peer, "refused a connection that failed mutual TLS: {err}"),
            }
        });
    }
}
