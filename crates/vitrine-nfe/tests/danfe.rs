//! The DANFE as a person and a scanner see it: a 40-item NF-e built and signed by this crate,
//! wrapped in an `nfeProc` with a `protNFe` written the way SEFAZ writes it (schema-checked),
//! rendered to PDF, then read back with poppler (`pdftotext -layout`, `pdftoppm`, `pdfinfo`,
//! `pdffonts`) and the barcode decoded by ZBar (`zbarimg`) from a 300 dpi picture of sheet 1,
//! kept at `target/danfe/danfe-page-1.png`. The real SEFAZ-PR sample renders too.
//!
//! Under CI (`CI=true`) a missing tool fails these tests naming its Debian package
//! (`poppler-utils`, `zbar-tools`, installed by scripts/test.sh); elsewhere the external checks
//! are skipped with a printed reason and the in-process checks still run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use vitrine_nfe::danfe::{self, DanfeError};
use vitrine_nfe::{Environment, SchemaDocument, SchemaValidator, TaxRegime, XsdValidator, build};

const NFE_NS: &str = "http://www.portalfiscal.inf.br/nfe";
const SAMPLE_KEY: &str = "41170706117473000150550010000463201612756527";
const PROTOCOL_NUMBER: &str = "135260000123456";

fn out_dir() -> PathBuf {
    target_out_dir("danfe")
}

/// Whether poppler and ZBar are there (see the module docs for CI).
fn tools() -> bool {
    let poppler = ["pdftotext", "pdftoppm", "pdfinfo", "pdffonts"]
        .iter()
        .all(|tool| require_tool_with(tool, "-v", "poppler-utils"));
    poppler && require_tool("zbarimg", "zbar-tools")
}

