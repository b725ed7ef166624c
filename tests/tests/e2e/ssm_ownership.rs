//! Ownership of SSM parameters (`bokbasen_service_config`,
//! `bokbasen_service_secret`, `bokbasen secret set`) end to end: bokbasen
//! writes and deletes only what it made (`bokbasen:owner` marker) or what
//! a resource's state holds.
//!
//! - a parameter of a wanted name made by hand is left exactly as it was
//!   (value, version, tags) by a create that is refused with the import
//!   command; import and apply take it over and mark it; a parameter of
//!   another resource is refused by apply and by import;
//! - a create failing half way removes exactly the parameters it created,
//!   never one made by hand; the next apply completes; a key added by hand
//!   afterwards shows in the plan, but the apply that would delete it is
//!   refused and destroy leaves it;
//! - `bokbasen secret set` marks what it creates, so the secret resource
//!   takes the value over; an unmarked SecureString is refused until
//!   imported; another resource's parameter is refused by both.
//!
//! The endpoint enforces IAM: Terraform and the CLI sign as the caller
//! holding the documented policy; set-up and checks run as the
//! administrator (`aws.boto3`).

use bokbasen_e2e::{bokbasen, terraform_binaries, LocalAws, TerraformRun, WorkDir};
use serde_json::{json, Value};

const PROVIDER: &str = concat!(
    bokbasen_e2e::terraform_settings!(),
    r#"
provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url

  default_tags {
    tags = { managed-by = "terraform" }
  }
}
"#
);

const PREFIX: &str = "/config/ebook-api_test/";
const ACCOUNT: &str = "123456789012";
const CONFIG_MARKER: &str = "bokbasen_service_config/ebook-api/test";

/// Terraform with the endpoint variable; options before positional arguments.
fn tf(work: &WorkDir, aws: &LocalAws, args: &[&str]) -> TerraformRun {
    let var = format!("endpoint_url={}", aws.endpoint());
    let mut all: Vec<&str> = vec![args[0]];
    if args[0] != "state" {
        all.extend(["-no-color", "-var", &var]);
    }
    all.extend(&args[1..]);
    work.run(&all)
}

fn write(work: &WorkDir, name: &str, contents: &str) {
    std::fs::write(work.path().join(name), contents).expect("write configuration");
}

/// Output with line breaks and indentation folded, for matching sentences.
fn said(run: &TerraformRun) -> String {
    run.output().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every parameter under `/config`: name → {type, value (decrypted), version, tags}.
fn parameters(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
ssm = client("ssm")
found = {}
for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/config", Recursive=True, WithDecryption=True):
    for p in page["Parameters"]:
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]
        found[p["Name"]] = {"type": p["Type"], "value": p["Value"], "version": p["Version"],
                            "tags": {t["Key"]: t["Value"] for t in tags}}
print(json.dumps(found))
"#,
    )
}

/// A parameter made outside bokbasen (or, with a `bokbasen:owner` tag, as bokbasen would).
fn plant(aws: &LocalAws, key: &str, value: &str, secure: bool, tags: &[(&str, &str)]) {
    let kind = if secure { "SecureString" } else { "String" };
    let key_id = if secure { ", KeyId='alias/aws/ssm'" } else { "" };
    let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{{'Key': {k:?}, 'Value': {v:?}}}")).collect();
    let tags = if tags.is_empty() { String::new() } else { format!(", Tags=[{}]", tags.join(", ")) };
    aws.boto3(&format!(
        "client('ssm').put_parameter(Name={:?}, Value={value:?}, Type={kind:?}{key_id}{tags})\nprint('{{}}')",
        format!("{PREFIX}{key}")
    ));
}

fn config(values: &[(&str, &str)]) -> String {
    let values: Vec<String> = values.iter().map(|(k, v)| format!("    {k:?} = {v:?}")).collect();
    format!(
        r#"
resource "bokbasen_service_config" "ebook_api_test" {{
  service     = "ebook-api"
  environment = "test"
  values = {{
{}
  }}
  tags = {{
    team = "ebooks"
  }}
}}
"#,
        values.join("\n")
    )
}

