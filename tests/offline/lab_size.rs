//! `vnetd check` refuses a lab larger than vnetd runs, before anything is
//! built: the file, the line of the first NIC past the limit, and the
//! limit itself.

use crate::common;

use vnetd::daemon::MAX_NICS;

/// One VNet of `nics` NICs, 250 per /24 subnet (the first 100 `/24`s of
/// 10.0.0.0/8 would not hold 16,385: the subnets spread over 10.x.y.0).
fn lab_of(nics: usize) -> String {
    let mut text = String::from(
        "vnets:\n  - name: big\n    address_space: [10.0.0.0/8]\n    location: westeurope\n    subnets:\n",
    );
    for s in 0..nics.div_ceil(250) {
        text += &format!(
            "      - {{name: s{s}, address_prefixes: [10.{}.{}.0/24]}}\n",
            s / 256,
            s % 256
        );
    }
    text += "network_interfaces:\n";
    for i in 0..nics {
        let s = i / 250;
        text += &format!(
            "  - {{name: n{i}, subnet: big/s{s}, private_ip_address: 10.{}.{}.{}}}\n",
            s / 256,
            s % 256,
            i % 250 + 4
        );
    }
    text
}

/// `vnetd check` on `text`, written as `<name>.yaml`: the exit code,
/// stderr and the file's path as the errors name it.
fn check(name: &str, text: &str) -> (Option<i32>, String, String) {
    let (code, stderr, path) = common::broken_files::check("lab-size", name, text);
    (code, stderr, path.display().to_string())
}

#[test]
fn check_refuses_a_lab_one_nic_over_the_limit_at_that_nic_and_names_the_limit() {
    // The lab's one VNet adds its Azure DNS port after the NICs.
    let nics = MAX_NICS as usize + 1;
    let over = nics + 1;
    let text = lab_of(nics);
    let (code, stderr, path) = check("over", &text);
    assert_eq!(code, Some(1), "{stderr}");
    let first_past = format!("n{}", MAX_NICS);
    let line = text
        .lines()
        .position(|l| l.contains(&format!("name: {first_past},")))
        .unwrap()
        + 1;
    let expected = format!(
        "{path}:{line}: error: network_interfaces[{first_past}]: the lab would have {over} ports \
         (its NICs, and the ports vnetd adds: gateway instances, site tunnels, health probers, \
         each VNet's Azure DNS, ...); vnetd runs at most {MAX_NICS} (MAX_NICS), and \
         {first_past} is the first past it"
    );
    assert!(
        stderr.lines().any(|l| l == expected),
        "expected\n{expected}\nin\n{stderr}"
    );
}

#[test]
fn check_accepts_a_lab_at_the_limit() {
    // Its one VNet's Azure DNS is the last port.
    let (code, stderr, _) = check("at", &lab_of(MAX_NICS as usize - 1));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn check_accepts_sixteen_thousand_three_hundred_and_eighty_four_nics_with_the_ports_vnetd_adds() {
    // 16,384 NICs and their VNet's Azure DNS: more ports than NICs.
    let (code, stderr, _) = check("nics", &lab_of(16_384));
    assert_eq!(code, Some(0), "{stderr}");
}
