//! Signing with GnuPG, as HashiCorp's releases are signed: a binary detached
//! signature of the SHA256SUMS file, which Terraform checks against the
//! public key the registry hands out with each download.
//!
//! The key lives in the releaser's keyring (`GNUPGHOME`, or gpg's default);
//! its passphrase, if any, goes to gpg on standard input and is never part
//! of a command line, a message or an error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

/// The variable naming the signing key (a fingerprint, key ID or user ID).
pub const KEY_ENV: &str = "BOKBASEN_GPG_KEY";
/// The variable holding the key's passphrase, when it has one.
pub const PASSPHRASE_ENV: &str = "BOKBASEN_GPG_PASSPHRASE";

/// A signing key of a GnuPG keyring.
pub struct SigningKey {
    /// `GNUPGHOME`; `None` leaves it to gpg (the variable, or `~/.gnupg`).
    home: Option<PathBuf>,
    key: String,
    passphrase: Option<String>,
}

/// What a registry tells Terraform about the key: its 16-hex-digit ID and
/// the ASCII-armored public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub key_id: String,
    pub ascii_armor: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let passphrase = self.passphrase.as_ref().map(|_| "(redacted)");
        f.debug_struct("SigningKey")
            .field("home", &self.home)
            .field("key", &self.key)
            .field("passphrase", &passphrase)
            .finish()
    }
}

impl SigningKey {
    pub fn new(home: Option<PathBuf>, key: impl Into<String>, passphrase: Option<String>) -> SigningKey {
        SigningKey { home, key: key.into(), passphrase }
    }

    /// The key [`KEY_ENV`] names, with [`PASSPHRASE_ENV`]'s passphrase.
    pub fn from_env() -> Result<SigningKey> {
        let key = std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            format!(
                "{KEY_ENV} is not set: name the GPG key that signs the release (its fingerprint), from the keyring in GNUPGHOME or ~/.gnupg; set {PASSPHRASE_ENV} if the key has a passphrase"
            )
        })?;
        Ok(SigningKey::new(None, key.trim(), std::env::var(PASSPHRASE_ENV).ok()))
    }

    fn gpg(&self) -> Command {
        let mut gpg = Command::new("gpg");
        if let Some(home) = &self.home {
            gpg.env("GNUPGHOME", home);
        }
        gpg.args(["--batch", "--no-tty", "--quiet"]);
        gpg
    }

    /// Writes `file.sig`, a binary detached signature of `file`.
    pub fn sign_detached(&self, file: &Path) -> Result<PathBuf> {
        let mut signature = file.as_os_str().to_owned();
        signature.push(".sig");
        let signature = PathBuf::from(signature);
        let _ = std::fs::remove_file(&signature);
        let mut gpg = self.gpg();
        if self.passphrase.is_some() {
            gpg.args(["--pinentry-mode", "loopback", "--passphrase-fd", "0"]);
        }
        gpg.args(["--local-user", &self.key, "--detach-sign", "--output"]).arg(&signature).arg(file);
        let stdin = self.passphrase.as_deref().map(|p| format!("{p}\n")).unwrap_or_default();
        run(gpg, &stdin, &format!("sign {} with GPG key {}", file.display(), self.key))?;
        Ok(signature)
    }

    /// The key's ID and ASCII-armored public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        let mut list = self.gpg();
        list.args(["--with-colons", "--list-keys", &self.key]);
        let listing = run(list, "", &format!("find GPG key {}", self.key))?;
        // The primary key's `pub` record: field 5 is its long key ID.
        let ids: Vec<&str> =
            listing.lines().filter(|l| l.starts_with("pub:")).filter_map(|l| l.split(':').nth(4)).collect();
        let [key_id] = ids[..] else {
            return Err(format!("GPG key {} names {} keys: name exactly one, by its fingerprint", self.key, ids.len()));
        };
        let mut export = self.gpg();
        export.args(["--armor", "--export", key_id]);
        let ascii_armor = run(export, "", &format!("export GPG key {key_id}"))?;
        Ok(PublicKey { key_id: key_id.to_owned(), ascii_armor })
    }
}

