//! The provider binary as Terraform runs it: go-plugin's environment, the
//! handshake line on stdout, mutual TLS with Terraform's P-521 certificate,
//! the tfplugin5 service, and go-plugin's controller.

mod support;

use bokbasen_provider::plugin::proto::go_plugin::{self, grpc_controller_client::GrpcControllerClient};
use bokbasen_provider::plugin::proto::tfplugin5::{get_provider_schema, provider_client::ProviderClient};
use support::{run_to_exit, ClientIdentity, Plugin, GENEROUS, MAGIC_COOKIE, MAGIC_COOKIE_KEY};

#[test]
fn run_by_hand_it_explains_itself_and_fails() {
    let run = run_to_exit(&[]);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "", "nothing may reach stdout, which Terraform parses");
    assert!(run.stderr.contains("This binary is a plugin for Terraform"), "stderr: {}", run.stderr);
}

#[test]
fn a_wrong_cookie_is_no_cookie() {
    let client = ClientIdentity::generate();
    let run = run_to_exit(&[(MAGIC_COOKIE_KEY, "not-the-cookie"), ("PLUGIN_CLIENT_CERT", &client.pem)]);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("This binary is a plugin for Terraform"), "stderr: {}", run.stderr);
}

#[test]
fn protocol_6_alone_is_refused_naming_version_5() {
    let client = ClientIdentity::generate();
    let run = run_to_exit(&[
        (MAGIC_COOKIE_KEY, MAGIC_COOKIE),
        ("PLUGIN_PROTOCOL_VERSIONS", "6"),
        ("PLUGIN_CLIENT_CERT", &client.pem),
    ]);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "", "no handshake line for a protocol it cannot speak");
    assert!(run.stderr.contains("version 5"), "stderr: {}", run.stderr);
}

#[tokio::test]
async fn serves_the_schema_to_terraforms_certificate() {
    let client = ClientIdentity::generate();
    let plugin = Plugin::start(&client);
    let channel = plugin.connect(Some(&client)).await.expect("mTLS connection with the trusted certificate");
    let schema = ProviderClient::new(channel)
        .get_schema(get_provider_schema::Request {})
        .await
        .unwrap_or_else(|status| panic!("GetSchema failed: {status}; stderr: {}", plugin.stderr()))
        .into_inner();

    assert!(schema.diagnostics.is_empty(), "{:?}", schema.diagnostics);
    let provider = schema.provider.expect("provider schema").block.expect("provider block");
    assert!(!provider.description.is_empty(), "the provider block has a description");
    let region = provider.attributes.iter().find(|a| a.name == "region").expect("attribute region");
    assert!(region.optional && !region.required);
    assert_eq!(region.r#type, br#""string""#);
    assert!(!region.description.is_empty(), "region has a description");

    let identity =
        schema.data_source_schemas.get("bokbasen_caller_identity").expect("data source bokbasen_caller_identity");
    let block = identity.block.as_ref().expect("data source block");
    assert!(!block.description.is_empty(), "the data source has a description");
    assert!(!block.attributes.is_empty());
    for attribute in &block.attributes {
        assert!(!attribute.description.is_empty(), "{} has a description", attribute.name);
    }
}

/// Connects with `identity` and calls GetSchema; `Err` if either step fails.
async fn get_schema_as(plugin: &Plugin, identity: Option<&ClientIdentity>) -> Result<(), String> {
    let attempt = async {
        let channel = plugin.connect(identity).await.map_err(|e| format!("connect: {e}"))?;
        ProviderClient::new(channel)
            .get_schema(get_provider_schema::Request {})
            .await
            .map(drop)
            .map_err(|status| format!("GetSchema: {status}"))
    };
    tokio::time::timeout(GENEROUS, attempt)
        .await
        .unwrap_or_else(|_| panic!("neither served nor refused within {GENEROUS:?}; stderr: {}", plugin.stderr()))
}

#[tokio::test]
async fn refuses_a_different_certificate() {
    let terraform = ClientIdentity::generate();
    let impostor = ClientIdentity::generate();
    assert_ne!(terraform.der, impostor.der);
    let plugin = Plugin::start(&terraform);

    let refused = get_schema_as(&plugin, Some(&impostor)).await;
    assert!(refused.is_err(), "a client with another P-521 certificate was served");
    // The refusal is about the certificate, not a broken server.
    get_schema_as(&plugin, Some(&terraform)).await.expect("Terraform's certificate is still served");
}

#[tokio::test]
async fn refuses_a_client_without_certificate() {
    let terraform = ClientIdentity::generate();
    let plugin = Plugin::start(&terraform);

    let refused = get_schema_as(&plugin, None).await;
    assert!(refused.is_err(), "a client without a certificate was served");
    get_schema_as(&plugin, Some(&terraform)).await.expect("Terraform's certificate is still served");
}

#[tokio::test]
async fn controller_shutdown_ends_the_process_cleanly() {
    let client = ClientIdentity::generate();
    let mut plugin = Plugin::start(&client);
    let channel = plugin.connect(Some(&client)).await.expect("mTLS connection");

    // A served request first, so shutdown has a live connection to close.
    ProviderClient::new(channel.clone()).get_schema(get_provider_schema::Request {}).await.expect("GetSchema");
    GrpcControllerClient::new(channel)
        .shutdown(go_plugin::Empty {})
        .await
        .unwrap_or_else(|status| panic!("Shutdown failed: {status}; stderr: {}", plugin.stderr()));

    let status = plugin.wait_exit(GENEROUS).await;
    let status =
        status.unwrap_or_else(|| panic!("still running {GENEROUS:?} after Shutdown; stderr: {}", plugin.stderr()));
    assert!(status.success(), "exited with {status}; stderr: {}", plugin.stderr());
}

/// A Terraform killed outright cannot call Shutdown: its provider, left
/// behind, stops by itself instead of changing AWS for nobody.
#[test]
fn a_provider_whose_terraform_is_gone_stops() {
    let client = ClientIdentity::generate();
    // A stand-in for Terraform: starts the provider, says its process id, and dies without a word to it.
    let parent = std::process::Command::new("sh")
        .args(["-c", "\"$0\" >/dev/null 2>&1 & echo $!; sleep 1", support::BINARY])
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env("PLUGIN_CLIENT_CERT", &client.pem)
        .output()
        .expect("run the stand-in");
    let pid = String::from_utf8_lossy(&parent.stdout).trim().to_string();
    assert!(!pid.is_empty(), "the provider's process id: {parent:?}");
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    let deadline = std::time::Instant::now() + GENEROUS;
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stopped = !alive();
    if !stopped {
        let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
    }
    assert!(stopped, "the orphaned provider {pid} still runs");
}
