//! Golden pictures of each kind's pipeline, and the spec's validation.
//! Regenerate the pictures after an intended change with
//! `BOKBASEN_UPDATE_GOLDEN=1 cargo test -p bokbasen-pipeline`.

use std::path::PathBuf;

use bokbasen_pipeline::{
    build_role, environment_role, pipeline_role, recover, repository_policy, shape, validate, ActionKind, Build,
    Flyway, Kind, Network, Observed, ServiceSpec, VariableValue, Where, BUILD_ARTIFACT,
};
use serde_json::{json, Value};

mod support;
use support::{region, spec, ARTIFACT_KEY, PIPELINE_ACCOUNT};

/// Every role document of a spec, by role.
fn documents(spec: &ServiceSpec) -> Value {
    let shape = shape(spec);
    let role = |docs: bokbasen_pipeline::RoleDocuments| json!({ "trust": docs.trust, "policy": docs.policy });
    let environments: serde_json::Map<String, Value> = spec
        .environments
        .iter()
        .filter_map(|env| environment_role(spec, &shape, &region(), env).map(|docs| (env.name.clone(), role(docs))))
        .collect();
    json!({
        "pipeline": role(pipeline_role(spec, &shape, &region(), PIPELINE_ACCOUNT)),
        "build": role(build_role(spec, &shape, &region(), PIPELINE_ACCOUNT)),
        "environments": environments,
    })
}

/// All `Resource` entries of a policy, flattened.
fn resources(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Resource"].as_array().into_iter().flatten().map(|r| r.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn every_kind_matches_its_golden_picture() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("BOKBASEN_UPDATE_GOLDEN").is_some();
    for kind in Kind::ALL {
        let spec = spec(kind);
        assert_eq!(validate(&spec), [], "{} fixture is valid", kind.name());
        let picture = shape(&spec).to_string();
        let policies = serde_json::to_string_pretty(&documents(&spec)).unwrap() + "\n";
        for (file, text) in
            [(format!("{}.txt", kind.name()), picture), (format!("{}.policies.json", kind.name()), policies)]
        {
            let path = dir.join(file);
            if update {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                golden == text,
                "{} differs; if intended, run BOKBASEN_UPDATE_GOLDEN=1 cargo test -p bokbasen-pipeline\n{text}",
                path.display()
            );
        }
    }
}

#[test]
fn stages_follow_promotion_order_with_sequential_actions() {
    for kind in Kind::ALL {
        let shape = shape(&spec(kind));
        let names: Vec<&str> = shape.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Source", "Build", "test", "stage", "production"], "{}", kind.name());
        for stage in &shape.stages {
            let orders: Vec<u32> = stage.actions.iter().map(|a| a.run_order).collect();
            assert_eq!(orders, (1..=orders.len() as u32).collect::<Vec<_>>(), "{} {}", kind.name(), stage.name);
        }
        // Approval comes first where asked for, and only there.
        let first = |env: &str| shape.stages.iter().find(|s| s.name == env).unwrap().actions[0].kind;
        assert_ne!(first("test"), ActionKind::ManualApproval);
        assert_eq!(first("stage"), ActionKind::ManualApproval);
        assert_eq!(first("production"), ActionKind::ManualApproval);
        // Everything after approval acts in the environment's account.
        for stage in &shape.stages[2..] {
            for action in stage.actions.iter().filter(|a| a.kind != ActionKind::ManualApproval) {
                assert_eq!(action.runs_in, Where::Environment(stage.name.clone()), "{} {}", kind.name(), action.name);
            }
        }
    }
}

#[test]
fn the_shape_is_deterministic_and_project_names_are_unique() {
    for kind in Kind::ALL {
        let spec = spec(kind);
        assert_eq!(shape(&spec), shape(&spec));
        let shape = shape(&spec);
        let mut names: Vec<&str> = shape.projects.iter().map(|p| p.name.as_str()).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "{}", kind.name());
        // Every CodeBuild action names a project of the shape.
        for action in shape.stages.iter().flat_map(|s| &s.actions).filter(|a| a.kind == ActionKind::CodeBuild) {
            assert!(names.contains(&action.configuration["ProjectName"].as_str()));
        }
    }
}

