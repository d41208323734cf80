//! A printable sheet of QR-code labels for this site's items: each code
//! opens the item's page on this node (`{web_url}/materiel/{id}`). The
//! codes are inline SVG (the CSP allows no `data:` image); the sheet is laid
//! out for A4 label paper, 3 × 7 labels of 70 × 42,3 mm, by the style
//! sheet's `@media print`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use qrcode::{Color, EcLevel, QrCode};
use serde::Deserialize;

use super::pages::{layout, Frame};
use super::{html, signed_in, Web};
use crate::app::equipment;
use crate::auth::Need;
use crate::pb;

/// Labels on one A4 sheet (3 columns, 7 rows).
pub const PER_SHEET: usize = 21;
/// White modules around the code, as the QR standard asks.
const QUIET: usize = 4;

/// The address a label's code opens.
pub fn item_url(web_url: &str, id: &str) -> String {
    format!("{}/materiel/{id}", web_url.trim_end_matches('/'))
}

/// The QR code of `text` as an SVG path: one `M x y h n v 1 h -n z` per run
/// of dark modules in a row, in module units, offset by the quiet zone.
/// Returns the path and the side of the square, quiet zone included.
pub fn qr_path(text: &str) -> Option<(String, usize)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut d = String::new();
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if colors[y * width + x] != Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && colors[y * width + x] == Color::Dark {
                x += 1;
            }
            d.push_str(&format!(
                "M{} {}h{}v1h-{}z",
                start + QUIET,
                y + QUIET,
                x - start,
                x - start
            ));
        }
    }
    Some((d, width + 2 * QUIET))
}

/// The QR code of `url` as an inline SVG, named for screen readers.
pub fn qr_svg(url: &str, label: &str) -> Markup {
    match qr_path(url) {
        Some((d, side)) => html! {
            svg.qr xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (side) " " (side) }
                role="img" aria-label=(label) shape-rendering="crispEdges" data-url=(url) {
                rect width=(side) height=(side) fill="#fff" {}
                path d=(d) fill="#000" {}
            }
        },
        // Only an address longer than a QR code holds (thousands of bytes).
        None => html! { span.small { "adresse trop longue pour un code QR" } },
    }
}

#[derive(Deserialize, Default)]
pub struct LabelFilter {
    #[serde(default)]
    categorie: String,
    /// One item only (from its page).
    #[serde(default)]
    materiel: String,
}

pub async fn sheet(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(f): Query<LabelFilter>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = web.ctx.clone();
    let category = f.categorie.trim().to_string();
    let found = tokio::task::spawn_blocking(move || {
        let mine = pb::ListEquipmentRequest {
            site: ctx.site.clone(),
            ..Default::default()
        };
        let all = equipment::list(&ctx, &mine)?;
        let chosen = equipment::list(&ctx, &pb::ListEquipmentRequest { category, ..mine })?;
        Ok::<_, crate::error::Error>((all, chosen))
    })
    .await;
    let (all, chosen) = match found {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            return html(
                super::status_of(&e),
                super::pages::message(&web.frame(&s), "Erreur", &e.to_string()),
            )
        }
        Err(e) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                super::pages::message(&web.frame(&s), "Erreur", &e.to_string()),
            )
        }
    };
    // Retired items need no label.
    let in_service = |i: &&pb::EquipmentItem| i.status != "retired";
    let mut categories: Vec<String> = all
        .iter()
        .filter(in_service)
        .map(|i| i.category.clone())
        .collect();
    categories.sort_by_key(|c| crate::domain::fold_for_search(c));
    categories.dedup();
    let one = f.materiel.trim();
    let items: Vec<&pb::EquipmentItem> = chosen
        .iter()
        .filter(in_service)
        .filter(|i| one.is_empty() || i.id == one)
        .collect();
    html(
        StatusCode::OK,
        page(
            &web.frame(&s),
            &web.ctx.web_url,
            &f.categorie,
            &categories,
            &items,
        ),
    )
}

/// A label's short reference: the inventory number, else the item's id.
fn reference(i: &pb::EquipmentItem) -> &str {
    if i.inventory_number.is_empty() {
        &i.id
    } else {
        &i.inventory_number
    }
}

