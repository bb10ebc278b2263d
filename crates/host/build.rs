//! Compiles the crate's one BPF object with clang: `bpf/vnetd.bpf.c` (the
//! fabric's tc programs and the underlay's, with the headers of `bpf/`)
//! into `$OUT_DIR/vnetd.bpf.o`, which the crate embeds. Without a clang
//! that targets BPF (or without libbpf's headers) the object is left empty
//! and the reason is passed on as `VNETD_BPF_UNBUILT`: vnetd then builds
//! and runs with every packet in userspace and without an underlay between
//! hosts, and says why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The object's source; every file of its directory is watched.
const SOURCE: &str = "../../bpf/vnetd.bpf.c";
const TREE: &str = "../../bpf";
const OBJECT: &str = "vnetd.bpf.o";

fn main() {
    println!("cargo:rerun-if-env-changed=VNETD_CLANG");
    // A directory: cargo reruns this script when any file under it changes.
    println!("cargo:rerun-if-changed={TREE}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let clang = std::env::var("VNETD_CLANG").unwrap_or_else(|_| "clang".to_owned());
    let unbuilt = compile(&clang, SOURCE, &out_dir.join(OBJECT));
    if !unbuilt.is_empty() {
        println!("cargo:warning=no kernel fast path and no underlay between hosts: {unbuilt}");
    }
    println!("cargo:rustc-env=VNETD_BPF_UNBUILT={unbuilt}");
}

/// Compiles `source` into `object`; returns why it could not ("" when it
/// could), leaving `object` empty then.
fn compile(clang: &str, source: &str, object: &Path) -> String {
    // The kernel headers' <asm/...> live under the host's multiarch
    // directory, which `-target bpf` does not search on its own.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let outcome = Command::new(clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf", "-I"])
        .arg(&multiarch)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(object)
        .output();
    let unbuilt = match outcome {
        Ok(output) if output.status.success() => String::new(),
        Ok(output) => format!(
            "{clang} could not compile {source}: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("no error message")
                .trim()
        ),
        Err(err) => format!("{clang} was not found when vnetd was built ({err})"),
    };
    if !unbuilt.is_empty() {
        std::fs::write(object, []).expect("writing an empty object to OUT_DIR");
    }
    unbuilt
}