#[test]
fn secrets_are_referenced_never_inlined() {
    let shape = shape(&spec(Kind::Fargate));
    let text = shape.to_string();
    assert!(text.contains("env SONAR_TOKEN <- ssm /config/ebook-api_build/sonar-token"));
    assert!(text.contains("env FLYWAY_PASSWORD <- ssm /config/ebook-api_stage/flyway/password"));
}

fn errors_at(spec: &ServiceSpec) -> Vec<String> {
    validate(spec).into_iter().map(|e| e.path.to_string()).collect()
}

#[test]
fn validation_names_the_field() {
    let good = spec(Kind::Fargate);
    type Breakage = Box<dyn Fn(&mut ServiceSpec)>;
    let cases: Vec<(&str, Breakage)> = vec![
        ("name", Box::new(|s| s.name = "Ebook_API".into())),
        ("name", Box::new(|s| s.name = "a".repeat(41))),
        ("name", Box::new(|s| s.name = "ebook-".into())),
        ("source.connection_arn", Box::new(|s| s.source.connection_arn = "arn:aws:s3:::x".into())),
        ("source.repository", Box::new(|s| s.source.repository = "ebook-api".into())),
        ("artifact_bucket", Box::new(|s| s.artifact_bucket = "Bucket".into())),
        ("build.compute_type", Box::new(|s| s.build.compute_type = "small".into())),
        (
            r#"build.secrets["SONAR_TOKEN"]"#,
            Box::new(|s| s.build.secrets.insert("SONAR_TOKEN".into(), "sonar".into()).map(drop).unwrap_or(())),
        ),
        (
            r#"build.environment["REPOSITORY_URI"]"#,
            Box::new(|s| s.build.environment.insert("REPOSITORY_URI".into(), "mine".into()).map(drop).unwrap_or(())),
        ),
        ("environment", Box::new(|s| s.environments.clear())),
        ("environment[1].name", Box::new(|s| s.environments[1].name = "test".into())),
        ("environment[0].account_id", Box::new(|s| s.environments[0].account_id = "2222".into())),
        (
            "environment[2].deploy_role_arn",
            Box::new(|s| s.environments[2].deploy_role_arn = "arn:aws:iam::999999999999:role/x".into()),
        ),
        (
            "environment[0].target",
            Box::new(|s| {
                s.environments[0].target.remove("service");
            }),
        ),
        (
            r#"environment[0].target["function"]"#,
            Box::new(|s| {
                s.environments[0].target.insert("function".into(), "f".into());
            }),
        ),
        ("environment[0].migrate", Box::new(|s| s.flyway = None)),
        (
            "tags[\"aws:owner\"]",
            Box::new(|s| {
                s.tags.insert("aws:owner".into(), "x".into());
            }),
        ),
    ];
    for (expected, break_it) in cases {
        let mut spec = good.clone();
        break_it(&mut spec);
        let errors = errors_at(&spec);
        assert!(errors.iter().any(|e| e == expected), "expected an error at {expected}, got {errors:?}");
    }
    // Only container kinds reserve the repository variable.
    let mut function = spec(Kind::Lambda);
    function.build.environment.insert("REPOSITORY_URI".into(), "mine".into());
    assert_eq!(errors_at(&function), Vec::<String>::new());
    let mut site = spec(Kind::StaticSite);
    site.environments[0].migrate = true;
    site.flyway = Some(Flyway { locations: vec!["filesystem:db".into()], image: Flyway::DEFAULT_IMAGE.into() });
    assert_eq!(errors_at(&site), ["environment[0].migrate"]);
}