/// Runs gpg with `stdin`; its standard output, or an error with what it said.
fn run(mut command: Command, stdin: &str, doing: &str) -> Result<String> {
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| format!("{doing}: cannot run gpg ({e}); install GnuPG"))?;
    if let Some(mut input) = child.stdin.take() {
        // gpg may exit without reading (a missing key): that is its error to tell.
        let _ = input.write_all(stdin.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| format!("{doing}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("{doing}: gpg failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// A throwaway keyring holding one new RSA signing key without passphrase,
/// for tests and trial releases. Its agent is stopped when it is dropped.
pub struct ThrowawayKeyring {
    home: tempfile_dir::TempHome,
    fingerprint: String,
}

impl ThrowawayKeyring {
    pub fn create(user_id: &str) -> Result<ThrowawayKeyring> {
        let home = tempfile_dir::TempHome::new()?;
        let key = SigningKey::new(Some(home.path().to_owned()), user_id, None);
        let mut generate = key.gpg();
        generate.args(["--passphrase", "", "--quick-generate-key", user_id, "rsa3072", "sign", "never"]);
        run(generate, "", "generate a throwaway GPG key")?;
        let mut list = key.gpg();
        list.args(["--with-colons", "--list-keys", user_id]);
        let listing = run(list, "", "list the throwaway GPG key")?;
        let fingerprint = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .ok_or("the throwaway GPG key has no fingerprint")?
            .to_owned();
        Ok(ThrowawayKeyring { home, fingerprint })
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The key's fingerprint, as `BOKBASEN_GPG_KEY` would name it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn signing_key(&self) -> SigningKey {
        SigningKey::new(Some(self.home.path().to_owned()), self.fingerprint.clone(), None)
    }
}

/// A short-named directory under the system's temporary directory: gpg's
/// agent socket lives in it, and socket paths are limited to about 100 bytes.
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempHome(PathBuf);

    impl TempHome {
        pub fn new() -> crate::Result<TempHome> {
            let base = std::env::temp_dir();
            for n in 0..1000u32 {
                let path = base.join(format!("bkgpg-{}-{n}", std::process::id()));
                match std::fs::create_dir(&path) {
                    Ok(()) => {
                        use std::os::unix::fs::PermissionsExt as _;
                        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700));
                        return Ok(TempHome(path));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(format!("create a GPG home under {}: {e}", base.display())),
                }
            }
            Err(format!("no free GPG home name under {}", base.display()))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempHome {
        fn drop(&mut self) {
            let _ = std::process::Command::new("gpgconf")
                .env("GNUPGHOME", &self.0)
                .args(["--kill", "all"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_against_the_exported_key_and_not_after_a_change() {
        let keyring = ThrowawayKeyring::create("bokbasen release test <release@example.invalid>").unwrap();
        let key = keyring.signing_key();
        let dir = tempfile::tempdir().unwrap();
        let sums = dir.path().join("SUMS");
        std::fs::write(&sums, "abc  file.zip\n").unwrap();
        let signature = key.sign_detached(&sums).unwrap();
        let bytes = std::fs::read(&signature).unwrap();
        assert!(!bytes.starts_with(b"-----BEGIN"), "Terraform reads a binary signature");

        let public = key.public_key().unwrap();
        assert_eq!(public.key_id.len(), 16);
        assert!(public.ascii_armor.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));

        // Verified with only the exported public key, in a keyring of its own.
        let verifier = ThrowawayKeyring::create("verifier <verifier@example.invalid>").unwrap();
        let verify = |file: &Path| {
            let armor = dir.path().join("public.asc");
            std::fs::write(&armor, &public.ascii_armor).unwrap();
            let import = Command::new("gpg")
                .env("GNUPGHOME", verifier.home())
                .args(["--batch", "--import"])
                .arg(&armor)
                .output()
                .unwrap();
            assert!(import.status.success());
            Command::new("gpg")
                .env("GNUPGHOME", verifier.home())
                .args(["--batch", "--verify"])
                .arg(&signature)
                .arg(file)
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(verify(&sums));
        std::fs::write(&sums, "abd  file.zip\n").unwrap();
        assert!(!verify(&sums));
    }

    #[test]
    fn a_missing_key_is_named_and_a_passphrase_never_shows() {
        let keyring = ThrowawayKeyring::create("present <present@example.invalid>").unwrap();
        let missing = SigningKey::new(
            Some(keyring.home().to_owned()),
            "absent@example.invalid",
            Some("hunter2-passphrase".into()),
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("SUMS");
        std::fs::write(&file, "x").unwrap();
        let err = missing.sign_detached(&file).unwrap_err();
        assert!(err.contains("absent@example.invalid"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!format!("{missing:?}").contains("hunter2"));
        let err = missing.public_key().unwrap_err();
        assert!(err.contains("find GPG key absent@example.invalid"), "{err}");
    }
}
