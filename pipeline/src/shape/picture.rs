//! A readable picture of a shape, used by the golden tests and the generator.

use std::fmt;

use super::{PipelineShape, VariableValue, Where};

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Pipeline => write!(f, "pipeline account"),
            Where::Environment(env) => write!(f, "{env} account"),
        }
    }
}

impl fmt::Display for PipelineShape {
    /// A readable picture of the pipeline, used by golden tests and the generator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pipeline {} ({})", self.name, self.kind.name())?;
        for stage in &self.stages {
            writeln!(f, "stage {}", stage.name)?;
            for action in &stage.actions {
                let input = action.input.map(|i| format!(" <- {i}")).unwrap_or_default();
                let output = action.output.map(|o| format!(" -> {o}")).unwrap_or_default();
                writeln!(
                    f,
                    "  {}. {} [{}/{}] in {}{input}{output}",
                    action.run_order,
                    action.name,
                    action.kind.category(),
                    action.kind.provider(),
                    action.runs_in
                )?;
                for (key, value) in &action.configuration {
                    writeln!(f, "       {key} = {value}")?;
                }
            }
        }
        for project in &self.projects {
            writeln!(f, "project {} ({:?}, in {})", project.name, project.purpose, project.runs_in)?;
            writeln!(
                f,
                "  image {} {} privileged={} cache={:?}",
                project.image, project.compute_type, project.privileged, project.cache
            )?;
            for variable in &project.variables {
                let value = match &variable.value {
                    VariableValue::Plain(v) => format!("= {v}"),
                    VariableValue::Parameter(p) => format!("<- ssm {p}"),
                    VariableValue::RepositoryUrl => "<- ECR repository URL".to_string(),
                };
                writeln!(f, "  env {} {value}", variable.name)?;
            }
            for line in project.buildspec.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}
