//! `vnetd import` of the configurations under `tests/import/`, for the
//! tests that run or compare what they import.

use std::process::Command;

/// `vnetd import terraform` of the configuration `tests/import/terraform/<name>`:
/// the topology file it prints (the import must succeed).
pub fn terraform(name: &str) -> String {
    let dir = format!(
        "{}/tests/import/terraform/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["import", "terraform", &dir])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
