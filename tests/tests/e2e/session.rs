//! The harness's own session pieces: a Terraform command stopped mid-way
//! (its provider processes found, and gone once killed), and an inventory of
//! an organisation that holds nothing of bokbasen's yet, then one object of
//! each kind the suites look at.

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use bokbasen_e2e::local_aws::TOOLING_ACCOUNT;
use bokbasen_e2e::{terraform_binaries, Kind, LocalAws, Session, WorkDir};

/// A plan whose provider waits for an endpoint that accepts connections and
/// never answers: Terraform is mid-command, its provider started, for as
/// long as the test wants.
#[test]
fn terraform_killed_mid_plan_and_its_providers_with_it() {
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port that never answers");
    let config = format!(
        r#"
terraform {{
  required_providers {{
    bokbasen = {{ source = "bokbasen/bokbasen" }}
  }}
}}

provider "bokbasen" {{
  region       = "eu-north-1"
  endpoint_url = "http://127.0.0.1:{port}"
}}

data "bokbasen_caller_identity" "current" {{}}
"#,
        port = silent.local_addr().unwrap().port()
    );
    let work = WorkDir::new(&terraform_binaries().remove(0), &[("main.tf", &config)]);
    work.init();

    let mut plan = work.spawn(&["plan", "-no-color", "-input=false"]);
    let providers = plan.wait_for_providers(Duration::from_secs(30));
    assert!(!providers.is_empty(), "terraform {} started no provider", plan.pid());
    assert!(!providers.contains(&plan.pid()));

    let terraform = plan.kill_terraform();
    plan.kill_providers();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !plan.providers_running().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(plan.providers_running(), Vec::<u32>::new(), "the providers {providers:?} outlived the kill");
    let killed = plan.wait();
    assert_eq!(killed.code, -1, "a killed Terraform has no exit code: {killed}");
    // Terraform 1.0's worker under panicwrap goes too (a zombie is gone: it only waits to be reaped).
    for pid in terraform {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
        assert!(!running, "terraform process {pid} outlived the kill: {state}");
    }
    drop(silent);
}

/// An empty organisation lists nothing (the harness's fixtures are left
/// out); objects made out of band are listed with their details, and the
/// queries on an inventory see them.
#[test]
fn inventory_lists_what_exists_beyond_the_fixtures() {
    let aws = LocalAws::start();
    let session = Session::new(&aws, &terraform_binaries().remove(0), &[("main.tf", "")]);
    let empty = session.inventory();
    assert!(empty.is_empty(), "{empty}");

    aws.boto3(
        r#"
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
owner = [{"Key": "bokbasen:owner", "Value": "bokbasen_artifact_store/artifacts"}]
client("iam", assume("222222222222")).create_role(RoleName="ebook-api-test-cb", Path="/bokbasen/", AssumeRolePolicyDocument=trust, Tags=owner)
s3 = client("s3")
s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
s3.put_object(Bucket="artifacts", Key="a", Body=b"a")
s3.put_bucket_tagging(Bucket="artifacts", Tagging={"TagSet": owner})
kms = client("kms")
for _ in range(2):
    key = kms.create_key(Tags=[{"TagKey": "bokbasen:owner", "TagValue": "bokbasen_artifact_store/artifacts"}])["KeyMetadata"]["KeyId"]
kms.create_alias(AliasName="alias/bokbasen/artifacts", TargetKeyId=key)
client("ssm").put_parameter(Name="/config/ebook-api_test/a", Value="1", Type="String")
print(json.dumps(key))
"#,
    );
    let found = session.inventory();
    assert_eq!(found.len(), 5, "{found}");
    assert_eq!(found.names("222222222222", Kind::IamRole), ["ebook-api-test-cb"]);
    assert_eq!(
        found.get("222222222222", Kind::IamRole, "ebook-api-test-cb").unwrap().path.as_deref(),
        Some("/bokbasen/")
    );
    assert_eq!(found.get(TOOLING_ACCOUNT, Kind::Bucket, "artifacts").unwrap().contents, Some(1));
    assert_eq!(found.count(TOOLING_ACCOUNT, Kind::KmsKey), 2);
    assert_eq!(found.names(TOOLING_ACCOUNT, Kind::Parameter), ["/config/ebook-api_test/a"]);
    assert_eq!(found.owned_by("bokbasen_artifact_store/artifacts").len(), 4, "{found}");
    let duplicates = found.duplicates();
    assert_eq!(duplicates.len(), 1, "two keys carry one owner: {duplicates:?}");
    assert!(duplicates[0].contains("bokbasen:owner=bokbasen_artifact_store/artifacts"), "{duplicates:?}");

    let diff = empty.diff(&found);
    assert_eq!(diff.added.len(), 5, "{diff}");
    assert!(diff.to_string().contains("+ 123456789012 s3-bucket artifacts contents=1"), "{diff}");
}