/// The resource's attributes in state (`show -json`).
fn state_of(work: &WorkDir, address: &str) -> Value {
    let shown = work.run(&["show", "-json", "-no-color"]).success();
    let shown: Value = serde_json::from_str(&shown.stdout).expect("show -json");
    shown["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["address"] == address)
        .map(|r| r["values"].clone())
        .unwrap_or_else(|| panic!("{address} in state: {shown}"))
}

#[test]
fn a_parameter_made_by_hand_is_refused_until_imported_then_marked() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    plant(&aws, "catalogue.page-size", "25", false, &[("team", "by-hand")]);
    let before = parameters(&aws);
    let wanted = config(&[("catalogue.page-size", "50"), ("spring.datasource.url", "jdbc:postgresql://db/ebooks")]);
    let work = aws.workdir(&tf_binary, &[("provider.tf", PROVIDER), ("main.tf", &wanted)]);
    work.init();

    // The create is refused, naming the parameter and its account, with the import command; nothing written.
    let refused = tf(&work, &aws, &["apply", "-auto-approve"]);
    assert_ne!(refused.code, 0, "{refused}");
    let text = said(&refused);
    for expected in [
        "Parameters that are not this configuration's",
        &format!("SSM parameter {PREFIX}catalogue.page-size in account {ACCOUNT} has no bokbasen:owner tag"),
        "Nothing was written or deleted.",
        "terraform import ADDRESS ebook-api/test",
        "ADDRESS: this resource's address",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{refused}");
    }
    assert_eq!(parameters(&aws), before, "value, version and tags untouched; nothing created");

    // Import takes it over; the apply writes the wanted value and marks every parameter.
    tf(&work, &aws, &["import", "bokbasen_service_config.ebook_api_test", "ebook-api/test"]).success();
    tf(&work, &aws, &["apply", "-auto-approve"]).success();
    let stored = parameters(&aws);
    let marked = json!({"managed-by": "terraform", "team": "ebooks", "bokbasen:owner": CONFIG_MARKER});
    let page_size = &stored[format!("{PREFIX}catalogue.page-size")];
    assert_eq!((&page_size["value"], &page_size["version"]), (&json!("50"), &json!(2)));
    assert_eq!(page_size["tags"], marked, "taken over: tags made exact, marker added");
    assert_eq!(stored[format!("{PREFIX}spring.datasource.url")]["tags"], marked, "created with the marker");
    assert_eq!(tf(&work, &aws, &["plan", "-detailed-exitcode"]).code, 0, "nothing left to do");
    let state = state_of(&work, "bokbasen_service_config.ebook_api_test");
    assert_eq!(state["tags"], json!({"team": "ebooks"}), "the marker never shows in `tags`");

    // Another resource's parameter under the path: apply refused naming its owner, import refused.
    let other = "bokbasen_service_config/ebook-api/elsewhere";
    plant(&aws, "feature.flag", "on", false, &[("bokbasen:owner", other)]);
    let before = parameters(&aws);
    write(
        &work,
        "main.tf",
        &config(&[
            ("catalogue.page-size", "50"),
            ("spring.datasource.url", "jdbc:postgresql://db/ebooks"),
            ("feature.flag", "off"),
        ]),
    );
    let refused = tf(&work, &aws, &["apply", "-auto-approve"]);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(
        said(&refused).contains(&format!("SSM parameter {PREFIX}feature.flag in account {ACCOUNT} belongs to {other}")),
        "{refused}"
    );
    assert_eq!(parameters(&aws), before, "nothing changed");
    write(
        &work,
        "main.tf",
        &config(&[("catalogue.page-size", "50"), ("spring.datasource.url", "jdbc:postgresql://db/ebooks")]),
    );
    tf(&work, &aws, &["state", "rm", "bokbasen_service_config.ebook_api_test"]).success();
    let import = tf(&work, &aws, &["import", "bokbasen_service_config.ebook_api_test", "ebook-api/test"]);
    assert_ne!(import.code, 0, "{import}");
    assert!(said(&import).contains("Import refused") && said(&import).contains(other), "{import}");
    assert_eq!(parameters(&aws), before, "nothing changed");
}

