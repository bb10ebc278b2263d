//! Compiles the fabric's tc programs (`src/host/fabric/fabric.bpf.c`) with
//! clang into `$OUT_DIR/fabric.bpf.o`, which the crate embeds. Without a
//! clang that targets BPF (or without libbpf's headers) the object is left
//! empty and the reason is passed on as `VNETD_FABRIC_UNBUILT`: vnetd then
//! builds and runs with every packet in userspace, and says why.

use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/host/fabric/fabric.bpf.c";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=VNETD_CLANG");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out_dir.join("fabric.bpf.o");
    let clang = std::env::var("VNETD_CLANG").unwrap_or_else(|_| "clang".to_owned());
    // The kernel headers' <asm/...> live under the host's multiarch
    // directory, which `-target bpf` does not search on its own.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let outcome = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf", "-I"])
        .arg(&multiarch)
        .arg("-c")
        .arg(SOURCE)
        .arg("-o")
        .arg(&object)
        .output();
    let unbuilt = match outcome {
        Ok(output) if output.status.success() => String::new(),
        Ok(output) => format!(
            "{clang} could not compile {SOURCE}: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("no error message")
                .trim()
        ),
        Err(err) => format!("{clang} was not found when vnetd was built ({err})"),
    };
    if !unbuilt.is_empty() {
        std::fs::write(&object, []).expect("writing an empty object to OUT_DIR");
        println!("cargo:warning=no kernel fast path: {unbuilt}");
    }
    println!("cargo:rustc-env=VNETD_FABRIC_UNBUILT={unbuilt}");
}