#[test]
fn roles_are_scoped_to_the_service() {
    for kind in Kind::ALL {
        let spec = spec(kind);
        let docs = documents(&spec);
        let pipeline = resources(&docs["pipeline"]["policy"]);
        for env in &spec.environments {
            assert!(pipeline.contains(&env.deploy_role_arn), "{}: may assume {}", kind.name(), env.deploy_role_arn);
        }
        assert!(pipeline.contains(&"arn:aws:s3:::bokbasen-pipeline-artifacts/ebook-api/*".to_string()));
        assert!(pipeline.iter().all(|r| r != "*"), "{}: the pipeline role has no wildcard resource", kind.name());

        let build = resources(&docs["build"]["policy"]);
        assert!(build
            .contains(&"arn:aws:ssm:eu-north-1:111111111111:parameter/config/ebook-api_build/sonar-token".to_string()));
        let pushes_images = build.contains(&"arn:aws:ecr:eu-north-1:111111111111:repository/ebook-api".to_string());
        assert_eq!(pushes_images, kind.builds_image(), "{}", kind.name());
        assert_eq!(docs["build"]["trust"]["Statement"][0]["Principal"]["Service"], "codebuild.amazonaws.com");
        assert_eq!(docs["pipeline"]["trust"]["Statement"][0]["Principal"]["Service"], "codepipeline.amazonaws.com");

        // An environment's projects read only that environment's parameters, in its own account.
        let test = resources(&docs["environments"]["test"]["policy"]);
        let parameters: Vec<&String> = test.iter().filter(|r| r.contains(":ssm:")).collect();
        assert!(!parameters.is_empty());
        assert!(
            parameters
                .iter()
                .all(|r| r.starts_with("arn:aws:ssm:eu-north-1:222222222222:parameter/config/ebook-api_test/")),
            "{}: {parameters:?}",
            kind.name()
        );
    }
}

#[test]
fn artifact_access_follows_codepipelines_truncated_prefix() {
    let mut long = spec(Kind::Lambda);
    long.name = "catalogue-search-indexer-api".into();
    assert_eq!(validate(&long), []);
    let pipeline = resources(&documents(&long)["pipeline"]["policy"]);
    assert!(
        pipeline.contains(&"arn:aws:s3:::bokbasen-pipeline-artifacts/catalogue-search-ind/*".to_string()),
        "{pipeline:?}"
    );
}

/// What AWS would hand back for a deployed spec: the shape's stages and
/// projects, the repository URL stored as plain text.
fn observed(spec: &ServiceSpec) -> Observed {
    let shape = shape(spec);
    let projects = shape
        .projects
        .into_iter()
        .map(|mut project| {
            for variable in &mut project.variables {
                if variable.value == VariableValue::RepositoryUrl {
                    variable.value =
                        VariableValue::Plain("111111111111.dkr.ecr.eu-north-1.amazonaws.com/ebook-api".into());
                }
            }
            (project.name.clone(), project)
        })
        .collect();
    Observed {
        name: spec.name.clone(),
        artifact_bucket: spec.artifact_bucket.clone(),
        artifact_key_arn: spec.artifact_key_arn.clone(),
        stages: shape.stages,
        projects,
        deploy_roles: spec.environments.iter().map(|e| (e.name.clone(), e.deploy_role_arn.clone())).collect(),
        tags: spec.tags.clone(),
    }
}