#[test]
fn a_failed_create_removes_only_what_it_created_and_a_key_added_by_hand_is_never_deleted() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    // Made by hand, not wanted: never touched.
    plant(&aws, "zz.by-hand", "keep", false, &[("team", "by-hand")]);
    // Left by an interrupted apply of this resource: its marker, a stale tag, an old value.
    plant(&aws, "b", "old", false, &[("bokbasen:owner", CONFIG_MARKER), ("stale", "x")]);
    let by_hand = parameters(&aws)[format!("{PREFIX}zz.by-hand")].clone();
    let work = aws
        .workdir(&tf_binary, &[("provider.tf", PROVIDER), ("main.tf", &config(&[("a", "1"), ("b", "2"), ("c", "3")]))]);
    work.init();

    // a and c are created, b is taken over by its marker; making b's tags exact fails.
    aws.inject_fault("ssm:AddTagsToResource", 400, "ValidationException", "Tagging refused (injected).", Some(1));
    let failed = tf(&work, &aws, &["apply", "-auto-approve"]);
    assert_ne!(failed.code, 0, "{failed}");
    let text = said(&failed);
    assert!(
        text.contains("tagging parameter /config/ebook-api_test/b") && text.contains("ValidationException"),
        "{failed}"
    );
    assert!(text.contains("Everything created by this attempt was removed again."), "{failed}");
    let stored = parameters(&aws);
    let names: Vec<String> = stored.as_object().unwrap().keys().cloned().collect();
    assert_eq!(names, [format!("{PREFIX}b"), format!("{PREFIX}zz.by-hand")], "a and c removed, nothing else");
    assert_eq!(stored[format!("{PREFIX}b")]["tags"]["bokbasen:owner"], CONFIG_MARKER, "b is still this resource's");
    assert_eq!(stored[format!("{PREFIX}zz.by-hand")], by_hand, "the parameter made by hand is untouched");

    // The next apply completes it.
    tf(&work, &aws, &["apply", "-auto-approve"]).success();
    let stored = parameters(&aws);
    for key in ["a", "b", "c"] {
        assert_eq!(
            stored[format!("{PREFIX}{key}")]["tags"],
            json!({"managed-by": "terraform", "team": "ebooks", "bokbasen:owner": CONFIG_MARKER}),
            "{key}"
        );
    }
    assert_eq!(stored[format!("{PREFIX}zz.by-hand")], by_hand);

    // A key under the path that is not ours shows in the plan (drift), with a warning...
    let plan = tf(&work, &aws, &["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan}");
    assert!(plan.stdout.contains("\"zz.by-hand\""), "{plan}");
    assert!(said(&plan).contains("Not this configuration's parameter"), "{plan}");
    // ...but the apply that would delete it is refused, and destroy leaves it.
    let refused = tf(&work, &aws, &["apply", "-auto-approve"]);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(
        said(&refused)
            .contains(&format!("SSM parameter {PREFIX}zz.by-hand in account {ACCOUNT} has no bokbasen:owner tag")),
        "{refused}"
    );
    assert_eq!(parameters(&aws), stored, "nothing changed");
    tf(&work, &aws, &["destroy", "-auto-approve"]).success();
    let left = parameters(&aws);
    assert_eq!(left, json!({format!("{PREFIX}zz.by-hand"): by_hand}), "only the parameter made by hand is left");
}

#[test]
fn secret_set_marks_what_it_creates_so_the_secret_resource_takes_it_over() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let developer = aws.developer_env(ACCOUNT);
    let env: Vec<(&str, &str)> = developer.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let secret = format!("s3t-by-cli-{}", std::process::id());

    // `secret set` creates the parameter with the marker the resource writes.
    let set = bokbasen(dir.path(), &["secret", "set", "ebook-api", "test", "db.password"], &env, &secret).success();
    assert!(set.stdout.contains(&format!("Stored {PREFIX}db.password")), "{set}");
    let marker = "bokbasen_service_secret/ebook-api/test/db.password";
    assert_eq!(parameters(&aws)[format!("{PREFIX}db.password")]["tags"], json!({"bokbasen:owner": marker}));

    // Unmarked, made by hand: refused by the resource; `secret set` replaces the value but adds no marker.
    plant(&aws, "api.token", "by-hand-token", true, &[]);
    let set = bokbasen(dir.path(), &["secret", "set", "ebook-api", "test", "api.token"], &env, "new-token").success();
    assert!(set.stdout.contains("without bokbasen's bokbasen:owner tag"), "{set}");
    assert!(set.stdout.contains("terraform import ADDRESS ebook-api/test/api.token"), "{set}");
    // Another resource's: `secret set` refuses, naming it and the fix.
    let other = "bokbasen_service_config/ebook-api/test";
    plant(&aws, "taken", "theirs", true, &[("bokbasen:owner", other)]);
    let before = parameters(&aws);
    let refused = bokbasen(dir.path(), &["secret", "set", "ebook-api", "test", "taken"], &env, "mine").failure();
    assert!(refused.stderr.contains(&format!("{PREFIX}taken belongs to {other}")), "{refused}");
    assert!(refused.stderr.contains("nothing was stored") && refused.stderr.contains("Fix:"), "{refused}");
    assert_eq!(parameters(&aws), before, "nothing stored");

    let secrets = r#"