/// Renders `xml` to `target/danfe/{name}.pdf`; its path when the tools to read it back are
/// there (see the module docs), `None` otherwise.
fn render_to(name: &str, xml: &str) -> Option<PathBuf> {
    let pdf = danfe::render(xml).expect("render");
    assert!(pdf.starts_with(b"%PDF-"));
    let path = out_dir().join(format!("{name}.pdf"));
    std::fs::write(&path, &pdf).unwrap();
    tools().then_some(path)
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// `pdftotext -layout` of the given sheets (all when `None`).
fn text_of(pdf: &Path, page: Option<u32>) -> String {
    let mut args = vec!["-layout", "-enc", "UTF-8"];
    let page = page.map(|p| p.to_string());
    if let Some(p) = &page {
        args.extend(["-f", p, "-l", p]);
    }
    args.extend([path_str(pdf), "-"]);
    run("pdftotext", &args)
}

/// Renders sheet 1 at 300 dpi to `png` and decodes its barcodes with zbarimg.
fn barcode_of_page_1(pdf: &Path, png: &Path) -> String {
    let prefix = png.with_extension("");
    run(
        "pdftoppm",
        &[
            "-r",
            "300",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            path_str(pdf),
            path_str(&prefix),
        ],
    );
    assert!(png.is_file(), "pdftoppm wrote {}", png.display());
    run("zbarimg", &["--raw", "-q", path_str(png)])
}

fn pages_of(pdf: &Path) -> u32 {
    let info = run("pdfinfo", &[path_str(pdf)]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Page size:") && l.contains("595.") && l.contains("841.")),
        "A4 portrait: {info}"
    );
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo Pages")
}

fn single_spaced(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A `protNFe` as SEFAZ returns it for an authorised document.
fn protocol(environment: &str, key: &str, digest: &str) -> String {
    format!(
        "<protNFe versao=\"4.00\"><infProt><tpAmb>{environment}</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic>\
         <chNFe>{key}</chNFe><dhRecbto>2026-08-20T14:31:07-03:00</dhRecbto><nProt>{PROTOCOL_NUMBER}</nProt>\
         <digVal>{digest}</digVal><cStat>100</cStat><xMotivo>Autorizado o uso da NF-e</xMotivo></infProt></protNFe>"
    )
}

#[test]
fn forty_items_authorised_in_production_make_two_sheets_whose_barcode_scans_as_the_key() {
    let names = [
        "Caneca de cerâmica “Vitrine” 300 ml",
        "Camiseta algodão – tamanho M",
        "Café especial torrado 250g moído",
        "Açúcar mascavo orgânico 1 kg",
        "Livro: Programação em Rust & exercícios",
    ];
    let mut items = items(40, normal_taxes(false), 5102, 2_990, 1_000);
    for (i, item) in items.iter_mut().enumerate() {
        item.description = format!("{} nº {:02}", names[i % names.len()], i + 1);
    }
    let mut input = input(
        Environment::Production,
        TaxRegime::Normal,
        cnpj_buyer(campinas_address()),
        items,
        pix(),
    );
    input.emitter.cnpj = cnpj(OTHER_STORE_CNPJ);
    input.number = 46_320;
    let signed = build(&input)
        .expect("build")
        .sign(other_store_certificate())
        .expect("sign");
    let key = signed.access_key().as_str().to_owned();
    assert!(
        key.bytes().all(|b| b.is_ascii_digit()),
        "a numeric key: {key}"
    );
    let proc_xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><nfeProc xmlns=\"{NFE_NS}\" versao=\"4.00\">{}{}</nfeProc>",
        signed.nfe_element(),
        protocol("1", &key, signed.digest_value())
    );
    XsdValidator::official()
        .validate(SchemaDocument::NfeProc, &proc_xml)
        .expect("the nfeProc is valid against procNFe_v4.00.xsd");
    std::fs::write(out_dir().join(format!("{key}-procNFe.xml")), &proc_xml).unwrap();

    // What is printed: xProd and the totals as written in the XML.
    let doc = roxmltree::Document::parse(&proc_xml).unwrap();
    let texts = |name: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name && n.tag_name().namespace() == Some(NFE_NS))
            .map(|n| n.text().unwrap_or("").to_owned())
            .collect()
    };
    let descriptions = texts("xProd");
    assert_eq!(descriptions.len(), 40);
    let v_nf = texts("vNF")[0].clone();
    let v_prod = texts("vProd").last().unwrap().clone();
    let v_icms = texts("vICMS").last().unwrap().clone();

    let Some(pdf_path) = render_to("danfe-40-items", &proc_xml) else {
        return;
    };
    assert_eq!(pages_of(&pdf_path), 2, "40 items continue on sheet 2");
    let fonts = run("pdffonts", &[path_str(&pdf_path)]);
    assert!(
        fonts.contains("LiberationSerif") && !fonts.lines().skip(2).any(|l| l.contains(" no ")),
        "fonts embedded: {fonts}"
    );

    let text = text_of(&pdf_path, None);
    std::fs::write(out_dir().join("danfe-40-items.txt"), &text).unwrap();
    let flat = single_spaced(&text);
    let grouped = key
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        grouped.as_str(),
        "Nº 000.046.320",
        "SÉRIE 001",
        PROTOCOL_NUMBER,
        "20/08/2026 14:31:07",
        "VENDA DE MERCADORIA",
        "DANFE",
        "1 - SAÍDA",
        "FOLHA 1/2",
        "FOLHA 2/2",
        "06.117.473/0001-50",
        "11.222.333/0001-81",
        "Padaria Pão & Mel Ltda",
        "RECEBEMOS DE Loja Teste Comércio Eletrônico Ltda",
        "CÁLCULO DO IMPOSTO",
        "TRANSPORTADOR / VOLUMES TRANSPORTADOS",
        "0-Por conta do Emit",
        "DADOS ADICIONAIS",
        "Pedido 2026-000123.",
    ] {
        assert!(
            flat.contains(expected),
            "{expected:?} not in the text:\n{text}"
        );
    }
    for value in [&v_nf, &v_prod, &v_icms] {
        let printed = danfe::format::money(value);
        assert!(
            flat.contains(&printed),
            "total {value} as {printed}:\n{text}"
        );
    }
    for description in &descriptions {
        assert_eq!(
            flat.matches(description.as_str()).count(),
            1,
            "{description:?} once:\n{text}"
        );
    }
    assert!(!flat.contains("SEM VALOR FISCAL"), "production, authorised");
    // Sheet 2 repeats the header: emitter, DANFE box, key, protocol.
    let second = single_spaced(&text_of(&pdf_path, Some(2)));
    for expected in [
        "Loja Teste Comércio Eletrônico Ltda",
        "DANFE",
        "FOLHA 2/2",
        grouped.as_str(),
        PROTOCOL_NUMBER,
        "DADOS DOS PRODUTOS / SERVIÇOS",
        descriptions[39].as_str(),
    ] {
        assert!(
            second.contains(expected),
            "sheet 2 lacks {expected:?}:\n{second}"
        );
    }

    let png = out_dir().join("danfe-page-1.png");
    let decoded = barcode_of_page_1(&pdf_path, &png);
    assert_eq!(
        decoded.trim_end(),
        key,
        "zbarimg read the barcode of sheet 1"
    );
    println!("DANFE page 1 picture: {}", png.display());
}

fn sample(suffix: &str) -> String {
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{SAMPLE_KEY}-{suffix}.xml"));
    let text = std::fs::read_to_string(&local).expect("read the sample copy");
    if let Some(dir) = shared_nfe_dir() {
        let shared =
            std::fs::read_to_string(dir.join(format!("samples/{SAMPLE_KEY}-{suffix}.xml")))
                .expect("read the shared sample");
        assert_eq!(
            text, shared,
            "tests/data keeps an exact copy of the shared sample"
        );
    }
    text
}

