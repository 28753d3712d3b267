//! Figures for `VALIDATION.md`: schema compile time, and time per document in process against
//! the `xmllint` subprocess. Ignored by default (it measures, it asserts nothing about time):
//!
//! ```text
//! cargo test -p vitrine-nfe --test xsd_timing -- --ignored --nocapture
//! cargo test -p vitrine-nfe --release --test xsd_timing -- --ignored --nocapture
//! ```

mod common;

use std::time::{Duration, Instant};

use common::*;
use vitrine_nfe::validate::SCHEMA_FILES;
use vitrine_nfe::{
    Environment, SchemaDocument, SchemaValidator, TaxRegime, Xmllint, XsdValidator, build,
};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..n)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn schema_compile_and_per_document_times() {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let compile = time(5, || XsdValidator::compile(SCHEMA_FILES).unwrap());
    println!("[{profile}] compile the schema set (3 entry documents): median of 5 = {compile:?}");

    let ours = XsdValidator::official();
    let xmllint = Xmllint::new().ok();
    let documents = [
        (
            "sample (1 item)",
            include_str!("data/41170706117473000150550010000463201612756527-nfe.xml").to_owned(),
        ),
        ("generated, 1 item", sign(1)),
        ("generated, 40 items", sign(40)),
        ("generated, 990 items", sign(990)),
    ];
    for (name, xml) in &documents {
        ours.validate(SchemaDocument::Nfe, xml).unwrap();
        let in_process = time(21, || ours.validate(SchemaDocument::Nfe, xml));
        let subprocess = xmllint.as_ref().map(|x| {
            x.validate(SchemaDocument::Nfe, xml).unwrap();
            time(11, || x.validate(SchemaDocument::Nfe, xml))
        });
        println!(
            "[{profile}] {name} ({} bytes): in process {in_process:?}, xmllint subprocess {}",
            xml.len(),
            subprocess.map_or("not installed".to_owned(), |d| format!("{d:?}"))
        );
    }
}

fn sign(count: usize) -> String {
    let input = input(
        Environment::Homologation,
        TaxRegime::Normal,
        cpf_buyer(sao_paulo_address()),
        items(count, normal_taxes(true), 5102, 4_321, 555),
        pix(),
    );
    build(&input)
        .unwrap()
        .sign(store_certificate())
        .unwrap()
        .into_xml()
}
