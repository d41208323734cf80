//! `maillage equipment import FILE [--dry-run]`: a site's existing inventory,
//! from CSV (`;` or `,`, UTF-8 or Windows-1252) or .xlsx, checked line by
//! line; nothing is written on a dry run or while a line is wrong.

mod common;

use std::io::Write;

use common::*;

fn names(node: &TestNode) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&node.cli(&["--json", "equipment", "list"]))).unwrap();
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

/// A minimal .xlsx (one sheet, inline strings), as a spreadsheet writes it.
fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            sheet.push_str(&format!(
                r#"<c r="{col}{}" t="inlineStr"><is><t>{cell}</t></is></c>"#,
                r + 1
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Inventaire" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        for (name, body) in files {
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(body.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_is_checked_then_imported_in_one_go() {
    let node = TestNode::start("metz", &[]).await;
    let tmp = tempfile::tempdir().unwrap();

    // As Excel saves « CSV (séparateur : point-virgule) » in France.
    let csv = "Désignation;Catégorie;N° inventaire;Prêtable;État;Date d'acquisition;Salle\r\n\
               Caméra 4K;audio-vidéo;MB-AV-001;oui;bon;15/09/2025;B12\r\n\
               Robots Thymio (lot de 8);robotique;MB-ROB-001;oui;neuf;;B14\r\n\
               Câbles USB;numérique;;non;;;\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(csv);
    let path = tmp.path().join("inventaire.csv");
    std::fs::write(&path, &bytes).unwrap();
    let file = path.to_str().unwrap();

    let before = node.digest();
    let preview = ok(&node.cli(&["equipment", "import", file, "--dry-run"]));
    assert!(
        preview.contains("Caméra 4K") && preview.contains("correcte"),
        "{preview}"
    );
    assert!(preview.contains("Colonnes non lues : Salle."), "{preview}");
    assert!(preview.contains("rien n'a été écrit"), "{preview}");
    assert_eq!(node.digest(), before, "a dry run writes nothing");
    assert!(names(&node).is_empty());

    let done = ok(&node.cli(&["equipment", "import", file]));
    assert!(done.contains("3 matériels ajoutés"), "{done}");
    assert_eq!(
        names(&node),
        ["Caméra 4K", "Câbles USB", "Robots Thymio (lot de 8)"]
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&node.cli(&[
        "--json",
        "equipment",
        "list",
        "--search",
        "camera",
    ])))
    .unwrap();
    assert_eq!(v[0]["acquired"], "2025-09-15");
    assert_eq!(v[0]["inventory_number"], "MB-AV-001");

    // The same file again: every numbered line is already there; nothing
    // is written, and each wrong line says why.
    let before = node.digest();
    let out = node.cli(&["equipment", "import", file]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("MB-AV-001 déjà au catalogue"), "{text}");
    assert!(text.contains("2 lignes sur 3 à corriger"), "{text}");
    assert_eq!(node.digest(), before);

    // A .xlsx with a wrong line: refused whole.
    let book = xlsx(&[
        &["Nom", "Catégorie", "Prêtable"],
        &["Tables modulables", "mobilier", "oui"],
        &["", "sport", "oui"],
        &["Kit raquettes", "sport", "peut-être"],
    ]);
    let path = tmp.path().join("inventaire.xlsx");
    std::fs::write(&path, &book).unwrap();
    let out = node.cli(&["--json", "equipment", "import", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["written"], false);
    assert_eq!(report["lines"][1]["line"], 3);
    assert!(
        report["lines"][1]["errors"][0]
            .as_str()
            .unwrap()
            .contains("la colonne Nom est obligatoire"),
        "{report}"
    );
    assert!(
        report["lines"][2]["errors"][0]
            .as_str()
            .unwrap()
            .contains("peut-être"),
        "{report}"
    );
    assert_eq!(node.digest(), before);

    // Fixed, it goes in.
    let book = xlsx(&[
        &["Nom", "Catégorie", "Prêtable"],
        &["Tables modulables", "mobilier", "oui"],
        &["Kit raquettes", "sport", "non"],
    ]);
    std::fs::write(&path, &book).unwrap();
    let done = ok(&node.cli(&["equipment", "import", path.to_str().unwrap()]));
    assert!(done.contains("2 matériels ajoutés"), "{done}");
    assert_eq!(names(&node).len(), 5);
}
