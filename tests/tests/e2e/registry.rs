//! The provider as a platform team installs it: released by the
//! `bokbasen-release` crate (a zip, the manifest, SHA256SUMS signed with a
//! throwaway GPG key), served over HTTPS as the provider registry protocol
//! says, and installed by `terraform init` with each Terraform, which checks
//! the package against the signed sums before it runs anything.

use std::path::{Path, PathBuf};

use bokbasen_e2e::tools::cargo_built;
use bokbasen_e2e::{
    bokbasen, provider_binary, terraform_binaries, workspace_root, LocalAws, LocalHttps, TerraformBinary, WorkDir,
};
use bokbasen_release::package::{self, ProviderPackages};
use bokbasen_release::sign::{PublicKey, ThrowawayKeyring};
use bokbasen_release::{mirror, registry, Platform};

const NAMESPACE: &str = "platform";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A signed release of the provider, served as a registry over HTTPS.
struct Registry {
    /// The tree `server` serves (discovery, documents, release files).
    root: PathBuf,
    packages: ProviderPackages,
    key: PublicKey,
    server: LocalHttps,
    dir: tempfile::TempDir,
    keyring: ThrowawayKeyring,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().expect("a release folder");
        let binary = provider_binary();
        let packages = package::write(&dir.path().join("dist"), VERSION, &[(Platform::LINUX_AMD64, &binary)])
            .expect("package the provider");
        let keyring = ThrowawayKeyring::create("bokbasen e2e release <release@example.invalid>").expect("a GPG key");
        let signer = keyring.signing_key();
        signer.sign_detached(&packages.sums).expect("sign the sums");
        let key = signer.public_key().expect("the public key");
        let root = dir.path().join("registry");
        std::fs::create_dir_all(&root).expect("the registry's root");
        // The documents' URLs need the port, so the tree is written once the server listens.
        let server = LocalHttps::serve_files(&root);
        registry::write_static(&root, &server.base_url(), NAMESPACE, &packages, &key).expect("write the registry");
        Registry { root, packages, key, server, dir, keyring }
    }

    /// `localhost:PORT/platform/bokbasen`.
    fn source(&self) -> String {
        format!("{}/{NAMESPACE}/bokbasen", self.server.host())
    }

    /// The served copy of a release file.
    fn served(&self, file: &Path) -> PathBuf {
        let name = file.file_name().expect("a file name");
        self.root.join(format!("v1/providers/{NAMESPACE}/bokbasen/{VERSION}")).join(name)
    }
}

/// `examples/caller-identity`, requiring bokbasen from `source`.
fn caller_identity_example(source: &str) -> String {
    let example =
        std::fs::read_to_string(workspace_root().join("examples/caller-identity/main.tf")).expect("the example");
    let public = "source = \"bokbasen/bokbasen\"";
    assert!(example.contains(public), "the example requires bokbasen/bokbasen");
    example.replace(public, &format!("source = \"{source}\"\n      version = \"{VERSION}\""))
}

/// A working directory installing from `provider_installation` (a CLI
/// configuration block; empty: the registry), trusting `server`'s CA.
fn workdir(
    aws: &LocalAws,
    terraform: &TerraformBinary,
    server: &LocalHttps,
    source: &str,
    installation: &str,
) -> WorkDir {
    let work = aws.workdir(terraform, &[("main.tf", &caller_identity_example(source))]);
    let cli_config = work.path().join("cli.tfrc");
    std::fs::write(&cli_config, installation).expect("write the CLI configuration");
    let cli_config = cli_config.display().to_string();
    work.env("TF_CLI_CONFIG_FILE", &cli_config).env("SSL_CERT_FILE", &server.ca_file().display().to_string())
}

/// Applies the example and checks who the provider acted as.
fn apply_example(aws: &LocalAws, work: &WorkDir) {
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    work.run(&["apply", "-auto-approve", "-var", &endpoint]).success();
    assert_eq!(work.outputs()["account_id"], "123456789012");
}

fn lock_file(work: &WorkDir) -> String {
    std::fs::read_to_string(work.terraform_dir().join(".terraform.lock.hcl")).expect("init writes the lock file")
}