#[test]
fn the_real_sefaz_sample_renders_with_the_homologation_mark() {
    let xml = sample("procNFe");
    let Some(pdf_path) = render_to("danfe-sample", &xml) else {
        return;
    };
    assert_eq!(pages_of(&pdf_path), 1);
    let text = text_of(&pdf_path, None);
    let flat = single_spaced(&text);
    for expected in [
        "4117 0706 1174 7300 0150 5500 1000 0463 2016 1275 6527",
        "Nº 000.046.320",
        "SÉRIE 001",
        "141170000487910 - 12/07/2017 10:03:59",
        "UNIMAKE SOLUCOES CORPORATIVAS LTDA",
        "06.117.473/0001-50",
        "27.373.722/0001-48",
        "VENDA PRODUC.DO ESTABELEC",
        "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL",
        "84,90",
        "O/CSOSN",
        "0101",
        "6101",
        "84714900",
        "12/07/2017",
        "09:45:50",
        "SEM VALOR FISCAL - NF-e EMITIDA EM AMBIENTE DE HOMOLOGAÇÃO",
        "NOTA FISCAL ELETRÔNICA",
        "Empresa optante pelo simples nacional",
    ] {
        assert!(
            flat.contains(expected),
            "{expected:?} not in the text:\n{text}"
        );
    }
    let decoded = barcode_of_page_1(&pdf_path, &out_dir().join("danfe-sample-page-1.png"));
    assert_eq!(decoded.trim_end(), SAMPLE_KEY);
}

#[test]
fn a_bare_signed_nfe_is_printed_as_without_authorisation() {
    let xml = sample("nfe");
    let Some(pdf_path) = render_to("danfe-sample-without-protocol", &xml) else {
        return;
    };
    let flat = single_spaced(&text_of(&pdf_path, None));
    assert!(flat.contains("SEM PROTOCOLO DE AUTORIZAÇÃO"), "{flat}");
    assert!(
        flat.contains("SEM VALOR FISCAL - NF-e SEM PROTOCOLO DE AUTORIZAÇÃO"),
        "{flat}"
    );
    assert!(!flat.contains("141170000487910"));
}

#[test]
fn a_cancelled_protocol_is_printed_as_cancelled() {
    let xml = sample("procNFe")
        .replace("<cStat>100</cStat>", "<cStat>101</cStat>")
        .replace(
            "Autorizado o uso da NF-e",
            "Cancelamento de NF-e homologado",
        );
    let Some(pdf_path) = render_to("danfe-sample-cancelled", &xml) else {
        return;
    };
    let flat = single_spaced(&text_of(&pdf_path, None));
    assert!(
        flat.contains(
            "SEM VALOR FISCAL - NF-e CANCELADA - NF-e EMITIDA EM AMBIENTE DE HOMOLOGAÇÃO"
        ),
        "{flat}"
    );
}

#[test]
fn what_is_not_an_authorised_nfe_is_refused_with_the_reason() {
    assert!(matches!(
        danfe::render("<enviNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\"/>"),
        Err(DanfeError::NotAnNfe(root)) if root.contains("enviNFe")
    ));
    assert!(matches!(danfe::render("not xml"), Err(DanfeError::Xml(_))));
    let xml = sample("procNFe");
    let other_key = xml.replace(
        &format!("<chNFe>{SAMPLE_KEY}</chNFe>"),
        "<chNFe>41170706117473000150550010000463201612756519</chNFe>",
    );
    let error = danfe::render(&other_key).unwrap_err();
    assert!(error.to_string().contains("protocol is for key"), "{error}");
    let no_items = xml
        .replace("<det nItem=\"1\">", "<detX nItem=\"1\">")
        .replace("</det>", "</detX>");
    assert_eq!(
        danfe::render(&no_items).unwrap_err(),
        DanfeError::Missing("infNFe/det")
    );
}

