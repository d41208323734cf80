//! `maillage demo`: an academy node and three site nodes of the Moselle network
//! on loopback, with sample equipment, until Ctrl-C.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::app::equipment;
use crate::base::Role;
use crate::config::Config;
use crate::domain::equipment::Patch;
use crate::node::RunningNode;

/// `--dir` (the global flag) keeps the nodes' data between runs.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port du nœud académique ; les sites prennent les suivants.
    #[arg(long, default_value_t = 7400)]
    pub base_port: u16,
}

/// API ports are the federation ports plus this offset.
pub const DEMO_API_OFFSET: u16 = 10;
/// Web ports are the federation ports plus this offset.
pub const DEMO_WEB_OFFSET: u16 = 20;

/// (site id, name, role)
pub const DEMO_SITES: &[(&str, &str, Role)] = &[
    (
        "rectorat",
        "Équipe ASTERIE — rectorat de Nancy-Metz",
        Role::Academy,
    ),
    (
        "metz-borny",
        "Tiers-lieu éducatif de Metz-Borny",
        Role::Site,
    ),
    (
        "thionville",
        "Tiers-lieu éducatif de Thionville",
        Role::Site,
    ),
    ("forbach", "Tiers-lieu éducatif de Forbach", Role::Site),
];

/// (name, category, inventory number, description)
fn sample_equipment(site: &str) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    match site {
        "metz-borny" => vec![
            (
                "Robots Thymio (lot de 8)",
                "robotique",
                "MB-ROB-001",
                "Valise de 8 robots avec câbles et tablettes de programmation",
            ),
            (
                "Imprimante 3D Prusa MK4",
                "impression 3D",
                "MB-3D-001",
                "Bobines PLA fournies, plateau 25 × 21 cm",
            ),
            (
                "Casques de réalité virtuelle (6)",
                "numérique",
                "MB-NUM-004",
                "Casques autonomes avec malle de recharge",
            ),
            (
                "Kit micro-trottoir",
                "audio-vidéo",
                "MB-AV-002",
                "Enregistreur, deux micros main, perche",
            ),
        ],
        "thionville" => vec![
            (
                "Valise de microscopes numériques",
                "sciences",
                "TH-SCI-001",
                "10 microscopes USB et lames préparées",
            ),
            (
                "Caméra 4K et trépied",
                "audio-vidéo",
                "TH-AV-001",
                "Caméra, trépied, deux batteries, carte 128 Go",
            ),
            (
                "Découpeuse vinyle",
                "arts",
                "TH-ART-003",
                "Pour autocollants et flocage textile",
            ),
        ],
        "forbach" => vec![
            (
                "Mallette Micro:bit (15 cartes)",
                "robotique",
                "FO-ROB-002",
                "Cartes, capteurs et piles",
            ),
            (
                "Tables modulables (lot de 10)",
                "mobilier",
                "FO-MOB-001",
                "Tables pliantes sur roulettes",
            ),
            (
                "Kit sport de raquette",
                "sport",
                "FO-SPO-001",
                "Raquettes, volants et filet portable",
            ),
        ],
        _ => Vec::new(),
    }
}

/// Waits until `f` holds (sync between demo nodes), for at most 30 s.
async fn wait_for(what: &str, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    while !f() {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            anyhow::bail!("démonstration : délai dépassé ({what})");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}

fn converged(nodes: &[RunningNode]) -> bool {
    let d = nodes[0].docs().network_digest();
    nodes.iter().all(|n| n.docs().network_digest() == d)
}

fn item_id(node: &RunningNode, name: &str) -> anyhow::Result<String> {
    equipment::list_all(&node.ctx)?
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.id.clone())
        .ok_or_else(|| anyhow::anyhow!("matériel de démonstration « {name} » absent"))
}

