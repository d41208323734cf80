//! Daily e-mail digests through an SMTP relay: a sink written here (a
//! TcpListener speaking just enough SMTP) receives what real nodes send.
//! A director whose request was sent back gets it, with the reason and the
//! link; the academic team gets the queue to decide; accounts with nothing
//! to do, viewers, disabled or never activated accounts get nothing; a
//! recipient the relay refuses is an error that names the step.

mod common;

use std::sync::{Arc, Mutex};

use common::browser::account;
use common::*;
use maillage::auth::Role as Who;
use maillage::config::MailConfig;
use maillage::domain::site::Role;
use maillage::pb;
use maillage::pb::purchases_client::PurchasesClient;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// One message the sink accepted: (recipient, data as sent).
type Received = Arc<Mutex<Vec<(String, String)>>>;

async fn say<S: AsyncRead + AsyncWrite + Unpin>(s: &mut BufReader<S>, line: &str) {
    s.get_mut().write_all(line.as_bytes()).await.unwrap();
}

/// How an SMTP dialogue ended.
enum End {
    Quit,
    StartTls,
}

/// The sink's side of one dialogue; offers STARTTLS when `tls`.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    store: &Received,
    tls: bool,
) -> End {
    let mut rcpt = String::new();
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
            return End::Quit;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            if tls {
                say(s, "250-puits\r\n250-STARTTLS\r\n250 8BITMIME\r\n").await;
            } else {
                say(s, "250-puits\r\n250 8BITMIME\r\n").await;
            }
        } else if tls && upper.starts_with("STARTTLS") {
            say(s, "220 allez-y\r\n").await;
            return End::StartTls;
        } else if upper.starts_with("MAIL FROM:<MAILLAGE@METZ.FR>") {
            say(s, "250 ok\r\n").await;
        } else if upper.starts_with("RCPT TO:") {
            rcpt = line[8..].trim().trim_matches(['<', '>']).to_string();
            if rcpt == "refuse@ac-nancy-metz.fr" {
                say(s, "550 5.1.1 boîte inconnue\r\n").await;
            } else {
                say(s, "250 ok\r\n").await;
            }
        } else if upper.starts_with("DATA") {
            say(s, "354 allez-y\r\n").await;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                s.read_line(&mut l).await.unwrap();
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            store.lock().unwrap().push((rcpt.clone(), data));
            say(s, "250 reçu\r\n").await;
        } else if upper.starts_with("QUIT") {
            say(s, "221 au revoir\r\n").await;
            return End::Quit;
        } else {
            say(s, "500 inconnu\r\n").await;
        }
    }
}

/// A minimal SMTP server on 127.0.0.1:0; refuses the recipient
/// `refuse@ac-nancy-metz.fr` (550). With `tls`, it offers STARTTLS and
/// keeps only what comes over TLS.
async fn sink_with(tls: Option<tokio_rustls::TlsAcceptor>) -> (u16, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Received = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (store, tls) = (store.clone(), tls.clone());
            tokio::spawn(async move {
                let mut s = BufReader::new(tcp);
                say(&mut s, "220 puits ESMTP\r\n").await;
                let before_tls: Received = match tls {
                    Some(_) => Arc::default(),
                    None => store.clone(),
                };
                if let End::StartTls = dialogue(&mut s, &before_tls, tls.is_some()).await {
                    let Some(acceptor) = tls else { return };
                    let Ok(secured) = acceptor.accept(s.into_inner()).await else {
                        return;
                    };
                    dialogue(&mut BufReader::new(secured), &store, false).await;
                }
            });
        }
    });
    (port, got)
}

async fn sink() -> (u16, Received) {
    sink_with(None).await
}

/// The body of a quoted-printable message, decoded.
fn body_of(data: &str) -> String {
    let (_, body) = data.split_once("\r\n\r\n").unwrap();
    let joined = body.replace("=\r\n", "");
    let mut bytes = Vec::new();
    let raw = joined.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            bytes.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes).unwrap().replace("\r\n", "\n")
}

