//! A Terraform session over the local AWS endpoint: one working directory,
//! initialised, signing as the endpoint's caller, whose every command gets
//! the session's variables (`endpoint_url` among them) and fails the test on
//! any request the endpoint refused. Scenarios read as steps: apply, look at
//! what AWS holds ([`Session::inventory`]), change something, plan.
//!
//! Variables go to Terraform as `TF_VAR_` environment variables, not `-var`:
//! every command takes them (`state`, `show` and `output` refuse `-var`), a
//! configuration that does not declare one ignores it, and a secret is never
//! on a command line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::inventory::Inventory;
use crate::local_aws::LocalAws;
use crate::terraform::{RunningTerraform, TerraformRun, WorkDir};
use crate::tools::{workspace_root, TerraformBinary};

/// The state file of Terraform's local backend, in the directory it runs in.
const STATE_FILE: &str = "terraform.tfstate";

pub struct Session<'a> {
    aws: &'a LocalAws,
    work: WorkDir,
    vars: BTreeMap<String, String>,
    /// What failure messages name besides the Terraform version, e.g. a kind.
    label: Option<String>,
}

/// One resource instance in state.
#[derive(Clone, Debug, PartialEq)]
pub struct StateInstance {
    /// As `terraform state list` shows it, e.g. `bokbasen_deploy_target.test`,
    /// `data.bokbasen_deploy_target.test`, `module.m.x.y["k"]`.
    pub address: String,
    /// `bokbasen_service_pipeline`, …
    pub resource_type: String,
    /// `managed` or `data`.
    pub mode: String,
    pub schema_version: u64,
    /// Marked for replacement: a create that failed after the object was made.
    pub tainted: bool,
    /// The deposed key of an object replaced create-before-destroy whose
    /// destroy has not happened yet.
    pub deposed: Option<String>,
    pub attributes: Value,
}

