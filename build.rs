//! Compiles the crate's tc programs with clang: the fabric's
//! (`src/host/fabric/fabric.bpf.c`) into `$OUT_DIR/fabric.bpf.o` and the
//! underlay's (`src/host/underlay/underlay.bpf.c`) into
//! `$OUT_DIR/underlay.bpf.o`, which the crate embeds. Without a clang that
//! targets BPF (or without libbpf's headers) an object is left empty and
//! the reason is passed on as `VNETD_FABRIC_UNBUILT` (or
//! `VNETD_UNDERLAY_UNBUILT`): vnetd then builds and runs with every packet
//! in userspace (or without an underlay), and says why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Each program's source, its object's name in `OUT_DIR`, the variable
/// that says why it was not built, and what is lost without it.
const PROGRAMS: [(&str, &str, &str, &str); 2] = [
    (
        "src/host/fabric/fabric.bpf.c",
        "fabric.bpf.o",
        "VNETD_FABRIC_UNBUILT",
        "no kernel fast path",
    ),
    (
        "src/host/underlay/underlay.bpf.c",
        "underlay.bpf.o",
        "VNETD_UNDERLAY_UNBUILT",
        "no underlay between hosts",
    ),
];

fn main() {
    println!("cargo:rerun-if-env-changed=VNETD_CLANG");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let clang = std::env::var("VNETD_CLANG").unwrap_or_else(|_| "clang".to_owned());
    for (source, object, variable, without) in PROGRAMS {
        println!("cargo:rerun-if-changed={source}");
        let unbuilt = compile(&clang, source, &out_dir.join(object));
        if !unbuilt.is_empty() {
            println!("cargo:warning={without}: {unbuilt}");
        }
        println!("cargo:rustc-env={variable}={unbuilt}");
    }
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