resource "bokbasen_service_secret" "db" {
  service     = "ebook-api"
  environment = "test"
  key         = "db.password"
  tags        = { team = "ebooks" }
}

resource "bokbasen_service_secret" "token" {
  service     = "ebook-api"
  environment = "test"
  key         = "api.token"
}

resource "bokbasen_service_secret" "taken" {
  service     = "ebook-api"
  environment = "test"
  key         = "taken"
}
"#;
    let work = aws.workdir(&tf_binary, &[("provider.tf", PROVIDER), ("main.tf", secrets)]);
    work.init();
    let refused = tf(&work, &aws, &["apply", "-auto-approve"]);
    assert_ne!(refused.code, 0, "{refused}");
    let text = said(&refused);
    for expected in [
        &format!("SSM parameter {PREFIX}api.token in account {ACCOUNT} has no bokbasen:owner tag"),
        "terraform import ADDRESS ebook-api/test/api.token",
        &format!("SSM parameter {PREFIX}taken in account {ACCOUNT} belongs to {other}"),
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{refused}");
    }
    let stored = parameters(&aws);
    let db = &stored[format!("{PREFIX}db.password")];
    assert_eq!(db["value"], secret.as_str(), "the value set beforehand is kept");
    assert_eq!(
        db["tags"],
        json!({"bokbasen:owner": marker, "managed-by": "terraform", "team": "ebooks"}),
        "taken over"
    );
    assert_eq!(stored[format!("{PREFIX}api.token")], before[format!("{PREFIX}api.token")], "refused: untouched");
    assert_eq!(stored[format!("{PREFIX}taken")], before[format!("{PREFIX}taken")], "refused: untouched");
    assert_eq!(state_of(&work, "bokbasen_service_secret.db")["tags"], json!({"team": "ebooks"}), "no marker in `tags`");

    // Import takes the unmarked one over and the apply marks it; another resource's is not imported.
    tf(&work, &aws, &["import", "bokbasen_service_secret.token", "ebook-api/test/api.token"]).success();
    let import = tf(&work, &aws, &["import", "bokbasen_service_secret.taken", "ebook-api/test/taken"]);
    assert_ne!(import.code, 0, "{import}");
    assert!(said(&import).contains("Import refused"), "{import}");
    // (The marker comes with the next apply that changes the resource: here a description.)
    let kept = &secrets[..secrets.find("resource \"bokbasen_service_secret\" \"taken\"").unwrap()];
    write(
        &work,
        "main.tf",
        &kept.replace(
            "key         = \"api.token\"",
            "key         = \"api.token\"\n  description = \"Token of the API\"",
        ),
    );
    tf(&work, &aws, &["apply", "-auto-approve"]).success();
    let token = &parameters(&aws)[format!("{PREFIX}api.token")];
    assert_eq!(token["value"], "new-token");
    assert_eq!(token["tags"]["bokbasen:owner"], "bokbasen_service_secret/ebook-api/test/api.token");
    assert_eq!(tf(&work, &aws, &["plan", "-detailed-exitcode"]).code, 0);

    // Destroy removes the two secrets, not the other resource's parameter.
    tf(&work, &aws, &["destroy", "-auto-approve"]).success();
    let left: Vec<String> = parameters(&aws).as_object().unwrap().keys().cloned().collect();
    assert_eq!(left, [format!("{PREFIX}taken")]);
}