pub(crate) fn page(
    frame: &Frame,
    web_url: &str,
    category: &str,
    categories: &[String],
    items: &[&pb::EquipmentItem],
) -> Markup {
    let n = items.len();
    let sheets = n.div_ceil(PER_SHEET);
    layout(
        frame,
        "Étiquettes du matériel",
        html! {
            div.no-print {
                p { a href="/catalogue" { "← Retour au catalogue" } }
                p.lead {
                    (n) " étiquette" @if n > 1 { "s" } " pour le matériel de " (frame.site_name)
                    @if n > 0 { ", sur " (sheets) " feuille" @if sheets > 1 { "s" } " A4" }
                    "."
                }
                p {
                    "Imprimez cette page depuis le navigateur (Ctrl+P), à l'échelle 100 %, sans marges, "
                    "sur des planches de 21 étiquettes de 70 × 42,3 mm (3 colonnes, 7 rangées). "
                    "Chaque code QR ouvre la fiche du matériel."
                }
                form.filters method="get" action="/materiel/etiquettes" {
                    div.field {
                        label for="categorie" { "Catégorie" }
                        select id="categorie" name="categorie" {
                            option value="" { "Toutes les catégories" }
                            @for c in categories {
                                option value=(c) selected[crate::domain::fold_for_search(category) == crate::domain::fold_for_search(c)] { (c) }
                            }
                        }
                    }
                    button.btn type="submit" { "Afficher" }
                }
            }
            @if items.is_empty() {
                p.empty { "Aucun matériel en service à étiqueter." }
            }
            @for (k, chunk) in items.chunks(PER_SHEET).enumerate() {
                section.sheet aria-label={ "Feuille " (k + 1) } {
                    @for i in chunk {
                        @let url = item_url(web_url, &i.id);
                        div.label data-item=(i.id) {
                            (qr_svg(&url, &format!("Code QR de la fiche « {} »", i.name)))
                            div.label-text {
                                strong.label-name { (i.name) }
                                span.label-site { (i.site_name) }
                                span.label-ref { "Réf. " (reference(i)) }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark modules an SVG path of [`qr_path`] draws, read back.
    fn modules(d: &str, side: usize) -> Vec<bool> {
        let mut dark = vec![false; side * side];
        for run in d.split('M').filter(|r| !r.is_empty()) {
            let (xy, rest) = run.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let n: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            for k in 0..n {
                dark[y * side + x + k] = true;
            }
        }
        dark
    }

    /// Decodes the code the SVG draws (each module 4 px), as a phone would.
    fn decode(svg: &str) -> String {
        let side: usize = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let dark = modules(d, side);
        const PX: usize = 4;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(side * PX, side * PX, |x, y| {
            if dark[(y / PX) * side + x / PX] {
                0
            } else {
                255
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the drawing");
        grids[0].decode().expect("a readable code").1
    }

    #[test]
    fn the_label_code_opens_the_items_page() {
        let url = item_url("http://127.0.0.1:7402/", "eq-abcdefghjk");
        assert_eq!(url, "http://127.0.0.1:7402/materiel/eq-abcdefghjk");
        let svg = qr_svg(&url, "Code QR").into_string();
        assert!(svg.starts_with("<svg class=\"qr\""), "{svg}");
        assert_eq!(decode(&svg), url);
        // Another item, another code.
        let other = item_url("https://maillage.example.fr", "eq-zzzzzzzzzz");
        assert_eq!(decode(&qr_svg(&other, "Code QR").into_string()), other);
    }

    #[test]
    fn a_sheet_has_one_code_per_item_and_a_page_per_21() {
        let items: Vec<pb::EquipmentItem> = (0..23)
            .map(|k| pb::EquipmentItem {
                id: format!("eq-{k:010}"),
                name: format!("Robot <{k}>"),
                site_name: "Tiers-lieu A".into(),
                inventory_number: if k == 0 {
                    "INV-1".into()
                } else {
                    String::new()
                },
                ..Default::default()
            })
            .collect();
        let refs: Vec<&pb::EquipmentItem> = items.iter().collect();
        let frame = Frame {
            site_name: "Tiers-lieu A",
            person: None,
            csrf: "x",
        };
        let page = page(&frame, "http://n", "", &["robotique".into()], &refs).into_string();
        assert_eq!(page.matches("<svg class=\"qr\"").count(), 23);
        assert_eq!(page.matches("<section class=\"sheet\"").count(), 2);
        assert!(page.contains("Réf. INV-1") && page.contains("Réf. eq-0000000001"));
        assert!(page.contains("Robot &lt;3&gt;"), "names are escaped");
        assert!(page.contains("data-url=\"http://n/materiel/eq-0000000022\""));
        assert!(page.contains("<label for=\"categorie\""));
    }
}