/// (borrower, lender, item name, first day, last day (from today), purpose, steps)
type PlannedLoan<'a> = (
    &'a RunningNode,
    &'a RunningNode,
    &'a str,
    i64,
    i64,
    &'a str,
    &'a [&'a str],
);

/// Loans in every state (one overdue) and two common actions across sites.
async fn seed_activity(nodes: &[RunningNode]) -> anyhow::Result<()> {
    use crate::app::loans::{self as l, Decision};
    wait_for("synchronisation initiale", || converged(nodes)).await?;
    let (metz, thionville, forbach) = (&nodes[1], &nodes[2], &nodes[3]);
    // `d` days from today on Paris's calendar (see `seed_events`).
    let today = chrono::Utc::now()
        .with_timezone(&crate::domain::time::TZ)
        .date_naive();
    let day = |d: i64| {
        (today + chrono::Duration::days(d))
            .format("%Y-%m-%dT09:00")
            .to_string()
    };
    // (borrower, lender, item, from, to, purpose, steps)
    let plan: Vec<PlannedLoan> = vec![
        (
            thionville,
            metz,
            "Robots Thymio (lot de 8)",
            -20,
            -15,
            "Atelier de programmation au collège",
            &["approve", "checkout", "return"],
        ),
        (
            forbach,
            metz,
            "Imprimante 3D Prusa MK4",
            -10,
            -3,
            "Fabrication de pièces pour le club robotique",
            &["approve", "checkout"],
        ),
        (
            metz,
            thionville,
            "Caméra 4K et trépied",
            -2,
            3,
            "Tournage du reportage des élèves",
            &["approve", "checkout"],
        ),
        (
            forbach,
            thionville,
            "Valise de microscopes numériques",
            5,
            8,
            "Semaine des sciences",
            &["approve"],
        ),
        (
            metz,
            forbach,
            "Mallette Micro:bit (15 cartes)",
            10,
            12,
            "Initiation à la programmation en CM2",
            &[],
        ),
        (
            thionville,
            forbach,
            "Tables modulables (lot de 10)",
            6,
            7,
            "Forum des familles",
            &["refuse"],
        ),
        (
            forbach,
            metz,
            "Kit micro-trottoir",
            15,
            16,
            "Interviews à la fête du quartier",
            &["cancel"],
        ),
    ];
    // The autumn's loans, entered after the fact by their lenders as a site
    // joining mid-year does (`loan record`): weeks of past activity.
    // (borrower, lender, item, first day, last day, purpose, incident)
    let autumn: Vec<(&RunningNode, &RunningNode, &str, i64, i64, &str, &str)> = vec![
        (
            thionville,
            metz,
            "Casques de réalité virtuelle (6)",
            -70,
            -66,
            "Semaine de l'orientation : visites virtuelles de métiers",
            "",
        ),
        (
            forbach,
            thionville,
            "Caméra 4K et trépied",
            -62,
            -58,
            "Reportage sur la rentrée",
            "Trépied : une jambe ne se verrouille plus",
        ),
        (
            metz,
            forbach,
            "Kit sport de raquette",
            -55,
            -52,
            "Tournoi inter-classes",
            "",
        ),
        (
            forbach,
            metz,
            "Robots Thymio (lot de 8)",
            -48,
            -41,
            "Club robotique du collège",
            "",
        ),
        (
            metz,
            thionville,
            "Découpeuse vinyle",
            -40,
            -37,
            "Atelier flocage de t-shirts",
            "",
        ),
        (
            thionville,
            forbach,
            "Mallette Micro:bit (15 cartes)",
            -34,
            -27,
            "Initiation à la programmation",
            "Deux cartes ne s'allument plus",
        ),
        (
            metz,
            thionville,
            "Valise de microscopes numériques",
            -26,
            -22,
            "Fête de la science",
            "",
        ),
        (
            thionville,
            metz,
            "Kit micro-trottoir",
            -13,
            -11,
            "Interviews pour la webradio",
            "",
        ),
    ];
    for (borrower, lender, item, from, to, purpose, incident) in autumn {
        l::record(
            &lender.ctx,
            crate::pb::LoanRecordInput {
                equipment: vec![item_id(borrower, item)?],
                borrower: borrower.ctx.site.clone(),
                from: day(from),
                to: day(to),
                note: purpose.into(),
                incident: incident.into(),
                condition: if incident.is_empty() { "" } else { "usable" }.into(),
                ..Default::default()
            },
            "director",
        )
        .await?;
    }
    for (borrower, lender, item, from, to, purpose, steps) in plan {
        let id = item_id(borrower, item)?;
        if from < 0 {
            // A loan that already started is entered by its lender after the fact.
            l::record(
                &lender.ctx,
                crate::pb::LoanRecordInput {
                    equipment: vec![id],
                    borrower: borrower.ctx.site.clone(),
                    from: day(from),
                    to: day(to),
                    not_returned: !steps.contains(&"return"),
                    note: purpose.into(),
                    ..Default::default()
                },
                "director",
            )
            .await?;
            continue;
        }
        let loan = l::request(
            &borrower.ctx,
            crate::pb::LoanRequestInput {
                equipment: vec![id],
                from: day(from),
                to: day(to),
                purpose: purpose.into(),
                ..Default::default()
            },
            "director",
        )
        .await?;
        wait_for("demande reçue par le prêteur", || {
            l::find_loan(&lender.ctx, &loan.id).is_ok()
        })
        .await?;
        for step in steps.iter() {
            match *step {
                "approve" => {
                    l::decide(&lender.ctx, &loan.id, Decision::Approve, "", "", "director").await?
                }
                "checkout" => {
                    l::decide(
                        &lender.ctx,
                        &loan.id,
                        Decision::Checkout,
                        "Complet, en bon état",
                        "",
                        "director",
                    )
                    .await?
                }
                "return" => {
                    l::decide(
                        &lender.ctx,
                        &loan.id,
                        Decision::Return,
                        "Rendu complet",
                        "",
                        "director",
                    )
                    .await?
                }
                "refuse" => {
                    l::decide(
                        &lender.ctx,
                        &loan.id,
                        Decision::Refuse,
                        "Déjà réservé pour nos portes ouvertes",
                        "",
                        "director",
                    )
                    .await?
                }
                _ => l::cancel(&borrower.ctx, &loan.id, "Atelier reporté", "director").await?,
            };
        }
    }

    use crate::app::actions as a;
    let fablab = a::create(
        &metz.ctx,
        crate::pb::CreateActionRequest {
            title: "Fablab itinérant".into(),
            axis: 2,
            description: "Un atelier de fabrication numérique qui circule entre les tiers-lieux de Moselle pour initier élèves et familles.".into(),
            start: day(-30)[..10].to_string(),
            end: day(150)[..10].to_string(),
        },
    )
    .await?;
    let sciences = a::create(
        &thionville.ctx,
        crate::pb::CreateActionRequest {
            title: "Semaine des sciences partagée".into(),
            axis: 1,
            description: "Des expériences menées en parallèle dans plusieurs sites, puis comparées en visioconférence.".into(),
            start: day(20)[..10].to_string(),
            end: day(27)[..10].to_string(),
        },
    )
    .await?;
    let doc = |id: &str| crate::domain::actions::doc_id(id);
    for (node, action) in [
        (thionville, &fablab.id),
        (forbach, &fablab.id),
        (forbach, &sciences.id),
    ] {
        wait_for("action reçue", || {
            node.docs().read(&doc(action), |_| ()).is_some()
        })
        .await?;
        crate::app::actions::join_action(&node.ctx, action).await?;
    }
    wait_for("participations reçues", || converged(nodes)).await?;
    a::update(
        &metz.ctx,
        crate::pb::UpdateActionRequest {
            id: fablab.id.clone(),
            status: Some("en_cours".into()),
            objectives: Some(
                "Faire découvrir la fabrication numérique à 300 élèves et 50 familles.".into(),
            ),
            set_target_publics: true,
            target_publics: vec![
                "élèves de cycle 3".into(),
                "collégiens".into(),
                "familles".into(),
            ],
            budget_planned: Some("12000".into()),
            budget_spent: Some("4350.80".into()),
            indicators: vec![crate::pb::Indicator {
                name: "élèves touchés".into(),
                target: "300".into(),
                actual: "112".into(),
            }],
            ..Default::default()
        },
    )
    .await?;
    for (node, action, title, site) in [
        (metz, &fablab.id, "Réserver le camion aménagé", "metz-borny"),
        (
            thionville,
            &fablab.id,
            "Former deux animateurs",
            "thionville",
        ),
        (
            forbach,
            &sciences.id,
            "Préparer les kits d'expériences",
            "forbach",
        ),
    ] {
        a::add_task(
            &node.ctx,
            crate::pb::AddTaskRequest {
                action: action.clone(),
                title: title.into(),
                site: site.into(),
                due: day(14)[..10].to_string(),
            },
        )
        .await?;
    }
    seed_events(nodes, &fablab.id, &sciences.id).await?;
    seed_purchases(nodes, &fablab.id).await?;
    wait_for("synchronisation finale", || converged(nodes)).await
}