#[test]
fn additional_information_that_does_not_fit_continues_on_the_next_sheet() {
    let xml = sample("procNFe");
    let paragraphs: Vec<String> = (1..=120)
        .map(|n| format!("Observação número {n:02} sobre a entrega e a garantia dos produtos."))
        .collect();
    let long = xml.replace(
        "<infCpl>;CONTROLE",
        &format!(
            "<infCpl>{} FIM DAS OBSERVAÇÕES.;CONTROLE",
            paragraphs.join(" ")
        ),
    );
    let Some(pdf_path) = render_to("danfe-long-additional-information", &long) else {
        return;
    };
    assert_eq!(pages_of(&pdf_path), 2);
    let first = single_spaced(&text_of(&pdf_path, Some(1)));
    let second = single_spaced(&text_of(&pdf_path, Some(2)));
    assert!(first.contains("Observação número 01") && first.contains("FOLHA 1/2"));
    assert!(!first.contains("FIM DAS OBSERVAÇÕES"));
    assert!(
        second.contains("DADOS ADICIONAIS (CONTINUAÇÃO)"),
        "{second}"
    );
    assert!(second.contains("FIM DAS OBSERVAÇÕES") && second.contains("FOLHA 2/2"));
    assert!(second.contains("4117 0706 1174 7300 0150 5500 1000 0463 2016 1275 6527"));
    // The box's text of both sheets, joined, is the whole infCpl.
    let boxed = |page: &str| -> String {
        let start = page.find("RESERVADO AO FISCO").expect("the box") + "RESERVADO AO FISCO".len();
        let end = page
            .rfind("SEM VALOR FISCAL - NF-e")
            .expect("the status line");
        page[start..end].trim().to_owned()
    };
    let all = format!("{} {}", boxed(&first), boxed(&second));
    assert!(all.starts_with(&paragraphs.join(" ")), "{all}");
}

#[test]
fn invoice_installments_and_carrier_are_printed_when_the_document_has_them() {
    let xml = sample("procNFe")
        .replace(
            "<transp><modFrete>0</modFrete></transp>",
            "<transp><modFrete>1</modFrete><transporta><CNPJ>11222333000181</CNPJ>\
             <xNome>Transportes Açaí Ltda</xNome><IE>110042490114</IE><xEnder>Rua das Flores, 10</xEnder>\
             <xMun>Maringá</xMun><UF>PR</UF></transporta><vol><qVol>3</qVol><esp>CAIXA</esp>\
             <marca>VITRINE</marca><nVol>1/3</nVol><pesoL>12.500</pesoL><pesoB>13.750</pesoB></vol></transp>\
             <cobr><fat><nFat>46320</nFat><vOrig>84.90</vOrig><vDesc>0.00</vDesc><vLiq>84.90</vLiq></fat>\
             <dup><nDup>001</nDup><dVenc>2017-08-12</dVenc><vDup>42.45</vDup></dup>\
             <dup><nDup>002</nDup><dVenc>2017-09-12</dVenc><vDup>42.45</vDup></dup></cobr>",
        );
    let Some(pdf_path) = render_to("danfe-sample-with-billing-and-carrier", &xml) else {
        return;
    };
    let text = text_of(&pdf_path, None);
    let flat = single_spaced(&text);
    for expected in [
        "FATURA / DUPLICATAS",
        "FATURA Nº 46320 VALOR ORIGINAL: R$ 84,90 DESCONTO: R$ 0,00 VALOR LÍQUIDO: R$ 84,90",
        "Nº 001",
        "VENC. 12/08/2017",
        "VENC. 12/09/2017",
        "R$ 42,45",
        "Transportes Açaí Ltda",
        "1-Por conta do Dest",
        "11.222.333/0001-81",
        "Rua das Flores, 10",
        "Maringá",
        "CAIXA",
        "VITRINE",
        "1/3",
        "13,750",
        "12,500",
    ] {
        assert!(
            flat.contains(expected),
            "{expected:?} not in the text:\n{text}"
        );
    }
}

/// Every text of the sample replaced in turn by an empty, a very long or an odd value: the
/// renderer answers a PDF or an error, never a panic.
#[test]
fn odd_values_in_any_field_never_break_the_renderer() {
    let xml = sample("procNFe");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    // One text per element name (outside the signature).
    let mut seen = std::collections::HashSet::new();
    let texts: Vec<std::ops::Range<usize>> = doc
        .descendants()
        .filter(|n| n.is_text() && n.ancestors().all(|a| a.tag_name().name() != "Signature"))
        .filter(|n| seen.insert(n.parent().map(|p| p.tag_name().name()).unwrap_or("")))
        .map(|n| n.range())
        .collect();
    assert!(texts.len() > 70, "{} texts", texts.len());
    let long = "Ação ÇÃ😀 الجنة -1.234,5 ".repeat(40);
    let odd_values = ["", long.as_str(), "9999999999999.995"];
    let mut rendered = 0;
    for range in &texts {
        for odd in odd_values {
            let mutated = format!("{}{}{}", &xml[..range.start], odd, &xml[range.end..]);
            if let Ok(pdf) = danfe::render(&mutated) {
                assert!(pdf.starts_with(b"%PDF-"));
                rendered += 1;
            }
        }
    }
    println!(
        "{} mutations, {rendered} rendered",
        texts.len() * odd_values.len()
    );
}
