//! Interrupted runs converge. An apply or a destroy is stopped at a chosen
//! AWS call — its first change, half way, the pipeline's last change, the
//! run's last change — by SIGKILL of
//! Terraform or of its provider processes, while the endpoint holds that
//! call. Once nobody is left to hear the answer, the call is let through to
//! AWS (the change is made and recorded nowhere) or dropped. Running the
//! command again must finish the job: the same objects as an apply never
//! interrupted, none twice, none that state does not account for, and an
//! empty plan; a destroy run again leaves nothing live.
//!
//! That rests on the ownership rule: every object carries
//! `bokbasen:owner = <type>/<id>`, and a create finding its own marker takes
//! the object over. Without it the rerun of an apply killed after a change
//! is refused (the name is taken by "someone else").
//!
//! Terraform's lock on local state: Terraform 1.0.3 locks `terraform.tfstate`
//! with fcntl and writes `.terraform.tfstate.lock.info` beside it. The kernel
//! drops an fcntl lock with the process holding it, so a killed Terraform
//! leaves the info file but no lock, and the next command runs as usual. The
//! suite records both; were a rerun stopped by a stale lock, it would run
//! `terraform force-unlock -force ID` as a user would, and the table would
//! say so (never `-lock=false`).
//!
//! One configuration spans the accounts: an artifact store in the tooling
//! account, a deploy target in 222222222222 through
//! `OrganizationAccountAccessRole`, a lambda pipeline deploying there, and
//! the service's configuration, chained (the configuration waits for the
//! pipeline) so that every run makes its calls in one order.
//!
//! Two lanes run at once, each on its own endpoint: one kills Terraform, the
//! other the providers. The first lane's uninterrupted apply and destroy are
//! the baseline both compare with: the endpoints start alike, so a count of
//! calls means the same call on both.

use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bokbasen_e2e::local_aws::{HoldRelease, RequestFilter, ACCOUNT_ACCESS_ROLE, CALLER_USER, TOOLING_ACCOUNT};
use bokbasen_e2e::{terraform_binaries, AwsObject, Inventory, Kind, LocalAws, Session, TerraformBinary};

const CONFIGURATION: &str = r#"
terraform {
  required_providers {
    bokbasen = { source = "bokbasen/bokbasen" }
  }
}

variable "endpoint_url" {
  type = string
}

# A new name for every interrupted apply, so that each run starts from no
# bucket of its name (and no key or alias of the store's).
variable "bucket" {
  type = string
}

provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
}

provider "bokbasen" {
  alias        = "test"
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url

  assume_role {
    role_arn = "arn:aws:iam::222222222222:role/__ACCESS_ROLE__"
  }
}

resource "bokbasen_artifact_store" "artifacts" {
  bucket                  = var.bucket
  environment_account_ids = ["222222222222"]
  force_destroy           = true
}

resource "bokbasen_deploy_target" "test" {
  provider = bokbasen.test

  environment          = "test"
  kinds                = ["lambda"]
  pipeline_account_ids = ["__TOOLING__"]
  provisioner_arns     = ["arn:aws:iam::__TOOLING__:user/__CALLER__"]
  artifact_bucket      = bokbasen_artifact_store.artifacts.id
  artifact_key_arn     = bokbasen_artifact_store.artifacts.key_arn
}

resource "bokbasen_service_pipeline" "service" {
  name             = "isbn-lookup"
  kind             = "lambda"
  artifact_bucket  = bokbasen_artifact_store.artifacts.id
  artifact_key_arn = bokbasen_artifact_store.artifacts.key_arn

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:__TOOLING__:connection/0a1b2c3d"
    repository     = "bokbasen/isbn-lookup"
    branch         = "main"
  }

  environment {
    name            = "test"
    account_id      = bokbasen_deploy_target.test.account_id
    deploy_role_arn = bokbasen_deploy_target.test.deployer_role_arn
    target          = { function = "isbn-lookup-test" }
  }
}

# After the pipeline, so that the calls of a run come in one order.
resource "bokbasen_service_config" "test" {
  service     = "isbn-lookup"
  environment = "test"
  values = {
    "catalogue.page-size"  = "50"
    "feature/new-checkout" = "true"
  }

  depends_on = [bokbasen_service_pipeline.service]
}
"#;

/// The local state's lock information, which Terraform removes on unlock.
const LOCK_INFO: &str = ".terraform.tfstate.lock.info";