/// A partner of Metz, and two purchase requests: one validated by the
/// academic team, one waiting for its decision.
async fn seed_purchases(nodes: &[RunningNode], fablab: &str) -> anyhow::Result<()> {
    use crate::app::purchases as p;
    use crate::domain::purchases::{parse_line, Patch};
    let (academy, metz, thionville) = (&nodes[0], &nodes[1], &nodes[2]);
    wait_for("action reçue à Metz", || {
        !metz.ctx.docs.heads(&format!("action/{fablab}")).is_empty()
    })
    .await?;
    crate::app::partners::add(
        &metz.ctx,
        crate::domain::partners::Patch {
            name: Some("Ville de Metz".into()),
            kind: Some("collectivité".into()),
            contact: Some("Service éducation".into()),
            agreement: Some("Convention 2026-014".into()),
            contribution_eur: Some("1500".into()),
            contribution_in_kind: Some("Prêt d'une salle le mercredi".into()),
            actions: Some(vec![fablab.to_string()]),
        },
    )
    .await?;
    let robots = p::create(
        &metz.ctx,
        Patch {
            object: Some("Robots pour le fablab itinérant".into()),
            lines: Some(vec![
                parse_line(1, "Robot Thymio;4;129.90;20")?,
                parse_line(2, "Câbles USB;4;6.50;20")?,
            ]),
            supplier: Some("Fournisseur éducatif".into()),
            funding: Some("France 2030".into()),
            action: Some(fablab.to_string()),
        },
        "director",
    )
    .await?;
    p::submit(&metz.ctx, &robots.id, "director").await?;
    let micros = p::create(
        &thionville.ctx,
        Patch {
            object: Some("Micros pour la webradio".into()),
            lines: Some(vec![parse_line(1, "Micro USB;2;89;20")?]),
            funding: Some("Collectivité".into()),
            ..Default::default()
        },
        "director",
    )
    .await?;
    p::submit(&thionville.ctx, &micros.id, "director").await?;
    wait_for("demande d'achat reçue par l'équipe académique", || {
        p::find(&academy.ctx, &robots.id).is_ok_and(|r| r.state() == "submitted")
    })
    .await?;
    p::decide(&academy.ctx, &robots.id, "validated", "", "academy").await?;
    Ok(())
}

