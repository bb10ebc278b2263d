//! HTTPS as Azure's services speak it, live, in `config/private-endpoints.yaml`
//! (the partner VNet given default outbound access): from a spoke VM,
//! `curl https://stcontoso.blob.core.windows.net/` without `-k` verifies the
//! account's certificate, issued by the lab's CA, and reaches it through its
//! Private Endpoint, as Python's `urllib` does; from the unlinked partner
//! VNet the same name reaches the account's public face; a name the
//! certificate does not carry (`files.contoso.internal`, a CNAME to the
//! account, or any name pinned to the endpoint's address) fails
//! verification (curl's exit 60); `openssl s_client` names the lab's CA as
//! the issuer; an Internet server listed on 443 is verified by its name
//! and its address. The CA's certificate is where the daemon says, mode 0644,
//! and goes with the lab, with the VMs' certificate stores (a VM an `apply`
//! adds trusts it too). Needs root.

use crate::common;

use common::Lab;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PREFIX: &str = "etls";
const NAME: &str = "stcontoso.blob.core.windows.net";

/// The example, with the partner VNet's VM reaching the Internet.
fn lab_text() -> String {
    let text = include_str!("../../config/private-endpoints.yaml").replacen(
        "      - name: app\n        address_prefixes: [10.9.1.0/24]\n",
        "      - name: app\n        address_prefixes: [10.9.1.0/24]\n        default_outbound_access: true\n",
        1,
    );
    assert!(text.contains("default_outbound_access: true"));
    format!("{text}\ninternet:\n  servers:\n    - {{name: {SERVER}, address: {SERVER_ADDRESS}, ports: [80, 443]}}\n")
}

/// An Internet server answering HTTPS on 443, by a DNS name.
const SERVER: &str = "www.example.com";
const SERVER_ADDRESS: &str = "203.0.113.80";

/// `args` run by `ip netns exec` in `ns`.
fn run_in(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {args:?} in {ns}: {e}"))
}