/// How long a run may take to reach its held call, and providers to go.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the baseline's objects call the bucket, whatever a run names it.
const BUCKET: &str = "<bucket>";

/// Where a run is stopped, in terms of the baseline's calls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Point {
    /// The first mutating call: the first object made (or removed).
    First,
    /// About half of the counted calls.
    Half,
    /// The pipeline's CreatePipeline (DeletePipeline): its last change, after
    /// its roles and projects. Half way falls between resources, on a read,
    /// so without this point no kill would land inside the pipeline's create.
    Pipeline,
    /// The last mutating call: every other change made. (Not "the N-th
    /// call": the artifact store looks for its key among every key of the
    /// account, and each destroy leaves one more scheduled for deletion, so
    /// the reads of an apply grow from run to run; its changes do not.)
    Last,
}

impl Point {
    const ALL: [Point; 4] = [Point::First, Point::Half, Point::Pipeline, Point::Last];

    /// Which call of `command` to hold, given the baseline's counts for it.
    fn hold(self, command: &str, counts: Counts) -> (u32, RequestFilter) {
        match self {
            Point::First => (1, RequestFilter::Mutating),
            Point::Half => ((counts.total / 2).max(1) as u32, RequestFilter::Any),
            Point::Pipeline if command == "apply" => (1, RequestFilter::from("codepipeline:CreatePipeline")),
            Point::Pipeline => (1, RequestFilter::from("codepipeline:DeletePipeline")),
            Point::Last => (counts.mutating as u32, RequestFilter::Mutating),
        }
    }

