//! The built-in catalogue is embedded with `include_dir!`, which cargo does
//! not know to watch: say so, so an edited template rebuilds the binary.
fn main() {
    println!("cargo:rerun-if-changed=../templates");
}
