//! The local AWS endpoint itself, driven with boto3 from moto's virtualenv:
//! the CodeBuild `UpdateProject` that `tests/local-aws/moto_extensions.py`
//! adds to moto, its corrections to CreateProject (`CODEPIPELINE` without a
//! location) and BatchGetProjects (`projectsNotFound`), and separate state per
//! account through `AssumeRole`.

use bokbasen_e2e::local_aws::DEFAULT_ACCOUNT;
use bokbasen_e2e::LocalAws;

const OTHER_ACCOUNT: &str = "222222222222";

#[test]
fn codebuild_update_project_replaces_given_fields() {
    let aws = LocalAws::start();
    let result = aws.boto3(
        r#"
codebuild = client("codebuild")
created = create_project(codebuild, "bokbasen-build", "123456789012")
updated = codebuild.update_project(
    name="bokbasen-build",
    description="second",
    environment={
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:8.0",
        "computeType": "BUILD_GENERAL1_SMALL",
    },
)["project"]
fetched = codebuild.batch_get_projects(names=["bokbasen-build"])["projects"]
print(json.dumps({
    "created": created,
    "updated": updated,
    "fetched": fetched,
    "unknown": error_code(lambda: codebuild.update_project(name="no-such-project", description="x")),
}, default=str))
"#,
    );

    let (created, updated) = (&result["created"], &result["updated"]);
    assert_eq!(updated["name"], "bokbasen-build");
    assert_eq!(updated["arn"], created["arn"]);
    assert_eq!(updated["description"], "second");
    assert_eq!(updated["environment"]["image"], "aws/codebuild/standard:8.0");
    assert_eq!(updated["source"], created["source"], "fields not given are kept");
    assert_eq!(updated["serviceRole"], created["serviceRole"], "fields not given are kept");
    assert!(updated["lastModified"].is_string(), "lastModified is set: {updated}");

    let fetched = result["fetched"].as_array().expect("projects");
    assert_eq!(fetched.len(), 1, "{result}");
    assert_eq!(&fetched[0], updated, "BatchGetProjects shows what UpdateProject answered");

    assert_eq!(result["unknown"]["code"], "ResourceNotFoundException", "{result}");
    assert_eq!(result["unknown"]["status"], 400, "{result}");
}

#[test]
fn codebuild_codepipeline_project_needs_no_location() {
    let aws = LocalAws::start();
    let result = aws.boto3(
        r#"
codebuild = client("codebuild")
created = create_project(codebuild, "bokbasen-build", "123456789012")
fetched = codebuild.batch_get_projects(names=["bokbasen-build"])
updated = codebuild.update_project(
    name="bokbasen-build",
    source={"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
    artifacts={"type": "CODEPIPELINE", "name": "out"},
)["project"]
github = {"type": "GITHUB"}
s3 = {"type": "S3"}
print(json.dumps({
    "created": created,
    "fetched": fetched["projects"],
    "not_found": fetched["projectsNotFound"],
    "updated": updated,
    "github_create": error_code(lambda: create_project(codebuild, "github-build", "123456789012", source=github)),
    "github_update": error_code(lambda: codebuild.update_project(name="bokbasen-build", source=github)),
    "s3_artifacts": error_code(lambda: create_project(codebuild, "s3-build", "123456789012", artifacts=s3)),
    "projects": codebuild.list_projects()["projects"],
}, default=str))
"#,
    );

    let created = &result["created"];
    assert_eq!(created["source"], serde_json::json!({"type": "CODEPIPELINE"}), "{result}");
    assert_eq!(created["artifacts"], serde_json::json!({"type": "CODEPIPELINE"}), "{result}");
    let fetched = result["fetched"].as_array().expect("projects");
    assert_eq!(fetched.len(), 1, "{result}");
    assert_eq!(&fetched[0], created, "BatchGetProjects shows the project as created");
    assert_eq!(result["not_found"], serde_json::json!([]), "{result}");

    let updated = &result["updated"];
    assert_eq!(
        updated["source"],
        serde_json::json!({"type": "CODEPIPELINE", "buildspec": "buildspec.yml"}),
        "{result}"
    );
    assert_eq!(updated["artifacts"], serde_json::json!({"type": "CODEPIPELINE", "name": "out"}), "{result}");

    // Other types still need a location, as moto checked before.
    for case in ["github_create", "github_update", "s3_artifacts"] {
        assert_eq!(result[case]["code"], "InvalidInputException", "{case}: {result}");
        assert_eq!(result[case]["status"], 400, "{case}: {result}");
    }
    assert_eq!(result["projects"], serde_json::json!(["bokbasen-build"]), "{result}");
}

#[test]
fn codebuild_batch_get_projects_lists_projects_not_found() {
    let aws = LocalAws::start();
    let result = aws.boto3(
        r#"
codebuild = client("codebuild")
created = create_project(codebuild, "bokbasen-build", "123456789012")
missing_arn = "arn:aws:codebuild:eu-north-1:123456789012:project/no-such-arn"
answer = codebuild.batch_get_projects(names=["no-such-project", "bokbasen-build", created["arn"], missing_arn])
print(json.dumps({
    "names": [project["name"] for project in answer["projects"]],
    "not_found": answer["projectsNotFound"],
}, default=str))
"#,
    );

    assert_eq!(result["names"], serde_json::json!(["bokbasen-build", "bokbasen-build"]), "{result}");
    assert_eq!(
        result["not_found"],
        serde_json::json!(["no-such-project", "arn:aws:codebuild:eu-north-1:123456789012:project/no-such-arn"]),
        "{result}"
    );
}

#[test]
fn assumed_role_account_has_separate_state() {
    let aws = LocalAws::start();
    let result = aws.boto3(&format!(
        r#"
default = client("codebuild")
other_session = assume("{OTHER_ACCOUNT}")
other = client("codebuild", other_session)
create_project(default, "only-in-default", "{DEFAULT_ACCOUNT}")
create_project(other, "only-in-other", "{OTHER_ACCOUNT}")
print(json.dumps({{
    "other_account": client("sts", other_session).get_caller_identity()["Account"],
    "default_projects": default.list_projects()["projects"],
    "other_projects": other.list_projects()["projects"],
    "update_across": error_code(lambda: other.update_project(name="only-in-default", description="x")),
}}))
"#
    ));

    assert_eq!(result["other_account"], OTHER_ACCOUNT, "{result}");
    assert_eq!(result["default_projects"], serde_json::json!(["only-in-default"]), "{result}");
    assert_eq!(result["other_projects"], serde_json::json!(["only-in-other"]), "{result}");
    assert_eq!(result["update_across"]["code"], "ResourceNotFoundException", "{result}");
}