/// `curl -sS` of `url` in `ns` (more `options` first): its exit code, and
/// its output (the body, then the status on a line of its own).
fn curl(ns: &str, options: &[&str], url: &str) -> (Option<i32>, String) {
    let mut args = vec!["curl", "-sS", "-m", "5", "-w", "\n%{http_code}"];
    args.extend_from_slice(options);
    args.push(url);
    let out = run_in(ns, &args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// What follows `key=` on the line of `text` that starts with it.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
}

#[test]
fn vms_verify_the_accounts_certificate_and_a_wrong_name_fails() {
    let lab = Lab::start(PREFIX, &lab_text());
    let (vm1, vm3) = (lab.ns("vm1"), lab.ns("vm3"));

    // The CA: written where the daemon says, readable by all, trusted by
    // the VMs' namespaces after the system's certificates.
    let ca_path: PathBuf = lab.daemon().lab_ca_path().to_owned();
    assert!(
        ca_path.starts_with("/run/vnetd-tls/"),
        "{}",
        ca_path.display()
    );
    let pem = std::fs::read_to_string(&ca_path).unwrap();
    assert_eq!(pem, *lab.daemon().lab_ca_pem());
    let mode = std::fs::metadata(&ca_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    let store = vnetd::host::netns::trust_store_of(&vm1);
    let bundle = std::fs::read_to_string(&store).unwrap();
    assert!(bundle.ends_with(&pem), "{}", store.display());
    if let Ok(system) = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt") {
        assert!(bundle.starts_with(system.trim_end()));
    }
    // One store for the lab, beside the CA, that each VM's namespace links
    // to: nothing the size of the system's bundle is copied per VM.
    let shared = std::fs::canonicalize(&store).unwrap();
    assert!(
        shared.starts_with(ca_path.parent().unwrap()),
        "{}",
        shared.display()
    );
    assert_eq!(
        std::fs::canonicalize(vnetd::host::netns::trust_store_of(&vm3)).unwrap(),
        shared
    );
    let link = vnetd::host::netns::etc_dir_of(&vm1).join("ssl");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    // Through the Private Endpoint, by the public name and the privatelink
    // name alike.
    let (code, answer) = curl(&vm1, &[], &format!("https://{NAME}/"));
    assert_eq!(code, Some(0), "{answer}");
    assert!(
        answer.contains(
            "through private endpoint pe-stcontoso-blob\nreached at 10.0.3.4:443 from 10.1.1.4:"
        ),
        "{answer}"
    );
    assert!(answer.ends_with("\n200"), "{answer}");
    let privatelink = "https://stcontoso.privatelink.blob.core.windows.net/";
    let (code, answer) = curl(&vm1, &[], privatelink);
    assert_eq!(code, Some(0), "{answer}");
    assert!(answer.ends_with("\n200"), "{answer}");
    // Plain HTTP still answers on 80.
    let (code, answer) = curl(&vm1, &[], &format!("http://{NAME}/"));
    assert_eq!(code, Some(0), "{answer}");
    assert!(
        answer.contains("reached at 10.0.3.4:80 from 10.1.1.4:"),
        "{answer}"
    );

    // Python reads the same store.
    let python = run_in(
        &vm1,
        &[
            "python3",
            "-c",
            &format!(
                "import urllib.request; r = urllib.request.urlopen('https://{NAME}/', timeout=5); \
                 print(r.status)"
            ),
        ],
    );
    assert!(python.status.success(), "{python:?}");
    assert_eq!(String::from_utf8_lossy(&python.stdout), "200\n");

    // Names the certificate does not carry fail verification: a CNAME to
    // the account, and a name pinned to the endpoint's address.
    let (code, answer) = curl(&vm1, &[], "https://files.contoso.internal/");
    assert_eq!(code, Some(60), "{answer}");
    let pinned = ["--resolve", "wrong.example:443:10.0.3.4"];
    let (code, answer) = curl(&vm1, &pinned, "https://wrong.example/");
    assert_eq!(code, Some(60), "{answer}");

    // The unlinked VNet reaches the public face, with its certificate.
    let (code, answer) = curl(&vm3, &[], &format!("https://{NAME}/"));
    assert_eq!(code, Some(0), "{answer}");
    assert!(
        answer.starts_with(&format!(
            "{NAME} through its public endpoint\nreached at 198.18.0.10:443 from 192.0.2.1:"
        )),
        "{answer}"
    );
    assert!(answer.ends_with("\n200"), "{answer}");

    // An Internet server listed on 443: its name and its address verify,
    // another name pinned to its address does not.
    let by_address = format!("https://{SERVER_ADDRESS}/");
    let (code, answer) = curl(&vm3, &[], &by_address);
    assert_eq!(code, Some(0), "{answer}");
    assert!(
        answer.starts_with(&format!(
            "192.0.2.1\nInternet server {SERVER} reached at {SERVER_ADDRESS}:443 from 192.0.2.1:"
        )),
        "{answer}"
    );
    assert!(answer.ends_with("\n200"), "{answer}");
    let pinned = format!("{SERVER}:443:{SERVER_ADDRESS}");
    let (code, answer) = curl(&vm3, &["--resolve", &pinned], &format!("https://{SERVER}/"));
    assert_eq!(
        (code, answer.ends_with("\n200")),
        (Some(0), true),
        "{answer}"
    );
    let pinned = format!("other.example.com:443:{SERVER_ADDRESS}");
    let (code, answer) = curl(&vm3, &["--resolve", &pinned], "https://other.example.com/");
    assert_eq!(code, Some(60), "{answer}");

    // openssl: the leaf's issuer is the lab's CA, and it verifies.
    let subject = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(&ca_path)
        .output()
        .unwrap();
    let subject = String::from_utf8_lossy(&subject.stdout).into_owned();
    let connect = run_in(
        &vm1,
        &[
            "sh",
            "-c",
            &format!(
                "openssl s_client -connect 10.0.3.4:443 -servername {NAME} -verify_return_error \
                 </dev/null 2>&1"
            ),
        ],
    );
    let shown = String::from_utf8_lossy(&connect.stdout).into_owned();
    assert!(connect.status.success(), "{shown}");
    assert_eq!(
        field(&shown, "issuer"),
        field(&subject, "subject"),
        "{shown}"
    );
    assert!(shown.contains("Verify return code: 0 (ok)"), "{shown}");

    // A VM an `apply` adds trusts the same CA.
    let with_vm4 = lab_text().replacen(
        "  - {name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4}\n",
        "  - {name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4}\n  \
         - {name: vm4, subnet: partner/app, private_ip_address: 10.9.1.5}\n",
        1,
    );
    assert!(with_vm4.contains("name: vm4"));
    lab.daemon()
        .apply(
            "with-vm4.yaml",
            &common::with_netns_prefix(&with_vm4, PREFIX),
        )
        .unwrap();
    let vm4 = lab.ns("vm4");
    let (code, answer) = curl(&vm4, &[], &format!("https://{NAME}/"));
    assert_eq!(code, Some(0), "{answer}");
    assert!(answer.ends_with("\n200"), "{answer}");
    let store4 = vnetd::host::netns::trust_store_of(&vm4);

    // Gone with the lab: the CA and the VMs' stores.
    drop(lab);
    assert!(!ca_path.exists(), "{}", ca_path.display());
    assert!(!store.exists(), "{}", store.display());
    assert!(!store4.exists(), "{}", store4.display());
    assert!(!Path::new(&format!("/etc/netns/{vm1}/ssl")).exists());
}