#[test]
fn terraform_installs_the_signed_release_from_a_private_registry_and_applies_with_it() {
    let registry = Registry::start();
    let aws = LocalAws::start();
    let zip = &registry.packages.zips[0];
    for terraform in terraform_binaries() {
        let work = workdir(&aws, &terraform, &registry.server, &registry.source(), "");
        let init = work.init();
        let said = init.output();
        assert!(said.contains(&format!("Installed {} v{VERSION}", registry.source())), "{terraform:?}: {said}");
        assert!(said.contains(&format!("self-signed, key ID {}", registry.key.key_id)), "{terraform:?}: {said}");
        let lock = lock_file(&work);
        assert!(lock.contains(&format!("provider \"{}\"", registry.source())), "{lock}");
        assert!(lock.contains(&format!("\"zh:{}\"", zip.sha256)), "the lock holds the zip's hash: {lock}");
        apply_example(&aws, &work);
    }
    let requests = registry.server.requests();
    let provider = format!("/v1/providers/{NAMESPACE}/bokbasen");
    for expected in [
        "GET /.well-known/terraform.json 200".to_owned(),
        format!("GET {provider}/versions 200"),
        format!("GET {provider}/{VERSION}/download/linux/amd64 200"),
        format!("GET {provider}/{VERSION}/{} 200", zip.file_name()),
        format!("GET {provider}/{VERSION}/terraform-provider-bokbasen_{VERSION}_SHA256SUMS 200"),
        format!("GET {provider}/{VERSION}/terraform-provider-bokbasen_{VERSION}_SHA256SUMS.sig 200"),
    ] {
        assert!(requests.contains(&expected), "{expected} not in {requests:#?}");
    }
}

#[test]
fn a_tampered_package_or_signature_is_refused() {
    let registry = Registry::start();
    let aws = LocalAws::start();
    let zip = registry.served(&registry.packages.zips[0].path);
    let sums = registry.served(&registry.packages.sums);
    let signature = registry.served(&registry.packages.signature());
    let download = registry.root.join(format!("v1/providers/{NAMESPACE}/bokbasen/{VERSION}/download/linux/amd64"));
    let originals: Vec<(PathBuf, Vec<u8>)> = [&zip, &sums, &signature, &download]
        .iter()
        .map(|p| ((*p).clone(), std::fs::read(p).expect("served file")))
        .collect();
    let restore = || {
        for (path, bytes) in &originals {
            std::fs::write(path, bytes).expect("restore a served file");
        }
    };

    let mut tampered = originals[0].1.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    let tampered_sha = bokbasen_release::sha256_hex(&tampered);
    let original_sha = registry.packages.zips[0].sha256.clone();

    // An attacker's key signing the sums of the attacker's zip.
    let attacker = ThrowawayKeyring::create("attacker <attacker@example.invalid>").expect("a second GPG key");

    for terraform in terraform_binaries() {
        let refused = |what: &str, expected: &[&str]| {
            let work = workdir(&aws, &terraform, &registry.server, &registry.source(), "");
            let init = work.run(&["init", "-input=false", "-no-color"]);
            let said = init.output();
            assert_ne!(init.code, 0, "{terraform:?}, {what}: init must fail: {said}");
            for text in expected {
                assert!(said.to_lowercase().contains(text), "{terraform:?}, {what}: {text:?} in {said}");
            }
            assert!(!work.terraform_dir().join(".terraform.lock.hcl").exists(), "{what}: nothing is locked");
            let installed = work.terraform_dir().join(".terraform/providers").join(registry.source());
            assert!(!installed.exists(), "{what}: nothing is installed");
        };

        // A changed zip: its hash is not the one the registry lists.
        std::fs::write(&zip, &tampered).unwrap();
        refused("tampered zip", &["checksum"]);

        // A changed zip with sums and document to match: the signature no longer holds.
        let text = String::from_utf8(originals[1].1.clone()).unwrap().replace(&original_sha, &tampered_sha);
        std::fs::write(&sums, text).unwrap();
        let doc = String::from_utf8(originals[3].1.clone()).unwrap().replace(&original_sha, &tampered_sha);
        std::fs::write(&download, doc).unwrap();
        refused("tampered zip and sums", &["signature"]);

        // ... and re-signed by a key the registry does not name.
        // (`sign_detached` writes SUMS.sig beside the served sums: the served signature.)
        let forged = attacker.signing_key().sign_detached(&sums).expect("the attacker's signature");
        assert_eq!(forged, signature);
        refused("sums signed by another key", &["signature"]);
        restore();

        // A damaged signature of the true sums.
        let mut damaged = originals[2].1.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        std::fs::write(&signature, damaged).unwrap();
        refused("damaged signature", &["signature"]);
        restore();
    }
}

/// Where a team that installs without a registry gets bokbasen from.
const MIRRORED_SOURCE: (&str, &str) = ("registry.example.com", "platform");