/// A month of events: one weekly, one network-wide, one past with attendance.
async fn seed_events(nodes: &[RunningNode], fablab: &str, sciences: &str) -> anyhow::Result<()> {
    use crate::app::calendar as c;
    let (academy, metz, thionville, forbach) = (&nodes[0], &nodes[1], &nodes[2], &nodes[3]);
    // Days are counted on Paris's calendar: `d` days from today, not `d`
    // times 24 hours (which lands on another date near midnight when the
    // clocks change between the two).
    let today = chrono::Utc::now()
        .with_timezone(&crate::domain::time::TZ)
        .date_naive();
    let day = |d: i64| today + chrono::Duration::days(d);
    let at = |d: i64, h: u32| format!("{}T{h:02}:00", day(d).format("%Y-%m-%d"));
    let ev =
        |title: &str, kind: &str, start: String, end: String, place: &str, audience: &[&str]| {
            crate::pb::EventInput {
                title: title.into(),
                kind: kind.into(),
                start,
                end,
                place: place.into(),
                audience: audience.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }
        };
    // Next Wednesday, then weekly.
    let wednesday = (1..=7)
        .find(|d| {
            use chrono::Datelike;
            day(*d).weekday() == chrono::Weekday::Wed
        })
        .unwrap_or(1);
    let mut club = ev(
        "Club robotique du mercredi",
        "workshop",
        at(wednesday, 14),
        at(wednesday, 16),
        "Tiers-lieu de Metz-Borny",
        &["pupils"],
    );
    club.rrule = "FREQ=WEEKLY;COUNT=6".into();
    club.action = fablab.to_string();
    c::add(&metz.ctx, club).await?;
    let seminar_day = at(12, 0)[..10].to_string();
    let mut seminar = ev(
        "Séminaire des directeurs de tiers-lieux",
        "seminar",
        seminar_day.clone(),
        seminar_day,
        "Rectorat de Nancy-Metz",
        &["teachers", "partners"],
    );
    seminar.all_day = true;
    c::add(&academy.ctx, seminar).await?;
    let mut science = ev(
        "Expériences partagées : l'eau",
        "workshop",
        at(21, 9),
        at(21, 12),
        "Tiers-lieu de Thionville",
        &["pupils", "teachers"],
    );
    science.action = sciences.to_string();
    c::add(&thionville.ctx, science).await?;
    c::add(
        &forbach.ctx,
        ev(
            "Forum des familles",
            "exhibition",
            at(9, 17),
            at(9, 20),
            "Médiathèque de Forbach",
            &["families", "partners"],
        ),
    )
    .await?;
    c::add(
        &thionville.ctx,
        ev(
            "Réunion du réseau Moselle",
            "meeting",
            at(26, 10),
            at(26, 12),
            "Visioconférence",
            &["teachers"],
        ),
    )
    .await?;
    let past = c::add(
        &forbach.ctx,
        ev(
            "Atelier Micro:bit",
            "workshop",
            at(-6, 9),
            at(-6, 11),
            "Collège de Forbach",
            &["pupils", "teachers"],
        ),
    )
    .await?;
    c::attendance(
        &forbach.ctx,
        crate::pb::AttendanceInput {
            id: past.id,
            pupils: 26,
            teachers: 2,
            families: 0,
            partners: 1,
            ..Default::default()
        },
    )
    .await?;

    // A weekly homework club since the autumn, with the pupils of each
    // session counted (attendance per occurrence).
    let tuesday = (56..63)
        .find(|d| {
            use chrono::Datelike;
            day(-*d).weekday() == chrono::Weekday::Tue
        })
        .unwrap_or(56);
    let mut homework = ev(
        "Aide aux devoirs",
        "workshop",
        at(-tuesday, 17),
        at(-tuesday, 18),
        "Tiers-lieu de Thionville",
        &["pupils", "families"],
    );
    homework.rrule = "FREQ=WEEKLY;COUNT=16".into();
    let homework = c::add(&thionville.ctx, homework).await?;
    let pupils = [8, 9, 7, 10, 8, 11, 9, 8];
    for (week, pupils) in pupils.iter().enumerate() {
        let day = -tuesday + 7 * week as i64;
        if day >= 0 {
            break;
        }
        c::attendance(
            &thionville.ctx,
            crate::pb::AttendanceInput {
                id: homework.id.clone(),
                pupils: *pupils,
                teachers: 1,
                families: (week % 3 == 0) as i64,
                occurrence: at(day, 17)[..10].to_string(),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// Starts the demo network in `root`, creating and filling nodes that do not exist yet.
pub async fn start(root: &Path, base_port: u16) -> anyhow::Result<Vec<RunningNode>> {
    let mut nodes: Vec<RunningNode> = Vec::new();
    let mut urls: Vec<String> = Vec::new();
    let mut any_fresh = false;
    // The demo network's own certificate authority.
    let ca = root.join("ca");
    if !ca.join(crate::tls::CA_CERT).exists() {
        crate::tls::ca_init(&ca)?;
    }
    for (i, (site, name, role)) in DEMO_SITES.iter().enumerate() {
        let dir = root.join(site);
        let port = |offset: u16| {
            if base_port == 0 {
                0
            } else {
                base_port + offset + i as u16
            }
        };
        let fresh = !Config::path(&dir).exists();
        any_fresh |= fresh;
        if fresh {
            let mut cfg = Config::new(site, name, *role);
            cfg.listen = format!("127.0.0.1:{}", port(0));
            cfg.api_listen = format!("127.0.0.1:{}", port(DEMO_API_OFFSET));
            cfg.web_listen = format!("127.0.0.1:{}", port(DEMO_WEB_OFFSET));
            cfg.peers = urls.clone();
            crate::node::init_with_ca(&dir, &cfg, Some(&ca)).await?;
        }
        let mut cfg = Config::load(&dir)?;
        if !fresh && cfg.web_listen == Config::new(site, name, *role).web_listen {
            // A demo made before the web interface: each node needs its own port.
            cfg.web_listen = format!("127.0.0.1:{}", port(DEMO_WEB_OFFSET));
        }
        let node = RunningNode::start_with(&dir, cfg).await?;
        if fresh && base_port == 0 {
            // Ports chosen by the system: written back so that `--dir` finds them.
            let mut cfg = Config::load(&dir)?;
            cfg.listen = node
                .fed_url()
                .split("://")
                .nth(1)
                .unwrap_or_default()
                .into();
            cfg.api_listen = node.url().split("://").nth(1).unwrap_or_default().into();
            cfg.web_listen = node.web_addr.to_string();
            std::fs::write(Config::path(&dir), cfg.to_documented_toml())?;
        }
        if fresh {
            demo_accounts(&node, site, *role).await?;
            for (name, category, inv, description) in sample_equipment(site) {
                let patch = Patch {
                    name: Some(name.into()),
                    category: Some(category.into()),
                    description: Some(description.into()),
                    inventory_number: Some(inv.into()),
                    // Bought for the school year before: the use rate counts them
                    // over the autumn's loans.
                    acquired: Some("2025-09-01".into()),
                    ..Default::default()
                };
                equipment::add(&node.ctx, patch).await?;
            }
        }
        urls.push(node.fed_url());
        nodes.push(node);
    }
    if any_fresh {
        enrol_sites(root, &nodes).await?;
        seed_activity(&nodes).await?;
    }
    Ok(nodes)
}

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "maillage-demo";

/// The demo logins of a site, by role: (address, role).
pub fn demo_logins(site: &str, role: Role) -> Vec<(String, crate::auth::Role)> {
    use crate::auth::Role as R;
    let top = match role {
        Role::Academy => R::Academy,
        Role::Site => R::Director,
    };
    vec![
        (format!("direction@{site}.demo"), top),
        (format!("equipe@{site}.demo"), R::Staff),
        (format!("consultation@{site}.demo"), R::Viewer),
    ]
}

/// One web account per role on a new demo node, all with [`DEMO_PASSWORD`].
async fn demo_accounts(node: &RunningNode, site: &str, role: Role) -> anyhow::Result<()> {
    let accounts = crate::accounts::Accounts::new(node.docs().store().clone());
    for (email, r) in demo_logins(site, role) {
        let name = format!("{} ({site})", crate::web::pages::role_fr(r));
        let (_, secret) = accounts.add(&email, &name, r).await?;
        accounts.set_password(&secret, DEMO_PASSWORD).await?;
    }
    Ok(())
}

/// The academic team enrols every node of the demo in the registry, as it does
/// for a real network (`maillage site enrol`), so that `network status` lists them.
async fn enrol_sites(root: &Path, nodes: &[RunningNode]) -> anyhow::Result<()> {
    let academy = &nodes[0];
    let enrolled: Vec<String> = crate::app::network::sites(&academy.ctx)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for (node, (site, name, role)) in nodes.iter().zip(DEMO_SITES) {
        if enrolled.iter().any(|e| e == site) {
            continue;
        }
        let key = crate::tls::site_public_key(&root.join(site))?;
        crate::app::network::enrol(
            &academy.ctx,
            crate::pb::EnrolSiteRequest {
                id: site.to_string(),
                name: name.to_string(),
                endpoint: node.fed_url(),
                key,
                role: role.as_str().to_string(),
            },
        )
        .await?;
    }
    wait_for("registre reçu par tous les sites", || converged(nodes)).await
}

/// The commands the demo suggests, each with the directory of the node it
/// runs against: every one of them must succeed on a fresh demo.
pub fn suggested_commands(root: &Path) -> Vec<(PathBuf, &'static str)> {
    let dir = |i: usize| root.join(DEMO_SITES[i].0);
    vec![
        (dir(1), "status"),
        (dir(2), "equipment list"),
        (
            dir(1),
            "equipment add --name \"Kit Lego Spike\" --category robotique",
        ),
        (dir(0), "equipment list --category robotique --json"),
        (dir(2), "loan list"),
        (dir(1), "loan list --state \"en retard\""),
        (dir(0), "action list"),
        (dir(0), "partner list"),
        (dir(1), "calendar"),
        (dir(0), "calendar export --out reseau.ics"),
        (dir(0), "network status"),
        (dir(0), "purchase list"),
        (dir(0), "report indicators --by site"),
        (dir(1), "report bilan --site metz-borny --format md"),
    ]
}

pub async fn run(args: DemoArgs, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let (_tmp, root) = match &dir {
        Some(d) => (None, d.clone()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("maillage-demo-")
                .tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let nodes = start(&root, args.base_port).await?;
    println!(
        "Réseau de démonstration maillage (données dans {})",
        root.display()
    );
    println!();
    for n in &nodes {
        println!(
            "  {:<12} fédération {:<24} API {:<24} web {:<24} {}",
            n.ctx.site,
            n.fed_url(),
            n.url(),
            n.web_url(),
            n.ctx.name
        );
    }
    println!();
    println!(
        "Interface web : ouvrez l'adresse « web » d'un nœud ; comptes de démonstration \
         (mot de passe « {DEMO_PASSWORD} ») :"
    );
    for (site, _, role) in DEMO_SITES {
        let logins: Vec<String> = demo_logins(site, *role)
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        println!("  {:<12} {}", site, logins.join(", "));
    }
    println!();
    println!("Essayez, dans un autre terminal (--dir donne l'adresse et le jeton du nœud) :");
    for (d, cmd) in suggested_commands(&root) {
        println!("  cargo run --release -- --dir {} {cmd}", d.display());
    }
    println!();
    println!("Journal des nœuds : relancez avec RUST_LOG=info. Ctrl-C pour arrêter.");
    super::wait_for_signal().await;
    println!("Arrêt du réseau de démonstration…");
    for n in nodes {
        n.shutdown().await;
    }
    Ok(())
}
