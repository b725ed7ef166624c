//! terraform-provider-bokbasen: started by Terraform, never by hand.

use std::process::ExitCode;

fn main() -> ExitCode {
    bokbasen_provider::plugin::run(bokbasen_provider::provider::BokbasenProvider)
}
