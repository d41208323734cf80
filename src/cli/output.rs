//! Printing results: JSON for scripts, French text for people.

use serde::Serialize;

pub fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializable value")
    );
}

/// Prints rows as aligned columns under a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Warns about overlapping approvals of one item.
pub fn print_conflict(equipment: &str, loans: &[String]) {
    println!(
        "CONFLIT : le matériel {equipment} est accordé à des prêts qui se chevauchent : {}",
        loans.join(", ")
    );
}

/// Whether a panic's message is `println!` failing on a closed standard
/// output (`maillage … | head`): the reader went away, the command ends
/// quietly rather than with a backtrace.
pub fn is_closed_stdout(panic_message: Option<&str>) -> bool {
    panic_message.is_some_and(|m| {
        m.starts_with("failed printing to stdout")
            && m.contains(&std::io::Error::from_raw_os_error(libc::EPIPE).to_string())
    })
}
