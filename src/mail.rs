//! Daily e-mail digests of the reminders (issue 12, item 5), through the
//! SMTP relay of `[mail]` in `maillage.toml`; without that section, no mail
//! at all: a node never needs one.
//!
//! Each morning at `digest_hour` (Paris time), every active account of this
//! node that can act (staff, director, academic team) whose dashboard holds
//! a reminder receives one plain-text message listing them, with links to
//! the pages; nothing waits, no message. The reminders are those of the
//! dashboard « À traiter » ([`crate::web::dashboard`]).
//!
//! The SMTP client is written here (a few commands: EHLO, STARTTLS, MAIL,
//! RCPT, DATA, QUIT): a relay of the rectorat or the school needs nothing
//! more, and a mail crate would weigh more in build time than all of this.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::NodeContext;
use crate::auth::Role;
use crate::config::MailConfig;
use crate::domain::time;
use crate::web::dashboard::{self, Dashboard};

/// Longest wait for the relay at any step of a message.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest line of a relay's reply accepted.
const MAX_REPLY_LINE: usize = 4096;
/// Where Debian keeps the certificate authorities a relay's certificate is
/// checked against (STARTTLS).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("relais SMTP {relay} injoignable : {source}")]
    Connect {
        relay: String,
        #[source]
        source: std::io::Error,
    },
    #[error("échange avec le relais SMTP interrompu : {0}")]
    Io(#[from] std::io::Error),
    #[error("le relais SMTP ne répond pas (plus de {} s)", SMTP_TIMEOUT.as_secs())]
    Timeout,
    #[error("le relais SMTP refuse {step} : « {reply} »")]
    Refused { step: &'static str, reply: String },
    #[error("STARTTLS impossible : {0}")]
    Tls(String),
    #[error("{0}")]
    Reminders(#[from] crate::error::Error),
}

/// One message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

// ---------------------------------------------------------------------------
// The digests.

/// The roles that get a digest: those who act on reminders.
fn gets_digest(role: Role) -> bool {
    role >= Role::Staff
}

fn section(out: &mut String, heading: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    out.push_str(&format!("{heading} ({})\n", lines.len()));
    for l in lines {
        out.push_str(&format!("- {l}\n"));
    }
    out.push('\n');
}

/// The digest of `d` for `name`, or `None` when nothing waits. `web_url`
/// starts the links.
pub fn digest(
    d: &Dashboard,
    name: &str,
    site: &str,
    web_url: &str,
    now: DateTime<Utc>,
) -> Option<(String, String)> {
    let mut text = String::new();
    let mut count = 0;
    let mut add = |text: &mut String, heading: &str, lines: Vec<String>| {
        count += lines.len();
        section(text, heading, lines);
    };
    let loan = |r: &dashboard::LoanRow| {
        format!(
            "{} — {} — {} : {web_url}/prets/{}",
            r.items, r.other, r.period, r.id
        )
    };
    add(
        &mut text,
        "Retours en retard",
        d.overdue.iter().map(loan).collect(),
    );
    add(
        &mut text,
        "Demandes de prêt en attente de votre décision",
        d.to_decide.iter().map(loan).collect(),
    );
    let purchase = |r: &dashboard::PurchaseRow| format!("{web_url}/achats/{}", r.id);
    if let Some(p) = &d.purchases {
        add(
            &mut text,
            "Demandes d'achat renvoyées pour complément",
            p.sent_back
                .iter()
                .map(|r| {
                    format!(
                        "{} — {} — motif : {} — {}",
                        r.object,
                        r.total_ttc,
                        r.reason,
                        purchase(r)
                    )
                })
                .collect(),
        );
        add(
            &mut text,
            "Achats validés à commander",
            p.to_order
                .iter()
                .map(|r| {
                    format!(
                        "{} — {} — validé le {} — {}",
                        r.object,
                        r.total_ttc,
                        r.since,
                        purchase(r)
                    )
                })
                .collect(),
        );
    }
    if let Some(a) = &d.academy {
        add(
            &mut text,
            "Demandes d'achat à décider",
            a.to_decide
                .iter()
                .map(|r| {
                    format!(
                        "{} — {} — {} — en attente depuis {} — {}",
                        r.site,
                        r.object,
                        r.total_ttc,
                        r.waiting,
                        purchase(r)
                    )
                })
                .collect(),
        );
        add(
            &mut text,
            &format!(
                "Sites sans nouvelles depuis {} jours",
                dashboard::SILENT_DAYS
            ),
            a.silent_sites
                .iter()
                .map(|s| {
                    format!(
                        "{} — sans nouvelles : {} — {web_url}/reseau",
                        s.name, s.silent_for
                    )
                })
                .collect(),
        );
        add(
            &mut text,
            "Prêts en conflit",
            a.conflicts
                .iter()
                .map(|c| format!("{} — prêts {}", c.item, c.loans.join(", ")))
                .collect(),
        );
    }
    if count == 0 {
        return None;
    }
    let day = time::fr_date(time::paris(now).date_naive());
    let subject = format!(
        "maillage : {count} {} à traiter ({site})",
        if count > 1 { "éléments" } else { "élément" }
    );
    let body = format!(
        "Bonjour {name},\n\nVoici ce qui vous attend sur maillage ({site}) ce {day}.\n\n{text}Tout est sur la page « À traiter » : {web_url}/\n\n-- \nmaillage, nœud de {site}. Ce message part chaque matin quand quelque chose vous attend ; rien ne vous attend, rien ne part.\n"
    );
    Some((subject, body))
}

/// The digests of this node's accounts at `now` (each role's dashboard is
/// built once).
pub fn digests(ctx: &NodeContext, now: DateTime<Utc>) -> crate::error::Result<Vec<Message>> {
    let mut boards: BTreeMap<Role, Dashboard> = BTreeMap::new();
    let mut out = Vec::new();
    for a in ctx.accounts.list()? {
        if a.disabled || a.password_hash.is_none() || !gets_digest(a.role) {
            continue;
        }
        let d = match boards.get(&a.role) {
            Some(d) => d,
            None => {
                let d = dashboard::build(ctx, a.role, now)?;
                boards.entry(a.role).or_insert(d)
            }
        };
        if let Some((subject, body)) = digest(d, &a.name, &ctx.name, &ctx.web_url, now) {
            out.push(Message {
                to: a.email,
                subject,
                body,
            });
        }
    }
    Ok(out)
}

/// Builds and sends the digests of `now`; returns the addresses written
/// to. A message the relay refuses does not stop the others: the first
/// error is returned after all were tried.
pub async fn send_digests(
    ctx: Arc<NodeContext>,
    cfg: &MailConfig,
    now: DateTime<Utc>,
) -> Result<Vec<String>, MailError> {
    let c = ctx.clone();
    let messages = tokio::task::spawn_blocking(move || digests(&c, now))
        .await
        .map_err(|e| MailError::Io(std::io::Error::other(e)))??;
    let mut sent = Vec::new();
    let mut first_error = None;
    for m in &messages {
        match send(cfg, &ctx.site, m, now).await {
            Ok(()) => sent.push(m.to.clone()),
            Err(e) => {
                tracing::warn!(to = %m.to, cause = %e, "résumé quotidien non envoyé");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

/// The next `hour` o'clock, Paris time, strictly after `now`.
pub fn next_digest(hour: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = time::paris(now).date_naive();
    (0..3)
        .filter_map(|d| {
            let day = today + chrono::Duration::days(d);
            let at = day.and_hms_opt(hour.min(23), 0, 0)?;
            time::TZ.from_local_datetime(&at).earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .find(|t| *t > now)
        .unwrap_or(now + chrono::Duration::days(1))
}

/// Sends the digests every day at `cfg.digest_hour` until `stop`.
pub fn spawn_daily(
    ctx: Arc<NodeContext>,
    cfg: MailConfig,
    stop: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
        loop {
            let now = Utc::now();
            let wait = (next_digest(cfg.digest_hour, now) - now)
                .to_std()
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            match send_digests(ctx.clone(), &cfg, Utc::now()).await {
                Ok(sent) => tracing::info!(messages = sent.len(), "résumés quotidiens envoyés"),
                Err(e) => tracing::warn!(cause = %e, "résumés quotidiens : envoi incomplet"),
            }
        }
    });
}

// ---------------------------------------------------------------------------
// SMTP.

/// An address as SMTP and headers accept it: no line breaks, no brackets.
fn plain_address(a: &str) -> Result<&str, MailError> {
    let a = a.trim();
    if a.is_empty() || a.contains(['\r', '\n', '<', '>']) || !a.contains('@') {
        return Err(MailError::Refused {
            step: "l'adresse",
            reply: format!("adresse invalide : {a}"),
        });
    }
    Ok(a)
}

/// Text as an RFC 2047 encoded word (UTF-8, "Q" encoding) for a header.
fn encoded_word(text: &str) -> String {
    let mut out = String::from("=?UTF-8?Q?");
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('_'),
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// Text as quoted-printable (RFC 2045), lines ending in CRLF.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let bytes = line.as_bytes();
        let mut col = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let piece = match b {
                b' ' | b'\t' if !last => (b as char).to_string(),
                33..=60 | 62..=126 => (b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if col + piece.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// The whole message as sent after DATA, dot-stuffed, with its final dot.
pub fn wire_message(from: &str, m: &Message, site: &str, now: DateTime<Utc>) -> String {
    let id = hex::encode(rand::random::<[u8; 12]>());
    let mut msg = format!(
        "From: maillage <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}.{site}@maillage>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nAuto-Submitted: auto-generated\r\n\r\n",
        to = m.to.trim(),
        subject = encoded_word(&m.subject),
        date = now.to_rfc2822(),
    );
    for line in quoted_printable(&m.body).split_inclusive("\r\n") {
        if line.starts_with('.') {
            msg.push('.');
        }
        msg.push_str(line);
    }
    msg.push_str(".\r\n");
    msg
}

async fn timed<T>(
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, MailError> {
    match tokio::time::timeout(SMTP_TIMEOUT, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(MailError::Timeout),
    }
}

/// Reads one reply (all its lines); refuses it unless its code is `want`.
async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    want: &[&str],
    step: &'static str,
) -> Result<String, MailError> {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        let n = timed(s.read_line(&mut line)).await?;
        if n == 0 {
            return Err(MailError::Refused {
                step,
                reply: format!(
                    "connexion fermée{}",
                    if reply.is_empty() { "" } else { " après : " }
                ) + reply.trim(),
            });
        }
        if line.len() > MAX_REPLY_LINE {
            return Err(MailError::Refused {
                step,
                reply: "réponse trop longue".into(),
            });
        }
        reply.push_str(&line);
        // "250-…" continues, "250 …" ends.
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    let code = reply.get(..3).unwrap_or_default();
    if want.contains(&code) {
        Ok(reply)
    } else {
        Err(MailError::Refused {
            step,
            reply: reply.trim().to_string(),
        })
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    line: &str,
    want: &[&str],
    step: &'static str,
) -> Result<String, MailError> {
    timed(s.get_mut().write_all(format!("{line}\r\n").as_bytes())).await?;
    timed(s.get_mut().flush()).await?;
    expect(s, want, step).await
}

/// MAIL, RCPT, DATA and QUIT, once the session is greeted (and secured).
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    from: &str,
    to: &str,
    message: &str,
) -> Result<(), MailError> {
    command(s, &format!("MAIL FROM:<{from}>"), &["250"], "l'expéditeur").await?;
    command(
        s,
        &format!("RCPT TO:<{to}>"),
        &["250", "251"],
        "le destinataire",
    )
    .await?;
    command(s, "DATA", &["354"], "le message").await?;
    timed(s.get_mut().write_all(message.as_bytes())).await?;
    timed(s.get_mut().flush()).await?;
    expect(s, &["250"], "le message").await?;
    // The message is accepted: a relay that hangs up now loses nothing.
    let _ = command(s, "QUIT", &["221"], "la fin de session").await;
    Ok(())
}

/// A TLS client trusting the authorities of `ca_file` (the system's if
/// empty).
fn tls_connector(ca_file: &str) -> Result<tokio_rustls::TlsConnector, MailError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let path = if ca_file.is_empty() {
        SYSTEM_CAS
    } else {
        ca_file
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            MailError::Tls(format!(
                "autorités de certification illisibles ({path}) : {e}"
            ))
        })?;
    roots.add_parsable_certificates(certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MailError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// Sends `m` through the relay of `cfg`, saying `site` in EHLO.
pub async fn send(
    cfg: &MailConfig,
    site: &str,
    m: &Message,
    now: DateTime<Utc>,
) -> Result<(), MailError> {
    let from = plain_address(&cfg.from)?;
    let to = plain_address(&m.to)?;
    let relay = format!("{}:{}", cfg.relay, cfg.port);
    let tcp = match tokio::time::timeout(SMTP_TIMEOUT, tokio::net::TcpStream::connect(&relay)).await
    {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => return Err(MailError::Connect { relay, source }),
        Err(_) => return Err(MailError::Timeout),
    };
    let message = wire_message(from, m, site, now);
    let ehlo = format!("EHLO {site}.maillage");
    let mut s = BufReader::new(tcp);
    expect(&mut s, &["220"], "la connexion").await?;
    let features = command(&mut s, &ehlo, &["250"], "EHLO").await?;
    if !cfg.starttls {
        return transaction(&mut s, from, to, &message).await;
    }
    if !features.to_ascii_uppercase().contains("STARTTLS") {
        return Err(MailError::Tls("le relais ne propose pas STARTTLS".into()));
    }
    command(&mut s, "STARTTLS", &["220"], "STARTTLS").await?;
    let name = rustls::pki_types::ServerName::try_from(cfg.relay.clone())
        .map_err(|e| MailError::Tls(format!("nom de relais « {} » : {e}", cfg.relay)))?;
    let tls = timed(tls_connector(&cfg.ca_file)?.connect(name, s.into_inner())).await?;
    let mut s = BufReader::new(tls);
    command(&mut s, &ehlo, &["250"], "EHLO").await?;
    transaction(&mut s, from, to, &message).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::dashboard::{Academy, PurchaseRow, SitePurchases};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_digest_is_at_the_hour_in_paris_strictly_after_now() {
        // Winter: Paris is UTC+1.
        assert_eq!(
            next_digest(7, at("2026-12-16T05:00:00Z")),
            at("2026-12-16T06:00:00Z")
        );
        assert_eq!(
            next_digest(7, at("2026-12-16T06:00:00Z")),
            at("2026-12-17T06:00:00Z")
        );
        // Summer: UTC+2.
        assert_eq!(
            next_digest(7, at("2026-06-16T12:00:00Z")),
            at("2026-06-17T05:00:00Z")
        );
    }

    #[test]
    fn nothing_waits_no_message() {
        let d = Dashboard {
            purchases: Some(SitePurchases::default()),
            academy: Some(Academy::default()),
            ..Default::default()
        };
        assert_eq!(digest(&d, "Claire", "Metz", "http://x", Utc::now()), None);
    }

    #[test]
    fn the_digest_lists_each_reminder_with_its_link() {
        let row = PurchaseRow {
            id: "da-1".into(),
            site: "Forbach".into(),
            object: "Robots".into(),
            total_ttc: "479,64 €".into(),
            since: "lun. 14 déc. 2026, 10:00".into(),
            waiting: "2 jours".into(),
            reason: "Joignez le devis.".into(),
        };
        let d = Dashboard {
            purchases: Some(SitePurchases {
                sent_back: vec![row.clone()],
                to_order: vec![],
            }),
            ..Default::default()
        };
        let (subject, body) = digest(
            &d,
            "Claire",
            "Tiers-lieu de Metz",
            "https://m.fr",
            at("2026-12-16T06:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            subject,
            "maillage : 1 élément à traiter (Tiers-lieu de Metz)"
        );
        assert!(body.starts_with("Bonjour Claire,"), "{body}");
        assert!(body.contains("ce mer. 16 déc. 2026."), "{body}");
        assert!(body.contains("Demandes d'achat renvoyées pour complément (1)\n- Robots — 479,64 € — motif : Joignez le devis. — https://m.fr/achats/da-1\n"), "{body}");
        assert!(
            !body.contains("Achats validés"),
            "empty sections are left out"
        );
    }

    #[test]
    fn the_wire_form_is_7_bit_with_dots_stuffed() {
        let m = Message {
            to: "claire@metz.fr".into(),
            subject: "maillage : 1 élément".into(),
            body: format!(".caché\nligne de fin \n{}", "é".repeat(40)),
        };
        let w = wire_message("maillage@metz.fr", &m, "metz", Utc::now());
        assert!(w.is_ascii());
        assert!(
            w.contains("Subject: =?UTF-8?Q?maillage_=3A_1_=C3=A9l=C3=A9ment?=\r\n"),
            "{w}"
        );
        assert!(w.contains("\r\n\r\n..cach=C3=A9\r\n"), "{w}");
        assert!(w.contains("ligne de fin=20\r\n"), "{w}");
        assert!(w.lines().all(|l| l.len() <= 998));
        assert!(
            w.split("\r\n")
                .all(|l| l.len() <= 78 || l.starts_with("Subject") || l.starts_with("Message-ID")),
            "{w}"
        );
        assert!(w.ends_with("\r\n.\r\n"));
    }
}
