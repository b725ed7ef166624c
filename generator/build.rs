//! The built-in catalogue and modules are embedded with `include_dir!`,
//! which cargo does not know to watch: say so, so an edited template or
//! module rebuilds the binary.
fn main() {
    println!("cargo:rerun-if-changed=../templates");
    println!("cargo:rerun-if-changed=../modules");
}