#[test]
fn the_spec_is_recovered_from_its_deployed_shape() {
    let mut variants = Vec::new();
    for kind in Kind::ALL {
        variants.push(spec(kind));
        let mut other = spec(kind);
        other.build = Build::default();
        other.approval_topic_arn = None;
        other.tags.clear();
        other.environments[0].smoke_test = None;
        other.environments[1].network = Some(Network {
            vpc_id: "vpc-0a1b2c3d".into(),
            subnet_ids: vec!["subnet-0a1b2c3d".into()],
            security_group_ids: vec!["sg-0a1b2c3d".into()],
        });
        if let Some(flyway) = &mut other.flyway {
            flyway.image = "111111111111.dkr.ecr.eu-north-1.amazonaws.com/mirror/flyway:10".into();
        }
        other.environments[2].approval = false;
        other.environments[2].verification =
            vec![r#"./verify --name "prod" \ --all"#.into(), "echo 'done'; exit 0".into()];
        variants.push(other);
    }
    let mut only_first_migrates = spec(Kind::Batch);
    for env in &mut only_first_migrates.environments[1..] {
        env.migrate = false;
    }
    only_first_migrates.flyway = Some(Flyway {
        locations: vec!["filesystem:db/a".into(), "classpath:db/b".into()],
        image: Flyway::DEFAULT_IMAGE.into(),
    });
    variants.push(only_first_migrates);
    for spec in variants {
        assert_eq!(validate(&spec), [], "{} variant is valid", spec.kind.name());
        assert_eq!(recover(&observed(&spec)), Ok(spec.clone()), "{}", spec.kind.name());
    }
}

#[test]
fn a_missing_project_leaves_out_what_it_carried() {
    let spec = spec(Kind::Lambda);
    let mut seen = observed(&spec);
    seen.projects.remove("ebook-api-stage-smoke-test");
    seen.projects.remove("ebook-api-build");
    let recovered = recover(&seen).unwrap();
    assert_eq!(recovered.environments[1].smoke_test, None);
    assert_eq!(recovered.environments[0].smoke_test, spec.environments[0].smoke_test);
    assert_eq!(recovered.build, Build::default());
    // Without its deploy project, a lambda's kind cannot be told.
    seen.projects.remove("ebook-api-test-deploy");
    assert!(recover(&seen).unwrap_err().to_string().contains("fit no kind"));
}

#[test]
fn a_pipeline_not_made_by_bokbasen_is_refused() {
    let mut seen = observed(&spec(Kind::Fargate));
    seen.stages.truncate(2);
    assert!(recover(&seen).unwrap_err().to_string().contains("fewer than three stages"));
}

#[test]
fn artifacts_cross_accounts_under_the_customer_managed_key() {
    for kind in Kind::ALL {
        let spec = spec(kind);
        let shape = shape(&spec);
        // Every project encrypts with the key, or CodeBuild would use its account's AWS managed key.
        assert!(shape.projects.iter().all(|p| p.encryption_key.as_deref() == Some(ARTIFACT_KEY)), "{}", kind.name());
        // Steps in other accounts take the build's artifact: the source is a clone reference only the
        // pipeline account's connection can follow.
        for stage in &shape.stages[2..] {
            for action in stage.actions.iter().filter(|a| a.input.is_some()) {
                assert_eq!(action.input, Some(BUILD_ARTIFACT), "{} {}", stage.name, action.name);
            }
        }
        let docs = documents(&spec);
        let build = docs["build"]["policy"].to_string();
        assert!(build.contains("codeconnections:UseConnection"), "the build clones through the connection");
        for role in [&docs["pipeline"], &docs["build"]] {
            assert!(resources(&role["policy"]).contains(&ARTIFACT_KEY.to_string()));
        }
        for (_, role) in docs["environments"].as_object().unwrap() {
            assert!(resources(&role["policy"]).contains(&ARTIFACT_KEY.to_string()), "{}", kind.name());
        }
        // Pulls from the environment accounts, for the kinds that build an image.
        let pull = repository_policy(&spec, &region(), PIPELINE_ACCOUNT).expect("environments in other accounts");
        assert_eq!(
            pull["Statement"][0]["Principal"]["AWS"],
            json!([
                "arn:aws:iam::222222222222:root",
                "arn:aws:iam::333333333333:root",
                "arn:aws:iam::444444444444:root"
            ])
        );
    }
    let mut same_account = spec(Kind::Lambda);
    for env in &mut same_account.environments {
        env.account_id = PIPELINE_ACCOUNT.into();
        env.deploy_role_arn = format!("arn:aws:iam::{PIPELINE_ACCOUNT}:role/bokbasen-deployer");
    }
    assert_eq!(repository_policy(&same_account, &region(), PIPELINE_ACCOUNT), None);
}

#[test]
fn environments_in_other_accounts_need_a_customer_managed_key() {
    let mut spec = spec(Kind::Fargate);
    spec.artifact_key_arn = None;
    let errors = validate(&spec);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path.to_string(), "artifact_key_arn");
    assert!(
        errors[0].message.contains("environment[0] (\"test\") is in account 222222222222"),
        "{}",
        errors[0].message
    );
    // All in the pipeline's account: AWS's managed key serves.
    for env in &mut spec.environments {
        env.account_id = PIPELINE_ACCOUNT.into();
        env.deploy_role_arn = format!("arn:aws:iam::{PIPELINE_ACCOUNT}:role/bokbasen-deployer");
    }
    assert_eq!(validate(&spec), []);
    spec.artifact_key_arn = Some("alias/bokbasen".into());
    assert_eq!(validate(&spec)[0].path.to_string(), "artifact_key_arn", "an alias resolves in the caller's account");
}

