//! Every shipped topology in `config/` is valid.

use std::path::Path;

#[test]
fn every_config_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        count += 1;
        if let Err(errors) = vnetd::topology::load_file(&path) {
            let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!("{} is refused:\n{}", path.display(), shown.join("\n"));
        }
    }
    assert!(
        count >= 3,
        "expected at least three example topologies, found {count}"
    );
}