    /// Half way the held call is dropped (AWS never sees it); elsewhere it
    /// is applied once nobody listens, which is worse: a change nobody records.
    fn release(self) -> HoldRelease {
        match self {
            Point::Half => HoldRelease::Drop,
            Point::First | Point::Pipeline | Point::Last => HoldRelease::Apply,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Victim {
    Terraform,
    Providers,
}

/// Counted calls of one command.
#[derive(Clone, Copy, Debug)]
struct Counts {
    total: u64,
    mutating: u64,
}

/// What an uninterrupted apply and destroy did.
#[derive(Clone, Debug)]
struct Baseline {
    apply: Counts,
    destroy: Counts,
    /// The live objects after the apply ([`normalised`]).
    objects: Vec<String>,
}

/// One interrupted command and its rerun, for the table.
struct Row {
    command: &'static str,
    point: Point,
    victim: Victim,
    /// `N of FILTER`, e.g. `28 of *`.
    position: String,
    held: String,
    release: HoldRelease,
    /// Live objects while the call was held, after the kill, after the rerun.
    objects: [usize; 3],
    /// The killed command's exit code (-1: killed itself) and what it said.
    killed: String,
    lock_info_left: bool,
    /// What the rerun did, from Terraform's summary line.
    rerun: String,
    seconds: f64,
}

/// The live objects, comparable across runs, sorted: the run's bucket name
/// is replaced by [`BUCKET`] (in names, aliases and markers), and a KMS key's
/// ID, new in every run, is left out.
fn normalised(inventory: &Inventory, bucket: &str) -> Vec<String> {
    let mut objects: Vec<String> = inventory
        .live()
        .objects()
        .iter()
        .map(|object| {
            let mut object: AwsObject = object.clone();
            if object.kind == Kind::KmsKey {
                object.name = "(key)".into();
            }
            object.to_string().replace(bucket, BUCKET)
        })
        .collect();
    objects.sort();
    objects
}

/// The markers state accounts for: `<type>/<id>` of each managed instance.
fn markers_in_state(session: &Session) -> Vec<String> {
    session
        .state()
        .into_iter()
        .filter(|instance| instance.mode == "managed")
        .map(|instance| format!("{}/{}", instance.resource_type, instance.attributes["id"].as_str().unwrap_or("")))
        .collect()
}

/// Terraform's output with its boxes and line breaks undone.
fn said(output: &str) -> String {
    output.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The summary line (`Apply complete! Resources: …`), else the first error.
fn summary(output: &str) -> String {
    let line = output
        .lines()
        .find(|line| line.contains("complete! Resources:"))
        .or_else(|| output.lines().find(|line| line.contains("Error:")))
        .unwrap_or("(no summary)");
    line.trim_matches(|c: char| c == '│' || c.is_whitespace()).to_owned()
}

/// What must hold after an apply converged, as failures (empty: it did).
fn check_applied(session: &Session, baseline: &Baseline, found: &Inventory, bucket: &str, what: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let got = normalised(found, bucket);
    if got != baseline.objects {
        let missing: Vec<&String> = baseline.objects.iter().filter(|o| !got.contains(o)).collect();
        let extra: Vec<&String> = got.iter().filter(|o| !baseline.objects.contains(o)).collect();
        failures.push(format!(
            "{what}: the live objects differ from the baseline's: missing {missing:#?}, extra {extra:#?}"
        ));
    }
    let duplicates = found.duplicates();
    if !duplicates.is_empty() {
        failures.push(format!("{what}: duplicates {duplicates:?}"));
    }
    // No orphans: every live object is marked, by a resource state holds.
    let accounted = markers_in_state(session);
    for object in found.live().objects() {
        match object.owner() {
            Some(owner) if accounted.iter().any(|m| m == owner) => {}
            Some(owner) => failures.push(format!("{what}: orphan {object}: state holds no {owner} ({accounted:?})")),
            None => failures.push(format!("{what}: unmarked {object}")),
        }
    }
    if session.state().iter().any(|instance| instance.tainted || instance.deposed.is_some()) {
        failures.push(format!("{what}: a tainted or deposed instance is left in state"));
    }
    failures
}

/// The held call's `service:Operation`, or `None` when none was held in time.
fn wait_for_hold(aws: &LocalAws) -> Option<String> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let state = aws.hold_state();
        if state.held {
            return Some(state.operation.unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// One endpoint and one working directory, killing one victim.
struct Lane<'a> {
    aws: &'a LocalAws,
    session: Session<'a>,
    victim: Victim,
    /// Bucket names are `{prefix}-{n}`.
    prefix: &'static str,
    runs: u32,
    rows: Vec<Row>,
    failures: Vec<String>,
}

impl<'a> Lane<'a> {
    fn new(aws: &'a LocalAws, tf: &TerraformBinary, victim: Victim, prefix: &'static str) -> Lane<'a> {
        let configuration = CONFIGURATION
            .replace("__ACCESS_ROLE__", ACCOUNT_ACCESS_ROLE)
            .replace("__TOOLING__", TOOLING_ACCOUNT)
            .replace("__CALLER__", CALLER_USER);
        let session = Session::new(aws, tf, &[("main.tf", &configuration)]);
        Lane { aws, session, victim, prefix, runs: 0, rows: Vec::new(), failures: Vec::new() }
    }

    /// A bucket name never used on this endpoint, for the next apply.
    fn next_bucket(&mut self) -> String {
        self.runs += 1;
        let bucket = format!("{}-{}", self.prefix, self.runs);
        self.session.set_var("bucket", &bucket);
        bucket
    }

    /// The uninterrupted apply and destroy: their counted calls, and the objects.
    fn baseline(&mut self) -> Baseline {
        let bucket = self.next_bucket();
        let (aws, session) = (self.aws, &self.session);
        aws.reset_calls();
        session.apply();
        let applied = aws.call_totals();
        session.plan_is_empty();
        let found = session.inventory();
        let destroyed = {
            aws.reset_calls();
            session.destroy();
            aws.call_totals()
        };
        let gone = session.inventory();
        assert!(gone.live().is_empty(), "the baseline's destroy left:\n{}", gone.live());
        let baseline = Baseline {
            apply: Counts { total: applied.total, mutating: applied.mutating },
            destroy: Counts { total: destroyed.total, mutating: destroyed.mutating },
            objects: normalised(&found, &bucket),
        };
        let problems = check_applied_without_state(&found, &baseline);
        assert!(problems.is_empty(), "the baseline: {problems:#?}\n{found}");
        baseline
    }

    /// Every point: the apply stopped there and run again, then the destroy
    /// of what converged stopped at the same point and run again.
    fn run(&mut self, baseline: &Baseline) {
        for point in Point::ALL {
            let bucket = self.next_bucket();
            let started = Instant::now();
            let Some(mut row) = self.interrupt("apply", point, baseline.apply) else { return };
            let what = format!("apply at {point:?} ({:?}), held {}", self.victim, row.held);
            let (ok, done, output) = rerun(&self.session, "apply");
            // The bucket is created with its marker in the one request, so no
            // kill leaves it unmarked: a refusal of it fails the suite, with no
            // hand step to get past it.
            let unmarked_bucket = format!("S3 bucket {bucket} in account {TOOLING_ACCOUNT} has no bokbasen:owner tag");
            if !ok && said(&output).contains(&unmarked_bucket) {
                self.failures
                    .push(format!("{what}: the rerun was refused, the bucket left unmarked: {unmarked_bucket}"));
            } else if !ok {
                self.failures.push(format!("{what}: the rerun failed:\n{output}"));
            }
            row.rerun = done;
            if !ok {
                self.failures.push(format!("{what}: no convergence, the lane stops:\n{output}"));
                self.rows.push(row);
                return;
            }
            let plan = self.session.run(&["plan", "-detailed-exitcode", "-no-color", "-input=false"]);
            if plan.code != 0 {
                self.failures.push(format!("{what}: the plan after the rerun is not empty:\n{plan}"));
            }
            let found = self.session.inventory();
            row.objects[2] = found.live().len();
            let problems = check_applied(&self.session, baseline, &found, &bucket, &what);
            self.failures.extend(problems);
            row.seconds = started.elapsed().as_secs_f64();
            self.rows.push(row);

            let started = Instant::now();
            let Some(mut row) = self.interrupt("destroy", point, baseline.destroy) else { return };
            let what = format!("destroy at {point:?} ({:?}), held {}", self.victim, row.held);
            let (ok, done, output) = rerun(&self.session, "destroy");
            row.rerun = done;
            if !ok {
                self.failures.push(format!("{what}: the rerun failed:\n{output}"));
            }
            let found = self.session.inventory();
            row.objects[2] = found.live().len();
            if !found.live().is_empty() {
                self.failures.push(format!("{what}: live objects are left:\n{}", found.live()));
            }
            if !self.session.state_addresses().is_empty() {
                self.failures.push(format!("{what}: state still holds {:?}", self.session.state_addresses()));
            }
            row.seconds = started.elapsed().as_secs_f64();
            self.rows.push(row);
            if !ok {
                return;
            }
        }
    }

    /// Arms the hold, starts `command`, waits for the held call, reads the
    /// inventory, kills the victim, waits until no provider runs, releases
    /// the call, and waits for Terraform to end. `None` when no call was
    /// held (recorded as a failure).
    fn interrupt(&mut self, command: &'static str, point: Point, counts: Counts) -> Option<Row> {
        let (aws, session, victim) = (self.aws, &self.session, self.victim);
        let (at, filter) = point.hold(command, counts);
        let position = format!("{at} of {}", filter.as_wire());
        let release = point.release();
        aws.hold(at, filter, release);
        let endpoint = format!("endpoint_url={}", aws.endpoint());
        let bucket = format!("bucket={}-{}", self.prefix, self.runs);
        let mut run = session.workdir().spawn(&[
            command,
            "-auto-approve",
            "-no-color",
            "-input=false",
            "-var",
            &endpoint,
            "-var",
            &bucket,
        ]);
        let Some(held) = wait_for_hold(aws) else {
            run.kill_terraform();
            run.kill_providers();
            aws.release_hold();
            let run = run.wait();
            self.failures.push(format!("{command} at {point:?} ({victim:?}): no call {position} was held:\n{run}"));
            return None;
        };
        let before = session.inventory().live().len();
        match victim {
            Victim::Terraform => {
                run.kill_terraform();
            }
            Victim::Providers => run.kill_providers(),
        }
        // Nobody may hear the held call's answer. A provider whose Terraform
        // is gone must exit by itself: one still running could go on changing
        // AWS with nobody to record it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !run.providers_running().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let orphans = run.providers_running();
        if !orphans.is_empty() {
            self.failures
                .push(format!("{command} at {point:?} ({victim:?}): providers {orphans:?} outlived Terraform"));
            run.kill_providers();
        }
        aws.release_hold();
        let killed = run.wait();
        let lock_info_left = session.workdir().terraform_dir().join(LOCK_INFO).exists();
        let after = session.inventory().live().len();
        Some(Row {
            command,
            point,
            victim,
            position,
            held,
            release,
            objects: [before, after, 0],
            // A killed Terraform 1.0.3 exits -1, or 255 when panicwrap's
            // parent saw its child die before its own SIGKILL came.
            killed: match victim {
                Victim::Terraform => format!("SIGKILL (exit {})", killed.code),
                Victim::Providers => format!("exit {}: {}", killed.code, summary(&killed.output())),
            },
            lock_info_left,
            rerun: String::new(),
            seconds: 0.0,
        })
    }
}

/// The baseline's own checks (state accounts for every marker is checked on
/// each rerun; here: every live object is marked, and no key twice).
fn check_applied_without_state(found: &Inventory, baseline: &Baseline) -> Vec<String> {
    let mut problems: Vec<String> = found.duplicates();
    problems.extend(found.live().objects().iter().filter(|o| o.owner().is_none()).map(|o| format!("unmarked {o}")));
    if baseline.objects.is_empty() {
        problems.push("the baseline made nothing".into());
    }
    problems
}

/// Runs `command` again as a user would after a crash: plainly, taking the
/// state's lock as usual; if a stale lock stopped it, `force-unlock` with the
/// lock's ID, then once more. Whether it succeeded, what it did, its output.
fn rerun(session: &Session, command: &str) -> (bool, String, String) {
    let (ok, done, output) = rerun_plain(session, command);
    if ok || !output.contains("Error acquiring the state lock") {
        return (ok, done, output);
    }
    let id = output
        .lines()
        .find_map(|line| line.trim_matches(|c: char| c == '│' || c.is_whitespace()).strip_prefix("ID:"))
        .map(|id| id.trim().to_owned())
        .unwrap_or_default();
    let unlocked = session.run(&["force-unlock", "-force", &id]);
    let (ok, done, again) = rerun_plain(session, command);
    (ok, format!("stale lock {id}: force-unlock exited {}, then {done}", unlocked.code), format!("{output}\n{again}"))
}

fn rerun_plain(session: &Session, command: &str) -> (bool, String, String) {
    let run = session.run(&[command, "-auto-approve", "-no-color", "-input=false"]);
    (run.code == 0, summary(&run.output()), run.output())
}

fn table(rows: &[Row]) -> String {
    let mut table = String::from(
        "| command | point | victim | held call (position) | release | live objects held / after kill / after rerun | killed run | lock info left | rerun | s |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            table,
            "| {} | {:?} | {:?} | {} ({}) | {:?} | {} / {} / {} | {} | {} | {} | {:.1} |",
            row.command,
            row.point,
            row.victim,
            row.held,
            row.position,
            row.release,
            row.objects[0],
            row.objects[1],
            row.objects[2],
            row.killed,
            if row.lock_info_left { "yes" } else { "no" },
            row.rerun,
            row.seconds,
        );
    }
    table
}

#[test]
fn interrupted_applies_and_destroys_converge() {
    let suite = Instant::now();
    let tf = terraform_binaries().remove(0);
    let (send, receive) = mpsc::channel::<Baseline>();
    let (terraform_lane, providers_lane) = std::thread::scope(|scope| {
        let tf_a = tf.clone();
        let first = scope.spawn(move || {
            let aws = LocalAws::start();
            let mut lane = Lane::new(&aws, &tf_a, Victim::Terraform, "bokbasen-interrupted-a");
            let baseline = lane.baseline();
            eprintln!(
                "baseline: apply {} calls ({} mutating), destroy {} calls ({} mutating), {} live objects, {:.1} s",
                baseline.apply.total,
                baseline.apply.mutating,
                baseline.destroy.total,
                baseline.destroy.mutating,
                baseline.objects.len(),
                suite.elapsed().as_secs_f64()
            );
            send.send(baseline.clone()).expect("the other lane waits for the baseline");
            lane.run(&baseline);
            (lane.rows, lane.failures)
        });
        let tf_b = tf.clone();
        let second = scope.spawn(move || {
            let aws = LocalAws::start();
            let mut lane = Lane::new(&aws, &tf_b, Victim::Providers, "bokbasen-interrupted-b");
            let Ok(baseline) = receive.recv() else {
                return (Vec::new(), vec!["no baseline: the first lane failed".to_owned()]);
            };
            lane.run(&baseline);
            (lane.rows, lane.failures)
        });
        (first.join().expect("the Terraform lane"), second.join().expect("the providers lane"))
    });
    let mut rows = terraform_lane.0;
    rows.extend(providers_lane.0);
    let mut failures = terraform_lane.1;
    failures.extend(providers_lane.1);
    eprintln!("{}", table(&rows));
    eprintln!("interrupted suite: {:.1} s", suite.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n\n"));
}