impl<'a> Session<'a> {
    /// A session over a working directory holding `files` (name, contents),
    /// initialised.
    pub fn new(aws: &'a LocalAws, terraform: &TerraformBinary, files: &[(&str, &str)]) -> Session<'a> {
        Session::over(aws, WorkDir::new(terraform, files))
    }

    /// [`Session::new`] over a copy of `examples/<path>/*.tf`, e.g.
    /// `service-pipeline/fargate`.
    pub fn from_example(aws: &'a LocalAws, terraform: &TerraformBinary, path: &str) -> Session<'a> {
        Session::over(aws, WorkDir::from_example(terraform, path))
    }

    /// A session over a working directory made elsewhere (e.g. a service
    /// `bokbasen new` generated), now signing as `aws`'s caller; initialised.
    pub fn over(aws: &'a LocalAws, work: WorkDir) -> Session<'a> {
        let session = Session {
            aws,
            work: work.aws(aws),
            vars: BTreeMap::from([("endpoint_url".to_owned(), aws.endpoint())]),
            label: None,
        };
        session.work.init();
        session
    }

    /// Names `label` (e.g. the kind under test) in every failure message.
    pub fn label(mut self, label: &str) -> Session<'a> {
        self.label = Some(label.to_owned());
        self
    }

    /// `Terraform VERSION[ / LABEL]: what`, for assertion messages.
    pub fn context(&self, what: &str) -> String {
        match &self.label {
            Some(label) => format!("Terraform {} / {label}: {what}", self.work.terraform().version),
            None => format!("Terraform {}: {what}", self.work.terraform().version),
        }
    }

    /// Sets variable `name` for every later command (as `TF_VAR_name`;
    /// values of other types than string are read as HCL, e.g. `null`, `true`).
    pub fn set_var(&mut self, name: &str, value: &str) -> &mut Session<'a> {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Leaves variable `name` to its default from now on.
    pub fn unset_var(&mut self, name: &str) -> &mut Session<'a> {
        self.vars.remove(name);
        self
    }

    /// `terraform ARGS` with the session's variables, whatever its exit
    /// code; a request the endpoint refused fails the test.
    pub fn run(&self, args: &[&str]) -> TerraformRun {
        let run =
            self.work.run_with_env(args, &self.var_env().iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>());
        assert!(run.denials.is_empty(), "{}\n{run}", self.context("a request was refused"));
        run
    }

    /// `terraform ARGS` with the session's variables, not waited for: for
    /// tests that kill Terraform or its providers mid-command.
    pub fn spawn(&self, args: &[&str]) -> RunningTerraform {
        self.work.spawn_with_env(args, &self.var_env().iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>())
    }

    /// The session's variables as Terraform reads them from the environment.
    fn var_env(&self) -> Vec<(String, &str)> {
        self.vars.iter().map(|(name, value)| (format!("TF_VAR_{name}"), value.as_str())).collect()
    }

    /// `terraform COMMAND -no-color -input=false ARGS`: options before the
    /// positional arguments, where `import` wants them.
    fn command(&self, command: &str, args: &[&str]) -> TerraformRun {
        let mut all = vec![command, "-no-color", "-input=false"];
        all.extend(args);
        self.run(&all)
    }

    fn succeeded(&self, run: TerraformRun) -> TerraformRun {
        assert_eq!(run.code, 0, "{}\n{run}", self.context(&format!("terraform {} failed", run.args[0])));
        run
    }

    fn failed(&self, run: TerraformRun) -> TerraformRun {
        assert_ne!(run.code, 0, "{}\n{run}", self.context(&format!("terraform {} should fail", run.args[0])));
        run
    }

    /// `apply -auto-approve`, which must succeed.
    pub fn apply(&self) -> TerraformRun {
        self.succeeded(self.command("apply", &["-auto-approve"]))
    }

    /// `apply -auto-approve`, which must fail.
    pub fn apply_failing(&self) -> TerraformRun {
        self.failed(self.command("apply", &["-auto-approve"]))
    }

    /// `plan ARGS` (e.g. `-out=FILE`), which must succeed.
    pub fn plan(&self, args: &[&str]) -> TerraformRun {
        self.succeeded(self.command("plan", args))
    }

    /// `plan`, which must fail (arguments refused at plan).
    pub fn plan_failing(&self) -> TerraformRun {
        self.failed(self.command("plan", &[]))
    }

    /// `plan -detailed-exitcode`, which must find nothing to do; shows the
    /// plan otherwise.
    pub fn plan_is_empty(&self) -> TerraformRun {
        let plan = self.command("plan", &["-detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{}\n{plan}", self.context("the plan should be empty"));
        plan
    }

    /// `plan -detailed-exitcode`, which must find changes (exit code 2).
    pub fn plan_with_changes(&self) -> TerraformRun {
        let plan = self.command("plan", &["-detailed-exitcode"]);
        assert_eq!(plan.code, 2, "{}\n{plan}", self.context("the plan should have changes"));
        plan
    }

    /// `import ADDRESS ID`, which must succeed.
    pub fn import(&self, address: &str, id: &str) -> TerraformRun {
        self.succeeded(self.command("import", &[address, id]))
    }

    /// `import ADDRESS ID`, which must fail.
    pub fn import_failing(&self, address: &str, id: &str) -> TerraformRun {
        self.failed(self.command("import", &[address, id]))
    }

    /// `destroy -auto-approve`, which must succeed.
    pub fn destroy(&self) -> TerraformRun {
        self.succeeded(self.command("destroy", &["-auto-approve"]))
    }

    /// `destroy -auto-approve`, which must fail.
    pub fn destroy_failing(&self) -> TerraformRun {
        self.failed(self.command("destroy", &["-auto-approve"]))
    }

    /// `state rm ADDRESS`: Terraform forgets the object, AWS keeps it.
    pub fn state_rm(&self, address: &str) -> TerraformRun {
        self.succeeded(self.run(&["state", "rm", address]))
    }

    /// `show -json PLAN_FILE`, parsed.
    pub fn show_plan(&self, plan_file: &str) -> Value {
        let shown = self.succeeded(self.run(&["show", "-json", plan_file]));
        serde_json::from_str(&shown.stdout).unwrap_or_else(|e| panic!("show -json is not JSON ({e}):\n{shown}"))
    }

    /// `output -json`, as name → value.
    pub fn outputs(&self) -> serde_json::Map<String, Value> {
        self.work.outputs()
    }

    /// Every resource instance in state, in the order of the state file.
    pub fn state(&self) -> Vec<StateInstance> {
        let state = self.state_json();
        let mut instances = Vec::new();
        for resource in state["resources"].as_array().into_iter().flatten() {
            let text = |field: &str| resource[field].as_str().unwrap_or_default().to_owned();
            let (mode, resource_type) = (text("mode"), text("type"));
            let mut base = format!("{resource_type}.{}", text("name"));
            if mode == "data" {
                base = format!("data.{base}");
            }
            if let Some(module) = resource["module"].as_str() {
                base = format!("{module}.{base}");
            }
            for instance in resource["instances"].as_array().into_iter().flatten() {
                let address = match &instance["index_key"] {
                    Value::Null => base.clone(),
                    key => format!("{base}[{key}]"),
                };
                instances.push(StateInstance {
                    address,
                    resource_type: resource_type.clone(),
                    mode: mode.clone(),
                    schema_version: instance["schema_version"].as_u64().unwrap_or(0),
                    tainted: instance["status"] == "tainted",
                    deposed: instance["deposed"].as_str().map(str::to_owned),
                    attributes: instance["attributes"].clone(),
                });
            }
        }
        instances
    }

    /// The addresses in state, as `terraform state list` shows them.
    pub fn state_addresses(&self) -> Vec<String> {
        self.state().into_iter().map(|i| i.address).collect()
    }

    /// The state file as JSON; `null` before the first apply.
    pub fn state_json(&self) -> Value {
        match std::fs::read_to_string(self.state_path()) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| panic!("{STATE_FILE} is not JSON ({e})")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
            Err(e) => panic!("read {STATE_FILE}: {e}"),
        }
    }

    /// Replaces the state file (e.g. with what an older provider wrote).
    pub fn replace_state_json(&self, state: &Value) {
        let text = serde_json::to_string_pretty(state).expect("state as JSON");
        std::fs::write(self.state_path(), text).expect("write the state file");
    }

    fn state_path(&self) -> PathBuf {
        self.work.terraform_dir().join(STATE_FILE)
    }

    /// What exists in the organisation's accounts now.
    pub fn inventory(&self) -> Inventory {
        Inventory::read(self.aws)
    }

    /// Writes (or overwrites) a configuration file where Terraform runs.
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.work.terraform_dir().join(name), contents).expect("write a configuration file");
    }

    /// Removes a configuration file written before.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.work.terraform_dir().join(name)).expect("remove a configuration file");
    }

    /// The working directory, for what the session does not wrap.
    pub fn workdir(&self) -> &WorkDir {
        &self.work
    }

    pub fn terraform(&self) -> &TerraformBinary {
        self.work.terraform()
    }
}

/// The text of `examples/<path>`, e.g. `resources/bokbasen_artifact_store/resource.tf`.
pub fn example_file(path: &str) -> String {
    let file = workspace_root().join("examples").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
}
