//! The certificates checked as a client checks them: a rustls client
//! trusting only the lab's CA shakes hands with the acceptor.

use super::*;
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use std::net::Ipv4Addr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn dns(name: &str) -> Subject {
    Subject::parse(name).expect("a DNS name")
}

/// What a service presents for one account of its domain: the account's
/// name and the wildcards of the domain and of a zone below it.
fn one_account() -> NamePolicy {
    NamePolicy::Listed(vec![Identity::new(vec![
        dns("acct.files.example.net"),
        dns("*.files.example.net"),
        dns("*.private.files.example.net"),
    ])])
}

/// A handshake of a client trusting `ca` alone, asking for `name`, with
/// an acceptor of `policy` reached at `local`; then one byte each way.
fn handshake(
    ca: &Arc<LabCa>,
    acceptor: &TlsAcceptor,
    name: ServerName<'static>,
    local: IpAddr,
) -> io::Result<()> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.certificate_der().clone()).expect("the CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (near, far) = tokio::io::duplex(64 << 10);
        let server = async {
            let mut tls = acceptor.accept(far, local).await?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await?;
            tls.write_all(&byte).await?;
            tls.shutdown().await
        };
        let client = async {
            let mut tls = connector.connect(name, near).await?;
            tls.write_all(b"x").await?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await?;
            assert_eq!(&byte, b"x");
            Ok::<_, io::Error>(())
        };
        let (served, connected) = tokio::join!(server, client);
        connected.and(served.map(|_| ()))
    })
}

fn name(text: &str) -> ServerName<'static> {
    ServerName::try_from(text.to_owned()).expect("a server name")
}

/// The certificate error a client met, if it was one.
fn certificate_error(error: &io::Error) -> Option<CertificateError> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(e) => Some(e.clone()),
        _ => None,
    }
}

const HERE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));

#[test]
fn a_listed_server_is_trusted_for_its_names_and_wildcards_alone() {
    let ca = Arc::new(LabCa::new("vnetd lab CA test").unwrap());
    let acceptor = TlsAcceptor::new(ca.clone(), one_account()).unwrap();
    for good in [
        "acct.files.example.net",
        "ACCT.Files.Example.Net",
        "other.files.example.net",
        "acct.private.files.example.net",
    ] {
        handshake(&ca, &acceptor, name(good), HERE).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for wrong in [
        "wrong.example",
        "a.b.files.example.net",
        "files.example.net",
        "acct.mail.example.net",
    ] {
        let error = handshake(&ca, &acceptor, name(wrong), HERE).expect_err(wrong);
        assert!(
            matches!(
                certificate_error(&error),
                Some(CertificateError::NotValidForNameContext { .. })
            ),
            "{wrong}: {error}"
        );
    }
    // One certificate for the identity, whatever name was asked.
    assert_eq!(acceptor.resolver().cached(), 1);
}

#[test]
fn another_labs_ca_is_not_trusted() {
    let ca = Arc::new(LabCa::new("vnetd lab CA one").unwrap());
    let other = Arc::new(LabCa::new("vnetd lab CA two").unwrap());
    let acceptor = TlsAcceptor::new(other, one_account()).unwrap();
    let error = handshake(&ca, &acceptor, name("acct.files.example.net"), HERE).unwrap_err();
    assert_eq!(
        certificate_error(&error),
        Some(CertificateError::UnknownIssuer),
        "{error}"
    );
}

#[test]
fn any_name_answers_the_name_asked_or_the_address_reached() {
    let ca = Arc::new(LabCa::new("vnetd lab CA test").unwrap());
    let acceptor = TlsAcceptor::new(ca.clone(), NamePolicy::AnyName).unwrap();
    handshake(&ca, &acceptor, name("example.com"), HERE).unwrap();
    handshake(&ca, &acceptor, name("www.example.org"), HERE).unwrap();
    // An address sends no SNI: the certificate names the address reached.
    handshake(&ca, &acceptor, ServerName::IpAddress(HERE.into()), HERE).unwrap();
    let elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let error = handshake(
        &ca,
        &acceptor,
        ServerName::IpAddress(HERE.into()),
        elsewhere,
    )
    .unwrap_err();
    assert!(
        matches!(
            certificate_error(&error),
            Some(CertificateError::NotValidForNameContext { .. })
        ),
        "{error}"
    );
}

#[test]
fn the_cache_keeps_each_certificate_once_and_is_bounded() {
    let ca = Arc::new(LabCa::new("vnetd lab CA test").unwrap());
    let resolver = CertResolver::new(ca, NamePolicy::AnyName).unwrap();
    let first = resolver.identity_for(Some("n0.example"), None).unwrap();
    let issued = resolver.certificate(&first).unwrap();
    assert!(Arc::ptr_eq(&issued, &resolver.certificate(&first).unwrap()));
    for i in 1..CACHE_CAPACITY + 5 {
        let identity = resolver
            .identity_for(Some(&format!("n{i}.example")), None)
            .unwrap();
        resolver.certificate(&identity).unwrap();
    }
    assert_eq!(resolver.cached(), CACHE_CAPACITY);
    // The oldest went: asked again, it is issued anew.
    assert!(!Arc::ptr_eq(
        &issued,
        &resolver.certificate(&first).unwrap()
    ));
}

#[test]
fn names_are_parsed_as_certificates_carry_them() {
    assert_eq!(
        Subject::parse("Acct.Files.Example.Net."),
        Some(Subject::Dns("acct.files.example.net".into()))
    );
    assert_eq!(
        Subject::parse("10.0.0.4"),
        Some(Subject::Ip("10.0.0.4".parse().unwrap()))
    );
    for not_a_name in [
        "web",
        "my server",
        "-a.example",
        "a..example",
        "1.2.3",
        "a.*.example",
    ] {
        assert_eq!(Subject::parse(not_a_name), None, "{not_a_name}");
    }
    let listed = CertResolver::new(
        Arc::new(LabCa::new("t").unwrap()),
        NamePolicy::Listed(vec![]),
    );
    assert!(listed.is_err());
}