#[test]
fn a_network_places_the_environments_steps_and_lets_codebuild_attach_to_it() {
    let mut spec = spec(Kind::Lambda);
    spec.environments[1].network = Some(Network {
        vpc_id: "vpc-0a1b2c3d".into(),
        subnet_ids: vec!["subnet-0a1b2c3d".into(), "subnet-1a1b2c3d".into()],
        security_group_ids: vec!["sg-0a1b2c3d".into()],
    });
    assert_eq!(validate(&spec), []);
    let shape = shape(&spec);
    for project in &shape.projects {
        let in_stage = project.runs_in == Where::Environment("stage".into());
        assert_eq!(project.network.is_some(), in_stage, "{}", project.name);
    }
    let docs = documents(&spec);
    let stage = docs["environments"]["stage"]["policy"].to_string();
    assert!(stage.contains("ec2:CreateNetworkInterfacePermission") && stage.contains("subnet/subnet-1a1b2c3d"));
    assert!(!docs["environments"]["test"]["policy"].to_string().contains("ec2:"));

    spec.environments[1].network.as_mut().unwrap().subnet_ids = vec!["subnet-x".into()];
    spec.environments[1].network.as_mut().unwrap().security_group_ids.clear();
    let paths: Vec<String> = validate(&spec).iter().map(|e| e.path.to_string()).collect();
    assert_eq!(paths, ["environment[1].network.subnet_ids[0]", "environment[1].network.security_group_ids"]);
}

#[test]
fn the_flyway_image_is_the_teams_choice_and_a_private_one_is_pulled_with_the_role() {
    let mut spec = spec(Kind::Fargate);
    let mirror = "111111111111.dkr.ecr.eu-north-1.amazonaws.com/mirror/flyway:10";
    spec.flyway.as_mut().unwrap().image = mirror.into();
    let shape = shape(&spec);
    let migrate: Vec<_> = shape.projects.iter().filter(|p| p.name.ends_with("-migrate")).collect();
    assert!(!migrate.is_empty() && migrate.iter().all(|p| p.image == mirror));
    let test = documents(&spec)["environments"]["test"]["policy"].to_string();
    assert!(test.contains("arn:aws:ecr:eu-north-1:111111111111:repository/mirror/flyway"));
    assert!(!documents(&self::spec(Kind::Fargate))["environments"]["test"]["policy"].to_string().contains("ecr:"));
    spec.flyway.as_mut().unwrap().image = " ".into();
    assert_eq!(validate(&spec)[0].path.to_string(), "flyway.image");
}

#[test]
fn batch_deploys_may_pass_job_roles_but_not_bokbasens() {
    let docs = documents(&spec(Kind::Batch));
    let pass = docs["environments"]["test"]["policy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "PassJobRoles")
        .cloned()
        .expect("batch's deploy passes the job definition's roles");
    assert_eq!(pass["NotResource"], json!(["arn:aws:iam::*:role/bokbasen/*"]));
}