#[test]
fn the_release_zips_serve_as_a_packed_filesystem_mirror_and_a_network_mirror() {
    let registry = Registry::start();
    let aws = LocalAws::start();
    let (host, namespace) = MIRRORED_SOURCE;
    let source = format!("{host}/{namespace}/bokbasen");
    let packed = registry.dir.path().join("packed");
    mirror::write_packed(&packed, host, namespace, &registry.packages).expect("write the packed mirror");
    // Served by the same HTTPS server, under /mirror/.
    mirror::write_network(&registry.root.join("mirror"), host, namespace, &registry.packages)
        .expect("write the network mirror");
    let installations = [
        (
            "packed filesystem mirror",
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n  }}\n}}\n",
                packed.display().to_string()
            ),
        ),
        (
            "network mirror",
            format!(
                "provider_installation {{\n  network_mirror {{\n    url = \"{}/mirror/\"\n  }}\n}}\n",
                registry.server.base_url()
            ),
        ),
    ];
    let zip = &registry.packages.zips[0];
    let mut unpacked_hashes = std::collections::BTreeSet::new();
    for terraform in terraform_binaries() {
        for (what, installation) in &installations {
            let work = workdir(&aws, &terraform, &registry.server, &source, installation);
            let said = work.init().output();
            assert!(said.contains(&format!("Installed {source} v{VERSION}")), "{terraform:?}, {what}: {said}");
            let lock = lock_file(&work);
            let h1 = lock
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("\"h1:"))
                .unwrap_or_else(|| panic!("{what}: {lock}"));
            unpacked_hashes.insert(h1.to_owned());
        }
    }
    assert_eq!(unpacked_hashes.len(), 1, "every installation unpacked the same provider: {unpacked_hashes:?}");

    // The network mirror's hash is checked: a zip that does not match it is refused.
    let document = registry.root.join(format!("mirror/{host}/{namespace}/bokbasen/{VERSION}.json"));
    let listed = std::fs::read_to_string(&document).expect("the mirror's version document");
    assert!(listed.contains(&format!("zh:{}", zip.sha256)), "{listed}");
    std::fs::write(&document, listed.replace(&zip.sha256, &"0".repeat(64))).expect("rewrite the document");
    for terraform in terraform_binaries() {
        let work = workdir(&aws, &terraform, &registry.server, &source, &installations[1].1);
        let init = work.run(&["init", "-input=false", "-no-color"]);
        assert_ne!(init.code, 0, "{terraform:?}: a zip the mirror's hash does not match is refused: {init}");
        assert!(init.output().contains("checksum"), "{terraform:?}: {init}");
    }
    let requests = registry.server.requests();
    let index = format!("GET /mirror/{host}/{namespace}/bokbasen/index.json 200");
    assert!(requests.contains(&index), "the network mirror was asked: {requests:#?}");
    assert!(!requests.iter().any(|r| r.contains("/.well-known/")), "no registry was asked: {requests:#?}");
}