fn mail_config(port: u16) -> MailConfig {
    MailConfig {
        relay: "127.0.0.1".into(),
        port,
        from: "maillage@metz.fr".into(),
        starttls: false,
        ca_file: String::new(),
        digest_hour: 7,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_gets_a_digest_of_what_waits_for_it() {
    let (port, got) = sink().await;
    let academy = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    // Metz runs with its [mail] section (its daily send is hours away).
    let metz = TestNode::start_with("metz", Role::Site, &[&academy], |c| {
        let mut m = mail_config(port);
        m.digest_hour = (chrono::Timelike::hour(&chrono::Utc::now()) + 12) % 24;
        c.mail = Some(m);
    })
    .await;
    enrol(&academy, &metz).await.unwrap();
    let site = PurchasesClient::new(metz.admin().await);
    let mut ids = Vec::new();
    for object in ["Robots pour l'atelier", "Caméras"] {
        let p = site
            .clone()
            .create(pb::CreatePurchaseRequest {
                object: object.into(),
                lines: vec![pb::PurchaseLineInput {
                    designation: object.into(),
                    quantity: 2,
                    unit_price_ht: "100".into(),
                    vat_rate: "20".into(),
                }],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        site.clone()
            .submit(pb::PurchaseId { id: p.id.clone() })
            .await
            .unwrap();
        ids.push(p.id);
    }
    converge(&[&academy, &metz]).await;
    PurchasesClient::new(academy.admin().await)
        .decide(pb::PurchaseDecision {
            id: ids[0].clone(),
            verdict: "needs_info".into(),
            reason: "Joignez le devis du fournisseur.".into(),
        })
        .await
        .unwrap();
    converge(&[&academy, &metz]).await;

    account(&metz, "direction@metz.fr", "Claire Martin", Who::Director).await;
    account(&metz, "lecture@metz.fr", "Noé Petit", Who::Viewer).await;
    account(
        &metz,
        "ancienne@metz.fr",
        "Ancienne direction",
        Who::Director,
    )
    .await;
    let accounts = metz.running().ctx.accounts.clone();
    accounts.disable("ancienne@metz.fr").await.unwrap();
    // An account whose owner never chose a password.
    accounts
        .add("nouvelle@metz.fr", "Nouvelle", Who::Staff)
        .await
        .unwrap();
    account(
        &academy,
        "equipe@ac-nancy-metz.fr",
        "Équipe ASTERIE",
        Who::Academy,
    )
    .await;

    let cfg = mail_config(port);
    let now = chrono::Utc::now();
    let sent = maillage::mail::send_digests(metz.running().ctx.clone(), &cfg, now)
        .await
        .unwrap();
    assert_eq!(sent, ["direction@metz.fr"]);
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1, "one message");
        let (to, data) = &got[0];
        assert_eq!(to, "direction@metz.fr");
        assert!(data.contains("\r\nTo: <direction@metz.fr>\r\n"), "{data}");
        assert!(
            data.contains("Subject: =?UTF-8?Q?maillage_=3A_1_=C3=A9l=C3=A9ment_=C3=A0_traiter_=28Tiers-lieu_metz=29?="),
            "{data}"
        );
        let body = body_of(data);
        assert!(body.starts_with("Bonjour Claire Martin,"), "{body}");
        let web = metz.running().ctx.web_url.clone();
        let want = format!(
            "Demandes d'achat renvoyées pour complément (1)\n- Robots pour l'atelier — 240,00 € — motif : Joignez le devis du fournisseur. — {web}/achats/{}\n",
            ids[0]
        );
        assert!(body.contains(&want), "{body}");
        assert!(
            !body.contains("Caméras"),
            "it waits for the academy: {body}"
        );
    }

    // The academic team: the request still to decide.
    let sent = maillage::mail::send_digests(academy.running().ctx.clone(), &cfg, now)
        .await
        .unwrap();
    assert_eq!(sent, ["equipe@ac-nancy-metz.fr"]);
    let body = body_of(&got.lock().unwrap()[1].1);
    assert!(
        body.contains("Demandes d'achat à décider (1)\n- Tiers-lieu metz — Caméras — 240,00 €"),
        "{body}"
    );
    assert!(
        !body.contains("Sites sans nouvelles"),
        "Metz is connected: {body}"
    );

    // A recipient the relay refuses: an error naming the step; the others
    // are still sent.
    account(
        &metz,
        "refuse@ac-nancy-metz.fr",
        "Boîte pleine",
        Who::Director,
    )
    .await;
    let e = maillage::mail::send_digests(metz.running().ctx.clone(), &cfg, now)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "le relais SMTP refuse le destinataire : « 550 5.1.1 boîte inconnue »"
    );
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 3, "Claire's second digest was sent");
    assert_eq!(got[2].0, "direction@metz.fr");
}

#[tokio::test]
async fn a_relay_that_is_not_there_is_said_in_french() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let m = maillage::mail::Message {
        to: "claire@metz.fr".into(),
        subject: "essai".into(),
        body: "essai".into(),
    };
    let e = maillage::mail::send(&mail_config(port), "metz", &m, chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("relais SMTP 127.0.0.1:{port} injoignable")),
        "{e}"
    );
}

/// A self-signed certificate for 127.0.0.1: (its PEM file, a TLS server
/// holding it).
fn relay_certificate(dir: &std::path::Path, name: &str) -> (String, tokio_rustls::TlsAcceptor) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, issued.cert.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.signing_key.serialize_der()));
    let cert = CertificateDer::from(issued.cert.der().to_vec());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    (
        path.to_string_lossy().into_owned(),
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
    )
}

/// With `starttls`, the message goes over TLS to a relay certified by
/// `ca_file`, and to no other; a relay without STARTTLS gets nothing.
#[tokio::test]
async fn with_starttls_the_relay_must_hold_a_certified_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, acceptor) = relay_certificate(dir.path(), "relais.pem");
    let (other, _) = relay_certificate(dir.path(), "autre.pem");
    let (port, got) = sink_with(Some(acceptor)).await;
    let m = maillage::mail::Message {
        to: "claire@metz.fr".into(),
        subject: "essai".into(),
        body: "Un message chiffré.".into(),
    };
    let mut cfg = mail_config(port);
    cfg.starttls = true;
    cfg.ca_file = ca;
    maillage::mail::send(&cfg, "metz", &m, chrono::Utc::now())
        .await
        .unwrap();
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1, "received over TLS");
        assert!(body_of(&got[0].1).contains("Un message chiffré."));
    }
    cfg.ca_file = other;
    let e = maillage::mail::send(&cfg, "metz", &m, chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "nothing sent to an unknown relay"
    );
    // A relay that does not offer STARTTLS is not written to in clear.
    let (port, plain) = sink().await;
    cfg.port = port;
    let e = maillage::mail::send(&cfg, "metz", &m, chrono::Utc::now())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "STARTTLS impossible : le relais ne propose pas STARTTLS"
    );
    assert!(plain.lock().unwrap().is_empty());
}