/// Every `.tf` file under `dir`, by path relative to it, but for hidden
/// folders (`.bokbasen/`, the pristine render).
fn terraform_files(dir: &Path, under: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(under).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            terraform_files(dir, &path, out);
        } else if path.extension().is_some_and(|e| e == "tf") {
            out.push((path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn a_service_generated_for_a_private_address_installs_bokbasen_from_it_without_edits() {
    let registry = Registry::start();
    let source = registry.source();
    for terraform in terraform_binaries() {
        // `bokbasen new` with the sample answers and the private address, nothing else.
        let work = WorkDir::new(&terraform, &[]).in_subdir("services/isbn-lookup");
        let values = workspace_root().join("examples/generator/lambda-function.yml").display().to_string();
        let address = format!("provider_source={source}");
        bokbasen(
            work.path(),
            &["new", "lambda-function", "isbn-lookup", "--values", &values, "--set", &address],
            &[],
            "",
        )
        .success();
        let mut files = Vec::new();
        let service = work.terraform_dir();
        terraform_files(&service, &service, &mut files);
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        for module in ["modules/service-pipeline/main.tf", "modules/service-config/main.tf"] {
            assert!(names.contains(&module), "the service has its own {module}: {names:?}");
        }
        for (name, text) in &files {
            assert!(!text.contains("\"bokbasen/bokbasen\""), "{name} still requires the public address");
            assert!(!text.contains("git::https://github.com/bokbasen"), "{name} calls the public modules");
        }
        let requiring: Vec<&str> = files
            .iter()
            .filter(|(_, text)| text.contains(&format!("= \"{source}\"")))
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(requiring.len(), 3, "the root module and both modules name {source}: {requiring:?}");

        // Installed from the registry under that address, and valid as generated.
        let cli_config = work.path().join("cli.tfrc");
        std::fs::write(&cli_config, "").unwrap();
        let work = work
            .env("TF_CLI_CONFIG_FILE", &cli_config.display().to_string())
            .env("SSL_CERT_FILE", &registry.server.ca_file().display().to_string());
        let init = work.run(&["init", "-backend=false", "-input=false", "-no-color"]).success();
        assert!(init.output().contains(&format!("Installed {source} v{VERSION}")), "{init}");
        let lock = lock_file(&work);
        assert!(lock.contains(&format!("\"zh:{}\"", registry.packages.zips[0].sha256)), "{lock}");
        assert!(!lock.contains("registry.terraform.io/bokbasen"), "only the private address is locked: {lock}");
        let validate = work.run(&["validate", "-no-color"]);
        assert!(validate.code == 0 && validate.output().contains("Success"), "{validate}");
    }
}

#[test]
fn publishing_to_hcp_terraform_follows_the_documented_sequence_and_never_shows_the_token() {
    let release = Registry::start();
    let (organization, token) = ("bokbasen-platform", "atlasv1-fake-Zq9-never-shown");
    let fake = LocalHttps::fake_hcp_terraform(organization, token);
    let dist = release.packages.sums.parent().unwrap().display().to_string();
    let xtask = cargo_built("xtask", "xtask");
    let publish = |token: &str| {
        let output = std::process::Command::new(&xtask)
            .args(["publish-hcp", VERSION, "--organization", organization, "--dist", &dist])
            .env("TFE_TOKEN", token)
            .env("TFE_HOSTNAME", fake.host())
            .env("SSL_CERT_FILE", fake.ca_file())
            .env("GNUPGHOME", release.keyring.home())
            .env("BOKBASEN_GPG_KEY", release.keyring.fingerprint())
            .output()
            .expect("run xtask publish-hcp");
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!said.contains(token), "the token is never shown: {said}");
        (output.status.success(), said)
    };
    let api_requests = || -> Vec<String> {
        let requests = fake.requests();
        assert!(!requests.iter().any(|r| r.starts_with("REJECTED")), "{requests:#?}");
        // Upload URLs are opaque: each is one `PUT upload`.
        let requests = requests.into_iter().filter(|r| !r.contains("/_fake/"));
        let opaque = |r: String| match r.strip_prefix("PUT /archivist/") {
            Some(rest) => format!("PUT upload {}", rest.rsplit(' ').next().unwrap_or_default()),
            None => r,
        };
        requests.map(opaque).collect()
    };

    let (ok, said) = publish("a-token-the-registry-refuses");
    assert!(!ok && said.contains("HTTP 401") && said.contains("TFE_TOKEN is not accepted"), "{said}");
    let refused = api_requests().len();

    let (ok, said) = publish(token);
    assert!(ok, "{said}");
    let provider = format!("/api/v2/organizations/{organization}/registry-providers");
    let versions = format!("{provider}/private/{organization}/bokbasen/versions");
    assert_eq!(
        api_requests()[refused..],
        [
            format!("GET {provider}/private/{organization}/bokbasen 404"),
            format!("POST {provider} 201"),
            format!("GET /api/registry/private/v2/gpg-keys?filter%5Bnamespace%5D={organization} 200"),
            "POST /api/registry/private/v2/gpg-keys 201".to_owned(),
            format!("POST {versions} 201"),
            "PUT upload 200".to_owned(),
            "PUT upload 200".to_owned(),
            format!("POST {versions}/{VERSION}/platforms 201"),
            "PUT upload 200".to_owned(),
        ]
    );
    // What the registry holds is what was released and signed.
    let state: serde_json::Value = {
        let url = format!("{}/_fake/state", fake.base_url());
        let output = std::process::Command::new("curl")
            .args(["--silent", "--show-error", "--cacert"])
            .arg(fake.ca_file())
            .arg(&url)
            .output()
            .expect("curl the fake's state");
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)))
    };
    let sha = |path: &Path| bokbasen_release::sha256_hex(&std::fs::read(path).unwrap());
    let zip = &release.packages.zips[0];
    let uploads = &state["uploads"];
    assert_eq!(uploads[format!("{VERSION}/SHA256SUMS")], sha(&release.packages.sums));
    assert_eq!(uploads[format!("{VERSION}/SHA256SUMS.sig")], sha(&release.packages.signature()));
    assert_eq!(uploads[format!("{VERSION}/{}", zip.file_name())], zip.sha256);
    let platform = &state["versions"][VERSION]["platforms"][0];
    assert_eq!(
        (&platform["os"], &platform["arch"], &platform["shasum"]),
        (&serde_json::json!("linux"), &serde_json::json!("amd64"), &serde_json::json!(zip.sha256))
    );
    assert_eq!(state["versions"][VERSION]["key-id"], serde_json::json!(release.key.key_id));

    // Again: the provider and key are found, and the existing version is not replaced.
    let before = api_requests().len();
    let (ok, said) = publish(token);
    assert!(!ok && said.contains("Version has already been taken") && said.contains("is not replaced"), "{said}");
    let again = api_requests();
    assert!(
        again[before..]
            .iter()
            .all(|r| !r.starts_with("POST /api/registry/private/v2/gpg-keys") && r != &format!("POST {provider} 201")),
        "{again:#?}"
    );
}
